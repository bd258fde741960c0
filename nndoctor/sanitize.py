"""Make strings that came from a log safe to show: one function for every report and screen.

Run names, folder names, MLflow tags and metric tags are written by whoever wrote the log. Printed
raw, an escape sequence can set the terminal title, clear the screen or hide text, and a newline
can fake a report line. :func:`clean` turns every control character (C0, DEL, C1, line and paragraph
separators, bidirectional overrides) and every undecodable byte of a file name into a visible
escape such as ``\\x1b`` or ``\\n``, and optionally bounds the length. Renderers call it where a log
string enters a report; HTML escapes the result as well, the terminal UI escapes Textual markup.
"""

from __future__ import annotations

import re

from nndoctor.lazy_re import LazyPattern

# C0 controls (newline and tab included: one log string never spans lines), DEL, C1 controls,
# the Unicode line/paragraph separators, bidi embeddings/overrides/isolates, the BOM (zero-width
# no-break space) and lone surrogates (undecodable bytes of a file name, from os.fsdecode).
# Compiled when first needed (~1 ms each: their classes reach past U+00FF): ASCII text is judged
# without them.
UNSAFE = LazyPattern(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
JSON_UNSAFE = LazyPattern("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the raw byte of a non-UTF-8 file name
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(text: object, limit: int | None = None) -> str:
    """``text`` as one printable line: control characters escaped, at most ``limit`` characters
    (longer text ends in '…')."""
    out = str(text)
    if not (out.isascii() and out.isprintable()):  # printable ASCII holds none of UNSAFE
        out = UNSAFE.sub(_escape, out)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def clean_markup(text: object, limit: int | None = None) -> str:
    """:func:`clean`, then Textual/Rich markup escaped (``[`` cannot open a tag or an action)."""
    from textual.markup import escape

    return escape(clean(text, limit))


def escape_json(text: str) -> str:
    """JSON text with the characters :func:`clean` escapes written as ``\\uXXXX`` (same data).

    ``json.dumps(ensure_ascii=False)`` already escapes C0 controls but leaves DEL, C1 controls,
    separators, bidi overrides and lone surrogates raw; outside strings JSON has none of them."""
    if text.isascii():  # of JSON_UNSAFE, ASCII holds only DEL
        return text.replace("\x7f", "\\u007f")
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def clean_report(text: str) -> str:
    """A whole rendered report: every control character but the line breaks escaped (a last
    guard behind the per-field :func:`clean`)."""
    return "\n".join(clean(line) for line in text.split("\n"))
