"""Hugging Face ``Trainer`` callback: the nndoctor probe on the model and optimizer it trains.

    trainer = Trainer(..., callbacks=[NndoctorCallback(every=50)])

Writes ``<log_dir or args.output_dir/nndoctor>/probe.jsonl`` with the probe signals and the
logged training loss. Gradient norms are recorded before clipping: the Trainer clips to
``max_grad_norm`` (1.0 by default) between backward and the optimizer step, so norms read at the
step would never exceed it and an explosion would look flat. They are read as backward leaves
them (divided by the loss scale under fp16 mixed precision), the same pre-clip norm the Trainer
logs as ``grad_norm``. Needs the extra: ``pip install 'nndoctor[hf]'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nndoctor.probes._extras import require

transformers: Any = require("transformers", "hf")

from nndoctor.probes.torch_probe import Probe  # noqa: E402  (after the framework check)

__all__ = ["NndoctorCallback", "loss_scale", "torch_optimizer"]


def torch_optimizer(optimizer: Any) -> Any:
    """The torch optimizer inside wrappers such as accelerate's ``AcceleratedOptimizer``."""
    for _ in range(5):  # AcceleratedOptimizer subclasses Optimizer but has no hook tables
        inner = getattr(optimizer, "optimizer", None)
        if inner is None:
            break
        optimizer = inner
    return optimizer


def loss_scale(optimizer: Any) -> Callable[[], float] | None:
    """The current loss scale of accelerate's ``AcceleratedOptimizer`` under fp16 mixed
    precision (its GradScaler), None without one: gradients after backward carry that scale."""
    scaler = getattr(optimizer, "scaler", None)
    if scaler is None or not callable(getattr(scaler, "get_scale", None)):
        return None
    enabled = getattr(scaler, "is_enabled", None)
    if callable(enabled) and not enabled():
        return None
    return lambda: float(scaler.get_scale())


class NndoctorCallback(transformers.TrainerCallback):  # type: ignore[misc]
    """Attaches the probe at ``on_train_begin``; feeds it the logged loss; closes it at the end."""

    def __init__(self, every: int = 50, log_dir: str | Path | None = None,
                 **options: Any) -> None:
        self.every, self.log_dir, self.options = every, log_dir, options
        self.probe: Probe | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       optimizer: Any = None, **kwargs: Any) -> None:
        if model is None:
            return
        log_dir = self.log_dir or Path(getattr(args, "output_dir", None) or ".") / "nndoctor"
        options = {"pre_clip": True, "grad_scale": loss_scale(optimizer), **self.options}
        self.probe = Probe(model, torch_optimizer(optimizer), log_dir=log_dir, every=self.every,
                           **options)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.probe is not None and self.probe.optimizer is None:
            self.probe.step()  # no optimizer hook: advance by hand

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.probe is None or not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        self.probe.writer.add_scalar("train_loss", loss, int(state.global_step))
        if not math.isfinite(loss):
            self.probe.force_next()  # find the layer where the NaN/Inf shows up

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.probe is not None:
            self.probe.close()
            self.probe = None
