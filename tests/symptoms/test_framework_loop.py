"""Logs that only a framework's own training loop writes say the gradients are cleared every
step (the Trainer's loop and Keras' fit() do it); a Lightning or TensorBoard log does not say
(manual optimisation and hand-written loops clear them, or forget to, themselves)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndoctor.adapters.symptoms import derive_facts
from nndoctor.pipeline import load_runs
from tests.symptoms.synth import KB

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def _cleared(path: Path) -> object:
    (run,) = load_runs([path])
    return {f.name: f for f in derive_facts(run, KB)}.get("gradients_cleared_each_step")


@pytest.mark.parametrize("where", ["hf/bert-sst2", "keras_history/history.json",
                                   "keras_csv/training.log"])
def test_a_framework_loop_clears_the_gradients(where: str) -> None:
    fact = _cleared(LOGS / where)
    assert fact is not None and fact.value is True and fact.certainty == 0.9
    assert "clears the gradients" in fact.evidence


@pytest.mark.parametrize("where", ["lightning/version_0", "tensorboard/torch_simple"])
def test_other_logs_do_not_say(where: str) -> None:
    assert _cleared(LOGS / where) is None
