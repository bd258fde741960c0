"""PyTorch Lightning callback: the nndoctor probe inside ``Trainer(callbacks=[...])``.

    trainer = L.Trainer(callbacks=[NndoctorCallback(every=50)])

Values go to the trainer's TensorBoard logger when it has one (``logger.experiment.add_scalar``),
else to ``<log_dir or trainer.log_dir>/probe.jsonl`` together with the training loss.
Needs the extra: ``pip install 'nndoctor[lightning]'``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from nndoctor.probes._extras import require
from nndoctor.probes.sink import ScalarWriter

try:
    pl: Any = importlib.import_module("lightning.pytorch")
except ImportError:
    pl = require("pytorch_lightning", "lightning")

from nndoctor.probes.torch_probe import Probe

__all__ = ["NndoctorCallback", "find_writer", "loss_value"]


def find_writer(trainer: Any) -> ScalarWriter | None:
    """The first logger whose ``experiment`` has ``add_scalar`` (TensorBoard), if any."""
    for logger in getattr(trainer, "loggers", None) or []:
        experiment = getattr(logger, "experiment", None)
        if callable(getattr(experiment, "add_scalar", None)):
            return experiment  # type: ignore[no-any-return]
    return None


def loss_value(outputs: Any) -> Any:
    """The loss in what ``training_step`` returned: a tensor, or a dict with ``"loss"``."""
    if isinstance(outputs, dict):
        return outputs.get("loss")
    return outputs if hasattr(outputs, "detach") else None


class NndoctorCallback(pl.Callback):  # type: ignore[misc]
    """Attaches :class:`~nndoctor.probes.torch_probe.Probe` at fit start, closes it at the end."""

    def __init__(self, every: int = 50, log_dir: str | Path | None = None,
                 use_logger: bool = True, **options: Any) -> None:
        super().__init__()
        self.every, self.log_dir, self.options = every, log_dir, options
        self.use_logger = use_logger
        self.probe: Probe | None = None
        self._log_loss = False

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        optimizers = list(getattr(trainer, "optimizers", None) or [])
        writer = find_writer(trainer) if self.use_logger else None
        trainer_dir = getattr(trainer, "log_dir", None) or \
            getattr(trainer, "default_root_dir", None)
        log_dir = self.log_dir or (Path(trainer_dir) / "nndoctor" if trainer_dir else None)
        self._log_loss = writer is None  # a logger already has the user's own loss curve
        self.probe = Probe(pl_module, optimizers[0] if optimizers else None, writer=writer,
                           log_dir=log_dir, every=self.every, **self.options)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.probe is None:
            return
        loss = loss_value(outputs) if self._log_loss else None  # no per-step sync otherwise
        if self.probe.optimizer is None or loss is not None:
            self.probe.step(loss)  # logs the loss; advances only without optimizer hooks

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.probe is not None:
            self.probe.close()
            self.probe = None
