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


def _scalar(obj: Any) -> str | None:
    """The text of a str/None/bool/int/float (exact types: the common case), else None."""
    kind = type(obj)
    if kind is str:
        return encode_basestring(obj)
    if kind is float:
        return _float(obj)
    if kind is int:
        return int.__repr__(obj)
    if obj is None or kind is bool:
        return _CONSTANTS[obj]
    return None


def _encode(obj: Any, out: list[str], newline: str) -> None:
    """Append ``obj`` at the depth whose line breaks are ``newline``."""
    text = _scalar(obj)
    if text is not None:
        out.append(text)
    elif isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = newline + INDENT
        separator = "{" + inner
        for key, value in obj.items():
            if type(key) is not str:
                raise _Unusual
            text = _scalar(value)
            if text is not None:
                out.append(separator + encode_basestring(key) + ": " + text)
            else:
                out.append(separator + encode_basestring(key) + ": ")
                _encode(value, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(obj, list | tuple):
        if not obj:
            out.append("[]")
            return
        inner = newline + INDENT
        separator = "[" + inner
        for item in obj:
            text = _scalar(item)
            if text is not None:
                out.append(separator + text)
            else:
                out.append(separator)
                _encode(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    else:
        _subclass(obj, out)


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
