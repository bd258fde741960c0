"""Dropout and weight decay read from a run's hyper-parameters, and how strong a decay is for
the optimizer that applies it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import read_path
from nndoctor.adapters.readers._runs import context_from_params
from nndoctor.adapters.symptoms.context import decay_strength
from nndoctor.pipeline import diagnose_run
from tests.symptoms.synth import KB

PARAMS = KB.detector_params("run_context")


def test_dropout_is_read_under_its_usual_names() -> None:
    assert context_from_params({"dropout": 0.7})["dropout"] == 0.7
    assert context_from_params({"model": {"hidden_dropout_prob": 0.1}})["dropout"] == 0.1
    assert "dropout" not in context_from_params({"dropout": 1.5})  # not a probability
    assert "dropout" not in context_from_params({"dropout": True})


@pytest.mark.parametrize(("decay", "optimizer", "fmt", "level", "sure"), [
    (0.0, "adam", "tensorboard", "none", 1.0),
    (0.3, "adam", "tensorboard", "heavy", 1.0),  # torch's Adam: an L2 term in the gradient
    (5e-4, "SGD", "lightning_csv", "usual", 1.0),
    (0.3, "AdamW", "lightning_csv", "usual", 1.0),  # decoupled: 0.3 is a ViT's setting
    (1.0, "adamw_torch_fused", "hf_trainer_state", "heavy", 1.0),
    (0.2, "adam", "keras_csv", "usual", 1.0),  # Keras 3 decays the weights directly
    (0.6, "", "tensorboard", "heavy", 0.8),  # no optimizer named: the laxer bound, less sure
    (0.2, "", "tensorboard", "usual", 0.8),
])
def test_decay_strength_depends_on_how_the_optimizer_applies_it(
        decay: float, optimizer: str, fmt: str, level: str, sure: float) -> None:
    found, _how, certainty = decay_strength(decay, optimizer, fmt, PARAMS)
    assert (found, certainty) == (level, sure)


def _lightning_run(tmp_path: Path, name: str, hparams: str, loss: np.ndarray) -> Path:
    folder = tmp_path / name / "version_0"
    folder.mkdir(parents=True)
    rows = ["epoch,step,train_loss,val_loss,val_acc"]
    for i, value in enumerate(loss):
        rows.append(f"{i // 20},{i * 5 + 4},{value:.6f},,")
        if i % 20 == 19:
            rows.append(f"{i // 20},{i * 5 + 4},,{value:.6f},0.2")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    (folder / "hparams.yaml").write_text(hparams)
    return folder / "metrics.csv"


def test_heavy_decay_at_chance_ranks_regularisation_first_and_usual_decay_does_not(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    chance = math.log(5) + rng.normal(0, 0.002, 200)  # five classes, output pulled to uniform
    heavy = _lightning_run(tmp_path, "heavy", "num_classes: 5\noptimizer: adam\n"
                           "weight_decay: 1.0\ndropout: 0.7\n", chance)
    usual = _lightning_run(tmp_path, "usual", "num_classes: 5\noptimizer: adam\n"
                           "weight_decay: 0.0001\ndropout: 0.1\n", chance)
    (run,) = read_path(heavy)
    diagnosis = diagnose_run(run, questions=0).diagnosis
    assert diagnosis.facts["weight_decay_strength"].value == "heavy"
    assert diagnosis.facts["dropout_rate"].value == 0.7
    assert diagnosis.causes[0].id == "too_much_regularization"
    strong = diagnosis.causes[0].confidence
    (run,) = read_path(usual)
    diagnosis = diagnose_run(run, questions=0).diagnosis
    assert diagnosis.facts["weight_decay_strength"].value == "usual"
    assert diagnosis.causes[0].id != "too_much_regularization"  # at chance: one of many suspects
    weak = {c.id: c.confidence for c in diagnosis.causes}.get("too_much_regularization", 0.0)
    assert weak < strong - 0.3
