"""Non-finite losses, and whether there is enough data to judge at all."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact
from nndoctor.engine.facts import Fact


@detector("nonfinite_loss")
def nonfinite_loss(run: Run, p: Params) -> Iterator[Fact]:
    found = []
    for tag in ("train_loss", "val_loss"):
        series = run.get(tag)
        if series is None or len(series) == 0:
            continue
        bad = ~np.isfinite(series.values)
        if bad.any():
            first = int(np.argmax(bad))
            found.append((int(series.steps[first]), tag, first, int(bad.sum()), len(series),
                          float(series.values[first]), int(series.steps[-1])))
    if not found and run.get("train_loss") is None and run.get("val_loss") is None:
        return
    if not found:
        yield log_fact("loss_nonfinite", False, "every logged loss value is finite")
        return
    step, tag, index, count, total, value, last_step = min(found)
    kind = "NaN" if np.isnan(value) else "Inf"
    yield log_fact("loss_nonfinite", True,
                   f"{tag} became {kind} at step {step} ({count} of {total} points non-finite)",
                   f"{tag}, step {step}")
    early = step <= p["early_steps"] or index < max(1, p["early_fraction"] * total)
    yield log_fact("nonfinite_early", bool(early),
                   f"the first non-finite {tag} is at step {step} of {last_step}",
                   f"{tag}, step {step}")


@detector("minimum_points")
def minimum_points(run: Run, p: Params) -> Iterator[Fact]:
    counts = {}
    for tag in ("train_loss", "val_loss"):
        series = run.get(tag)
        counts[tag] = int(np.isfinite(series.values).sum()) if series is not None else 0
    best = max(counts.values())
    if best < p["min_points"]:
        yield log_fact("insufficient_data", True,
                       f"only {best} finite loss points (need {p['min_points']} to judge curves)")
    else:
        yield log_fact("insufficient_data", False, f"{best} finite loss points")
