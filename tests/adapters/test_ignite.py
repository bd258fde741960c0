"""PyTorch Ignite's console output (readers/console.py), on logs written by pytorch-ignite 0.5.5
(tests/fixtures/logs/ignite/make_fixtures.py): its examples' per-iteration lines with each
epoch's results, and its tqdm ``ProgressBar`` redrawn at every iteration."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndoctor.adapters.readers import read_path
from nndoctor.pipeline import diagnose_run

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "ignite"


def test_the_examples_iteration_lines_are_the_training_curve() -> None:
    """``Epoch[1] Iteration[5] Loss: 1.38`` counts iterations over the whole run; the epoch's
    ``Training Results`` (the model measured on the training set) and ``Validation Results``
    sit at the epoch's last iteration, on the same step axis."""
    (run,) = read_path(LOGS / "example_healthy.log")
    loss = run.series["train_loss"]
    assert loss.steps.tolist()[:3] == [5, 10, 15] and len(loss) == 48
    assert run.series["val_loss"].steps.tolist() == list(range(20, 241, 20))
    assert run.series["train_acc"].steps.tolist() == list(range(20, 241, 20))
    assert run.series["avg_loss_epoch"].values[0] == pytest.approx(1.26)  # kept, not the curve
    assert run.context["step_unit"] == "step"


def test_the_progress_bar_gives_one_point_per_iteration() -> None:
    """``Epoch [3/20]: [4/10]  40%|████ , loss=0.41 [..]`` is iteration (3 - 1)·10 + 4; a bar
    drawn twice at one iteration (before and after its postfix changes) is one point, the
    last drawing's."""
    (run,) = read_path(LOGS / "pbar_healthy.log")
    loss = run.series["train_loss"]
    assert loss.steps.tolist() == list(range(1, 201))
    assert run.context["steps_per_epoch"] == 10
    assert run.series["val_loss"].steps.tolist() == list(range(10, 201, 10))


@pytest.mark.parametrize("style", ["example", "pbar"])
def test_a_run_that_learns_is_healthy_and_one_that_diverges_has_its_lr_too_high(
        style: str) -> None:
    (healthy,) = read_path(LOGS / f"{style}_healthy.log")
    report = diagnose_run(healthy, questions=0).diagnosis
    assert report.verdict == "healthy"
    assert all(c.band not in ("likely", "confirmed") for c in report.causes)
    (diverged,) = read_path(LOGS / f"{style}_lr_too_high.log")
    report = diagnose_run(diverged, questions=0).diagnosis
    assert report.verdict == "problem" and report.causes[0].id == "lr_too_high"
