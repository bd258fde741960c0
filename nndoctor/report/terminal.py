"""Drawing for the terminal with rich: a style (width, colours), text cut at word boundaries and
wrapped under a label, lines rendered to a string.

Every string from a log goes through :func:`nndoctor.sanitize.clean` (:func:`t`) and is drawn
as :class:`rich.text.Text`, never parsed as rich markup or emoji codes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import IO, NamedTuple

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from nndoctor.sanitize import clean, clean_report

MIN_WIDTH = 40


class TextStyle(NamedTuple):
    """How to draw: the line width, rich's colour system (None: plain text), and the long form."""

    width: int = 80
    color: str | None = None
    explain: bool = False


def style_for(stream: IO[str] | None, explain: bool = False) -> TextStyle:
    """The style for writing to ``stream``: its width and colours as rich sees them
    (``COLUMNS``, ``FORCE_COLOR``, ``TERM``); plain text under ``NO_COLOR`` and into a file
    (``stream`` None), at ``COLUMNS`` or 80 columns."""
    console = Console(file=stream if stream is not None else io.StringIO())
    color = None if stream is None or os.environ.get("NO_COLOR") else console.color_system
    return TextStyle(max(console.width, MIN_WIDTH), color, explain)


def _console(style: TextStyle, buffer: io.StringIO | None = None) -> Console:
    return Console(file=buffer or io.StringIO(), width=style.width,
                   color_system=style.color,  # type: ignore[arg-type]  # rich: a Literal or None
                   force_terminal=style.color is not None, highlight=False, emoji=False,
                   markup=False, soft_wrap=True, legacy_windows=False)


def draw(style: TextStyle, lines: Iterable[Text]) -> str:
    """Lines (each already fitted to the width) as a string, with colour codes if the style has
    colour; plain text is checked once more for control characters."""
    buffer = io.StringIO()
    console = _console(style, buffer)
    for line in lines:
        console.print(line)
    out = buffer.getvalue()
    return out if style.color else clean_report(out)


def t(text: object, style: str = "") -> Text:
    """A piece of text, cleaned of control characters, never read as markup."""
    return Text.styled(clean(text), style)


def shorten(text: str, width: int) -> str:
    """``text`` cut at a word boundary to fit ``width`` cells, ending in '…' when cut."""
    text = " ".join(text.split())
    if cell_len(text) <= width:
        return text
    cut = text[: max(width - 1, 1)]
    while len(cut) > 1 and cell_len(cut) > width - 1:  # wide characters take two cells
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > 0 and text[len(cut)] != " ":  # the cut falls inside a word: drop that word
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def shorten_path(text: str, width: int) -> str:
    """A path cut to ``width``: its first part (a sweep's run folder) and as much of its end as
    fits, else the start of the first part."""
    if cell_len(text) <= width:
        return text
    head, sep, _ = text.partition("/")
    if sep and len(head) + 1 <= width - 5:
        return head + sep + "…" + text[-(width - len(head) - 2):]
    return text[: width - 1] + "…"


def hang(style: TextStyle, label: Text, body: Text, indent: int | None = None,
         max_lines: int | None = None) -> list[Text]:
    """``label`` then ``body`` wrapped between words to the width, continuation lines indented
    by ``indent`` (default: under the body); at most ``max_lines`` lines, the last ending in '…'.
    Only a word longer than a whole line is ever split."""
    first = label.cell_len
    indent = first if indent is None else indent
    console = _console(style)
    wrapped = list(body.wrap(console, max(style.width - first, 10), overflow="fold"))
    if len(wrapped) > 1:  # the rest wraps at its own width, under the indent
        rest = body[len(wrapped[0].plain):]
        rest = rest[len(rest.plain) - len(rest.plain.lstrip()):]
        wrapped[1:] = rest.wrap(console, max(style.width - indent, 10), overflow="fold")
    if max_lines is not None and len(wrapped) > max_lines:
        wrapped = wrapped[:max_lines]
        last = wrapped[-1]
        last.rstrip()
        room = style.width - (indent if max_lines > 1 else first)
        wrapped[-1] = (Text.styled(shorten(last.plain + "…", room), last.style)
                       if last.cell_len + 1 > room else last + "…")
    out = []
    for i, line in enumerate(wrapped):
        line.rstrip()
        out.append((label.copy() if i == 0 else Text(" " * indent)) + line)
    return out or [label]


def one_line(style: TextStyle, label: Text, text: str, tail: Text | None = None) -> Text:
    """``label`` + ``text`` shortened to end on this line (+ ``tail``)."""
    room = style.width - label.cell_len - (tail.cell_len if tail else 0)
    line = label + t(shorten(text, max(room, 10)))
    return line + tail if tail else line
