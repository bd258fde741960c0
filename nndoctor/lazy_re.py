"""Regular expressions compiled once per user, and compiled when first used.

Compiling a pattern runs re's parser and code generator in Python, 0.05-1 ms a pattern at every
start (~34 M instructions for the ~40 patterns of a small diagnosis). :func:`regex` keeps what
re makes of a pattern - its SRE code, flags and groups - in a per-user cache file for this
Python build, and rebuilds the pattern from it with the C constructor ``re.compile`` ends with:
the same pattern (equal to re.compile's, an equality that compares flags and code), without
the parsing. A pattern missing from the cache is compiled by re.compile, checked to rebuild
equal, and the file is written again when the process ends. Any surprise from re's internals
(another Python, a damaged file) falls back to re.compile; ``NNDOCTOR_NO_CACHE=1`` too.

Most module-level patterns belong to a reader or report a given run never uses (a console
log's 13 line patterns, a fix template's): a :class:`LazyPattern` compiles on its first use
and then hands out the compiled pattern's own methods (kept on the instance, so later calls cost
what a compiled pattern's do).
"""

from __future__ import annotations

import _sre
import contextlib
import marshal
import re
import sys
from typing import Any

from nndoctor import cache

FORMAT = 1
# what the SRE code depends on: the interpreter build and re's engine
_BUILD = f"{FORMAT} {sys.version} {_sre.MAGIC} {_sre.CODESIZE}"
Entry = tuple[Any, int, list[int], int, dict[str, int], tuple[str | None, ...]]
_table: dict[tuple[Any, int], Entry] | None = None
_added = False  # a pattern was added to the table since it was read


def regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, rebuilt from the per-user cache when it holds it."""
    table = _loaded()
    if table is None:
        return re.compile(pattern, flags)
    key = (pattern, int(flags))
    entry = table.get(key)
    if entry is not None:
        with contextlib.suppress(Exception):  # damaged: compiled below and kept again
            return _sre.compile(*entry)
    compiled = re.compile(pattern, flags)
    with contextlib.suppress(Exception):  # re's internals differ: the pattern is not kept
        entry = _entry(pattern, int(flags))
        if _sre.compile(*entry) == compiled:
            _keep(table, key, entry)
    return compiled


def _entry(pattern: str, flags: int) -> Entry:
    """The arguments re.compile gives SRE's constructor (re/_compiler.py, compile())."""
    from re import _compiler, _parser

    parsed = _parser.parse(pattern, flags)
    code = [int(c) for c in _compiler._code(parsed, flags)]
    names = dict(parsed.state.groupdict)
    index: list[str | None] = [None] * parsed.state.groups
    for name, i in names.items():
        index[i] = name
    return (pattern, int(flags | parsed.state.flags), code, parsed.state.groups - 1, names,
            tuple(index))


def _where() -> Any:
    return cache.cache_dir() / "patterns" / f"{cache.short_name(_BUILD)}.marshal"


def _loaded() -> dict[tuple[Any, int], Entry] | None:
    """The table of this build's patterns (read once per process), None with the cache off."""
    global _table
    if _table is None and cache.enabled():
        _table = {}
        with contextlib.suppress(Exception):  # missing, damaged, another build's: empty
            build, table = marshal.loads(_where().read_bytes())
            if build == _BUILD and isinstance(table, dict):
                _table = table
    return _table


def _keep(table: dict[tuple[Any, int], Entry], key: tuple[Any, int], entry: Entry) -> None:
    global _added
    table[key] = entry
    if not _added:
        import atexit

        _added = True
        atexit.register(_save)


def _save() -> None:
    """Write the table, with the patterns this process added, when it ends."""
    if _table is None or not cache.enabled():
        return
    with contextlib.suppress(Exception):  # an unwritable cache only costs the compiling again
        cache.write_atomic(_where(), marshal.dumps((_BUILD, _table)))


class LazyPattern:
    """``re.compile(pattern, flags)`` (through :func:`regex`) on first use: ``match``,
    ``search``, ``sub``, ``pattern``… are those of the compiled pattern."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    @property
    def compiled(self) -> re.Pattern[str]:
        compiled = self.__dict__.get("_compiled")
        if compiled is None:
            compiled = self.__dict__["_compiled"] = regex(*self._source)
        return compiled

    def __getattr__(self, name: str) -> Any:  # only for names not on the instance yet
        if name.startswith("_"):  # _source, _compiled, dunders: never the pattern's
            raise AttributeError(name)
        value = getattr(self.compiled, name)
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"LazyPattern({self._source[0]!r}, {self._source[1]!r})"
