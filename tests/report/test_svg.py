"""The SVG plots of the HTML report: point reduction, non-finite values, axes, marker labels."""

from __future__ import annotations

import itertools
import re
import time

import numpy as np
import pytest

from nndoctor.report.svg import (
    Figure,
    Line,
    Marker,
    figure_svg,
    first_nonfinite,
    log_ticks,
    nice_ticks,
    reduce_points,
    tick_labels,
)


def path_points(svg: str) -> list[list[tuple[float, float]]]:
    """The drawn lines of an SVG: per path, its (x, y) points."""
    out = []
    for d in re.findall(r'<path class="line"[^>]* d="([^"]*)"', svg):
        out.append([(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", d)])
    return out


def test_a_million_points_keep_their_spike_and_draw_as_two_per_column():
    steps = np.arange(1_000_000, dtype=np.int64)
    values = 1.0 + 0.01 * np.sin(steps / 5000.0)
    values[654_321] = 50.0  # one step out of a million
    idx = reduce_points(steps, values, 0, 999_999, 800)
    assert idx.size <= 1600 and np.all(np.diff(idx) > 0)
    assert 654_321 in idx
    assert values[idx].max() == 50.0 and values[idx].min() == pytest.approx(values.min())


def test_few_points_are_all_kept_and_non_finite_ones_never():
    values = np.array([1.0, np.nan, 2.0, np.inf, 3.0])
    assert reduce_points(np.arange(5), values, 0, 4, 800).tolist() == [0, 2, 4]


def test_a_line_breaks_where_values_are_not_finite():
    values = np.array([1.0, 2.0, np.nan, np.nan, 3.0, 4.0])
    svg = figure_svg(Figure("loss", (Line("train_loss", np.arange(6), values, "#00f"),)), (0, 5))
    (d,) = re.findall(r'<path class="line"[^>]* d="([^"]*)"', svg)
    assert d.count("M") == 2 and d.count("L") == 2  # two segments of two points


@pytest.mark.parametrize(("value", "kind"), [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "-Inf")])
def test_the_first_non_finite_value_is_named_and_marked(value, kind):
    values = np.array([1.0, 0.5, value, value, np.nan])
    line = Line("train_loss", np.array([10, 20, 30, 40, 50]), values, "#00f")
    assert first_nonfinite(line) == (30, kind)
    svg = figure_svg(Figure("loss", (line,)), (10, 50))
    assert f"{kind} from step 30" in svg and "3 of 5 points non-finite" in svg
    assert 'class="nonfinite"' in svg  # the shaded region from step 30 on


def test_a_finite_line_has_no_non_finite_marks():
    line = Line("val_loss", np.arange(4), np.array([3.0, 2.0, 1.5, 1.4]), "#f80")
    svg = figure_svg(Figure("loss", (line,)), (0, 3))
    assert first_nonfinite(line) is None and "nonfinite" not in svg


def test_train_and_validation_share_the_axes():
    train = Line("train_loss", np.arange(0, 100), np.linspace(2, 0.1, 100), "#00f")
    val = Line("val_loss", np.arange(0, 100, 10), np.linspace(2, 1, 10), "#f80")
    svg = figure_svg(Figure("loss", (train, val)), (0, 99))
    t, v = path_points(svg)
    assert t[0][0] == v[0][0] and t[0][1] == pytest.approx(v[0][1])  # both start at (0, 2)
    assert len(t) == 100 and len(v) == 10


def test_log_axis_spreads_decades_evenly():
    values = np.array([1e4, 1e3, 1e2, 10.0, 1.0])
    svg = figure_svg(Figure("loss", (Line("l", np.arange(5), values, "#00f"),), log_y=True),
                     (0, 4))
    ys = [y for _, y in path_points(svg)[0]]
    gaps = np.diff(ys)
    assert np.allclose(gaps, gaps[0]) and gaps[0] > 0  # equal steps per decade, going down
    assert ">1000<" in svg and ">10<" in svg and "(log scale)" in svg


def test_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ticks = nice_ticks(3.3, 5.9)
    assert ticks[0] >= 3.3 and ticks[-1] <= 5.9 and 3 <= len(ticks) <= 7
    assert log_ticks(-0.5, 4.2) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert len(log_ticks(-3.5, -1.2)) > 2  # 2× and 5× within few decades
    assert tick_labels([0.0, 0.30000000000000004, 0.6], 0.3) == ["0", "0.3", "0.6"]
    assert tick_labels([3.0, 4.0, 5.0], 1.0) == ["3", "4", "5"]
    assert tick_labels([1e-5, 1e-4, 1e-3]) == ["1e-5", "1e-4", "1e-3"]
    # one style per axis: 9.5e-4 next to 1.05e-3, not next to 0.00105
    assert tick_labels([9e-4, 9.5e-4, 1e-3, 1.05e-3], 5e-5) == ["9e-4", "9.5e-4", "1e-3",
                                                               "1.05e-3"]
    assert tick_labels([0.0, 1e5, 2e5], 1e5) == ["0", "1e5", "2e5"]


def test_marker_labels_name_the_symptom_and_step_and_never_overlap():
    line = Line("val_loss", np.arange(0, 1000), np.linspace(1, 2, 1000), "#f80")
    markers = (Marker(400, "val loss rising", "val_loss rose 76%", "val_loss"),
               Marker(410, "val stopped improving", "", "val_loss"),
               Marker(990, "gradient-norm spike", "", ""))
    svg = figure_svg(Figure("loss", (line,), markers), (0, 999))
    labels = re.findall(r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="(start|end)" '
                        r'class="marker-label"[^>]*>([^<]*)</text>', svg)
    texts = [t for *_, t in labels]
    assert "val loss rising · step 400" in texts and "gradient-norm spike · step 990" in texts
    rows: dict[str, list[tuple[float, float]]] = {}
    for x, y, anchor, text in labels:
        width = len(text) * 6.3
        a = float(x) if anchor == "start" else float(x) - width
        rows.setdefault(y, []).append((a, a + width))
        assert a >= 0 and a + width <= 880  # inside the figure
    for spans in rows.values():
        spans.sort()
        assert all(b <= c for (_, b), (c, _) in itertools.pairwise(spans))
    assert len(rows) >= 2  # the two close markers went to different rows
    assert "val_loss rose 76%" in svg  # the evidence as hover text
    marker_texts = re.findall(r"<text[^>]*marker-label[^>]*>", svg)
    assert len(marker_texts) == 3 and not any("rotate" in t for t in marker_texts)  # upright


def test_symptoms_at_one_point_share_one_label():
    line = Line("val_loss", np.arange(10), np.ones(10), "#f80")
    markers = (Marker(7, "NaN/Inf values", "", "val_loss"),
               Marker(7, "NaN/Inf early in training", "", "val_loss"))
    svg = figure_svg(Figure("loss", (line,), markers), (0, 9))
    assert "NaN/Inf values, NaN/Inf early in training · step 7" in svg
    assert svg.count('class="marker-note"') == 1


def test_strings_are_escaped_inside_the_svg():
    name = '<script>alert(1)</script>"\x1b[2J'
    line = Line(name, np.arange(3), np.ones(3), "#00f")
    svg = figure_svg(Figure(name, (line,), (Marker(1, name, name, name),)), (0, 2), name)
    assert "<script>" not in svg and "\x1b" not in svg and '"\\x1b' not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;\\x1b[2J" in svg


def test_a_million_point_figure_is_small_and_quick():
    steps = np.arange(1_000_000, dtype=np.int64)
    rng = np.random.default_rng(0)
    values = np.exp(-steps / 2e5) + 0.05 * rng.random(steps.size)
    values[700_000:] = np.nan
    started = time.perf_counter()
    svg = figure_svg(Figure("loss", (Line("train_loss", steps, values, "#00f"),)),
                     (0, 999_999))
    assert time.perf_counter() - started < 3.0
    assert len(svg) < 60_000
    assert "NaN from step 700,000" in svg


def test_reduction_does_not_depend_on_the_order_of_the_points():
    rng = np.random.default_rng(3)
    steps, values = np.arange(20_000), rng.random(20_000)
    kept = reduce_points(steps, values, 0, 19_999, 100)
    shuffled = rng.permutation(steps.size)
    again = reduce_points(steps[shuffled], values[shuffled], 0, 19_999, 100)
    assert sorted(shuffled[again].tolist()) == kept.tolist()
