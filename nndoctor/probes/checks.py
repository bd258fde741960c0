"""The individual pre-flight checks on a PyTorch model and one batch (pure measurements).

Every check works on a deep copy of the model, so the caller's weights, optimizer state and
BatchNorm statistics are left untouched.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from nndoctor.probes.sink import MemoryWriter
from nndoctor.probes.torch_probe import Probe

LossFn = Callable[[Any, Any], Tensor]
NOISE_SEED = 9_184_273  # not 0: data made with torch.manual_seed(0) would equal the noise


@dataclass(frozen=True)
class InputStats:
    mean: float
    std: float
    abs_max: float
    abs_mean: float
    samples: int
    nonfinite: bool
    integer_dtype: bool

    @property
    def normalized(self) -> bool:
        """Zero-mean/unit-variance or [0, 1]-like scale (nndoctor's bounds: |mean| ≤ 1, std ≤ 5)."""
        return (not self.integer_dtype and abs(self.mean) <= 1.0 and 0.0 < self.std <= 5.0
                and self.abs_max <= 100.0)


@dataclass(frozen=True)
class LabelStats:
    counts: dict[int, int]
    num_classes: int
    imbalance_ratio: float | None  # None when there are too few samples to judge
    single_label_batches: int
    batches: int


@dataclass(frozen=True)
class OverfitResult:
    reached: bool
    samples: int
    start_loss: float
    final_loss: float
    steps: int
    lr: float
    losses: tuple[float, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class GradCheck:
    max_rel_error: float
    checked: int  # coordinates compared
    per_param: dict[str, float]


# ---------------------------------------------------------------------------- helpers
def forward(model: nn.Module, x: Any) -> Any:
    """Call the model with a tensor, a tuple of positional inputs or a dict of keyword inputs."""
    if isinstance(x, dict):
        return model(**x)
    if isinstance(x, tuple | list):
        return model(*x)
    return model(x)


def cast(x: Any, dtype: torch.dtype) -> Any:
    """Floating tensors (also inside tuples, lists, dicts) converted to ``dtype``."""
    if isinstance(x, Tensor):
        return x.to(dtype) if x.is_floating_point() else x
    if isinstance(x, dict):
        return {k: cast(v, dtype) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(cast(v, dtype) for v in x)
    return x


def take(x: Any, n: int) -> Any:
    """The first ``n`` samples of a batch (tensor, tuple, list or dict of tensors)."""
    if isinstance(x, Tensor):
        return x[:n]
    if isinstance(x, dict):
        return {k: take(v, n) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(take(v, n) for v in x)
    return x


def batch_size(x: Any) -> int:
    tensors = _tensors(x)
    return int(tensors[0].shape[0]) if tensors and tensors[0].dim() else 1


def _tensors(x: Any) -> list[Tensor]:
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    if isinstance(x, tuple | list):
        return [t for v in x for t in _tensors(v)]
    return []


def training_copy(model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A deep copy in train mode with dropout switched off (regularisation off, deterministic)."""
    twin = copy.deepcopy(model)
    if dtype is not None:
        twin = twin.to(dtype)
    twin.train()
    for module in twin.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd | nn.AlphaDropout):
            module.eval()
    return twin


# ---------------------------------------------------------------------------- data
def input_stats(x: Any) -> InputStats:
    tensors = _tensors(x)
    floats = [t.detach() for t in tensors if t.is_floating_point()]
    integer = any(not t.is_floating_point() and t.dtype != torch.bool for t in tensors) \
        and not floats
    data = torch.cat([t.double().flatten() for t in (floats or tensors)]) if tensors \
        else torch.zeros(1, dtype=torch.float64)
    finite = torch.isfinite(data)
    values = data[finite] if bool(finite.any()) else torch.zeros(1, dtype=torch.float64)
    return InputStats(mean=float(values.mean()), std=float(values.std(unbiased=False)),
                      abs_max=float(values.abs().max()), abs_mean=float(values.mean().abs()),
                      samples=batch_size(x), nonfinite=not bool(finite.all()),
                      integer_dtype=integer)


def class_labels(y: Any) -> Tensor | None:
    """Integer class labels of a classification target, or None for other targets."""
    if not isinstance(y, Tensor):
        return None
    if not y.is_floating_point() and y.dtype != torch.bool and y.dim() == 1:
        return y.detach().long()
    if y.is_floating_point() and y.dim() == 2 and y.shape[1] > 1 \
            and bool(((y == 0) | (y == 1)).all()) and bool((y.sum(1) == 1).all()):
        return y.detach().argmax(1)  # one-hot
    return None


def label_stats(targets: Sequence[Any], num_classes: int | None,
                min_per_class: int = 20) -> LabelStats | None:
    """Class counts over the batches, their imbalance and batches holding a single label."""
    labels = [lab for lab in (class_labels(y) for y in targets) if lab is not None and lab.numel()]
    if not labels:
        return None
    everything = torch.cat(labels)
    values, counts = torch.unique(everything, return_counts=True)
    count = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    classes = max(num_classes or 0, len(count))
    imbalance = None
    if classes >= 2 and everything.numel() >= min_per_class * classes:
        smallest = min(count.get(c, 0) for c in range(classes)) if num_classes else \
            min(count.values())
        imbalance = max(count.values()) / max(smallest, 1)
    single = sum(1 for lab in labels if lab.numel() >= 2 and int(lab.unique().numel()) == 1)
    return LabelStats(count, classes, imbalance, single if classes >= 2 else 0, len(labels))


# ---------------------------------------------------------------------------- loss
LOSS_KINDS = {
    "CrossEntropyLoss": "cross_entropy", "cross_entropy": "cross_entropy",
    "NLLLoss": "nll", "nll_loss": "nll",
    "BCELoss": "bce", "binary_cross_entropy": "bce",
    "BCEWithLogitsLoss": "bce_with_logits",
    "binary_cross_entropy_with_logits": "bce_with_logits",
    "MSELoss": "mse", "mse_loss": "mse", "L1Loss": "mse", "l1_loss": "mse",
    "SmoothL1Loss": "mse", "smooth_l1_loss": "mse", "HuberLoss": "mse", "huber_loss": "mse",
}


def loss_kind(loss_fn: Any) -> str | None:
    """The loss_function choice of a torch loss module or functional, None if not a torch one."""
    module = getattr(loss_fn, "__module__", "") or type(loss_fn).__module__
    if not module.startswith("torch."):
        return None
    name = getattr(loss_fn, "__name__", None) or type(loss_fn).__name__
    return LOSS_KINDS.get(name)


def output_kind(output: Any) -> str | None:
    """What the model's output looks like: softmax / log_softmax / sigmoid / relu / none."""
    if not isinstance(output, Tensor) or not output.is_floating_point() or output.numel() < 8:
        return None
    out = output.detach().double()
    if not bool(torch.isfinite(out).all()) or float(out.std()) == 0.0:
        return None  # NaN, or a constant output that looks like anything
    wide = out.dim() >= 2 and out.shape[-1] >= 2
    if wide and bool((out >= 0).all()) and torch.allclose(out.sum(-1), torch.ones(1).double(),
                                                          atol=1e-3):
        return "softmax"
    if wide and bool((out <= 0).all()) and torch.allclose(out.logsumexp(-1),
                                                          torch.zeros(1).double(), atol=1e-3):
        return "log_softmax"
    if bool(((out >= 0) & (out <= 1)).all()):
        return "sigmoid"
    if bool((out >= 0).all()) and bool((out == 0).any()):
        return "relu"
    return "none"


def initial_loss(model: nn.Module, x: Any, y: Any, loss_fn: LossFn) -> tuple[float, Any]:
    twin = training_copy(model)
    with torch.no_grad():
        output = forward(twin, x)
        return float(loss_fn(output, y)), output


def expected_initial_loss(output: Any, y: Any, num_classes: int | None) -> tuple[float, str] | None:
    """ln(C) for a C-class classifier, ln(2) for a binary one (Karpathy, CS231n)."""
    logits = output if isinstance(output, Tensor) else None
    labels = class_labels(y)
    if num_classes is not None and num_classes >= 2:
        return math.log(num_classes), f"ln({num_classes})"
    if logits is not None and labels is not None and logits.dim() == 2 and logits.shape[1] >= 2:
        return math.log(logits.shape[1]), f"ln({logits.shape[1]}) from the output width"
    if isinstance(y, Tensor) and y.is_floating_point() and bool(((y == 0) | (y == 1)).all()) \
            and logits is not None and logits.shape[-1:] in (torch.Size([1]), y.shape[-1:]):
        return math.log(2), "ln(2) for binary targets"
    return None


class Adam:
    """Adam as ``torch.optim.Adam`` computes it with its defaults (betas 0.9/0.999, eps 1e-8, no
    weight decay, no amsgrad), step for step. The first ``torch.optim`` optimizer of a process
    imports ``torch._dynamo`` - about 2.5 s on a small machine, most of a pre-flight check's
    time - and the tiny-batch fit needs nothing else of it."""

    def __init__(self, params: Sequence[Tensor], lr: float, betas: tuple[float, float] = (
                 0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        correction1, correction2 = 1 - beta1 ** self.steps, 1 - beta2 ** self.steps
        for p, (m, v) in zip(self.params, self.moments, strict=True):
            if p.grad is None:
                continue
            m.lerp_(p.grad, 1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad.conj(), value=1 - beta2)
            denom = (v.sqrt() / math.sqrt(correction2)).add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / correction1)


def overfit_tiny_batch(model: nn.Module, x: Any, y: Any, loss_fn: LossFn, samples: int = 8,
                       steps: int = 300, lrs: Iterable[float] = (1e-3, 3e-4),
                       tolerance: float = 0.05) -> tuple[OverfitResult, nn.Module]:
    """Train a copy with Adam on ``samples`` examples, trying each LR until the loss falls to
    5 % of its start (or 1e-3); returns the result and the last trained copy."""
    xs, ys = take(x, samples), take(y, samples)
    result: tuple[OverfitResult, nn.Module] | None = None
    for lr in lrs:
        twin = training_copy(model)
        params = [p for p in twin.parameters() if p.requires_grad]
        optimizer = Adam(params, lr=lr)
        losses: list[float] = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(forward(twin, xs), ys)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]) or _fitted(losses, tolerance):
                break
            loss.backward()
            optimizer.step()
        reached = _fitted(losses, tolerance)
        result = (OverfitResult(reached, batch_size(xs), losses[0], losses[-1], len(losses), lr,
                                tuple(losses)), twin)
        if reached:
            break
    if result is None:
        raise ValueError("overfit_tiny_batch needs at least one learning rate")
    return result


def _fitted(losses: list[float], tolerance: float) -> bool:
    return math.isfinite(losses[-1]) and (losses[-1] <= tolerance * abs(losses[0])
                                          or abs(losses[-1]) <= 1e-3)


def random_input_losses(trained: nn.Module, x: Any, y: Any, loss_fn: LossFn,
                        samples: int = 8) -> tuple[float, float]:
    """Loss of a (tiny-batch-fitted) model on its real inputs and on noise of the same scale."""
    xs, ys = take(x, samples), take(y, samples)
    noise = _noise_like(xs, torch.Generator().manual_seed(NOISE_SEED))
    with torch.no_grad():
        return float(loss_fn(forward(trained, xs), ys)), float(loss_fn(forward(trained, noise), ys))


def _noise_like(x: Any, generator: torch.Generator) -> Any:
    if isinstance(x, Tensor) and x.is_floating_point():
        finite = x[torch.isfinite(x)]
        mean = float(finite.mean()) if finite.numel() else 0.0
        std = float(finite.std()) if finite.numel() > 1 else 1.0
        return torch.randn(x.shape, generator=generator, dtype=x.dtype) * (std or 1.0) + mean
    if isinstance(x, dict):
        return {k: _noise_like(v, generator) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(_noise_like(v, generator) for v in x)
    return x


# ---------------------------------------------------------------------------- gradients
def gradient_check(model: nn.Module, x: Any, y: Any, loss_fn: LossFn, params: int = 4,
                   coords: int = 5, h: float = 1e-5, samples: int = 4,
                   seed: int = 0) -> GradCheck:
    """Analytic vs centred-difference gradients in float64 on a few coordinates (CS231n).

    Relative error |a - n| / max(|a|, |n|); coordinates where both are below 1e-10 count as 0;
    NaN when the loss or a gradient is not finite.
    """
    twin = training_copy(model, torch.float64)
    xs, ys = cast(take(x, samples), torch.float64), cast(take(y, samples), torch.float64)
    named = [(n, p) for n, p in twin.named_parameters() if p.requires_grad and p.numel()]
    if not named:
        return GradCheck(0.0, 0, {})
    picks = sorted({round(i * (len(named) - 1) / max(params - 1, 1))
                    for i in range(min(params, len(named)))})
    twin.zero_grad()
    loss_fn(forward(twin, xs), ys).backward()
    generator = torch.Generator().manual_seed(seed)
    per_param: dict[str, float] = {}
    checked = 0
    for i in picks:
        name, p = named[i]
        analytic = p.grad.detach().flatten().clone() if p.grad is not None \
            else torch.zeros(p.numel(), dtype=torch.float64)
        flat = p.data.view(-1)
        worst = 0.0
        for j in torch.randperm(p.numel(), generator=generator)[:coords].tolist():
            old = float(flat[j])
            with torch.no_grad():
                flat[j] = old + h
                plus = float(loss_fn(forward(twin, xs), ys))
                flat[j] = old - h
                minus = float(loss_fn(forward(twin, xs), ys))
                flat[j] = old
            numeric, value = (plus - minus) / (2 * h), float(analytic[j])
            if not (math.isfinite(numeric) and math.isfinite(value)):
                worst = math.nan  # a NaN loss or gradient: the check says nothing
                break
            scale = max(abs(numeric), abs(value))
            worst = max(worst, abs(numeric - value) / scale if scale > 1e-10 else 0.0)
            checked += 1
        per_param[name] = worst
    errors = list(per_param.values())
    return GradCheck(math.nan if any(math.isnan(e) for e in errors) else max(errors), checked,
                     per_param)


# ---------------------------------------------------------------------------- init
def init_signals(model: nn.Module, x: Any, y: Any, loss_fn: LossFn) -> MemoryWriter:
    """One forward/backward pass of a copy with the live probe on: per-layer signals at init."""
    twin = training_copy(model)
    writer = MemoryWriter()
    probe = Probe(twin, None, writer=writer, every=1, auto=False)
    try:
        loss_fn(forward(twin, x), y).backward()
        probe.step()
    finally:
        probe.close()
    return writer
