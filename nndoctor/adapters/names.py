"""Metric-name normalisation: raw log tags → canonical series names (log-formats.md §2.10).

Readers hand over every metric under the tag it had in the log; :func:`canonicalise` picks one
series for each canonical name (``train_loss, val_loss, train_acc, val_acc, lr, grad_norm``) and
keeps every other series under a cleaned version of its own name, so nothing is lost and
``--metric CANONICAL=TAG`` (:func:`apply_overrides`) can still re-map it. Per-layer signals in
the common schemes (``grad_norm/<param>``, ``gradients/<layer>/norm``, histograms, dead/saturated
fractions) become the probe's ``nndoctor/<quantity>/<NN-layer>`` series (layers.py).

When several tags claim one canonical name (:func:`_preference`): an explicit role prefix wins
over a convention (``train_loss`` over ``loss``), a validation/eval series over a test series
(the test set stands in for validation only when nothing else does), then for *train* series
the one with **more points** (Lightning's ``train_loss_step`` is usually the finer curve, but with
``log_every_n_steps`` above the batches per epoch ``train_loss_epoch`` has more points and is
the better curve; on a tie the per-step one), for *validation* series the per-epoch one
(``val_loss_epoch`` is the mean over the validation set, ``val_loss_step`` one batch of it).
The loser keeps its own name.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from nndoctor.adapters.layers import layer_series
from nndoctor.adapters.run import CANONICAL, Run, Series
from nndoctor.lazy_re import regex

ROLE_WORDS = {
    "train": "train", "training": "train", "trn": "train", "tr": "train",
    "val": "val", "valid": "val", "validation": "val", "eval": "val", "evaluation": "val",
    "dev": "val",
    "test": "test", "testing": "test",
}
LOSS_WORDS = {"loss", "nll", "nll_loss", "ce", "ce_loss", "cross_entropy", "cross_entropy_loss",
              "crossentropy", "xent", "objective"}
# a language model's own loss where a trainer logs several (Megatron-LM, GPT-NeoX: "lm loss",
# its validation "lm loss value"); ranked after a plain ``loss``
LM_LOSS_WORDS = {"lm_loss", "lm_loss_value"}
ACC_WORDS = {"acc", "accuracy", "top1", "top1_acc", "top1_accuracy", "acc1", "acc_top1",
             "token_accuracy", "top_1", "top_1_accuracy", "acc@1",
             "accuracy_top1"}  # mmpretrain's accuracy/top1
# Keras metric objects named after their class; ranked after a plain ``accuracy``.
KERAS_ACC_WORDS = {"sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy"}
ERROR_WORDS = {"error_rate", "err_rate"}
GRAD_NORM_WORDS = {"grad_norm", "gradient_norm", "grad_norm_total", "total_norm", "global_norm",
                   "global_grad_norm", "grads_norm", "gradnorm", "gradient_norm_total",
                   "gnorm",  # fairseq
                   # Lightning's grad_norm(module, norm_type=2): grad_2.0_norm_total
                   "grad_2_0_norm_total", "grad_2_norm_total", "grad_l2_norm_total"}
# Lightning's LearningRateMonitor names series lr-<OptimizerClass>[-<n>][/pg<i>].
OPTIMIZERS = {"adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam",
              "lbfgs", "lion", "adafactor", "lamb", "lars", "sparseadam", "asgd", "rprop",
              "muon", "sophia", "novograd", "adabelief", "adan", "ranger"}
# Modifiers that do not change what a series measures; ``epoch``/``batch`` give its resolution.
NEUTRAL_WORDS = {"mean", "avg", "average", "total", "overall", "running", "x"}
RESOLUTION_WORDS = {"epoch": "epoch", "batch": "step", "step": "step", "iter": "step"}
# Never metrics: index columns, clocks, throughput and HF run summaries (§2.10 step 4).
EXCLUDED = {
    "epoch", "step", "global_step", "_step", "_epoch", "iteration", "iter", "steps", "time",
    "timestamp", "_timestamp", "wall_time", "walltime", "_runtime", "total_flos",
    "train_runtime", "eval_runtime", "num_tokens", "num_input_tokens_seen",
    "train/epoch", "train/global_step", "train/train_loss", "train/train_runtime",
    "train/total_flos", "train/train_samples_per_second", "train/train_steps_per_second",
    "total_steps", "percentage",  # LLaMA-Factory progress fields
}
_PER_SECOND = regex(r"(^|[/_])((samples|steps|tokens)_per_second|runtime)$")
_SPLIT = regex(r"[/.\-\s_]+")
# a word boundary inside camelCase or PascalCase: before an upper-case letter that follows a
# lower-case letter or digit, or that starts a word after an acronym (NLLLoss → NLL Loss)
_CAMEL = regex(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PG = regex(r"^(?:pg|lr)(\d+)$")
_DATALOADER = regex(r"/dataloader_idx_(\d+)$")
_PARTS = regex(r"[/.]+")
_RL_COMPONENTS = {"reward", "rewards", "kl", "approx_kl", "kl_coef", "ep_rew_mean", "rew",
                  "reward_std", "rewards_mean"}


class Candidate(NamedTuple):
    """What a tag could stand for: a canonical name plus how strongly it claims it."""

    canonical: str
    explicit: bool  # the role came from an explicit prefix (train_/val/ …), not a convention
    resolution: str | None  # "step", "epoch" or None
    rank: int = 0  # lower is better among otherwise equal spellings (lr pg0 < pg1, eval_x_loss)
    transform: str = ""  # "1-x" for error rates standing in for accuracy
    fallback: bool = False  # a test-set series standing in for validation (only if nothing else)


def clean_name(tag: str) -> str:
    """Tidy own name of a series: ``metrics/mAP50(B)`` → ``metrics/map50_b``."""
    name = tag.strip().lower()
    name = re.sub(r"[^a-z0-9_/\-.]+", "_", name)
    name = re.sub(r"_+", "_", name)
    name = re.sub(r"_?/_?", "/", name).strip("_/")
    return name or "metric"


def is_excluded(tag: str) -> bool:
    """True for keys that are not training metrics (index columns, clocks, HF summaries)."""
    t = tag.strip().lower()
    return t in EXCLUDED or bool(_PER_SECOND.search(t))


@functools.lru_cache(maxsize=4096)  # a sweep's runs log the same few tags over and over
def classify(tag: str, default_role: str = "train") -> Candidate | None:
    """The canonical series a tag can stand for, or None (kept under its own name).

    ``default_role`` is the role of unprefixed ``loss``/``accuracy`` (``"val"`` for fastai).
    A tag no rule reads is read again with its camelCase words apart (``TrainLoss``,
    ``valAcc``); optimiser names such as ``lr-AdamW`` are read whole first. A pure function of
    its arguments (the answer is immutable), so it is remembered.
    """
    found = _classify(tag.strip().lower(), default_role)
    if found is not None:
        return found
    split = _CAMEL.sub("_", tag.strip()).lower()  # TrainLoss, valAcc, NLLLoss: words apart
    return _classify(split, default_role) if split != tag.strip().lower() else None


def _classify(t: str, default_role: str) -> Candidate | None:
    if is_excluded(t):
        return None
    loader = _DATALOADER.search(t)  # Lightning with several val dataloaders: the first wins
    if loader:
        t = t[:loader.start()]
    tokens = [x for x in _SPLIT.split(t) if x]
    if not tokens:
        return None
    if "momentum" in tokens or "beta" in tokens or "beta1" in tokens:
        return None
    grad = _grad_norm(tokens)
    if grad is not None:
        return grad
    lr = _learning_rate(tokens)
    if lr is not None:
        return lr
    if t.endswith("evaluation_loss_vs_iterations"):
        return Candidate("val_loss", True, "step", 1)
    resolution: str | None = None
    if len(tokens) > 1 and tokens[-1] in ("step", "epoch"):
        resolution = RESOLUTION_WORDS[tokens.pop()]
    role, explicit = default_role, False
    prefix = tokens[0]
    if len(tokens) > 1 and prefix in ROLE_WORDS:
        role, explicit = ROLE_WORDS[prefix], True
        tokens = tokens[1:]
    elif len(tokens) > 1 and tokens[-1] in ROLE_WORDS:  # Loss/train, Accuracy/val (tutorials)
        role, explicit = ROLE_WORDS[tokens.pop()], True
        if len(tokens) > 1 and tokens[-1] in ("step", "epoch") and resolution is None:
            resolution = RESOLUTION_WORDS[tokens.pop()]
    while len(tokens) > 1 and tokens[0] in NEUTRAL_WORDS | RESOLUTION_WORDS.keys():
        word = tokens.pop(0)
        if word in RESOLUTION_WORDS and resolution is None:
            resolution = RESOLUTION_WORDS[word]
    rest = "_".join(tokens)
    rank = 0
    if (rest not in LOSS_WORDS | ACC_WORDS | ERROR_WORDS and prefix == "eval" and explicit
            and tokens[-1] in ("loss", "accuracy", "acc") and len(tokens) > 1):
        rest, rank = tokens[-1], 1  # HF with several eval sets: eval_<set>_loss
    if loader:
        rank += 1 + int(loader.group(1))
    fallback = role == "test"  # PyTorch tutorials' Loss/test is their validation curve
    if fallback:
        role = "val"
    if role not in ("train", "val"):
        return None
    if rest in LOSS_WORDS:
        return Candidate(f"{role}_loss", explicit, resolution, rank, fallback=fallback)
    if rest in LM_LOSS_WORDS:
        return Candidate(f"{role}_loss", explicit, resolution, rank + 1, fallback=fallback)
    if rest in ACC_WORDS:
        return Candidate(f"{role}_acc", explicit, resolution, rank + (1 if "token" in rest else 0),
                         fallback=fallback)
    if rest in KERAS_ACC_WORDS:
        return Candidate(f"{role}_acc", explicit, resolution, rank + 2, fallback=fallback)
    if rest in ERROR_WORDS or (rest == "error" and not explicit):
        return Candidate(f"{role}_acc", explicit, resolution, rank + 5, "1-x", fallback)
    return None


def _grad_norm(tokens: list[str]) -> Candidate | None:
    body = [x for x in tokens if x not in ROLE_WORDS and x not in ("step", "epoch")]
    joined = "_".join(body)
    if joined in GRAD_NORM_WORDS:
        return Candidate("grad_norm", True, None, 0)
    return None


def _learning_rate(tokens: list[str]) -> Candidate | None:
    body = [x for x in tokens if x not in ROLE_WORDS and x not in NEUTRAL_WORDS]
    if body and body[0] == "epoch":
        body = body[1:]
    if not body:
        return None
    if body[:2] == ["learning", "rate"]:
        body = ["lr", *body[2:]]
    head = body[0]
    m = _PG.match(head)
    if head != "lr" and not (m and head.startswith("lr")):
        return None
    rank = int(m.group(1)) if m else 0
    for extra in body[1:]:
        pg = _PG.match(extra)
        if pg:
            rank += int(pg.group(1))
        elif extra not in OPTIMIZERS and not extra.isdigit():
            return None
    return Candidate("lr", True, None, rank)


def is_rl_style(tags: Iterable[str]) -> bool:
    """True when the keys look like an RL / RLHF trainer (reward, KL): loss ≈ 0 is normal there."""
    return any(map(_rl_tag, tags))


@functools.lru_cache(maxsize=4096)  # a pure function of the tag, asked for every tag of a run
def _rl_tag(tag: str) -> bool:
    parts = [p for p in _PARTS.split(tag.strip().lower()) if p]
    return any(p in _RL_COMPONENTS or p.startswith("reward") for p in parts)


def _preference(c: Candidate, n_points: int) -> tuple[int, ...]:
    """Sort key, higher is better (§2.10 step 6, module docstring): not a test-set stand-in,
    explicit role, rank; then for validation the per-epoch resolution before the number of
    points, for training the number of points before the resolution."""
    if c.canonical.startswith("val"):
        res = {"epoch": 2, None: 1, "step": 0}[c.resolution]
        return (int(not c.fallback), int(c.explicit), -c.rank, res, n_points)
    res = {"step": 2, None: 1, "epoch": 0}[c.resolution]
    return (int(not c.fallback), int(c.explicit), -c.rank, n_points, res)


def canonicalise(
    raw: Mapping[str, Series], default_role: str = "train", unmapped: Collection[str] = ()
) -> tuple[dict[str, Series], dict[str, Any]]:
    """Map ``{tag: Series}`` to ``{name: Series}`` and context hints (``rl_style``, ``derived``).

    The order of ``raw`` breaks ties, and gives the forward order of layers whose names do not
    (layers.py), so readers pass tags in log order. Tags in ``unmapped`` keep their own names
    (a reader's series on another x axis, e.g. Keras' per-batch ``batch_loss`` beside the
    per-epoch curves).
    """
    raw, layer_context = layer_series(raw)
    chosen: dict[str, tuple[tuple[int, ...], int, str, Candidate]] = {}
    for order, (tag, series) in enumerate(raw.items()):
        cand = None if tag in unmapped else classify(tag, default_role)
        if cand is None or len(series) == 0:
            continue
        key = _preference(cand, len(series))
        best = chosen.get(cand.canonical)
        if best is None or key > best[0]:
            chosen[cand.canonical] = (key, order, tag, cand)
    out: dict[str, Series] = {}
    context: dict[str, Any] = {}
    used = set()
    for name, (_key, _order, tag, cand) in chosen.items():
        s = raw[tag]
        values, how = s.values, tag
        if name.endswith("_acc") and _percent(values):
            values, how = values / 100.0, f"{tag} / 100 (logged in percent)"
        if cand.transform == "1-x":
            values, how = 1.0 - values, f"1 - {how}"
        out[name] = Series(s.steps, values, s.source_tag or tag)
        if how != tag:
            context.setdefault("derived", {})[name] = how
        if cand.fallback:
            context.setdefault("derived", {})[name] = (
                f"{how} (no validation series: the test set stands in)")
        used.add(tag)
    for tag, s in raw.items():
        if tag in used or is_excluded(tag):
            continue
        name = _unique(clean_name(tag), out)
        out[name] = Series(s.steps, s.values, s.source_tag or tag)
    for role in ("train", "val"):
        if f"{role}_loss" not in out:
            derived = _component_sum(raw, role)
            if derived is not None:
                out[f"{role}_loss"], how = derived
                context.setdefault("derived", {})[f"{role}_loss"] = how
    if is_rl_style(raw):
        context["rl_style"] = True
    context.update(layer_context)
    return _ordered(out), context


def _percent(values: np.ndarray) -> bool:
    """An accuracy logged in percent (``100. * correct / total``): above 1, none above 100."""
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.max() > 1.5 and finite.max() <= 100.0
                and finite.min() >= 0.0)


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    if name not in taken and name not in CANONICAL:
        return name
    i = 2
    while f"{name}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def _ordered(series: dict[str, Series]) -> dict[str, Series]:
    """Canonical names first, in their fixed order, then the rest alphabetically."""
    head = {k: series[k] for k in CANONICAL if k in series}
    tail = {k: series[k] for k in sorted(series) if k not in head}
    return head | tail


_COMPONENT = regex(r"^(train|val)/([a-z0-9]+)_loss$")


def _component_sum(raw: Mapping[str, Series], role: str) -> tuple[Series, str] | None:
    """YOLO-style multi-part losses: ``train/box_loss + train/cls_loss + …`` → a derived total."""
    parts = []
    for tag, s in raw.items():
        m = _COMPONENT.match(tag.strip().lower())
        if m and ROLE_WORDS[m.group(1)] == role and len(s):
            parts.append((tag, s))
    if len(parts) < 2:
        return None
    common = parts[0][1].steps
    for _, s in parts[1:]:
        common = np.intersect1d(common, s.steps)
    if common.size == 0:
        return None
    total = np.zeros(common.shape, dtype=np.float64)
    for _, s in parts:
        # last value logged at each step
        last = len(s.steps) - 1 - np.unique(s.steps[::-1], return_index=True)[1]
        steps, vals = s.steps[last], s.values[last]
        total += vals[np.searchsorted(steps, common)]
    tags = [t for t, _ in parts]
    return Series(common.astype(np.int64), total, "+".join(tags)), "sum of " + ", ".join(tags)


def parse_metric_overrides(items: Iterable[str]) -> dict[str, str]:
    """Parse ``CANONICAL=TAG`` strings (the ``--metric`` option); ValueError on a bad one."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, tag = item.partition("=")
        name, tag = name.strip(), tag.strip()
        if not sep or not tag:
            raise ValueError(f"--metric {item!r}: expected CANONICAL=TAG, e.g. val_loss=eval/loss")
        if name not in CANONICAL:
            raise ValueError(f"--metric {item!r}: {name!r} is not one of {', '.join(CANONICAL)}")
        out[name] = tag
    return out


def apply_overrides(run: Run, overrides: Mapping[str, str]) -> Run:
    """Re-map series as ``--metric CANONICAL=TAG`` says; TAG is a log tag or a series name.

    The series that held the canonical name before moves to its cleaned own name. A TAG this
    run does not have adds a warning instead of failing (other runs may have it).
    """
    if not overrides:
        return run
    series = dict(run.series)
    warnings = list(run.warnings)
    for canonical, tag in overrides.items():
        if canonical not in CANONICAL:
            raise ValueError(f"--metric {canonical}={tag}: {canonical!r} is not a canonical name")
        found = _find(series, tag)
        if found is None:
            warnings.append(f"--metric {canonical}={tag}: this run has no series {tag!r}")
            continue
        if found == canonical:
            continue
        moved = series.pop(found)
        old = series.pop(canonical, None)
        if old is not None:
            series[_unique(clean_name(old.source_tag or canonical), series)] = old
        series[canonical] = moved
    return dataclasses.replace(run, series=_ordered(series), warnings=tuple(warnings))


def _find(series: Mapping[str, Series], tag: str) -> str | None:
    for name, s in series.items():
        if s.source_tag == tag:
            return name
    if tag in series:
        return tag
    wanted = clean_name(tag)
    for name, s in series.items():
        if name == wanted or clean_name(s.source_tag) == wanted:
            return name
    return None


LOSS_NAMES = ("train_loss", "val_loss")


def has_loss(run: Run) -> bool:
    """Whether the run has a train or validation loss (what every curve detector starts from)."""
    return any(len(s) > 0 for s in (run.series.get(name) for name in LOSS_NAMES) if s is not None)


def no_loss_warning(run: Run) -> str | None:
    """The warning for a run in which no series maps to a loss: which series were found and how
    to name the loss with ``--metric``; None when the run has a loss."""
    if has_loss(run):
        return None
    if not run.series:
        return ("no metric series in this log: nothing to diagnose (a log of a run that "
                "has not logged yet?)")
    tags = [s.source_tag or name for name, s in run.series.items()]
    shown = ", ".join(tags[:8]) + (f" and {len(tags) - 8} more" if len(tags) > 8 else "")
    example = next((t for t in tags if "loss" in t.lower()), tags[0])
    return (f"no series maps to a train or val loss (found: {shown}); name the loss with "
            f"--metric train_loss=TAG or --metric val_loss=TAG, e.g. --metric "
            f"train_loss={example}")


def with_loss_warning(run: Run) -> Run:
    """The run with :func:`no_loss_warning` added (once) when it has no loss."""
    warning = no_loss_warning(run)
    if warning is None or warning in run.warnings:
        return run
    return dataclasses.replace(run, warnings=(*run.warnings, warning))
