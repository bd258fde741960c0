"""Line plots as inline SVG, drawn with numpy only (no plotting library).

One :class:`Figure` is one quantity: its lines (train and validation on the same axes) over a
given step range, a linear or logarithmic y axis, where each line first turns NaN/Inf (and a band
along the top wherever it is non-finite), and symptom markers labelled with their name and step in
rows above the plot, so a label never covers a curve. A long series is reduced to the lowest and
highest value of each pixel column (in the order they occur), so a one-step spike survives and a
million points draw as at most two per column. Text is escaped here; callers pass plain strings.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, replace

import numpy as np

from nndoctor.sanitize import clean

WIDTH = 880  # viewBox units; the page scales the SVG to its column
PLOT_HEIGHT = 190
LEFT, RIGHT, BOTTOM = 66, 18, 38  # room for the y tick labels, the last x label, the x axis
LABEL_ROW = 16  # height of one row of marker labels above the plot
MAX_LABEL_ROWS = 4
CHAR_WIDTH = 6.3  # mean advance of an 11 px sans-serif character, to lay out labels
DOTS_UP_TO = 40  # a line with at most this many points also gets a dot per point
NONFINITE_COLOR = "#c62828"
MARKER_COLOR = "#d35400"


@dataclass(frozen=True)
class Line:
    """One series to draw: steps (sorted) and values (may hold NaN/Inf)."""

    name: str
    steps: np.ndarray
    values: np.ndarray
    color: str
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    """A symptom at a step: drawn as a dotted vertical line with ``label`` and the step on top,
    a dot where it meets line ``series`` (when drawn), and ``detail`` as the hover text."""

    step: int
    label: str
    detail: str = ""
    series: str = ""


@dataclass(frozen=True)
class Figure:
    title: str
    lines: tuple[Line, ...]
    markers: tuple[Marker, ...] = ()
    log_y: bool = False
    x_label: str = "step"


@dataclass(frozen=True)
class _Frame:
    """Pixel geometry of one figure: the plot box and both axis mappings."""

    x_lo: float
    x_hi: float
    y_lo: float  # in axis units: log10 of the value on a log axis
    y_hi: float
    log_y: bool
    top: float

    @property
    def left(self) -> float:
        return LEFT

    @property
    def right(self) -> float:
        return WIDTH - RIGHT

    @property
    def bottom(self) -> float:
        return self.top + PLOT_HEIGHT

    def x(self, steps: np.ndarray) -> np.ndarray:
        span = (self.x_hi - self.x_lo) or 1.0
        return self.left + (np.asarray(steps, dtype=np.float64) - self.x_lo) / span * (
            self.right - self.left)

    def y(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        if self.log_y:
            v = np.log10(np.maximum(v, 10.0 ** self.y_lo))
        span = (self.y_hi - self.y_lo) or 1.0
        return self.bottom - (v - self.y_lo) / span * PLOT_HEIGHT


def figure_svg(figure: Figure, x_range: tuple[float, float], run_title: str = "") -> str:
    """The figure as one ``<svg>`` element over ``x_range`` (shared by a run's figures)."""
    x_lo, x_hi = x_range
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    y_lo, y_hi = _y_range(figure)
    notes = _layout(_notes(figure), x_lo, x_hi)
    rows = max((note.row for note in notes), default=-1) + 1
    frame = _Frame(x_lo, x_hi, y_lo, y_hi, figure.log_y, top=8 + rows * LABEL_ROW)
    height = frame.bottom + BOTTOM
    name = f"{figure.title} of {run_title}" if run_title else figure.title
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {WIDTH} '
           f'{height:.0f}" role="img" aria-label="{_e(name)}"><title>{_e(name)}</title>']
    out += _axes(frame, figure)
    for line in figure.lines:
        out += _nonfinite_regions(frame, line)
    for line in figure.lines:
        out += _line(frame, line)
    out += _draw_notes(frame, figure, notes)
    out.append("</svg>")
    return "".join(out)


# --------------------------------------------------------------------------- reduction


def reduce_points(steps: np.ndarray, values: np.ndarray, x_lo: float, x_hi: float,
                  columns: int) -> np.ndarray:
    """Indices of the finite points to draw, in order: every one when there are few, else the
    lowest and the highest of each of ``columns`` pixel columns (linear in the points)."""
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size <= 2 * columns:
        return finite
    s, v = steps[finite], values[finite]
    span = (x_hi - x_lo) or 1.0
    col = np.clip(((s - x_lo) / span * columns).astype(np.int64), 0, columns - 1)
    if np.any(col[1:] < col[:-1]):  # steps out of order: sort into columns first
        order = np.argsort(col, kind="stable")
        return np.sort(finite[order[reduce_points(s[order], v[order], x_lo, x_hi, columns)]])
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    counts = np.diff(np.r_[starts, col.size])
    keep = [_first_in_column(v == np.repeat(extreme.reduceat(v, starts), counts), col)
            for extreme in (np.minimum, np.maximum)]
    return finite[np.union1d(*keep)]  # sorted: drawing order is step order


def _first_in_column(hit: np.ndarray, col: np.ndarray) -> np.ndarray:
    """The first index of each column where ``hit`` is true (columns are contiguous)."""
    idx = np.flatnonzero(hit)
    ids = col[idx]
    return idx[np.r_[True, ids[1:] != ids[:-1]]]


def _line(frame: _Frame, line: Line) -> list[str]:
    columns = int(frame.right - frame.left)
    idx = reduce_points(line.steps, line.values, frame.x_lo, frame.x_hi, columns)
    if idx.size == 0:
        return []
    xs, ys = frame.x(line.steps[idx]), frame.y(line.values[idx])
    bad_before = np.cumsum(~np.isfinite(line.values))[idx]  # non-finite points up to each one
    gap = np.r_[True, bad_before[1:] != bad_before[:-1]]  # a NaN between two drawn points
    parts = [("M" if g else "L") + f"{x:.1f} {y:.1f}" for x, y, g in zip(xs, ys, gap,
                                                                         strict=True)]
    dash = ' stroke-dasharray="5 3"' if line.dashed else ""
    out = [f'<path class="line" data-series="{_e(line.name)}" d="{"".join(parts)}" fill="none" '
           f'stroke="{line.color}" stroke-width="1.6" stroke-linejoin="round"{dash}>'
           f"<title>{_e(line.name)}</title></path>"]
    if idx.size <= DOTS_UP_TO:
        out.append(f'<g fill="{line.color}">' + "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.4"/>' for x, y in zip(xs, ys, strict=True))
            + "</g>")
    return out


# --------------------------------------------------------------------------- non-finite values


def first_nonfinite(line: Line) -> tuple[int, str] | None:
    """(step, 'NaN' / 'Inf' / '-Inf') of the first non-finite value of the line, or None."""
    bad = np.flatnonzero(~np.isfinite(line.values))
    if bad.size == 0:
        return None
    value = float(line.values[bad[0]])
    kind = "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")
    return int(line.steps[bad[0]]), kind


def nonfinite_spans(frame: _Frame, line: Line) -> list[tuple[float, float]]:
    """Pixel spans (x from, x to) where the line is NaN/Inf: each stretch of non-finite points
    up to the next logged point, merged where they touch (so their number stays below the
    number of pixel columns)."""
    bad = ~np.isfinite(line.values)
    if not bad.any():
        return []
    before = np.r_[False, bad[:-1]]
    after = np.r_[bad[1:], False]
    starts, ends = np.flatnonzero(bad & ~before), np.flatnonzero(bad & ~after)
    until = np.minimum(ends + 1, line.steps.size - 1)  # the stretch lasts to the next point
    a, b = frame.x(line.steps[starts]), frame.x(line.steps[until])
    b = np.maximum(b, a + 1.0)  # at least one pixel wide
    reach = np.maximum.accumulate(b)
    new = np.r_[True, a[1:] > reach[:-1] + 1.0]
    group_end = np.r_[np.flatnonzero(new)[1:] - 1, a.size - 1]
    return list(zip(a[new].tolist(), reach[group_end].tolist(), strict=True))


def _nonfinite_regions(frame: _Frame, line: Line) -> list[str]:
    spans = nonfinite_spans(frame, line)
    if not spans:
        return []
    out = [f'<g class="nonfinite" data-series="{_e(line.name)}" fill="{NONFINITE_COLOR}">']
    for a, b in spans:
        out.append(f'<rect x="{a:.1f}" y="{frame.top:.1f}" width="{b - a:.1f}" '
                   f'height="{PLOT_HEIGHT}" opacity="0.07"/>'
                   f'<rect x="{a:.1f}" y="{frame.top:.1f}" width="{b - a:.1f}" height="4" '
                   f'opacity="0.6"/>')
    out.append("</g>")
    return out


# --------------------------------------------------------------------------- annotations


@dataclass(frozen=True)
class _Note:
    """A label above the plot with a vertical line at its step: a symptom marker, or where a
    line first turns NaN/Inf."""

    step: int
    text: str
    tip: str
    series: str
    kind: str  # "marker" or "nonfinite"
    x: float = 0.0
    row: int = -1  # label row above the plot; -1 when no row has room (the hover text remains)
    anchor: str = "start"  # "start": the label runs right of the line, "end": left of it


def _notes(figure: Figure) -> list[_Note]:
    unit = figure.x_label
    same: dict[tuple[int, str], list[Marker]] = {}  # symptoms at one point share a label
    for m in figure.markers:
        same.setdefault((m.step, m.series), []).append(m)
    notes = []
    for (step, series), marks in same.items():
        text = f"{', '.join(m.label for m in marks)} · {unit} {step:,}"
        tips = "; ".join(f"{m.label}: {m.detail}" if m.detail else m.label for m in marks)
        notes.append(_Note(step, text, f"{unit} {step:,} - {tips}", series, "marker"))
    named = len(figure.lines) > 1
    for line in figure.lines:
        first = first_nonfinite(line)
        if first is None:
            continue
        step, kind = first
        if any(m.step == step and m.series in (line.name, "") for m in figure.markers):
            continue  # a symptom marker already says so at that step
        count = int((~np.isfinite(line.values)).sum())
        text = f"{line.name + ' ' if named else ''}{kind} from {unit} {step:,}"
        notes.append(_Note(step, text, f"{text} ({count:,} of {line.values.size:,} points "
                                       "non-finite)", line.name, "nonfinite"))
    return notes


def _layout(notes: list[_Note], x_lo: float, x_hi: float) -> list[_Note]:
    """Rows and sides for the labels, greedily left to right, so labels in a row never
    overlap."""
    span = (x_hi - x_lo) or 1.0
    left, right = LEFT, WIDTH - RIGHT
    taken: list[list[tuple[float, float]]] = [[] for _ in range(MAX_LABEL_ROWS)]
    out = []
    for note in sorted(notes, key=lambda n: (n.step, n.kind)):
        x = left + min(max((note.step - x_lo) / span, 0.0), 1.0) * (right - left)
        width = len(note.text) * CHAR_WIDTH
        anchor = "start" if x + 3 + width <= right else "end"
        a, b = (x + 3, x + 3 + width) if anchor == "start" else (x - 3 - width, x - 3)
        row = next((r for r, spans in enumerate(taken)
                    if all(b + 8 < u or a > v + 8 for u, v in spans)), -1)
        if row >= 0:
            taken[row].append((a, b))
        out.append(replace(note, x=x, row=row, anchor=anchor))
    return out


def _draw_notes(frame: _Frame, figure: Figure, notes: list[_Note]) -> list[str]:
    out = []
    lines = {line.name: line for line in figure.lines}
    for note in notes:
        color, x = MARKER_COLOR if note.kind == "marker" else NONFINITE_COLOR, note.x
        dash = "2 3" if note.kind == "marker" else "5 3"
        y_text = 8 + note.row * LABEL_ROW + 11
        top = y_text - 10 if note.row >= 0 else frame.top
        out.append(f'<g class="{note.kind}-note" data-step="{note.step}" '
                   f'data-series="{_e(note.series)}"><title>{_e(note.tip)}</title>'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{frame.bottom:.1f}" '
                   f'stroke="{color}" stroke-width="1.2" stroke-dasharray="{dash}"/>')
        if note.row >= 0:
            tx = x + 3 if note.anchor == "start" else x - 3
            out.append(f'<text x="{tx:.1f}" y="{y_text:.1f}" text-anchor="{note.anchor}" '
                       f'class="{note.kind}-label" fill="{color}">{_e(note.text)}</text>')
        dot = _on_line(frame, lines.get(note.series), note.step) if note.kind == "marker" \
            else None
        if dot is not None:
            out.append(f'<circle cx="{dot[0]:.1f}" cy="{dot[1]:.1f}" r="4" fill="#fff" '
                       f'stroke="{color}" stroke-width="2"/>')
        out.append("</g>")
    return out


def _on_line(frame: _Frame, line: Line | None, step: int) -> tuple[float, float] | None:
    """Where the line is at ``step`` (its first finite point at or after it), if anywhere."""
    if line is None:
        return None
    i = int(np.searchsorted(line.steps, step))
    while i < line.values.size and not np.isfinite(line.values[i]):
        i += 1
    if i >= line.values.size:
        return None
    point = (float(frame.x(line.steps[i:i + 1])[0]), float(frame.y(line.values[i:i + 1])[0]))
    return point


# --------------------------------------------------------------------------- axes


def _y_range(figure: Figure) -> tuple[float, float]:
    """The y axis range in axis units (log10 on a log axis), padded by 5 %."""
    finite = [line.values[np.isfinite(line.values)] for line in figure.lines]
    values = np.concatenate(finite) if finite else np.array([])
    if figure.log_y:
        values = values[values > 0]
    if values.size == 0:
        return (0.0, 1.0) if not figure.log_y else (-1.0, 1.0)
    if figure.log_y:
        values = np.log10(values)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12 * max(abs(lo), abs(hi), 1e-300):
        pad = abs(lo) * 0.1 if lo else 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [lo, hi], about ``count``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10)
                if (hi - lo) / (m * magnitude) <= count + 2)
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick positions (log10 values) within [lo, hi]: the decades, at most 7 of them, and 2× and
    5× each decade when fewer than four decades are in range."""
    decades = list(range(math.floor(lo), math.ceil(hi) + 1))
    inside = [float(d) for d in decades if lo - 1e-9 <= d <= hi + 1e-9]
    if len(inside) >= 4:
        stride = math.ceil(len(inside) / 7)
        return inside[::stride]
    ticks = [d + math.log10(m) for d in decades for m in (1, 2, 5)]
    return [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]


def tick_labels(values: list[float], step: float = 0.0) -> list[str]:
    """Labels for the ticks of one axis, in one style: plain digits when every tick is between
    0.001 and 100000 (or 0), else scientific (9.5e-4, 1e-3, 1.05e-3); as many digits as the
    tick spacing ``step`` needs (0 for decades)."""
    plain = all(v == 0 or 1e-3 <= abs(v) < 1e5 for v in values)
    out = []
    for v in values:
        if v == 0:
            out.append("0")
        elif plain:
            decimals = max(0, -math.floor(math.log10(step))) + 1 if step > 0 else 4
            out.append(f"{v:.{min(decimals, 6)}f}".rstrip("0").rstrip(".") or "0")
        else:
            digits = 1 if step <= 0 else min(max(
                0, math.floor(math.log10(abs(v))) - math.floor(math.log10(step))) + 1, 6)
            mantissa, exponent = f"{v:.{digits}e}".split("e")
            out.append(f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}")
    return out


def _axes(frame: _Frame, figure: Figure) -> list[str]:
    out = [f'<rect x="{frame.left}" y="{frame.top:.1f}" width="{frame.right - frame.left}" '
           f'height="{PLOT_HEIGHT}" fill="#fff" stroke="#bbb"/>']
    if frame.log_y:
        y_values = [10.0 ** t for t in log_ticks(frame.y_lo, frame.y_hi)]
        y_labels = tick_labels(y_values)
    else:
        y_values = nice_ticks(frame.y_lo, frame.y_hi)
        gap = y_values[1] - y_values[0] if len(y_values) > 1 else 0.0
        y_labels = tick_labels(y_values, gap)
    grid = []
    for value, label in zip(y_values, y_labels, strict=True):
        y = float(frame.y(np.array([value]))[0])
        grid.append(f"M{frame.left} {y:.1f}H{frame.right}")
        out.append(f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'class="tick">{_e(label)}</text>')
    x_ticks = [t for t in nice_ticks(frame.x_lo, frame.x_hi, 7) if float(t).is_integer()]
    for t in x_ticks:
        x = float(frame.x(np.array([t]))[0])
        grid.append(f"M{x:.1f} {frame.top:.1f}V{frame.bottom:.1f}")
        out.append(f'<text x="{x:.1f}" y="{frame.bottom + 15:.1f}" text-anchor="middle" '
                   f'class="tick">{int(t):,}</text>')
    out.insert(1, f'<path class="grid" d="{"".join(grid)}" stroke="#eee" fill="none"/>')
    scale = " (log scale)" if frame.log_y else ""
    out.append(f'<text x="{frame.right}" y="{frame.bottom + 32:.1f}" text-anchor="end" '
               f'class="axis-label">{_e(figure.x_label)}</text>')
    out.append(f'<text x="12" y="{frame.top + PLOT_HEIGHT / 2:.1f}" text-anchor="middle" '
               f'class="axis-label" transform="rotate(-90 12 {frame.top + PLOT_HEIGHT / 2:.1f})">'
               f"{_e(figure.title + scale)}</text>")
    return out


def _e(text: str) -> str:
    """Text for an SVG element or attribute: control characters made visible, then escaped."""
    return html.escape(clean(text), quote=True)
