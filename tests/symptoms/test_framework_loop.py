"""What a framework's own logs say about its training loop: logs only that loop writes say the
gradients are cleared every step (the Trainer's loop and Keras' fit() do it; a Lightning or
TensorBoard log does not say - manual optimisation and hand-written loops clear them, or forget
to, themselves), and a Lightning run's epoch column against its planned epochs says whether it
was cut short."""

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


@pytest.mark.parametrize("planned", [20, 2])
def test_a_lightning_run_that_ended_before_its_planned_epochs(tmp_path: Path,
                                                              planned: int) -> None:
    """A real Lightning run: the CSV's epoch column says how far training got (2 epochs), the
    module's hyper-parameters what it planned (max_epochs); cut short, the run says so, and its
    epochs trained are the ones reached, not the plan."""
    pl = pytest.importorskip("lightning.pytorch")
    torch = pytest.importorskip("torch")
    from tests.probes.helpers import fit_lightning, mlp

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters({"max_epochs": planned})
            self.net = mlp()

        def training_step(self, batch: object, index: int) -> object:
            x, y = batch  # type: ignore[misc]
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> object:
            return torch.optim.Adam(self.parameters(), 1e-3)

    version = fit_lightning(tmp_path, Module(), epochs=2)
    (run,) = load_runs([version])
    facts = {f.name: f for f in derive_facts(run, KB)}
    assert facts["epochs_trained"].value == 2
    stopped = facts["stopped_before_planned_end"]
    assert stopped.value is (planned == 20)
    if planned == 20:
        assert "epoch 2 of the 20" in stopped.evidence
