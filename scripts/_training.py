"""Tiny, deterministic PyTorch training runs with optional fault injection.

Shared by ``scripts/generate_examples.py`` (the shipped example logs) and
``benchmarks/make_corpus.py`` (the labelled evaluation corpus). Everything runs on CPU in
seconds: synthetic but non-trivial classification data (a Gaussian mixture with several
clusters per class, interleaved spirals, or small noisy images) is generated from a seed, a
small MLP or CNN is trained, and every optimisation step is recorded in a :class:`History`.
The log writers in ``_logwriters.py`` turn a History into the files real tools write.

A fault is injected by changing the :class:`RunConfig` (learning rate, initialisation, depth,
activation, dropout, weight decay, label shuffling, training length …); nothing is faked after
the fact: every number in a log comes from a real forward/backward pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

Task = Literal["blobs", "spiral", "images"]
Activation = Literal["relu", "tanh", "sigmoid"]
Init = Literal["default", "zero", "constant", "normal"]
Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["constant", "cosine", "step", "linear"]


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run (data, model, optimiser, length, seed)."""

    # data
    task: Task = "blobs"
    num_classes: int = 10
    n_train: int = 3000
    n_val: int = 1000
    input_dim: int = 16  # blobs: feature dimension; spiral: 2 + extra noise dimensions
    clusters_per_class: int = 2  # blobs only
    separation: float = 2.5  # blobs: spread of the cluster centres (in units of cluster std)
    data_noise: float = 1.0  # blobs: cluster std; spiral: angular noise; images: pixel noise
    image_size: int = 12  # images only
    label_shuffle: float = 0.0  # fraction of training labels replaced by a random permutation
    input_scale: float = 1.0  # multiply the (standardised) inputs by this
    # model
    arch: Literal["mlp", "cnn"] = "mlp"
    hidden: tuple[int, ...] = (128, 128)  # MLP widths / CNN channels
    activation: Activation = "relu"
    dropout: float = 0.0
    init: Init = "default"
    init_std: float = 0.0  # "normal": std = init_std / sqrt(fan_in); "constant": the value
    bias_init: float | None = None  # value for the hidden-layer biases (None = PyTorch default)
    # optimisation
    optimizer: Optimizer = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: Schedule = "constant"
    warmup_steps: int = 0  # linear warm-up from lr/warmup_steps to lr, then the schedule
    batch_size: int = 64
    epochs: int = 20
    max_steps: int | None = None  # stop after this many steps (the LR schedule is unchanged)
    clip_norm: float | None = None
    evals_per_epoch: int = 1  # validation passes per epoch (the last one at the epoch's end)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


@dataclass
class History:
    """Per-step and per-epoch records of one run.

    Step arrays are indexed by optimiser step ``1..n_steps`` (index 0 is step 1). ``step_loss``
    and ``step_acc`` are the mini-batch values *before* the update, ``step_grad_norm`` the global
    L2 norm of the gradient before clipping, ``step_lr`` the learning rate used by that update.
    Validation runs ``evals_per_epoch`` times per epoch, the last at the end of the epoch, on the
    whole validation set in eval mode.
    """

    config: RunConfig
    steps_per_epoch: int
    step_loss: np.ndarray
    step_acc: np.ndarray
    step_lr: np.ndarray
    step_grad_norm: np.ndarray
    eval_step: np.ndarray  # global step of each validation pass
    eval_epoch: np.ndarray  # 0-based epoch in which it happened
    eval_epoch_end: np.ndarray  # bool: the pass at the end of its epoch
    val_loss: np.ndarray
    val_acc: np.ndarray
    epoch_step: np.ndarray  # global step at the end of each epoch
    train_loss_epoch: np.ndarray  # mean of the epoch's mini-batch losses
    train_acc_epoch: np.ndarray
    n_params: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(self.step_loss.shape[0])

    @property
    def steps(self) -> np.ndarray:
        return np.arange(1, self.n_steps + 1)

    def epoch_at(self, step: int) -> float:
        """Fractional epoch reached after ``step`` optimiser steps (as HF logs it)."""
        return step / self.steps_per_epoch

    def window_mean(self, values: np.ndarray, step: int, width: int) -> float:
        """Mean of ``values`` over the ``width`` steps ending at ``step`` (1-based, inclusive)."""
        lo = max(0, step - width)
        return float(np.mean(values[lo:step]))

    def summary(self) -> dict[str, float]:
        def first_last(a: np.ndarray) -> tuple[float, float]:
            return (float(a[0]), float(a[-1])) if a.size else (math.nan, math.nan)

        tl0, tl1 = first_last(self.step_loss)
        vl0, vl1 = first_last(self.val_loss)
        va0, va1 = first_last(self.val_acc)
        return {
            "steps": float(self.n_steps),
            "train_loss_first": tl0,
            "train_loss_last": tl1,
            "train_loss_last_epoch": float(self.train_loss_epoch[-1]),
            "val_loss_first": vl0,
            "val_loss_last": vl1,
            "val_loss_min": float(np.nanmin(self.val_loss)) if np.isfinite(self.val_loss).any()
            else math.nan,
            "val_acc_first": va0,
            "val_acc_last": va1,
            "grad_norm_first": float(self.step_grad_norm[0]),
            "grad_norm_last": float(self.step_grad_norm[-1]),
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------------------- data


def _standardise(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axes = tuple(range(x_train.ndim)) if x_train.ndim > 2 else (0,)
    mean = x_train.mean(axis=axes, keepdims=True)
    std = x_train.std(axis=axes, keepdims=True) + 1e-8
    return (x_train - mean) / std, (x_val - mean) / std


def _blobs(cfg: RunConfig, rng: np.random.Generator, n: int, centres: np.ndarray) -> tuple[
    np.ndarray, np.ndarray
]:
    y = rng.integers(0, cfg.num_classes, size=n)
    k = rng.integers(0, cfg.clusters_per_class, size=n)
    x = centres[y, k] + rng.normal(0.0, cfg.data_noise, size=(n, cfg.input_dim))
    return x, y


def _spiral(cfg: RunConfig, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, cfg.num_classes, size=n)
    t = rng.uniform(0.05, 1.0, size=n)
    turns = 1.25
    theta = 2 * math.pi * (turns * t + y / cfg.num_classes) + rng.normal(
        0.0, cfg.data_noise, size=n
    )
    xy = np.stack([t * np.cos(theta), t * np.sin(theta)], axis=1)
    extra = max(0, cfg.input_dim - 2)
    if extra:
        xy = np.concatenate([xy, rng.normal(0.0, 0.5, size=(n, extra))], axis=1)
    return xy, y


def _image_templates(cfg: RunConfig, rng: np.random.Generator) -> np.ndarray:
    s = cfg.image_size
    yy, xx = np.mgrid[0:s, 0:s] / s
    templates = np.zeros((cfg.num_classes, s, s))
    for c in range(cfg.num_classes):
        for _ in range(2):  # two oriented gratings per class
            angle = rng.uniform(0, math.pi)
            freq = rng.uniform(1.0, 3.0)
            phase = rng.uniform(0, 2 * math.pi)
            templates[c] += np.sin(
                2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)) + phase
            )
        cy, cx = rng.uniform(0.25, 0.75, size=2)  # plus a class-specific blob
        templates[c] += 1.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)
    return templates


def _images(cfg: RunConfig, rng: np.random.Generator, n: int, templates: np.ndarray) -> tuple[
    np.ndarray, np.ndarray
]:
    y = rng.integers(0, cfg.num_classes, size=n)
    x = templates[y] * rng.uniform(0.7, 1.3, size=(n, 1, 1))
    shifts = rng.integers(-2, 3, size=(n, 2))
    for i in range(n):
        x[i] = np.roll(x[i], tuple(shifts[i]), axis=(0, 1))
    x = x + rng.normal(0.0, cfg.data_noise, size=x.shape)
    return x[:, None, :, :], y


def make_data(cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train/val tensors for ``cfg`` (inputs standardised on the training set)."""
    rng = np.random.default_rng(10_000 + cfg.seed)
    if cfg.task == "blobs":
        centres = rng.normal(0.0, cfg.separation, size=(
            cfg.num_classes, cfg.clusters_per_class, cfg.input_dim))
        x_tr, y_tr = _blobs(cfg, rng, cfg.n_train, centres)
        x_va, y_va = _blobs(cfg, rng, cfg.n_val, centres)
    elif cfg.task == "spiral":
        x_tr, y_tr = _spiral(cfg, rng, cfg.n_train)
        x_va, y_va = _spiral(cfg, rng, cfg.n_val)
    else:
        templates = _image_templates(cfg, rng)
        x_tr, y_tr = _images(cfg, rng, cfg.n_train, templates)
        x_va, y_va = _images(cfg, rng, cfg.n_val, templates)
    x_tr, x_va = _standardise(x_tr, x_va)
    x_tr, x_va = x_tr * cfg.input_scale, x_va * cfg.input_scale
    if cfg.label_shuffle > 0:
        n_bad = round(cfg.label_shuffle * cfg.n_train)
        idx = rng.choice(cfg.n_train, size=n_bad, replace=False)
        y_tr = y_tr.copy()
        y_tr[idx] = rng.permutation(y_tr[idx])
    return (
        torch.tensor(x_tr, dtype=torch.float32),
        torch.tensor(y_tr, dtype=torch.long),
        torch.tensor(x_va, dtype=torch.float32),
        torch.tensor(y_va, dtype=torch.long),
    )


# -------------------------------------------------------------------------------------- model

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def make_model(cfg: RunConfig, in_shape: tuple[int, ...]) -> nn.Module:
    act = _ACTIVATIONS[cfg.activation]
    layers: list[nn.Module] = []
    if cfg.arch == "mlp":
        width = int(np.prod(in_shape))
        if len(in_shape) > 1:
            layers.append(nn.Flatten())
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), act()]
            if cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            width = h
        layers.append(nn.Linear(width, cfg.num_classes))
    else:
        channels = in_shape[0]
        for i, h in enumerate(cfg.hidden):
            layers += [nn.Conv2d(channels, h, kernel_size=3, padding=1), act()]
            if i < len(cfg.hidden) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = h
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        layers.append(nn.Linear(channels, cfg.num_classes))
    model = nn.Sequential(*layers)
    _initialise(model, cfg)
    return model


def _initialise(model: nn.Module, cfg: RunConfig) -> None:
    weighted = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    with torch.no_grad():
        for i, m in enumerate(weighted):
            is_output = i == len(weighted) - 1
            w, b = m.weight, m.bias
            assert b is not None
            fan_in = w[0].numel()
            if cfg.init == "zero":
                w.zero_()
                b.zero_()
            elif cfg.init == "constant":
                w.fill_(cfg.init_std)
                b.zero_()
            elif cfg.init == "normal":
                w.normal_(0.0, cfg.init_std / math.sqrt(fan_in))
                b.zero_()
            if cfg.bias_init is not None and not is_output:
                b.fill_(cfg.bias_init)


def _make_optimizer(cfg: RunConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(cfg: RunConfig, step: int, total: int) -> float:
    """Multiplier of the base LR for 0-based ``step`` out of ``total`` steps."""
    warm = cfg.warmup_steps
    if step < warm:
        return (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * frac))
    if cfg.schedule == "linear":
        return max(0.0, 1.0 - frac)
    if cfg.schedule == "step":
        return 1.0 if frac < 0.6 else (0.1 if frac < 0.85 else 0.01)
    return 1.0


# -------------------------------------------------------------------------------------- train


def train(cfg: RunConfig) -> History:
    """Train one run on CPU and record every step. Deterministic for a given config."""
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    x_tr, y_tr, x_va, y_va = make_data(cfg)
    model = make_model(cfg, tuple(x_tr.shape[1:]))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _make_optimizer(cfg, params)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)

    steps_per_epoch = math.ceil(cfg.n_train / cfg.batch_size)
    planned = steps_per_epoch * cfg.epochs  # the LR schedule follows the planned length …
    total = planned if cfg.max_steps is None else min(planned, cfg.max_steps)  # … max_steps cuts

    s_loss: list[float] = []
    s_acc: list[float] = []
    s_lr: list[float] = []
    s_gn: list[float] = []
    ev: list[tuple[int, int, bool, float, float]] = []
    ep: list[tuple[int, float, float]] = []

    def evaluate(epoch: int, end: bool) -> None:
        model.eval()
        with torch.no_grad():
            out = model(x_va)
            ev.append((step, epoch, end, float(loss_fn(out, y_va)),
                       float((out.argmax(1) == y_va).float().mean())))
        model.train()

    eval_at = {round((k + 1) * steps_per_epoch / cfg.evals_per_epoch) for k in
               range(cfg.evals_per_epoch - 1)}
    step = 0
    for epoch in range(cfg.epochs):
        if step >= total:
            break
        model.train()
        order = torch.randperm(cfg.n_train, generator=gen)
        ep_loss: list[float] = []
        ep_acc: list[float] = []
        for b in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            lr = cfg.lr * lr_factor(cfg, step, planned)
            for group in opt.param_groups:
                group["lr"] = lr
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            max_norm = cfg.clip_norm if cfg.clip_norm is not None else math.inf
            gn = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
            opt.step()
            step += 1
            lv = float(loss.detach())
            av = float((logits.detach().argmax(1) == yb).float().mean())
            s_loss.append(lv)
            s_acc.append(av)
            s_lr.append(lr)
            s_gn.append(gn)
            ep_loss.append(lv)
            ep_acc.append(av)
            if b + 1 in eval_at and step < total:
                evaluate(epoch, end=False)
        evaluate(epoch, end=True)
        ep.append((step, float(np.mean(ep_loss)), float(np.mean(ep_acc))))

    return History(
        config=cfg,
        steps_per_epoch=steps_per_epoch,
        step_loss=np.asarray(s_loss),
        step_acc=np.asarray(s_acc),
        step_lr=np.asarray(s_lr),
        step_grad_norm=np.asarray(s_gn),
        eval_step=np.asarray([e[0] for e in ev], dtype=int),
        eval_epoch=np.asarray([e[1] for e in ev], dtype=int),
        eval_epoch_end=np.asarray([e[2] for e in ev], dtype=bool),
        val_loss=np.asarray([e[3] for e in ev]),
        val_acc=np.asarray([e[4] for e in ev]),
        epoch_step=np.asarray([e[0] for e in ep], dtype=int),
        train_loss_epoch=np.asarray([e[1] for e in ep]),
        train_acc_epoch=np.asarray([e[2] for e in ep]),
        n_params=sum(p.numel() for p in params),
        seconds=time.perf_counter() - started,
    )
