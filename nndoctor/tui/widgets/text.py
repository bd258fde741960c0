"""Small text builders shared by widgets: confidence bars, moves, bands (theme-aware colours)."""

from __future__ import annotations

from textual.content import Content

from nndoctor.engine.session import Move

BLOCKS = " ▏▎▍▌▋▊▉█"
BAND_STYLE = {"confirmed": "$error", "likely": "$warning", "possible": "$accent"}


def bar(confidence: float, width: int = 12) -> str:
    """A bar with eighth-block resolution; the empty part is a light shade."""
    cells = max(0.0, min(confidence, 1.0)) * width
    full = int(cells)
    part = int((cells - full) * 8)
    tail = BLOCKS[part] if full < width and part else ""
    return "█" * full + tail + "░" * (width - full - len(tail))


def band_content(confidence: float, band: str | None, width: int = 12) -> Content:
    """``████░░ 0.70 likely`` coloured by band."""
    style = BAND_STYLE.get(band or "", "$text-muted")
    return Content.from_markup(
        f"[{style}]$bar[/] $value [{style}]$band[/]",
        bar=bar(confidence, width), value=f"{confidence:.2f}", band=band or "not ranked",
    )


def move_content(move: Move | None) -> Content:
    """``▲+0.20`` / ``▼-0.35``, or nothing."""
    if move is None:
        return Content("")
    delta = move.after - move.before
    if delta > 0:
        return Content.from_markup("[$success]▲$d[/]", d=f"{delta:+.2f}")
    return Content.from_markup("[$error]▼$d[/]", d=f"{delta:+.2f}")
