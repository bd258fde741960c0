"""What the HTML report plots for a run: the figures, their scale and x range, the symptoms."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from nndoctor.knowledge.loader import builtin_knowledge_base
from nndoctor.pipeline import RunReport, diagnose_run, load_runs
from nndoctor.report.figures import log_scale, run_figures, series_groups
from nndoctor.report.svg import Line

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures" / "logs"


@cache
def report(path: Path) -> RunReport:
    (run,) = load_runs([path])
    return diagnose_run(run, questions=0)


def test_train_and_validation_loss_share_one_figure_on_a_log_axis():
    drawn = run_figures(report(EXAMPLES / "overfitting"))
    loss = drawn.figures[0]
    assert loss.title == "loss"
    assert [line.name for line in loss.lines][:2] == ["train_loss", "val_loss"]
    assert loss.log_y  # train_loss falls from ~2 to ~0.001: three decades
    assert [line.color for line in loss.lines][:2] == ["#1f6fb4", "#e0711b"]


def test_every_figure_of_a_run_spans_the_same_steps():
    r = report(EXAMPLES / "nan_blowup")
    drawn = run_figures(r)
    assert len(drawn.figures) == 4  # loss, accuracy, learning rate, gradient norm
    first = min(int(s.steps[0]) for s in r.run.series.values())
    last = max(int(s.steps[-1]) for s in r.run.series.values())
    assert drawn.x_range == (first, last)


def test_markers_are_the_holding_symptoms_with_their_labels_and_steps():
    r = report(EXAMPLES / "overfitting")
    drawn = run_figures(r)
    (loss_marker,) = [m for m in drawn.figures[0].markers if m.label == "val loss rising"]
    assert loss_marker.step == 48 and loss_marker.series == "val_loss"
    assert "rose 76% above its minimum" in loss_marker.detail
    facts = r.diagnosis.facts
    assert drawn.symptoms and all(facts[s.fact].value is True for s in drawn.symptoms)
    # true facts that support nothing shown are no symptoms (a healthy sign, a short run …)
    shown = {s.fact for s in drawn.symptoms}
    assert facts["loss_noisy_but_trending_down"].value is True
    assert "loss_noisy_but_trending_down" not in shown


def test_symptoms_reached_through_findings_and_on_other_series_are_marked():
    drawn = run_figures(report(EXAMPLES / "nan_blowup"))
    by_title = {f.title: f for f in drawn.figures}
    labels = {m.label: m for m in by_title["gradient norm"].markers}
    assert labels["NaN/Inf values"].step == 110  # grad_norm turned NaN at step 110
    assert any(m.label == "loss blew up" and m.step == 105 for m in by_title["loss"].markers)


def test_a_healthy_run_has_no_markers():
    r = report(EXAMPLES / "healthy")
    assert r.diagnosis.verdict == "healthy"
    drawn = run_figures(r)
    assert drawn.figures and not drawn.symptoms
    assert not any(f.markers for f in drawn.figures)


def test_every_log_derived_true_or_false_fact_has_a_short_label():
    kb = builtin_knowledge_base()
    missing = [n for n, f in kb.facts.items()
               if f.derived_from_logs and f.type == "bool" and f.kind == "observation"
               and not f.label]
    assert not missing, f"add a 'label' to these facts: {missing}"


def test_other_series_are_paired_by_role_and_grouped_by_namespace():
    run = report(FIXTURES / "ultralytics" / "train").run
    groups = dict(series_groups(run)[0])
    assert groups["loss"] == ("train_loss", "val_loss")
    assert groups["learning rate"][0] == "lr" and "lr/pg1" in groups["learning rate"]
    assert groups["box_loss"] == ("train/box_loss", "val/box_loss")
    assert set(groups["metrics"]) == {"metrics/map50-95_b", "metrics/map50_b",
                                      "metrics/precision_b", "metrics/recall_b"}


def test_per_layer_series_are_listed_not_drawn():
    run = report(FIXTURES / "twice" / "lightning_two_loggers").run
    groups, not_drawn = series_groups(run)
    assert any(n.startswith("nndoctor/grad_norm/") for n in not_drawn)
    assert not any(n.startswith("nndoctor/") for _, names in groups for n in names)
    assert "train_loss_epoch" in dict(groups)["loss"]  # a variant joins its canonical figure


def test_log_scale_needs_positive_values_spanning_two_decades():
    def lines(*values: float) -> tuple[Line, ...]:
        return (Line("x", np.arange(len(values)), np.array(values), "#000"),)

    assert log_scale(lines(1.0, 0.01))
    assert not log_scale(lines(1.0, 0.02))
    assert not log_scale(lines(1.0, 0.0, 0.001))  # a zero cannot go on a log axis
    assert log_scale(lines(5.0, np.nan, np.inf, 0.05))  # non-finite values do not count


def test_a_variant_counted_in_other_units_is_left_out_not_squashing_the_axis():
    # Keras' evaluation_loss_vs_iterations counts batches; the run's epochs count 0-11
    r = report(FIXTURES / "tensorboard" / "keras_tf2")
    _, not_drawn = series_groups(r.run)
    assert "validation/evaluation_loss_vs_iterations" in not_drawn
    assert run_figures(r).x_range == (0, 11)
