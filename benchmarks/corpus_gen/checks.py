"""The symptom each cause must produce, checked on the logs read back from a run's directory.

``check(spec, run_dir)`` returns ``"ok"`` or a short reason. The series are read with
``nndoctor.adapters.readers.read_path`` (raw readers only, never nndoctor's detectors); a run
logged under tutorial tag names is looked up by the names its tag scheme used. Thresholds are
relative to the loss of a uniform guess (``ln C``; ``ln V`` for the LM; 1 for standardised
regression targets).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus_gen.recipe import Recipe

_NAMES = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm")
_FALLBACK = {
    "train_loss": ["train_loss", "train_loss_step", "loss", "train/loss", "train/loss_step"],
    "val_loss": ["val_loss", "val/loss", "eval_loss", "eval/loss", "validation_loss"],
    "train_acc": ["train_acc", "accuracy", "train_acc_step"],
    "val_acc": ["val_acc", "val/acc", "val_accuracy", "eval_accuracy", "eval/accuracy"],
    "lr": ["lr", "learning_rate", "lr-adam", "lr-sgd", "lr-adamw"],
    "grad_norm": ["grad_norm", "grad_2.0_norm_total", "train/grad_norm"],
}


def _scheme_names(recipe: Recipe) -> dict[str, list[str]]:
    """Tags the run's own logging scheme used, cleaned like the readers clean them."""
    from nndoctor.adapters.names import clean_name

    out: dict[str, list[str]] = {}
    if recipe.framework == "torch":
        from corpus_gen.backend_torch import TAG_SCHEMES

        scheme = TAG_SCHEMES.get(recipe.log.tag_scheme)
        if scheme is not None:
            for name in _NAMES:
                tag = getattr(scheme, name)
                if tag:
                    out[name] = [clean_name(tag)]
    elif recipe.framework == "lightning":
        from corpus_gen.backend_lightning import NAME_SCHEMES

        tl, vl, va, on_step, on_epoch = NAME_SCHEMES.get(recipe.log.tag_scheme,
                                                         NAME_SCHEMES["canonical"])
        out["train_loss"] = [clean_name(tl + "_step" if on_step and on_epoch else tl)]
        out["val_loss"] = [clean_name(vl)] if vl else []
        out["val_acc"] = [clean_name(va)] if va else []
    return out


@dataclass
class Logs:
    """The series of one run as read back from disk, by canonical name (``series``), every
    series under the name the reader gave it (``raw``) and the readers' context."""

    series: dict[str, tuple[np.ndarray, np.ndarray]]
    raw: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.series and len(self.series[name][1]) > 0

    def values(self, name: str) -> np.ndarray:
        return self.series[name][1] if name in self.series else np.array([])

    def steps(self, name: str) -> np.ndarray:
        return self.series[name][0] if name in self.series else np.array([])

    def first(self, *names: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of the first of ``names`` logged (canonical names, then raw)."""
        for name in names:
            for table in (self.series, self.raw):
                if name in table and len(table[name][1]):
                    return table[name]
        return np.array([]), np.array([])


def load(recipe: Recipe, run_dir: Path) -> Logs:
    from nndoctor.adapters.readers import read_path

    runs = read_path(run_dir, on_error=lambda e: None)
    wanted = _scheme_names(recipe)
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in _NAMES:
        for cand in [*wanted.get(name, []), name, *_FALLBACK[name]]:
            for run in runs:
                s = run.series.get(cand)
                if s is not None and len(s) > 0:
                    found[name] = (np.asarray(s.steps), np.asarray(s.values, dtype=float))
                    break
            if name in found:
                break
    raw: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    context: dict[str, Any] = {}
    for run in runs:
        for key, s in run.series.items():
            if key not in raw and len(s) > 0:
                raw[key] = (np.asarray(s.steps), np.asarray(s.values, dtype=float))
        context = {**run.context, **context}
    return Logs(found, raw, context)


# ------------------------------------------------------------------------------ helpers


def baseline(recipe: Recipe) -> float:
    """Loss of a uniform guess."""
    if recipe.task == "regression":
        return 1.0
    if recipe.task == "lm":
        return math.log(recipe.vocab)
    return math.log(max(2, recipe.num_classes))


def chance(recipe: Recipe) -> float:
    """Accuracy of always predicting the most frequent validation class."""
    if recipe.task in ("regression", "lm", "rl"):
        return 1.0 / max(2, recipe.vocab if recipe.task == "lm" else 2)
    if recipe.finetune is not None:
        from corpus_gen.ft_data import make_ft_data

        y = make_ft_data(recipe).evals["new"].labels
    else:
        from corpus_gen.data import make_data

        y = make_data(recipe).y_val
    return float(np.bincount(y).max() / len(y))


def _fin(v: np.ndarray) -> np.ndarray:
    return v[np.isfinite(v)]


def head(v: np.ndarray, frac: float = 0.1) -> float:
    v = _fin(v)
    return float(np.mean(v[:max(1, min(5, int(len(v) * frac)))])) if len(v) else math.nan


def tail(v: np.ndarray, frac: float = 0.1) -> float:
    v = _fin(v)
    return float(np.mean(v[-max(1, int(len(v) * frac)):])) if len(v) else math.nan


def smooth(v: np.ndarray, parts: int = 10) -> np.ndarray:
    v = _fin(v)
    if len(v) < parts:
        return v
    return np.array([c.mean() for c in np.array_split(v, parts)])


def nonfinite(logs: Logs) -> bool:
    return any((~np.isfinite(logs.values(n))).any() for n in ("train_loss", "val_loss"))


@dataclass
class Ctx:
    recipe: Recipe
    logs: Logs
    base: float
    chance: float

    @property
    def tl(self) -> np.ndarray:
        return self.logs.values("train_loss")

    @property
    def vl(self) -> np.ndarray:
        return self.logs.values("val_loss")

    @property
    def va(self) -> np.ndarray:
        return self.logs.values("val_acc")

    def val_acc_end(self) -> float:
        return float(_fin(self.va)[-1]) if len(_fin(self.va)) else math.nan

    def vl_end(self) -> float:
        return float(_fin(self.vl)[-1]) if len(_fin(self.vl)) else math.nan

    def vl_min(self) -> float:
        return float(_fin(self.vl).min()) if len(_fin(self.vl)) else math.nan


def _stuck(c: Ctx, limit: float) -> str | None:
    end = tail(c.tl)
    return None if end > limit * c.base else (
        f"train loss ends {end:.3g} < {limit:g}×baseline {c.base:.3g}")


def _learned_well(c: Ctx) -> str | None:
    end = tail(c.tl)
    if c.logs.has("val_loss"):
        end = min(end, c.vl_end())
    limit = 0.85 if c.recipe.task == "lm" else 0.6
    if not end < limit * c.base:
        return f"train loss ends {end:.3g}, not below {limit}×baseline {c.base:.3g}"
    va = c.val_acc_end()
    if c.recipe.task not in ("lm", "regression") and math.isfinite(va):
        need = c.chance + 0.45 * (1 - c.chance)
        if va < need:
            return f"val acc {va:.3f} < {need:.3f}"
    return None


# ------------------------------------------------------------------------------ causes


def _healthy(c: Ctx) -> str | None:
    if c.recipe.rl is not None:
        return _healthy_rl(c)
    if c.recipe.finetune is not None:
        return _healthy_finetune(c)
    return _healthy_curves(c)


def _healthy_curves(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    bad = _learned_well(c)
    if bad:
        return bad
    if c.logs.has("val_loss"):
        vmin, vend = c.vl_min(), c.vl_end()
        if vend > 1.15 * vmin + 0.01:
            return f"val loss ends {vend:.3g} > 1.15 × min {vmin:.3g} (overfits)"
        if c.recipe.model.dropout < 0.3 and vend > 2.5 * tail(c.tl) + 0.15 \
                and c.recipe.task != "regression":
            return f"val loss {vend:.3g} ≫ train {tail(c.tl):.3g}"
    return None


def _lr_too_high(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return None
    sm = smooth(c.tl)
    end, lo = tail(c.tl), float(sm.min())
    if end > 0.8 * c.base:
        return None  # collapsed to (near) chance
    if sm.max() > 1.5 * sm[0] or end > 1.4 * lo:
        return None  # diverged / rising
    late = _fin(c.tl)[len(_fin(c.tl)) // 2:]
    if len(late) > 10 and late.std() > 0.35 * late.mean():
        return None  # oscillating
    if c.logs.has("lr") and end > 0.3 * c.base:
        return None  # the logged LR is the clue for a poor plateau
    return f"no divergence/oscillation/collapse (train {sm[0]:.3g} → {end:.3g})"


def _lr_too_low(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    first, end = head(c.tl), tail(c.tl)
    if end < 1.02 * first and end > 0.6 * first:
        return None
    return f"loss {first:.3g} → {end:.3g} is not a slow descent"


def _numerical(c: Ctx) -> str | None:
    return None if nonfinite(c.logs) else "no NaN/inf in the logged losses"


def _exploding(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return None
    if not c.logs.has("grad_norm"):
        return "no gradient norm logged"
    g = _fin(c.logs.values("grad_norm"))
    if len(g) and (g.max() > 100 or g.max() > 30 * max(float(np.median(g[:5])), 1e-6)):
        return None
    return f"gradient norm max {g.max() if len(g) else math.nan:.3g}: no explosion"


def _vanishing(c: Ctx) -> str | None:
    half = _fin(c.tl)[: max(1, len(_fin(c.tl)) // 2)]
    if nonfinite(c.logs):
        return "non-finite loss"
    m = float(half.mean())
    return None if m > 0.85 * c.base else f"first-half loss {m:.3g} not near baseline"


def _plateau_high(limit: float) -> Callable[[Ctx], str | None]:
    def check(c: Ctx) -> str | None:
        if nonfinite(c.logs):
            return "non-finite loss"
        return _stuck(c, limit)
    return check


def _bad_init(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return None if c.recipe.model.init == "normal" else "non-finite loss"
    if head(c.tl) > 2.0 * c.base:
        return None  # a huge initial loss
    return _stuck(c, 0.45)


def _saturated(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    if head(c.tl) > 1.5 * c.base:
        return None
    return _stuck(c, 0.4 if c.recipe.task == "regression" else 0.5)


def _unnormalized(c: Ctx) -> str | None:
    if nonfinite(c.logs) or head(c.tl) > 2.0 * c.base:
        return None
    late = _fin(c.tl)[len(_fin(c.tl)) // 2:]
    if len(late) > 10 and late.std() > 0.3 * late.mean():
        return None
    return _stuck(c, 0.35)


def _bad_labels(c: Ctx) -> str | None:
    va = c.val_acc_end()
    if math.isfinite(va):
        return None if va < c.chance + 0.15 * (1 - c.chance) else (
            f"val acc {va:.3f} well above chance {c.chance:.3f}")
    vend = c.vl_end()
    return None if vend > 0.9 * c.base else f"val loss {vend:.3g} below baseline"


def _label_noise(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    end = tail(c.tl)
    va = c.val_acc_end()
    if end < 0.4 * c.base and not c.vl_end() > 1.15 * c.vl_min():
        return f"train loss {end:.3g} too low for noisy labels, val not rising"
    if math.isfinite(va) and va < c.chance + 0.3 * (1 - c.chance):
        return f"val acc {va:.3f}: nothing learned (looks like bad labels)"
    return None


def _within_epoch_share(steps: np.ndarray, values: np.ndarray, spe: int) -> float:
    """Share of the variance of a series explained by the position within the epoch."""
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    keep = steps > spe  # skip the first epoch
    steps, values = steps[keep], values[keep]
    if len(values) < 20 or values.var() == 0:
        return 0.0
    epochs = (steps[-1] - steps[0]) / spe
    per_epoch = round(len(values) / max(1.0, epochs))
    if per_epoch < 6 or epochs < 3:
        return 0.0  # too few points per epoch to see a pattern inside it
    trend = np.convolve(values, np.ones(per_epoch) / per_epoch, mode="same")
    values = (values - trend)[per_epoch // 2: len(values) - per_epoch // 2]
    steps = steps[per_epoch // 2: len(steps) - per_epoch // 2]
    if len(values) < 20 or values.var() == 0:
        return 0.0
    pos = ((steps - 1) % spe) * 8 // spe
    means = np.array([values[pos == k].mean() if (pos == k).any() else values.mean()
                      for k in range(8)])
    return float(means[pos].var() / values.var()) - 7 / len(values)  # minus the noise share


def _not_shuffled(c: Ctx) -> str | None:
    spe = max(1, -(-c.recipe.n_train // c.recipe.batch_size))
    share = _within_epoch_share(c.logs.steps("train_loss"), c.tl, spe)
    if share > 0.25:
        return None  # the loss follows the label blocks of each epoch
    vl = _fin(c.vl)
    if len(vl) > 6 and np.abs(np.diff(vl)).mean() > 0.05 * vl.mean():
        return None  # validation swings between evaluations inside an epoch
    return f"no within-epoch pattern (share {share:.2f}) nor val swings"


def _imbalance(c: Ctx) -> str | None:
    va = c.val_acc_end()
    if not math.isfinite(va):
        return "no val acc"
    if va >= c.chance - 0.03 and tail(c.tl) < 0.7 * c.base:
        return None
    return f"val acc {va:.3f} vs majority share {c.chance:.3f}"


def _gap(ratio: float) -> Callable[[Ctx], str | None]:
    def check(c: Ctx) -> str | None:
        if nonfinite(c.logs):
            return "non-finite loss"
        end, vend = tail(c.tl), c.vl_end()
        if vend > ratio * end + 0.05:
            return None
        return f"no train/val gap (train {end:.3g}, val {vend:.3g})"
    return check


def _overfit(c: Ctx) -> str | None:
    bad = _gap(2.0)(c)
    if bad:
        return bad
    vmin, vend = c.vl_min(), c.vl_end()
    return None if vend > 1.2 * vmin else f"val loss does not rise ({vmin:.3g} → {vend:.3g})"


def _too_few(c: Ctx) -> str | None:
    bad = _gap(2.0)(c)
    if bad:
        return bad
    return None if tail(c.tl) < 0.3 * c.base else "train loss not near 0"


def _big_batch(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    return _stuck(c, 0.45)


def _loss_floor(c: Ctx) -> str | None:
    """Loss input mismatch: the loss plateaus at a floor or is on the wrong scale."""
    if nonfinite(c.logs):
        return "non-finite loss"
    f = c.recipe.faults
    first, end = head(c.tl), tail(c.tl)
    if f.get("mse_on_classes"):
        return None if first < 0.5 * c.base else f"MSE loss {first:.3g} on the CE scale"
    if f.get("double_softmax"):
        floor = -math.log(math.e / (math.e + c.recipe.num_classes - 1))
        return None if end > 0.9 * floor else f"train loss {end:.3g} below softmax floor"
    if f.get("sigmoid_with_logits_loss"):
        return None if float(_fin(c.tl).min()) > 0.25 else "BCE reached below its floor"
    return _stuck(c, 0.3)


def _wrong_output(c: Ctx) -> str | None:
    if c.recipe.faults.get("double_softmax"):
        return _loss_floor(c)
    if nonfinite(c.logs):
        return "non-finite loss"
    end = tail(c.tl)
    return None if end > 0.3 else f"train MSE {end:.3g}: no floor"


def _frozen(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    return _stuck(c, 0.25)


def _val_worse(ratio: float) -> Callable[[Ctx], str | None]:
    def check(c: Ctx) -> str | None:
        if (~np.isfinite(c.tl)).any():
            return "non-finite train loss"
        if (~np.isfinite(c.vl)).any():
            return None
        end, vend = tail(c.tl), c.vl_end()
        if vend > ratio * end:
            return None
        return f"val loss {vend:.3g} not ≫ train {end:.3g}"
    return check


def _eval_mode(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    tl, vl = _fin(c.tl), _fin(c.vl)
    end, vend = tail(tl, 0.2), float(vl[len(vl) // 2:].mean())
    return None if vend > 0.9 * end else f"val {vend:.3g} well below train {end:.3g}"


def _short(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    acc = c.val_acc_end()
    if acc >= 0.98 or tail(c.tl) <= 0.05 * c.base:  # nothing left for more steps to gain
        return f"already converged (val_acc {acc:.3g}, train loss {tail(c.tl):.3g})"
    vl = _fin(c.vl) if c.logs.has("val_loss") else smooth(c.tl)
    q = vl[int(len(vl) * 0.6):]
    if len(q) >= 2 and q[-1] < 0.97 * q[0]:
        return None
    return f"loss not still falling at the end ({q[0]:.3g} → {q[-1]:.3g})" if len(q) else "?"


def _schedule(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    if not c.logs.has("lr"):
        return "no LR logged"
    lr = _fin(c.logs.values("lr"))
    early = lr[: max(2, int(len(lr) * 0.4))]
    if early.min() > 0.05 * lr.max():
        return f"LR {lr.max():.3g} → {early.min():.3g}: not collapsed early"
    sm = smooth(c.tl)
    if sm[-1] < 0.9 * sm[len(sm) // 2] or tail(c.tl) < 0.2 * c.base:
        return f"loss keeps improving ({sm[len(sm) // 2]:.3g} → {sm[-1]:.3g})"
    return None


def _augment(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    end, vend = tail(c.tl, 0.2), c.vl_end()
    if end >= vend and end > 0.3 * c.base:
        return None
    return f"train {end:.3g} not above val {vend:.3g} at a high level"


def _custom_loss(c: Ctx) -> str | None:
    f = c.recipe.faults
    tl = _fin(c.tl)
    if f.get("loss_sign_flipped"):
        return None if len(tl) and tl.min() < 0 else "loss never negative"
    if f.get("loss_wrong_reduction"):
        return None if head(c.tl) > 5 * c.base else f"first loss {head(c.tl):.3g} not ≫ ln C"
    return _numerical(c)


def _gradient_bug(c: Ctx) -> str | None:
    if c.recipe.faults.get("no_zero_grad"):
        return _lr_too_high(c)
    if nonfinite(c.logs):
        return None
    sm = smooth(c.tl)
    if sm[-1] > 1.2 * sm.min():
        return None  # the wrong gradient drives the loss up
    return _stuck(c, 0.4)


# ---------------------------------------------------------------- fine-tuning causes (#17)

SPIKE_RATIO = 1.5  # a loss point this many times the running median of the points before it
SPIKE_WINDOW = 20
SPIKE_NOISE = 6.0  # … and this many robust standard deviations (MAD) of those points above it
NEW_EVAL = ("eval_new_loss", "eval/new_loss", "val_loss/dataloader_idx_0", "val_loss")
ORIGINAL_EVAL = ("eval_original_loss", "eval/original_loss", "val_loss/dataloader_idx_1")


def spike_points(values: np.ndarray, base: float, ratio: float = SPIKE_RATIO,
                 window: int = SPIKE_WINDOW) -> list[int]:
    """Indices (past the first 10 % of the points) of finite losses ≥ ``ratio`` × the median of
    the ``window`` points before them, and above it by ≥ 10 % of the baseline loss and by
    ≥ ``SPIKE_NOISE`` robust standard deviations of those points (batch noise is no spike)."""
    v = _fin(values)
    out = []
    for i in range(max(window, len(v) // 10), len(v)):
        before = v[i - window:i]
        med = float(np.median(before))
        sigma = 1.4826 * float(np.median(np.abs(before - med)))
        if v[i] >= ratio * med and v[i] - med >= max(0.1 * base, SPIKE_NOISE * sigma):
            out.append(i)
    return out


def edge(values: np.ndarray, share: float = 0.1, end: bool = False) -> float:
    """Median of the first (or last) ``share`` of the finite values (at least 2 points)."""
    v = _fin(values)
    if not len(v):
        return math.nan
    k = max(2, int(len(v) * share))
    return float(np.median(v[-k:] if end else v[:k]))


EARLY_RISE = 1.1


def early_rise(values: np.ndarray) -> float:
    """The highest smoothed loss of the first 20 % of the run over the first point."""
    v = _fin(values)
    if len(v) < 10:
        return math.nan
    k = max(3, len(v) // 5)
    smoothed = np.convolve(v[:k], np.ones(3) / 3, mode="valid")
    return float(smoothed.max() / v[0]) if v[0] > 0 else math.nan


def train_over_eval(c: Ctx, names: tuple[str, ...] = NEW_EVAL) -> np.ndarray:
    """At each evaluation after the first step: the median of the last 5 training losses logged
    up to it, over the evaluation loss."""
    ts, tv = c.logs.steps("train_loss"), c.tl
    es, ev = c.logs.first(*names)
    out = []
    for step, value in zip(es, ev, strict=True):
        before = tv[(ts <= step) & np.isfinite(tv)][-5:]
        if step > 0 and len(before) and math.isfinite(value) and value > 0:
            out.append(float(np.median(before)) / value)
    return np.array(out)


def _loss_spikes(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    tl = _fin(c.tl)
    if len(tl) < 3 * SPIKE_WINDOW:
        return f"only {len(tl)} loss points"
    spikes = spike_points(tl, c.base)
    if not spikes:
        return f"no loss point ≥ {SPIKE_RATIO}× the median of the {SPIKE_WINDOW} before it"
    if len(spikes) > 0.1 * len(tl):
        return f"{len(spikes)} of {len(tl)} points spike: oscillation, not spikes"
    return None


def _precision_overflow(c: Ctx) -> str | None:
    g = c.logs.values("grad_norm")
    if not len(g):
        return "no gradient norm logged"
    if np.isfinite(g).all():
        return "every logged gradient norm is finite"
    if (~np.isfinite(c.tl)).any():
        return "the logged loss is non-finite too"
    return None


def _label_masking(c: Ctx) -> str | None:
    f, tl = c.recipe.faults, _fin(c.tl)
    if not len(tl):
        return "no finite loss"
    if f.get("labels_all_masked"):
        return None if np.all(np.abs(tl) <= 1e-6) else f"loss not 0 (max {tl.max():.3g})"
    if f.get("labels_unshifted"):  # far below any LM of the text (its floor is ~0.6 ln V)
        low = np.flatnonzero(tl <= 0.3 * c.base)
        if len(low) and low[0] <= 0.4 * len(tl) and edge(tl, end=True) <= 0.15 * c.base:
            return None
        return f"loss {head(tl):.3g} → {edge(tl, end=True):.3g}: does not collapse early"
    if f.get("pad_not_masked"):
        r = train_over_eval(c)
        if len(r) >= 2 and r[0] <= 1.2 and np.median(r) <= 0.8 and r[-1] <= 0.8:
            return None
        return f"train/eval loss ratios {np.round(r, 2).tolist()}: train not ≪ eval"
    return "no label-masking fault in the recipe"


def _grad_accumulation(c: Ctx) -> str | None:
    r = train_over_eval(c)
    if len(r) < 2:
        return f"{len(r)} evaluation(s) to compare with"
    if np.median(r) >= 1.7 and r[0] >= 1.5:
        return None
    return f"train/eval loss ratio {np.median(r):.2f}: not a multiple ≥ 2"


def _finetune_overfit(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    es, ev = c.logs.first(*NEW_EVAL)
    if len(ev) < 6:
        return f"{len(ev)} evaluations"
    k = int(np.argmin(ev))
    if k > 0.6 * len(ev):
        return f"eval minimum late (evaluation {k + 1} of {len(ev)})"
    if ev[-1] < 1.1 * ev[k]:
        return f"eval loss {ev[k]:.3g} → {ev[-1]:.3g}: does not rise"
    ts, tl = c.logs.steps("train_loss"), c.tl
    at_min = tl[(ts <= es[k]) & np.isfinite(tl)][-5:]
    if not len(at_min) or edge(tl, end=True) > 0.9 * float(np.median(at_min)):
        return "train loss does not keep falling after the eval minimum"
    return None


def _forgetting(c: Ctx) -> str | None:
    _, orig = c.logs.first(*ORIGINAL_EVAL)
    _, new = c.logs.first(*NEW_EVAL)
    if len(_fin(orig)) < 3 or len(_fin(new)) < 3:
        return "no original-task and new-task eval series"
    o_end, n_end = edge(orig, 0.0, end=True), edge(new, 0.0, end=True)
    if o_end < 1.15 * orig[0]:
        return f"original-task eval loss {orig[0]:.3g} → {o_end:.3g}: not forgotten"
    if n_end > 0.95 * new[0]:
        return f"new-task eval loss {new[0]:.3g} → {n_end:.3g}: not learned"
    return None


def _schedule_misconfigured(c: Ctx) -> str | None:
    lr = _fin(c.logs.values("lr"))
    if len(lr) < 6:
        return "no LR logged"
    bug, peak = c.recipe.faults.get("schedule_bug"), float(lr.max())
    if bug == "warmup_past_end":
        if lr[-1] >= 0.999 * peak and lr[-1] >= 1.5 * lr[len(lr) // 3]:
            return None
        return f"LR {lr[len(lr) // 3]:.3g} → {lr[-1]:.3g}: not still rising at the end"
    if bug == "one_epoch_schedule":
        zero = lr <= 1e-3 * peak
        tail_zero = len(zero) - int(np.flatnonzero(~zero)[-1]) - 1 if (~zero).any() else 0
        if tail_zero >= 0.5 * len(lr):
            return None
        return f"LR 0 for the last {tail_zero} of {len(lr)} points only"
    if bug == "max_steps_short":
        spe = c.logs.context.get("steps_per_epoch")
        last = float(c.logs.steps("train_loss").max())
        if not spe or last > 0.5 * spe:
            return f"ran {last:g} steps of a {spe} step epoch"
        if lr[-1] > 0.2 * peak:
            return f"LR ends at {lr[-1]:.3g} of {peak:.3g}: the schedule did not end"
        return None
    return "no schedule fault in the recipe"


def _finetune_lr(c: Ctx) -> str | None:
    if nonfinite(c.logs):
        return "non-finite loss"
    lr = _fin(c.logs.values("lr"))
    if not len(lr):
        return "no LR logged"
    first, end = head(c.tl), edge(c.tl, end=True)
    if lr.max() <= 1e-6:
        if abs(end - first) <= 0.03 * first:
            return None
        return f"loss {first:.3g} → {end:.3g} moves at lr {lr.max():.3g}"
    if lr.max() >= 5e-3:
        _, ev = c.logs.first(*NEW_EVAL)
        if end >= 0.97 * first or end >= 0.9 * c.base:
            return None  # nothing learned, or collapsed to a uniform guess
        if early_rise(c.tl) >= EARLY_RISE:
            return None  # the first updates wreck what the pre-trained model knew
        if len(_fin(ev)) >= 3 and edge(ev, 0.0, end=True) >= 1.1 * float(_fin(ev).min()):
            return None  # the eval loss climbs back
        return f"loss {first:.3g} → {end:.3g}: the high LR did no visible harm"
    return f"LR {lr.max():.3g} is within fine-tuning norms"


KL_FAR = 1.0  # nats from the reference policy: far beyond a KL-regularised GRPO run's ~0.1


def _rl_collapse(c: Ctx) -> str | None:
    _, ent = c.logs.first("entropy")
    _, kl = c.logs.first("kl")
    if len(_fin(ent)) >= 8 and edge(ent, end=True) <= 0.25 * edge(ent):
        return None  # entropy collapse
    if len(_fin(kl)) >= 8 and edge(kl, end=True) >= min(KL_FAR, max(
            10 * max(edge(kl), 1e-3), 0.5)):
        return None  # KL to the reference diverges (or jumped far at once)
    return "neither an entropy collapse nor a diverging KL"


def _healthy_rl(c: Ctx) -> str | None:
    _, ent = c.logs.first("entropy")
    _, kl = c.logs.first("kl")
    _, reward = c.logs.first("reward")
    if len(_fin(ent)) < 8 or len(_fin(reward)) < 8:
        return "no entropy / reward logged"
    if edge(ent, end=True) < 0.5 * edge(ent):
        return f"entropy {edge(ent):.3g} → {edge(ent, end=True):.3g}: collapses"
    if len(_fin(kl)) and edge(kl, end=True) >= 0.5:
        return f"KL ends at {edge(kl, end=True):.3g}"
    if edge(reward, 0.2, end=True) < edge(reward, 0.2):
        return "reward falls"
    return None


def _healthy_finetune(c: Ctx) -> str | None:
    bad = _healthy_curves(c)
    if bad:
        return bad
    spikes = spike_points(c.tl, c.base)
    if spikes:
        return f"{len(spikes)} loss spike(s)"
    if early_rise(c.tl) >= EARLY_RISE:
        return f"the loss rises {early_rise(c.tl):.2f}× in the first fifth"
    g = c.logs.values("grad_norm")
    if len(g) and not np.isfinite(g).all():
        return "non-finite gradient norm"
    _, new = c.logs.first(*NEW_EVAL)
    if len(_fin(new)) >= 2 and edge(new, 0.0, end=True) > 1.15 * float(_fin(new).min()) + 0.01:
        return "the eval loss rises"
    _, orig = c.logs.first(*ORIGINAL_EVAL)
    if len(_fin(orig)) >= 2 and edge(orig, 0.0, end=True) > 1.05 * orig[0]:
        return f"original-task eval loss {orig[0]:.3g} → {edge(orig, 0.0, end=True):.3g}"
    r = train_over_eval(c)
    if len(r) and (float(np.median(r)) > 1.5 or r[0] < 0.75):
        return f"train/eval loss ratios {np.round(r, 2).tolist()}"
    return None


CHECKS: dict[str, Callable[[Ctx], str | None]] = {
    "healthy": _healthy,
    "lr_too_high": _lr_too_high,
    "lr_too_low": _lr_too_low,
    "numerical_instability": _numerical,
    "exploding_gradients": _exploding,
    "vanishing_gradients": _vanishing,
    "dead_relu": _plateau_high(0.7),
    "saturated_activations": _saturated,
    "bad_weight_init": _bad_init,
    "unnormalized_inputs": _unnormalized,
    "bad_labels": _bad_labels,
    "label_noise": _label_noise,
    "data_not_shuffled": _not_shuffled,
    "class_imbalance": _imbalance,
    "too_few_samples": _too_few,
    "overfitting": _overfit,
    "model_too_small": _plateau_high(0.3),
    "too_much_regularization": _plateau_high(0.45),
    "batch_size_too_large": _big_batch,
    "wrong_output_activation": _wrong_output,
    "loss_input_mismatch": _loss_floor,
    "frozen_layers": _frozen,
    "train_test_mismatch": _val_worse(2.0),
    "preprocessing_mismatch": _val_worse(2.0),
    "eval_mode_bug": _eval_mode,
    "not_trained_long_enough": _short,
    "lr_schedule_too_aggressive": _schedule,
    "too_much_augmentation": _augment,
    "custom_loss_bug": _custom_loss,
    "gradient_bug": _gradient_bug,
    "loss_spikes": _loss_spikes,
    "mixed_precision_overflow": _precision_overflow,
    "label_masking_bug": _label_masking,
    "grad_accumulation_bug": _grad_accumulation,
    "finetune_overfitting": _finetune_overfit,
    "catastrophic_forgetting": _forgetting,
    "lr_schedule_misconfigured": _schedule_misconfigured,
    "finetune_lr_out_of_range": _finetune_lr,
    "rl_policy_collapse": _rl_collapse,
}
# causes whose check needs no generic validation series (they look for their own, or none)
OWN_SERIES = frozenset({
    "healthy", "lr_too_high", "lr_too_low", "dead_relu", "data_not_shuffled",
    "numerical_instability", "vanishing_gradients", "exploding_gradients", "custom_loss_bug",
    "gradient_bug", "bad_weight_init", "saturated_activations", "model_too_small",
    "too_much_regularization", "batch_size_too_large", "frozen_layers",
    "lr_schedule_too_aggressive", "unnormalized_inputs", "wrong_output_activation",
    "loss_input_mismatch", "loss_spikes", "mixed_precision_overflow", "label_masking_bug",
    "grad_accumulation_bug", "finetune_overfitting", "catastrophic_forgetting",
    "lr_schedule_misconfigured", "finetune_lr_out_of_range", "rl_policy_collapse"})


def check(spec: dict[str, Any], run_dir: Path) -> str:
    """"ok" when the run's logs show its cause's symptom (healthy: none), else why not."""
    recipe: Recipe = spec["recipe"]
    logs = load(recipe, Path(run_dir))
    if not logs.has("train_loss"):
        return f"no train loss found in the logs (read {sorted(logs.series)})"
    ctx = Ctx(recipe, logs, baseline(recipe), chance(recipe))
    needs_val = spec["cause"] not in OWN_SERIES
    if needs_val and not logs.has("val_loss") and not logs.has("val_acc"):
        return "no validation series found in the logs"
    try:
        problem = CHECKS[spec["cause"]](ctx)
    except (ValueError, IndexError) as exc:
        problem = f"check failed: {exc}"
    return problem or "ok"
