"""PyTorch models, losses, optimisers and fault injection shared by the PyTorch-based backends.

Stable interface (used by ``backend_torch``, ``backend_lightning`` and ``backend_hf``):

``seed_everything(recipe)``
    Seeds torch/numpy/random from ``recipe.seed``, one thread, deterministic algorithms.
``tensors(data) -> (x_train, y_train, x_val, y_val)``
    The numpy arrays of a :class:`~corpus_gen.data.Data` as torch tensors.
``build_model(recipe, data) -> nn.Module``
    The network for ``recipe.task``/``recipe.model.arch`` with its init, bias, activation,
    dropout and norm options and the model-level faults (``double_softmax``,
    ``sigmoid_with_logits_loss``, ``output_activation``, ``detached_hidden``,
    ``freeze_all_but_last``, ``custom_grad_bug``). Outputs: ``(B, C)`` class scores (``(B,)``
    for a binary sigmoid head), ``(B,)`` for regression, ``(B, T, V)`` for the LM.
``augment(recipe, x, generator) -> Tensor``
    Training-input augmentation (``train_augment_noise``); call on training batches only.
``compute_loss(recipe, outputs, targets) -> Tensor``
    The loss with the loss-level faults (``mse_on_classes``, ``loss_sign_flipped``,
    ``loss_wrong_reduction``, ``log_without_eps``, ``sigmoid_with_logits_loss``,
    ``logit_temperature``).
``reference_loss(recipe, outputs, targets) -> Tensor``
    The loss a correct implementation would report for the same outputs (for checks only).
``accuracy(recipe, outputs, targets) -> float``
    Share of correct predictions (token accuracy for the LM); NaN for regression.
``make_optimizer(recipe, params) -> Optimizer`` and
``make_scheduler(recipe, optimizer, total_steps) -> LambdaLR``
    ``total_steps`` is the planned number of optimiser steps (all epochs, even with
    ``max_steps``); the scheduler is stepped once per optimiser step (warm-up, then the schedule).
``zero_grad(recipe, optimizer)``
    ``optimizer.zero_grad()`` unless the recipe has the ``no_zero_grad`` fault.
``apply_grad_faults(recipe, model) -> float``
    Call after ``backward()`` and before ``optimizer.step()``: returns the global gradient L2
    norm (before clipping) and clips to ``recipe.optim.clip_norm`` when set.
``validation_mode(recipe, model)``
    Puts the model in eval mode for validation, unless ``eval_in_train_mode``.
``TORCH_FAULTS``
    The faults these helpers implement (a backend adds the data-level faults of ``data.py``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from corpus_gen.data import Data
from corpus_gen.recipe import Recipe

DATA_FAULTS: frozenset[str] = frozenset({
    "label_noise", "labels_shuffled", "sorted_by_label", "imbalance", "input_scale",
    "input_offset", "val_shift", "val_unnormalized"})
TORCH_FAULTS: frozenset[str] = DATA_FAULTS | {
    "double_softmax", "sigmoid_with_logits_loss", "mse_on_classes", "loss_sign_flipped",
    "loss_wrong_reduction", "log_without_eps", "detached_hidden", "freeze_all_but_last",
    "eval_in_train_mode", "train_augment_noise", "no_zero_grad", "output_activation",
    "custom_grad_bug", "logit_temperature"}

_ACT: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                                    "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}


def seed_everything(recipe: Recipe) -> None:
    torch.manual_seed(recipe.seed)
    np.random.seed(recipe.seed % (1 << 32))
    random.seed(recipe.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)


def tensors(data: Data) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (torch.from_numpy(data.x_train), torch.from_numpy(data.y_train),
            torch.from_numpy(data.x_val), torch.from_numpy(data.y_val))


# ----------------------------------------------------------------------------- custom gradients


class _BuggyReLUFn(torch.autograd.Function):
    """ReLU with a hand-written backward that is wrong in a chosen way."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, mode: str) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.mode = mode
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        mask = (x > 0).to(grad.dtype)
        if ctx.mode == "sign":  # gradient of the wrong sign: the lower layers ascend the loss
            return -grad * mask, None
        if ctx.mode == "scale":  # a forgotten factor: the lower layers barely move
            return grad * mask * 1e-3, None
        if ctx.mode == "no_mask":  # the mask forgotten: the gradient of the identity
            return grad, None
        if ctx.mode == "transposed_mask":  # the mask of the wrong units (flipped batch order)
            return grad * mask.flip(0), None
        raise ValueError(f"unknown custom_grad_bug mode {ctx.mode!r}")


class BuggyReLU(nn.ReLU):
    """A ReLU module (so probes still see a ReLU) whose custom backward is wrong."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return _BuggyReLUFn.apply(x, self.mode)


class Detach(nn.Module):
    """``x.detach()`` in forward: everything before it gets no gradient."""

    def forward(self, x: Tensor) -> Tensor:
        return x.detach()


# ------------------------------------------------------------------------------------- models


def _act(recipe: Recipe) -> nn.Module:
    mode = recipe.faults.get("custom_grad_bug")
    if mode:
        return BuggyReLU(str(mode))
    return _ACT[recipe.model.activation]()


class Net(nn.Module):
    """``post(head(body(x)))``: ``body`` is the hidden stack, ``head`` the output layer."""

    def __init__(self, body: nn.Module, head: nn.Module, post: nn.Module | None = None,
                 squeeze: bool = False) -> None:
        super().__init__()
        self.body = body
        self.head = head
        self.post = post if post is not None else nn.Identity()
        self.squeeze = squeeze

    def forward(self, x: Tensor) -> Tensor:
        y = self.post(self.head(self.body(x)))
        return y.squeeze(-1) if self.squeeze else y


def _mlp_body(recipe: Recipe, in_features: int) -> tuple[nn.Sequential, int]:
    m = recipe.model
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for i in range(m.depth):
        layers.append(nn.Linear(width, m.width))
        if m.norm:
            layers.append(nn.BatchNorm1d(m.width))
        layers.append(_act(recipe))
        if m.dropout:
            layers.append(nn.Dropout(m.dropout))
        if i == 0 and recipe.faults.get("detached_hidden"):
            layers.append(Detach())
        width = m.width
    return nn.Sequential(*layers), width


def _cnn_body(recipe: Recipe, in_shape: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    m = recipe.model
    c, h, w = in_shape
    layers: list[nn.Module] = []
    for i in range(m.depth):
        layers.append(nn.Conv2d(c, m.width, 3, padding=1))
        if m.norm:
            layers.append(nn.BatchNorm2d(m.width))
        layers.append(_act(recipe))
        if i < 2 and h >= 4:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        if i == 0 and recipe.faults.get("detached_hidden"):
            layers.append(Detach())
        c = m.width
    layers.append(nn.Flatten())
    if m.dropout:
        layers.append(nn.Dropout(m.dropout))
    return nn.Sequential(*layers), c * h * w


class RNNBody(nn.Module):
    """A recurrent stack; returns the output at the last time step."""

    def __init__(self, recipe: Recipe, in_features: int) -> None:
        super().__init__()
        m = recipe.model
        kind = m.arch if m.arch in ("gru", "lstm") else "rnn"  # rnn | simple_rnn | vanilla_rnn
        kwargs: dict[str, Any] = {"num_layers": m.depth, "batch_first": True,
                                  "dropout": m.dropout if m.depth > 1 else 0.0}
        if kind == "rnn":
            kwargs["nonlinearity"] = "relu" if m.activation == "relu" else "tanh"
        cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.rnn = cls(in_features, m.width, **kwargs)
        self.drop = nn.Dropout(m.dropout) if m.dropout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.drop(out[:, -1])


class TransformerBody(nn.Module):
    """Token + position embeddings and a small ``nn.TransformerEncoder``.

    ``causal``: a causal mask and per-token outputs ``(B, T, d)`` (LM); otherwise mean-pooled
    ``(B, d)`` (classifier).
    """

    def __init__(self, recipe: Recipe, causal: bool) -> None:
        super().__init__()
        m = recipe.model
        d = m.width
        self.causal = causal
        self.embed = nn.Embedding(recipe.vocab, d)
        self.pos = nn.Parameter(torch.randn(recipe.seq_len, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d, nhead=4 if d % 4 == 0 else 2, dim_feedforward=2 * d, dropout=m.dropout,
            activation="gelu" if m.activation == "gelu" else "relu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, m.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: Tensor) -> Tensor:
        t = x.shape[1]
        h = self.embed(x) + self.pos[:t]
        mask = nn.Transformer.generate_square_subsequent_mask(t) if self.causal else None
        h = self.norm(self.encoder(h, mask=mask, is_causal=self.causal))
        return h if self.causal else h.mean(dim=1)


def _init(recipe: Recipe, model: Net) -> None:
    m = recipe.model
    for module in model.modules():
        weights: list[Tensor] = []
        biases: list[Tensor] = []
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            weights, biases = [module.weight], [module.bias] if module.bias is not None else []
        elif isinstance(module, nn.RNNBase):
            for name, p in module.named_parameters():
                (weights if name.startswith("weight") else biases).append(p)
        with torch.no_grad():
            for wt in weights:
                if m.init == "zero":
                    wt.zero_()
                elif m.init == "constant":
                    wt.fill_(m.init_scale)
                elif m.init == "normal":
                    fan_in = wt[0].numel()
                    wt.normal_(0.0, m.init_scale / math.sqrt(fan_in))
            for b in biases:
                if m.init in ("zero", "constant"):
                    b.zero_()
                if m.bias_init is not None and module is not model.head:
                    b.fill_(m.bias_init)


def build_model(recipe: Recipe, data: Data) -> nn.Module:
    """The network for the recipe (see the module docstring for the outputs)."""
    m, f = recipe.model, recipe.faults
    task = recipe.task
    binary_sigmoid = bool(f.get("sigmoid_with_logits_loss") or f.get(
        "log_without_eps")) and recipe.num_classes == 2
    n_out = 1 if task == "regression" or binary_sigmoid else data.num_classes
    body: nn.Module
    if task in ("transformer_cls", "lm") or m.arch in ("transformer", "gpt"):
        body, width = TransformerBody(recipe, causal=task == "lm"), m.width
    elif m.arch in ("rnn", "simple_rnn", "vanilla_rnn", "gru", "lstm"):
        body, width = RNNBody(recipe, data.input_shape[-1]), m.width
    elif m.arch == "cnn":
        body, width = _cnn_body(recipe, data.input_shape)
    else:
        body, width = _mlp_body(recipe, int(np.prod(data.input_shape)))
    post: nn.Module | None = None
    if f.get("double_softmax"):
        post = nn.Softmax(dim=-1)
    elif f.get("sigmoid_with_logits_loss") or binary_sigmoid:
        post = nn.Sigmoid()
    elif f.get("output_activation"):
        post = _ACT[str(f["output_activation"])]()
    model = Net(body, nn.Linear(width, n_out), post, squeeze=n_out == 1)
    _init(recipe, model)
    if f.get("freeze_all_but_last"):
        for name, p in model.named_parameters():
            if not name.startswith("head."):
                p.requires_grad_(False)
    return model


# ------------------------------------------------------------------------------ loss, metrics


def augment(recipe: Recipe, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Training-batch augmentation: Gaussian noise (float inputs) or random tokens (ids)."""
    level = float(recipe.faults.get("train_augment_noise", 0.0))
    if not level:
        return x
    if x.dtype.is_floating_point:
        return x + level * torch.randn(x.shape, generator=generator)
    replace = torch.rand(x.shape, generator=generator) < min(level, 1.0)
    noise = torch.randint(0, recipe.vocab, x.shape, generator=generator)
    return torch.where(replace, noise, x)


def _flat(recipe: Recipe, outputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    if recipe.task == "lm":
        return outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1)
    return outputs, targets


def reference_loss(recipe: Recipe, outputs: Tensor, targets: Tensor) -> Tensor:
    """The correct loss for these outputs (cross-entropy on logits, MSE for regression)."""
    if not bool(torch.isfinite(outputs).all()):
        return torch.tensor(math.nan)
    if recipe.task == "regression":
        return F.mse_loss(outputs, targets)
    out, tgt = _flat(recipe, outputs, targets)
    if out.ndim == 1:  # binary sigmoid head
        p = out.clamp(1e-7, 1 - 1e-7)
        return F.binary_cross_entropy(p, tgt.to(p.dtype))
    return F.cross_entropy(out, tgt)


def compute_loss(recipe: Recipe, outputs: Tensor, targets: Tensor) -> Tensor:
    """The training loss as the (possibly buggy) training script computes it."""
    f = recipe.faults
    if recipe.task == "regression":
        return F.mse_loss(outputs, targets)
    out, tgt = _flat(recipe, outputs, targets)
    if f.get("logit_temperature"):  # contrastive-style sharpening: logits / τ
        out = out / float(f["logit_temperature"])
    if f.get("sigmoid_with_logits_loss"):  # sigmoid probabilities treated as logits
        target = tgt.to(out.dtype) if out.ndim == 1 else F.one_hot(tgt, out.shape[-1]).to(
            out.dtype)
        return F.binary_cross_entropy_with_logits(out, target)
    if f.get("mse_on_classes"):
        return F.mse_loss(out, F.one_hot(tgt, out.shape[-1]).to(out.dtype))
    if f.get("log_without_eps") and out.ndim == 1:  # hand-written BCE on a sigmoid output
        y = tgt.to(out.dtype)
        loss = -(y * torch.log(out) + (1 - y) * torch.log(1 - out)).mean()
    elif f.get("log_without_eps"):  # softmax by hand: no max-subtraction, no epsilon in the log
        e = torch.exp(out)
        p = e / e.sum(dim=-1, keepdim=True)
        loss = -torch.log(p.gather(-1, tgt[:, None])).mean()
    elif f.get("loss_wrong_reduction"):
        loss = F.cross_entropy(out, tgt, reduction="sum")
    else:
        loss = F.cross_entropy(out, tgt)
    return -loss if f.get("loss_sign_flipped") else loss


def predictions(recipe: Recipe, outputs: Tensor) -> Tensor:
    if outputs.ndim == 1 or (recipe.task == "lm" and outputs.ndim == 2):
        return (outputs > 0.5).long()
    return outputs.argmax(dim=-1)


def accuracy(recipe: Recipe, outputs: Tensor, targets: Tensor) -> float:
    if recipe.task == "regression":
        return math.nan
    return float((predictions(recipe, outputs) == targets).float().mean())


# --------------------------------------------------------------------------- optimisation


def make_optimizer(recipe: Recipe, params: Iterable[Any]) -> torch.optim.Optimizer:
    o = recipe.optim
    params = list(params)
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)


def lr_factor(recipe: Recipe, step: int, total_steps: int) -> float:
    """LR multiplier for optimiser step ``step`` (0-based): linear warm-up, then the schedule.

    ``total_steps`` is all planned steps (epochs × batches per epoch); epochs are derived from it.
    """
    o = recipe.optim
    warm = int(o.warmup_frac * total_steps)
    if warm and step < warm:
        return (step + 1) / warm
    rest = max(1, total_steps - warm)
    progress = min(1.0, (step - warm) / rest)
    spe = max(1, total_steps // max(1, recipe.epochs))
    epoch = step // spe
    if o.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if o.schedule == "linear":
        return max(0.0, 1.0 - progress)
    if o.schedule == "step":
        return o.schedule_gamma ** (epoch // max(1, o.step_every))
    if o.schedule == "exponential":
        return o.schedule_gamma ** (step / spe)
    return 1.0


def make_scheduler(recipe: Recipe, optimizer: torch.optim.Optimizer,
                   total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-optimiser-step LambdaLR (warm-up then ``recipe.optim.schedule``)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(recipe, step, total_steps))


def zero_grad(recipe: Recipe, optimizer: torch.optim.Optimizer) -> None:
    if not recipe.faults.get("no_zero_grad"):
        optimizer.zero_grad(set_to_none=True)


def grad_norm(model: nn.Module) -> float:
    grads = [p.grad.detach().reshape(-1) for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.cat(grads)))


def apply_grad_faults(recipe: Recipe, model: nn.Module) -> float:
    """Global gradient norm before clipping; clips to ``recipe.optim.clip_norm`` when set."""
    if recipe.optim.clip_norm:
        return float(torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.optim.clip_norm))
    return grad_norm(model)


def validation_mode(recipe: Recipe, model: nn.Module) -> None:
    """``model.eval()`` for validation, except with the ``eval_in_train_mode`` fault."""
    model.train(bool(recipe.faults.get("eval_in_train_mode")))
