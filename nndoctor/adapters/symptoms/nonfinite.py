"""Non-finite losses, and whether there is enough data to judge at all."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact, num, pct
from nndoctor.engine.facts import Fact


def _gradient_breaks(run: Run) -> tuple[int, int, int, float, int] | None:
    """A non-finite grad_norm that is not a mixed-precision skipped step: NaN/Inf that lasts
    (2+ logged points, or up to the end of the log), or that sits next to a train loss of
    exactly 0.0 - Hugging Face's Trainer filters NaN losses out of the logged average
    (``logging_nan_inf_filter``), so there the gradient is where the NaN shows."""
    series = run.get("grad_norm")
    if series is None or len(series) == 0:
        return None
    bad = ~np.isfinite(series.values)
    if not bad.any():
        return None
    zero_steps = set()
    loss = run.get("train_loss")
    if loss is not None:
        zero_steps = {int(s) for s in loss.steps[loss.values == 0.0]}
    idx = bad.nonzero()[0]
    for i in idx:
        lasting = (i + 1 < bad.size and bad[i + 1]) or not np.isfinite(series.values[i:]).any()
        if lasting or int(series.steps[i]) in zero_steps:
            return (int(series.steps[i]), int(i), int(bad.sum()), float(series.values[i]),
                    len(series))
    return None


@detector("nonfinite_loss", produces=("loss_nonfinite", "nonfinite_early"))
def nonfinite_loss(run: Run, p: Params) -> Iterator[Fact]:
    found = []
    for tag in ("train_loss", "val_loss"):
        series = run.get(tag)
        if series is None or len(series) == 0:
            continue
        bad = ~np.isfinite(series.values)
        if bad.any():
            first = int(bad.argmax())
            found.append((int(series.steps[first]), tag, first, int(bad.sum()), len(series),
                          float(series.values[first]), int(series.steps[-1])))
    if not found and run.get("train_loss") is None and run.get("val_loss") is None:
        return
    gradient = _gradient_breaks(run)
    if gradient is not None:
        step, index, count, value, total = gradient
        last = max(int(s.steps[-1]) for s in (run.get("train_loss"), run.get("val_loss"),
                                              run.get("grad_norm")) if s is not None and len(s))
        found.append((step, "grad_norm", index, count, total, value, last))
    if not found:
        yield log_fact("loss_nonfinite", False, "every logged loss value is finite")
        return
    step, tag, index, count, total, value, last_step = min(found)
    kind = "NaN" if np.isnan(value) else "Inf"
    note = (" - the loss itself may look finite: a NaN filter (e.g. Hugging Face's "
            "logging_nan_inf_filter) drops NaN losses from the log") if tag == "grad_norm" else ""
    yield log_fact("loss_nonfinite", True,
                   f"{tag} became {kind} at step {step} ({count} of {total} points "
                   f"non-finite){note}", f"{tag}, step {step}")
    # the first 100 iterations of a run, not the last stretch of a run that is itself that short
    within = step <= p["early_run_share"] * max(last_step, 1)
    early = (step <= p["early_steps"] and within) or index < max(1, p["early_fraction"] * total)
    yield log_fact("nonfinite_early", bool(early),
                   f"the first non-finite {tag} is at step {step} of {last_step}",
                   f"{tag}, step {step}")


@detector("minimum_points", produces=("insufficient_data", "few_points_still_falling"))
def minimum_points(run: Run, p: Params) -> Iterator[Fact]:
    """Too few finite loss points to judge curves - and, when there are so few, whether the
    ones there still fall at every point (a short run stopped while it was improving)."""
    counts = {}
    finite: dict[str, np.ndarray] = {}
    for tag in ("train_loss", "val_loss"):
        series = run.get(tag)
        finite[tag] = series.values[np.isfinite(series.values)] if series is not None \
            else np.empty(0)
        counts[tag] = int(finite[tag].size)
    best = max(counts.values())
    what = "finite loss points"
    rewards = int(run.context.get("_rl_points", 0))  # an RL run is judged by its reward
    if rewards > best:
        best, what = rewards, "finite reward points (an RL run)"
    if best < p["min_points"]:
        yield log_fact("insufficient_data", True,
                       f"only {best} {what} (need {p['min_points']} to judge curves)")
        if not rewards:
            yield from _few_points_falling(finite, p)
    else:
        yield log_fact("insufficient_data", False, f"{best} {what}")


def _still_falling(values: np.ndarray, last_drop: float) -> bool:
    """Lower at every point, the last one still ≥ ``last_drop`` below the one before."""
    drops = -np.diff(values)
    return bool(np.all(drops > 0) and values[-1] > 0 and drops[-1] >= last_drop * values[-2])


def _few_points_falling(finite: dict[str, np.ndarray], p: Params) -> Iterator[Fact]:
    """Each loss curve with ≥ min_few_points points falls at every one of them, its last step
    still cutting ≥ last_drop of the value before: the run stopped while it was improving."""
    curves = {tag: v for tag, v in finite.items() if v.size >= p["min_few_points"]}
    if not curves:
        return
    falling = all(_still_falling(v, p["last_drop"]) for v in curves.values())
    shown = "; ".join(f"{tag} " + " → ".join(num(float(x)) for x in v)
                      for tag, v in curves.items())
    how = (f"every point lower than the one before, the last by ≥ {pct(p['last_drop'])}"
           if falling else "not falling at every point to the end")
    yield log_fact("few_points_still_falling", falling, f"{shown}: {how}")
