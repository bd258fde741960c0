"""Keras 3 backend (torch backend): a Recipe trained by ``model.fit`` with Keras' own loggers.

Models, per task: Dense MLP (tabular, regression), Conv2D stack on channels-last images (image8),
SimpleRNN / GRU / LSTM stack (sequence; ``model.arch`` rnn | gru | lstm), token + position
Embedding with MultiHeadAttention blocks and GlobalAveragePooling1D (transformer_cls; ``arch
"mlp"``: Embedding + pooling only) and a causal-attention next-token model (lm). Classifiers end
in ``Dense(C, "softmax")`` with ``sparse_categorical_crossentropy`` — the Keras idiom.

Files under ``out_dir``: ``training.log`` (``keras.callbacks.CSVLogger``) when ``"csv"`` is in
``recipe.log.formats``, ``history.json`` (``json.dump(history.history)``) when ``"history"`` is;
with neither, one of the two chosen by the seed (CSV for 3 seeds in 4). One row / value per epoch:
Keras validates once per epoch, so ``log.every_n_steps`` and ``log.evals_per_epoch`` do not
apply. The learning rate appears as a
``learning_rate`` column with a ``LearningRateScheduler`` (step / exponential schedules) or, with
``log.log_lr``, a small callback that adds the optimizer's current rate to the epoch logs.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from corpus_gen.data import Data, make_data
from corpus_gen.recipe import Recipe

DATA_FAULTS = {"label_noise", "labels_shuffled", "sorted_by_label", "imbalance", "input_scale",
               "input_offset", "val_shift", "val_unnormalized"}
SUPPORTED_FAULTS: set[str] = DATA_FAULTS | {
    "eval_in_train_mode", "freeze_all_but_last", "train_augment_noise", "double_softmax",
    "sigmoid_with_logits_loss", "mse_on_classes", "loss_sign_flipped", "loss_wrong_reduction",
    "detached_hidden", "log_without_eps", "output_activation"}


def _keras() -> Any:
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}, not torch: import "
                           "backend_keras before keras, or set KERAS_BACKEND=torch")
    return keras


# ------------------------------------------------------------------------------------ models

def _initializers(recipe: Recipe, keras: Any) -> dict[str, Any]:
    """``kernel_initializer`` / ``bias_initializer`` keyword arguments of the hidden layers."""
    m = recipe.model
    kw: dict[str, Any] = {}
    if m.init == "zero":
        kw["kernel_initializer"] = "zeros"
    elif m.init == "constant":
        kw["kernel_initializer"] = keras.initializers.Constant(m.init_scale)
    elif m.init == "normal":  # std = init_scale / sqrt(fan_in)
        kw["kernel_initializer"] = keras.initializers.VarianceScaling(
            scale=m.init_scale ** 2, mode="fan_in", distribution="untruncated_normal",
            seed=recipe.seed)
    if m.bias_init is not None:
        kw["bias_initializer"] = keras.initializers.Constant(m.bias_init)
    if recipe.optim.weight_decay and recipe.optim.name != "adamw":  # L2, the classic Keras way
        kw["kernel_regularizer"] = keras.regularizers.L2(recipe.optim.weight_decay)
    return kw


def _noise_layer(keras: Any, std: float, seed: int) -> Any:
    """``GaussianNoise`` (active in training only); Keras caps ``stddev`` at 1, so a larger one is
    set after construction."""
    layer = keras.layers.GaussianNoise(min(std, 1.0), seed=seed)
    layer.stddev = std
    return layer


def _always_on(keras: Any, cls: Any) -> Any:
    """A layer that ignores ``training=False`` (the MC-dropout pattern applied by mistake)."""

    class AlwaysOn(cls):
        def call(self, inputs: Any, training: Any = None) -> Any:
            return super().call(inputs, training=True)

    AlwaysOn.__name__ = cls.__name__
    return AlwaysOn


class _Blocks:
    """Applies the per-block options (norm, dropout, eval-in-train-mode, detach) in the
    functional API."""

    def __init__(self, recipe: Recipe, keras: Any) -> None:
        self.recipe, self.keras = recipe, keras
        self.always = bool(recipe.faults.get("eval_in_train_mode"))
        drop = recipe.model.dropout
        self.dropout = drop if drop > 0 or not self.always else 0.3
        self.count = 0

    def finish(self, x: Any, norm: bool = True) -> Any:
        """Norm / dropout after a block (always in training mode with ``eval_in_train_mode``)."""
        layers = self.keras.layers
        norm_cls, drop_cls = layers.BatchNormalization, layers.Dropout
        if self.always:
            norm_cls, drop_cls = _always_on(self.keras, norm_cls), _always_on(self.keras, drop_cls)
        if norm and self.recipe.model.norm:
            x = norm_cls()(x)
        if self.dropout > 0:
            x = drop_cls(self.dropout)(x)
        if self.count == 0 and self.recipe.faults.get("detached_hidden"):
            x = layers.Lambda(self.keras.ops.stop_gradient, name="stop_gradient")(x)
        self.count += 1
        return x


def _token_and_position(keras: Any) -> Any:
    class TokenAndPositionEmbedding(keras.layers.Layer):
        """Token plus learned position embeddings (as in the Keras text-classification example)."""

        def __init__(self, maxlen: int, vocab: int, dim: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.token_emb = keras.layers.Embedding(vocab, dim)
            self.pos_emb = keras.layers.Embedding(maxlen, dim)

        def call(self, x: Any) -> Any:
            positions = keras.ops.arange(0, keras.ops.shape(x)[-1], 1)
            return self.token_emb(x) + self.pos_emb(positions)

    return TokenAndPositionEmbedding


def _body(recipe: Recipe, data: Data, keras: Any, inputs: Any) -> Any:
    """The hidden stack of the recipe's task, from ``inputs`` to the last hidden features."""
    layers, m = keras.layers, recipe.model
    kw, blocks = _initializers(recipe, keras), _Blocks(recipe, keras)
    noise = float(recipe.faults.get("train_augment_noise", 0.0))
    x = inputs
    if recipe.task in ("transformer_cls", "lm"):
        if m.arch == "mlp":
            x = layers.Embedding(recipe.vocab, m.width)(x)
        else:
            x = _token_and_position(keras)(data.input_shape[0], recipe.vocab, m.width)(x)
        x = _noise_layer(keras, noise, recipe.seed)(x) if noise else x
        if m.arch == "mlp" and recipe.task == "transformer_cls":
            return blocks.finish(layers.GlobalAveragePooling1D()(x), norm=False)
        heads = 4 if m.width % 4 == 0 else 2
        for _ in range(max(1, m.depth)):
            att = layers.MultiHeadAttention(heads, m.width // heads, dropout=m.dropout)(
                x, x, use_causal_mask=recipe.task == "lm")
            x = layers.LayerNormalization()(x + att)
            ff = layers.Dense(2 * m.width, activation=m.activation, **kw)(x)
            ff = layers.Dense(m.width, **kw)(ff)
            x = blocks.finish(layers.LayerNormalization()(x + ff), norm=False)
        return x if recipe.task == "lm" else layers.GlobalAveragePooling1D()(x)
    x = _noise_layer(keras, noise, recipe.seed)(x) if noise else x
    if recipe.task == "image8" and m.arch != "mlp":
        for i in range(max(1, m.depth)):
            x = layers.Conv2D(m.width, 3, padding="same", activation=m.activation, **kw)(x)
            if i < 2:
                x = layers.MaxPooling2D(2)(x)
            x = blocks.finish(x)
        return layers.Flatten()(x)
    if recipe.task == "sequence" and m.arch != "mlp":
        cell = {"gru": layers.GRU, "lstm": layers.LSTM}.get(m.arch, layers.SimpleRNN)
        rkw = {k: v for k, v in kw.items() if k != "bias_initializer"}
        if "kernel_initializer" in rkw:
            rkw["recurrent_initializer"] = rkw["kernel_initializer"]
        if m.bias_init is not None:
            rkw["bias_initializer"] = kw["bias_initializer"]
        act = {"activation": m.activation} if cell is layers.SimpleRNN else {}
        for i in range(max(1, m.depth)):
            x = cell(m.width, return_sequences=i < m.depth - 1, **act, **rkw)(x)
            x = blocks.finish(x, norm=False)
        return x
    x = layers.Flatten()(x) if len(data.input_shape) > 1 else x
    for _ in range(max(1, m.depth)):
        x = blocks.finish(layers.Dense(m.width, activation=m.activation, **kw)(x))
    return x


def _binary_sigmoid(recipe: Recipe) -> bool:
    return bool(recipe.faults.get("sigmoid_with_logits_loss")) and recipe.num_classes == 2


def build_model(recipe: Recipe, data: Data) -> Any:
    """The functional Keras model of the recipe (output activation included)."""
    keras = _keras()
    inputs = keras.Input(shape=data.input_shape, dtype="int32" if recipe.task in (
        "transformer_cls", "lm") else "float32")
    h = _body(recipe, data, keras, inputs)
    f = recipe.faults
    kw = {k: v for k, v in _initializers(recipe, keras).items() if k != "bias_initializer"}
    if recipe.task == "regression":
        units, act = 1, f.get("output_activation")
    elif _binary_sigmoid(recipe):
        units, act = 1, "sigmoid"
    else:
        units = data.num_classes
        act = "sigmoid" if f.get("sigmoid_with_logits_loss") else "softmax"
    out = keras.layers.Dense(units, activation=act, name="output", **kw)(h)
    model = keras.Model(inputs, out, name=f"{recipe.task}_{recipe.model.arch}")
    if f.get("freeze_all_but_last"):
        for layer in model.layers[:-1]:
            layer.trainable = False
    return model


# ----------------------------------------------------------------------------- loss, optimiser

def _loss(recipe: Recipe, keras: Any) -> Any:
    """The loss as the (possibly buggy) script passes it to ``compile``."""
    ops, losses, f = keras.ops, keras.losses, recipe.faults
    if recipe.task == "regression":
        if f.get("loss_wrong_reduction"):
            return losses.MeanSquaredError(reduction="sum")
        if f.get("loss_sign_flipped"):
            return lambda y, p: -losses.mean_squared_error(y, p)
        return "mse"
    if _binary_sigmoid(recipe):
        return losses.BinaryCrossentropy(from_logits=True)
    if f.get("sigmoid_with_logits_loss"):  # one-hot targets (see _targets)
        return losses.BinaryCrossentropy(from_logits=True)
    if f.get("mse_on_classes"):
        return "mse"
    if f.get("double_softmax"):  # softmax outputs declared as logits
        return losses.SparseCategoricalCrossentropy(from_logits=True)
    if f.get("loss_wrong_reduction"):
        return losses.SparseCategoricalCrossentropy(reduction="sum")
    if f.get("log_without_eps"):
        n = recipe.vocab if recipe.task == "lm" else recipe.num_classes

        def cross_entropy(y: Any, p: Any) -> Any:  # hand-written: log of 0 is -inf
            y = ops.reshape(ops.cast(y, "int32"), ops.shape(p)[:-1])
            onehot = ops.one_hot(y, n)
            return -ops.sum(onehot * ops.log(p), axis=-1)

        return cross_entropy
    if f.get("loss_sign_flipped"):
        return lambda y, p: -losses.sparse_categorical_crossentropy(y, p)
    return "sparse_categorical_crossentropy"


def _targets(recipe: Recipe, y: np.ndarray) -> np.ndarray:
    """One-hot targets for the losses that need them."""
    f = recipe.faults
    one_hot = recipe.is_classification and not _binary_sigmoid(recipe) and (
        f.get("mse_on_classes") or f.get("sigmoid_with_logits_loss"))
    if one_hot:
        n = recipe.vocab if recipe.task == "lm" else recipe.num_classes
        return np.eye(n, dtype=np.float32)[y]
    return y


def _schedule(recipe: Recipe, keras: Any) -> Any:
    """A per-step LearningRateSchedule (cosine, linear, warm-up) or the constant rate."""
    o = recipe.optim
    total = recipe.steps_per_epoch() * recipe.epochs
    warm = int(o.warmup_frac * total)
    sched = keras.optimizers.schedules
    if o.schedule == "cosine":
        if warm:
            return sched.CosineDecay(0.0, max(1, total - warm), warmup_target=o.lr,
                                     warmup_steps=warm)
        return sched.CosineDecay(o.lr, total)
    if o.schedule == "linear" or warm:

        class WarmupLinear(sched.LearningRateSchedule):
            """Linear warm-up to ``lr``, then ``recipe.optim.schedule`` (linear or constant)."""

            def __call__(self, step: Any) -> Any:
                s = keras.ops.cast(step, "float32")
                up = keras.ops.minimum(1.0, (s + 1.0) / warm) if warm else 1.0
                if o.schedule != "linear":
                    return o.lr * up
                down = keras.ops.maximum(0.0, 1.0 - (s - warm) / max(1, total - warm))
                return o.lr * keras.ops.where(s < warm, up, down)

            def get_config(self) -> dict[str, Any]:
                return {"lr": o.lr, "warmup_steps": warm, "total_steps": total}

        return WarmupLinear()
    return o.lr


def _optimizer(recipe: Recipe, keras: Any) -> Any:
    o = recipe.optim
    lr = _schedule(recipe, keras)
    kw: dict[str, Any] = {"learning_rate": lr}
    if o.clip_norm:
        kw["clipnorm"] = o.clip_norm
    opt = keras.optimizers
    if o.name == "sgd":
        return opt.SGD(momentum=o.momentum, **kw)
    if o.name == "adamw":
        return opt.AdamW(weight_decay=o.weight_decay, **kw)
    if o.name == "rmsprop":
        return opt.RMSprop(**kw)
    return opt.Adam(**kw)


# ---------------------------------------------------------------------------------- callbacks

def _callbacks(recipe: Recipe, keras: Any, out_dir: Path, val: tuple[np.ndarray, np.ndarray],
               reference: list[list[float]]) -> list[Any]:
    o, cbs = recipe.optim, []
    if o.schedule in ("step", "exponential"):
        def by_epoch(epoch: int, _lr: float) -> float:
            if o.schedule == "step":
                return o.lr * o.schedule_gamma ** (epoch // max(1, o.step_every))
            return o.lr * o.schedule_gamma ** epoch

        cbs.append(keras.callbacks.LearningRateScheduler(by_epoch))
    elif recipe.log.log_lr:
        class LearningRateLogger(keras.callbacks.Callback):
            """Adds the optimizer's current learning rate to the epoch logs."""

            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                if logs is not None:
                    logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                        self.model.optimizer.learning_rate))

        cbs.append(LearningRateLogger())
    if recipe.max_steps and recipe.max_steps < recipe.steps_per_epoch() * recipe.epochs:
        max_steps = recipe.max_steps

        class StopAtStep(keras.callbacks.Callback):
            """Stops after ``max_steps`` optimiser steps (the schedule spans every epoch)."""

            def __init__(self) -> None:
                super().__init__()
                self.steps = 0

            def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
                self.steps += 1
                if self.steps >= max_steps:
                    self.model.stop_training = True

        cbs.append(StopAtStep())

    class ReferenceLoss(keras.callbacks.Callback):
        """The correct validation loss of the same outputs (for the checks; not logged)."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            p = keras.ops.convert_to_numpy(self.model(val[0], training=False))
            reference.append([epoch, reference_loss(recipe, p, val[1])])

    cbs.append(ReferenceLoss())
    if "csv" in _formats(recipe):
        cbs.append(keras.callbacks.CSVLogger(str(out_dir / "training.log")))
    return cbs


def _formats(recipe: Recipe) -> tuple[str, ...]:
    """``recipe.log.formats``; when empty, CSVLogger in 3 runs out of 4, history.json in the
    rest (by seed)."""
    wanted = tuple(f for f in recipe.log.formats if f in ("csv", "history"))
    return wanted or (("history",) if recipe.seed % 4 == 3 else ("csv",))


def reference_loss(recipe: Recipe, p: np.ndarray, y: np.ndarray) -> float:
    """Cross-entropy of the model's probabilities (MSE for regression), computed correctly."""
    p = p.astype(np.float64)
    if recipe.task == "regression":
        return float(np.mean((p.reshape(-1) - y) ** 2))
    if p.shape[-1] == 1 and _binary_sigmoid(recipe):
        q = np.clip(p.reshape(-1), 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12)
    picked = np.take_along_axis(p.reshape(-1, p.shape[-1]), y.reshape(-1, 1), axis=1)
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


# ---------------------------------------------------------------------------------- training

def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Train ``recipe`` with ``model.fit``; write its logs under ``out_dir``."""
    keras = _keras()
    import torch

    started = time.perf_counter()
    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.backend.clear_session()  # fresh layer names / seed state in a reused worker process
    keras.utils.set_random_seed(recipe.seed)
    data = make_data(recipe)
    if recipe.task == "image8":  # data.py is channels first; Keras is channels last
        data = Data(data.x_train.transpose(0, 2, 3, 1), data.y_train,
                    data.x_val.transpose(0, 2, 3, 1), data.y_val, data.num_classes)
    model = build_model(recipe, data)
    metrics = ["accuracy"] if recipe.is_classification else []
    model.compile(optimizer=_optimizer(recipe, keras), loss=_loss(recipe, keras), metrics=metrics)
    reference: list[list[float]] = []
    y_train, y_val = _targets(recipe, data.y_train), _targets(recipe, data.y_val)
    history = model.fit(
        data.x_train, y_train, batch_size=recipe.batch_size, epochs=recipe.epochs,
        validation_data=(data.x_val, y_val), verbose=0,
        shuffle=not recipe.faults.get("sorted_by_label"),
        callbacks=_callbacks(recipe, keras, out_dir, (data.x_val, data.y_val), reference))
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    if "history" in _formats(recipe):
        with open(out_dir / "history.json", "w") as fh:
            json.dump(hist, fh)
    names = {"loss": "train_loss", "accuracy": "train_acc", "val_loss": "val_loss",
             "val_accuracy": "val_acc", "learning_rate": "lr"}
    series = {names[k]: [[i, v] for i, v in enumerate(vals)] for k, vals in hist.items()
              if k in names}
    series["reference_val_loss"] = reference
    spe = recipe.steps_per_epoch()
    done = len(hist.get("loss", []))
    steps = min(recipe.max_steps or math.inf, done * spe)
    files = [n for n in ("training.log", "history.json") if (out_dir / n).exists()]
    return {"log_dir": ".", "files": files, "step_unit": "epoch", "steps": int(steps),
            "steps_per_epoch": spe, "seconds": time.perf_counter() - started, "series": series}
