"""Keras 3 callback: the cheap probe signals, read from the weights alone.

    model.fit(x, y, callbacks=[NndoctorCallback(log_dir="runs/exp1", every=50)])

Every ``every`` batches it records, per layer in model order: update/weight ratio ‖Δw‖/‖w‖
(weights copied at the start of the probe batch), non-finite weights, layers frozen by mistake
(``trainable=False`` on a layer with weights), layers whose units are all identical, and the
activation kind of each layer; every batch it records the loss, and at probe batches the LR.
Gradients and activations are not visible to a Keras callback without an extra pass, so the
gradient ratio and dead/saturated fractions need the PyTorch probe.
Needs the extra: ``pip install 'nndoctor[keras]'``.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.probes._extras import require

keras: Any = require("keras", "keras")

from nndoctor.probes.sink import JsonlWriter, ScalarWriter, layer_names, tag  # noqa: E402

__all__ = ["NndoctorCallback", "activation_kind", "symmetric_units", "update_ratio"]

KINDS = {"relu": 1, "relu6": 1, "leaky_relu": 2, "elu": 2, "selu": 2, "sigmoid": 3,
         "hard_sigmoid": 3, "tanh": 4, "gelu": 5, "silu": 5, "swish": 5, "mish": 5}
DEFAULT_LOG_DIR = "nndoctor_runs"


def _numpy(value: Any) -> np.ndarray:
    """A Keras variable (or anything array-like) as a NumPy array."""
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def activation_kind(layer: Any) -> int:
    """act_kind code of a layer's activation (``Dense(activation="relu")``, ``Activation``)."""
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) or (activation if isinstance(activation, str)
                                                     else None)
    if name is None and type(layer).__name__ in ("ReLU", "LeakyReLU", "ELU"):
        name = type(layer).__name__.lower().replace("leakyrelu", "leaky_relu")
    return KINDS.get(str(name).lower(), 0) if name else 0


def update_ratio(before: list[np.ndarray], after: list[np.ndarray]) -> float | None:
    """‖Δw‖/‖w‖ over a layer's weights; None when the weights are zero or not finite."""
    delta = sum(float(np.sum((a.astype(np.float64) - b) ** 2)) for b, a in zip(before, after,
                                                                                 strict=True))
    weight = sum(float(np.sum(b.astype(np.float64) ** 2)) for b in before)
    if weight <= 0 or not (math.isfinite(delta) and math.isfinite(weight)):
        return None
    return math.sqrt(delta / weight)


def symmetric_units(kernel: np.ndarray, bias: np.ndarray | None) -> bool | None:
    """True when every output unit (last kernel axis) has the same weights and bias."""
    if kernel.ndim < 2 or kernel.shape[-1] < 2 or not np.isfinite(kernel).all():
        return None
    units = kernel.reshape(-1, kernel.shape[-1]).T
    scale = float(np.abs(units).max()) + 1e-30
    same = bool(np.abs(units - units[:1]).max() <= 1e-12 * scale)
    if same and bias is not None and bias.shape[:1] == kernel.shape[-1:]:
        same = bool(np.abs(bias - bias[:1]).max() <= 1e-12 * (float(np.abs(bias).max()) + 1e-30))
    return same


class NndoctorCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Logs probe signals computed from the layers' weights every ``every`` batches."""

    def __init__(self, log_dir: str | Path | None = None, every: int = 50,
                 writer: ScalarWriter | None = None) -> None:
        super().__init__()
        self.every = max(1, int(every))
        self._own = writer is None
        self.writer: ScalarWriter = writer or JsonlWriter(log_dir or DEFAULT_LOG_DIR)
        self.step_count = 0
        self._before: dict[str, list[np.ndarray]] = {}
        self._tags: dict[str, str] = {}

    def _layers(self) -> list[Any]:
        return [layer for layer in self.model.layers if layer.weights]

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        layers = self.model.layers
        self._tags = layer_names([layer.name for layer in layers])
        for layer in layers:
            kind = activation_kind(layer)
            if kind:
                self.writer.add_scalar(tag("act_kind", self._tags[layer.name]), float(kind), 0)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.step_count % self.every == 0:
            self._before = {layer.name: [np.array(w) for w in layer.get_weights()]
                            for layer in self._layers()}

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = self.step_count
        loss = (logs or {}).get("loss")
        if loss is not None:
            self.writer.add_scalar("train_loss", float(loss), step)
        if self._before:
            self._record(step)
            self._before = {}
        self.step_count += 1

    def _record(self, step: int) -> None:
        for layer in self._layers():
            name = self._tags.get(layer.name, layer.name)
            weights = [np.array(w) for w in layer.get_weights()]
            ratio = update_ratio(self._before.get(layer.name, []), weights) \
                if layer.name in self._before and layer.trainable else None
            if ratio is not None:
                self.writer.add_scalar(tag("update_ratio", name), ratio, step)
            nonfinite = any(not np.isfinite(w).all() for w in weights)
            self.writer.add_scalar(tag("weights_nonfinite", name), float(nonfinite), step)
            self.writer.add_scalar(tag("frozen", name), float(not layer.trainable), step)
            kernel = getattr(layer, "kernel", None)
            if kernel is not None:
                bias = getattr(layer, "bias", None)
                same = symmetric_units(_numpy(kernel), None if bias is None else _numpy(bias))
                if same is not None:
                    self.writer.add_scalar(tag("symmetric_units", name), float(same), step)
        optimizer = getattr(self.model, "optimizer", None)
        lr = getattr(optimizer, "learning_rate", None)
        if lr is not None:
            with contextlib.suppress(TypeError, ValueError):  # a schedule object, not a value
                self.writer.add_scalar("lr", float(_numpy(lr)), step)
        flush = getattr(self.writer, "flush", None)
        if callable(flush):
            flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._own and isinstance(self.writer, JsonlWriter):
            self.writer.close()
