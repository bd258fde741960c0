"""Regular expressions compiled when first used.

Compiling one costs 0.05-1 ms in pure Python at every start, and most module-level patterns
belong to a reader or report that a given run never uses (a console log's 13 line patterns, a
fix template's): a :class:`LazyPattern` compiles on its first use and then hands out the
compiled pattern's own methods (kept on the instance, so later calls cost what a compiled
pattern's do)."""

from __future__ import annotations

import re
from typing import Any


class LazyPattern:
    """``re.compile(pattern, flags)`` on first use: ``match``, ``search``, ``sub``, ``pattern``…
    are those of the compiled pattern."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    @property
    def compiled(self) -> re.Pattern[str]:
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            compiled = self.__dict__["_compiled"] = re.compile(*self._source)
        return compiled

    def __getattr__(self, name: str) -> Any:  # only for names not on the instance yet
        if name.startswith("_"):  # _source, _compiled, dunders: never the pattern's
            raise AttributeError(name)
        value = getattr(self.compiled, name)
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"LazyPattern({self._source[0]!r}, {self._source[1]!r})"
