"""A base for the frozen value classes at module boundaries (Series, Run, Evaluation).

They are frozen dataclasses (``dataclasses.replace``, ``fields`` and ``asdict`` work on them)
declared with ``init=False, repr=False, eq=False``: generating those methods costs every start
~3 M instructions a class (their source is compiled at run time), so ``__repr__``, ``__eq__``
and ``__hash__`` come from here, behaving as ``@dataclass`` would write them; each class writes
its own ``__init__`` and names its fields in ``_shown`` (in the repr) and ``_compared`` (in
equality and the hash).
"""

from __future__ import annotations

from typing import Any, ClassVar

# the keyword arguments of @dataclass that leave __init__, __repr__, __eq__ and __hash__ to us
PLAIN = {"frozen": True, "init": False, "repr": False, "eq": False}


class Plain:
    """``__repr__``, ``__eq__`` and ``__hash__`` over the fields a subclass names."""

    __slots__ = ()
    _shown: ClassVar[tuple[str, ...]] = ()
    _compared: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())
