"""``json.dumps(obj, indent=2, ensure_ascii=False)``, byte for byte, at about three times its speed.

With ``indent`` set, the standard library encodes in pure Python through nested generators (its C
encoder takes no indent): ~1 ms for one run's report part, a tenth of a sweep's time per run.
This walks the document once with plain recursion, appending to one list, and leaves strings to
the C string encoder. Anything but str/int/float/bool/None values, lists, tuples and dicts with
string keys goes to ``json.dumps`` itself, so the text (or the error) is always the library's.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C function when _json is built (CPython)
from typing import Any

INDENT = "  "


class _Unusual(Exception):
    """A value this encoder leaves to json.dumps (non-string keys, other types)."""


def dumps(obj: Any, newline: str = "\n") -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False)`` with every line break written as
    ``newline`` (``"\\n    "`` indents the whole text by four more spaces)."""
    out: list[str] = []
    try:
        _encode(obj, out, newline)
    except (_Unusual, RecursionError):
        text = json.dumps(obj, indent=2, ensure_ascii=False)
        return text if newline == "\n" else text.replace("\n", newline)
    return "".join(out)


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


_CONSTANTS = {None: "null", True: "true", False: "false"}
# (a dict's keys, its depth's line break) -> the text before each value: a report repeats a few
# shapes (every evidence object has the same keys), so their keys are encoded once per process
_PREFIXES: dict[tuple[tuple[str, ...], str], list[str]] = {}
_SHAPES = 512  # at most this many shapes are kept (a facts dict's keys differ from run to run)
_SHAPE_KEYS = 16  # only dicts of up to this many keys are kept


def _prefixes(keys: tuple[str, ...], newline: str) -> list[str]:
    inner = newline + INDENT
    prefixes = []
    separator = "{" + inner
    for key in keys:
        if type(key) is not str:
            raise _Unusual
        prefixes.append(separator + encode_basestring(key) + ": ")
        separator = "," + inner
    return prefixes


def _encode(obj: Any, out: list[str], newline: str) -> None:
    """Append ``obj`` at the depth whose line breaks are ``newline``."""
    kind = type(obj)
    if kind is dict:
        _encode_dict(obj, out, newline)
        return
    append = out.append
    if kind is list or kind is tuple:
        if not obj:
            append("[]")
            return
        inner = newline + INDENT
        separator = "[" + inner
        for item in obj:
            if type(item) is str:
                append(separator + encode_basestring(item))
            else:
                append(separator)
                _encode(item, out, inner)
            separator = "," + inner
        append(newline + "]")
    elif kind is str:
        append(encode_basestring(obj))
    elif kind is float:
        append(_float(obj))
    elif kind is int:
        append(int.__repr__(obj))
    elif obj is None or kind is bool:
        append(_CONSTANTS[obj])
    elif isinstance(obj, dict):
        _encode_dict(obj, out, newline)
    elif isinstance(obj, list | tuple):
        _encode(list(obj), out, newline)
    else:
        _subclass(obj, out)


def _encode_dict(obj: dict[Any, Any], out: list[str], newline: str) -> None:
    append = out.append
    if not obj:
        append("{}")
        return
    keys = tuple(obj)
    prefixes = _PREFIXES.get((keys, newline))
    if prefixes is None:
        prefixes = _prefixes(keys, newline)
        if len(keys) <= _SHAPE_KEYS and len(_PREFIXES) < _SHAPES:
            _PREFIXES[keys, newline] = prefixes
    inner = newline + INDENT
    for prefix, value in zip(prefixes, obj.values(), strict=True):
        kind = type(value)
        if kind is str:
            append(prefix + encode_basestring(value))
        elif kind is float:  # finite (the common case): its repr
            append(prefix + (float.__repr__(value) if value - value == 0.0 else _float(value)))
        elif value is None or kind is bool:
            append(prefix + _CONSTANTS[value])
        elif kind is int:
            append(prefix + int.__repr__(value))
        else:
            append(prefix)
            _encode(value, out, inner)
    append(newline + "}")


def _subclass(obj: Any, out: list[str]) -> None:
    """Subclasses of str, int and float as json.encoder writes them; anything else: json.dumps."""
    if isinstance(obj, str):
        out.append(encode_basestring(obj))
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        out.append(_float(obj))
    else:
        raise _Unusual
