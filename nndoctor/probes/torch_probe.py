"""A live probe for PyTorch training loops, attached in one line.

    probe = nndoctor.probes.attach(model, optimizer, log_dir="runs/exp1", every=50)
    ...  # train as usual; optionally probe.step(loss) after optimizer.step()

Every ``every`` optimizer steps (a *probe step*) it records, per layer and in forward order:
gradient norm (as ``optimizer.step`` sees it; with ``pre_clip=True`` as backward left it,
before clipping), update/weight ratio ‖Δw‖/‖w‖, activation mean/std, dead-unit fraction (ReLU
family), saturated fraction (sigmoid/tanh), parameters frozen by mistake, non-finite weights and
outputs, and layers whose units are all identical (symmetry never broken). Between probe steps
the only work is a counter check: forward hooks exist during probe steps only.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd
from torch.utils.hooks import RemovableHandle

from nndoctor.probes.sink import JsonlWriter, ScalarWriter, layer_names, tag

DEFAULT_LOG_DIR = "nndoctor_runs"
# activation module → act_kind code (see sink.ACT_KINDS)
ACT_KIND: tuple[tuple[type[nn.Module], int], ...] = (
    (nn.ReLU, 1), (nn.ReLU6, 1),
    (nn.LeakyReLU, 2), (nn.ELU, 2), (nn.SELU, 2), (nn.CELU, 2), (nn.PReLU, 2), (nn.RReLU, 2),
    (nn.Sigmoid, 3), (nn.Tanh, 4),
    (nn.GELU, 5), (nn.SiLU, 5), (nn.Mish, 5), (nn.Hardswish, 5),
)
# activation modules of other libraries, by class name (Hugging Face's GELUActivation,
# NewGELUActivation, SiLUActivation, MishActivation … subclass nn.Module, not nn.GELU)
NAMED_KIND = (("gelu", 5), ("silu", 5), ("swish", 5), ("mish", 5))
LAYER_OUTPUT = (nn.Linear, nn.Bilinear, _ConvNd)  # their outputs are probed too
LEARNABLE = (nn.Linear, nn.Bilinear, _ConvNd, _NormBase, nn.LayerNorm, nn.GroupNorm,
             nn.Embedding, nn.EmbeddingBag, nn.RNNBase, nn.MultiheadAttention, nn.PReLU)
SIGMOID_HIGH, TANH_ABS = 0.99, 0.99  # sigmoid saturated below 0.01 or above 0.99
FROZEN_MIN_LR = 1e-5  # below this an unchanged weight may just be a tiny LR, not a frozen one


def act_kind(module: nn.Module) -> int:
    """The act_kind code of an activation module, 0 for anything else."""
    code = next((code for cls, code in ACT_KIND if isinstance(module, cls)), 0)
    if code:
        return code
    name = type(module).__name__.lower()
    return next((code for part, code in NAMED_KIND if part in name), 0)


def _first_tensor(output: Any) -> Tensor | None:
    if isinstance(output, Tensor):
        return output
    if isinstance(output, tuple | list) and output and isinstance(output[0], Tensor):
        return output[0]
    return None


def _fingerprint(p: Tensor) -> Tensor:
    x = p.detach().double()
    return torch.stack([x.sum(), x.abs().sum()])


class Probe:
    """Hooks on a model (and its optimizer) that log training signals at a fixed cadence."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        writer: ScalarWriter | None = None,
        log_dir: str | Path | None = None,
        every: int = 50,
        auto: bool = True,
        frozen_after: int = 100,
        pre_clip: bool = False,
        grad_scale: Callable[[], float] | None = None,
    ) -> None:
        """``pre_clip``: read the gradient norms as backward leaves them, before a loop's
        clipping (``clip_grad_norm_`` between backward and ``optimizer.step``) can cap them;
        ``grad_scale`` then gives the loss scale of mixed-precision training (a GradScaler's
        ``get_scale``), which backward-time gradients still carry."""
        self.model, self.optimizer = model, optimizer
        self.pre_clip, self.grad_scale = pre_clip, grad_scale
        self._grad_norms: dict[Tensor, Tensor] = {}  # parameter -> norm after backward
        self.every = max(1, int(every))
        self.frozen_after = frozen_after
        self.step_count = 0  # optimizer steps completed
        self._own_writer = writer is None
        self.writer: ScalarWriter = writer or JsonlWriter(log_dir or DEFAULT_LOG_DIR)
        if isinstance(self.writer, JsonlWriter):
            weakref.finalize(self, self.writer.close)
        self._auto = auto and optimizer is not None
        named = list(model.named_modules())
        self._param_layers = [(n, m) for n, m in named if next(m.parameters(False), None)
                              is not None]
        self._act_modules = [(n, m) for n, m in named
                             if act_kind(m) or isinstance(m, LAYER_OUTPUT)]
        self._tags: dict[str, str] | None = None  # module name → "NN-name", fixed on 1st probe
        self._called: list[str] = []
        self._stats: dict[str, dict[str, Tensor]] = {}
        self._units: dict[str, int] = {}  # activation module -> outputs per sample (1st probe)
        self._before: list[tuple[Tensor, Tensor]] | None = None
        self._start = {p: _fingerprint(p) for _, m in self._param_layers
                       for p in m.parameters(False)}
        self._hooks: list[RemovableHandle] = []
        self._armed: int | None = None  # the step the forward hooks are armed for
        self._force = False
        self._nan_seen = False
        self._opt_hooks: list[RemovableHandle] = []
        if optimizer is not None:
            self._opt_hooks.append(optimizer.register_step_pre_hook(self._pre_step))
            if self._auto:
                self._opt_hooks.append(optimizer.register_step_post_hook(self._post_step))
        self._arm(0)

    # ------------------------------------------------------------------ cadence
    def step(self, loss: float | Tensor | None = None) -> None:
        """Log the loss of the step just taken; without optimizer hooks also advance the probe.

        Call it right after ``optimizer.step()`` (before ``zero_grad``). With ``auto`` (the
        default when an optimizer is given) the optimizer's own step hook advances the probe.
        """
        finished = self.step_count - 1 if self._auto else self.step_count
        if loss is not None:
            value = float(loss.detach()) if isinstance(loss, Tensor) else float(loss)
            self.writer.add_scalar("train_loss", value, finished)
            if not math.isfinite(value) and not self._nan_seen:
                self._nan_seen = True
                self.force_next()  # probe the next step: where is the NaN?
        if not self._auto:
            self._post_step()

    def force_next(self) -> None:
        """Make the next optimizer step a probe step (e.g. right after a NaN loss)."""
        self._force = True
        if self._auto and self._armed is None:
            self._force = False
            self._arm(self.step_count)

    def _pre_step(self, *_: Any) -> None:
        if self._armed == self.step_count and self._before is None:
            self._snapshot()

    def _post_step(self, *_: Any) -> None:
        step = self.step_count
        if self._armed == step:
            self._finish(step)
        self.step_count = step + 1
        if self.step_count % self.every == 0 or self._force:
            self._force = False
            self._arm(self.step_count)

    # ------------------------------------------------------------------ hooks
    def _arm(self, step: int) -> None:
        self._armed = step
        for name, module in self._act_modules:
            self._hooks.append(module.register_forward_hook(self._act_hook(name, module)))
        if self._tags is None:  # first probe: learn the forward order of every layer
            acts = {n for n, _ in self._act_modules}
            for name, module in self._param_layers:
                if name not in acts:
                    self._hooks.append(module.register_forward_hook(self._order_hook(name)))
        if self.optimizer is None:
            self._hooks.append(self.model.register_forward_pre_hook(self._root_pre_hook))
        if self.pre_clip:
            for _, module in self._param_layers:
                for param in module.parameters(False):
                    if param.requires_grad:
                        self._hooks.append(
                            param.register_post_accumulate_grad_hook(self._grad_hook))

    def _grad_hook(self, param: Tensor) -> None:
        """After backward accumulated into ``param.grad`` (the last micro-batch wins: with
        gradient accumulation that is the whole step's gradient), before any clipping."""
        if param.grad is not None:
            self._grad_norms[param] = torch.linalg.vector_norm(param.grad.detach(),
                                                               dtype=torch.float64)

    def _disarm(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
        self._armed = None

    def _root_pre_hook(self, *_: Any) -> None:
        if torch.is_grad_enabled() and self._before is None:
            self._snapshot()

    def _order_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if name not in self._called:  # also under no_grad: a cut gradient is a finding
                self._called.append(name)
        return hook

    def _act_hook(self, name: str, module: nn.Module) -> Callable[..., None]:
        kind = act_kind(module)

        def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
            if self._tags is None and name not in self._called:
                self._called.append(name)
            if not torch.is_grad_enabled() or name in self._stats:
                return  # evaluation pass, or a module called twice: keep the first call
            y = _first_tensor(output)
            if y is None or not y.is_floating_point() or y.numel() == 0:
                return
            self._stats[name] = _activation_stats(y.detach(), kind)
            if self._tags is None and kind:
                self._units[name] = y[0].numel() if y.dim() > 1 else y.numel()
        return hook

    def _snapshot(self) -> None:
        self._before = [(p, p.detach().clone()) for _, m in self._param_layers
                        for p in m.parameters(False) if p.requires_grad]

    # ------------------------------------------------------------------ recording
    def _finish(self, step: int) -> None:
        self._disarm()
        if self._tags is None:
            called = set(self._called)
            rest = [n for n, _ in self._param_layers + self._act_modules if n not in called]
            order = self._called + list(dict.fromkeys(rest))
            self._tags = layer_names(order)
            for name, module in self._act_modules:
                if act_kind(module):
                    self.writer.add_scalar(tag("act_kind", self._tags[name]),
                                           float(act_kind(module)), step)
                    if name in self._units:  # its share of the activations (docs/probes.md)
                        self.writer.add_scalar(tag("act_units", self._tags[name]),
                                               float(self._units[name]), step)
        self._record_layers(step)
        self._record_activations(step)
        if self.optimizer is not None and self.optimizer.param_groups:
            self.writer.add_scalar("lr", float(self.optimizer.param_groups[0]["lr"]), step)
        self._stats.clear()
        self._grad_norms.clear()
        self._before = None
        flush = getattr(self.writer, "flush", None)
        if callable(flush):
            flush()

    def _record_layers(self, step: int) -> None:
        assert self._tags is not None
        before = {p: b for p, b in self._before or ()}
        group_lr: dict[Tensor, float] = {}
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                for p in group["params"]:
                    group_lr[p] = float(group.get("lr", 0.0))
        any_grad = any(p.grad is not None for _, m in self._param_layers
                       for p in m.parameters(False))
        called = set(self._called)
        ordered = sorted(self._param_layers, key=lambda nm: self._tags[nm[0]])  # type: ignore[index]
        scale = float(self.grad_scale()) if self.grad_scale and self._grad_norms else 1.0
        scale = scale if math.isfinite(scale) and scale > 0 else 1.0
        total = 0.0
        for name, module in ordered:
            layer = self._tags[name]
            params = list(module.parameters(False))
            norms = [float(self._grad_norms[p]) / scale if p in self._grad_norms else
                     float(torch.linalg.vector_norm(p.grad.detach(), dtype=torch.float64))
                     for p in params if p.grad is not None or p in self._grad_norms]
            if norms:
                squared = sum(n ** 2 for n in norms)
                total += squared
                self.writer.add_scalar(tag("grad_norm", layer), math.sqrt(squared), step)
            ratio = _update_ratio([(p, before[p]) for p in params if p in before])
            if ratio is not None:
                self.writer.add_scalar(tag("update_ratio", layer), ratio, step)
            nonfinite = any(not math.isfinite(float(p.detach().sum()))
                            and not bool(torch.isfinite(p.detach()).all()) for p in params)
            self.writer.add_scalar(tag("weights_nonfinite", layer), float(nonfinite), step)
            frozen = self._frozen(module, params, group_lr, any_grad, name in called, step)
            self.writer.add_scalar(tag("frozen", layer), float(frozen), step)
            symmetric = _symmetric_units(module)
            if symmetric is not None:
                self.writer.add_scalar(tag("symmetric_units", layer), float(symmetric), step)
        if any_grad:  # the global L2 norm, read as the canonical grad_norm series
            self.writer.add_scalar("grad_norm", math.sqrt(total), step)

    def _frozen(self, module: nn.Module, params: list[nn.Parameter],
                group_lr: dict[Tensor, float], any_grad: bool, called: bool, step: int) -> bool:
        """Parameters that cannot change although the layer looks trainable (layers the forward
        pass never calls do not matter to training and are not flagged)."""
        if not called:
            return False
        trainable_looking = isinstance(module, LEARNABLE) or any(p.requires_grad for p in params)
        for p in params:
            if not p.requires_grad:
                if trainable_looking:
                    return True
                continue
            if self.optimizer is not None and (p not in group_lr or group_lr[p] == 0.0):
                return True  # not in any param group, or its group's LR is 0
            if p.grad is None:
                if any_grad:
                    return True  # used in the forward pass, yet no gradient reaches it
                continue
            if step >= self.frozen_after and group_lr.get(p, 1.0) >= FROZEN_MIN_LR \
                    and bool(p.grad.detach().abs().max() > 0) \
                    and torch.equal(_fingerprint(p), self._start[p]):
                return True  # has a gradient, but has not moved since the probe was attached
        return False

    def _record_activations(self, step: int) -> None:
        assert self._tags is not None
        for name in sorted(self._stats, key=lambda n: self._tags[n]):  # type: ignore[index]
            layer, stats = self._tags[name], self._stats[name]
            values = {k: float(v) for k, v in stats.items()}
            self.writer.add_scalar(tag("act_nonfinite", layer), values.pop("nonfinite"), step)
            for key, quantity in (("mean", "act_mean"), ("std", "act_std"),
                                  ("dead", "dead_fraction"), ("sat", "saturated_fraction")):
                if key in values:
                    self.writer.add_scalar(tag(quantity, layer), values[key], step)

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Remove every hook and close the JSONL file the probe opened."""
        self._disarm()
        for handle in self._opt_hooks:
            handle.remove()
        self._opt_hooks.clear()
        if self._own_writer and isinstance(self.writer, JsonlWriter):
            self.writer.close()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _activation_stats(y: Tensor, kind: int) -> dict[str, Tensor]:
    """Mean, std, dead and saturated fractions of one module output (cheap reductions only)."""
    y = y.float()
    total = y.sum()  # finite iff every element is, unless the float32 sum overflows
    if not bool(torch.isfinite(total)) and not bool(torch.isfinite(y).all()):
        return {"nonfinite": torch.ones(())}  # a NaN batch says nothing about dead units
    n = max(y.numel(), 1)
    mean = total / n
    stats = {"nonfinite": torch.zeros(()), "mean": mean,
             "std": torch.linalg.vector_norm(y - mean) / math.sqrt(n)}
    if kind == 1:  # ReLU family: a unit is dead when it is inactive for every sample
        peak = y.reshape(y.shape[0], -1).amax(0) if y.dim() > 1 else y.amax()
        stats["dead"] = 1.0 - (peak > 0).float().mean()
    elif kind == 3:
        stats["sat"] = ((y - 0.5).abs() > SIGMOID_HIGH - 0.5).float().mean()
    elif kind == 4:
        stats["sat"] = (y.abs() > TANH_ABS).float().mean()
    return stats


def _update_ratio(pairs: list[tuple[Tensor, Tensor]]) -> float | None:
    """‖Δw‖/‖w‖ over a layer's parameters; None when the weights are all zero or not finite."""
    if not pairs:
        return None
    delta = sum(float(torch.linalg.vector_norm(p.detach() - b, dtype=torch.float64)) ** 2
                for p, b in pairs)
    weight = sum(float(torch.linalg.vector_norm(b, dtype=torch.float64)) ** 2 for _, b in pairs)
    if weight <= 0.0 or not math.isfinite(delta) or not math.isfinite(weight):
        return None
    return math.sqrt(delta / weight)


def _symmetric_units(module: nn.Module) -> bool | None:
    """True when every output unit of the layer has the same weights and bias (symmetry)."""
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    if not isinstance(weight, Tensor) or weight.dim() < 2 or weight.shape[0] < 2 \
            or isinstance(module, nn.Embedding | nn.EmbeddingBag):
        return None
    w = weight.detach().reshape(weight.shape[0], -1)
    if not bool(torch.isfinite(w).all()):
        return None
    same = bool((w - w[:1]).abs().max() <= 1e-12 * (float(w.abs().max()) + 1e-30))
    if same and isinstance(bias, Tensor) and bias.shape[:1] == weight.shape[:1]:
        b = bias.detach()
        same = bool((b - b[:1]).abs().max() <= 1e-12 * (float(b.abs().max()) + 1e-30))
    return same


def attach(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    writer: ScalarWriter | None = None,
    log_dir: str | Path | None = None,
    every: int = 50,
    **options: Any,
) -> Probe:
    """Attach a :class:`Probe`; without ``writer`` it writes ``<log_dir>/probe.jsonl``."""
    return Probe(model, optimizer, writer=writer, log_dir=log_dir, every=every, **options)
