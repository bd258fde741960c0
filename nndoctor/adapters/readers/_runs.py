"""Shared tail of every reader: raw tagged series + context → a normalised :class:`Run`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.medians import median
from nndoctor.adapters.names import canonicalise
from nndoctor.adapters.readers import _limits
from nndoctor.adapters.readers._checkpoints import saved_context
from nndoctor.adapters.readers._setup import setup_from_params
from nndoctor.adapters.run import Run, Series

# context key → spellings seen in hparams.yaml, MLflow params, HF state and Ultralytics args.yaml
# (dropout: the model's rate, as Lightning modules and HF model configs name it)
CONTEXT_KEYS: dict[str, tuple[str, ...]] = {
    "num_classes": ("num_classes", "n_classes", "nb_classes", "num_labels", "n_class", "nc"),
    "batch_size": ("batch_size", "train_batch_size", "per_device_train_batch_size", "bs",
                   "batch"),
    "lr": ("lr", "learning_rate", "lr0", "base_lr", "max_lr", "initial_lr", "opt_learning_rate"),
    "optimizer": ("optimizer", "optim", "optimizer_name", "opt_name", "opt"),
    "weight_decay": ("weight_decay", "wd"),
    "dropout": ("dropout", "dropout_rate", "dropout_prob", "dropout_p", "drop_rate", "p_dropout",
                "hidden_dropout_prob", "hidden_dropout"),
    "epochs": ("max_epochs", "epochs", "num_train_epochs", "n_epochs", "num_epochs"),
}
_INT_KEYS = {"num_classes", "batch_size", "epochs"}


GENERIC_NAMES = {"metrics", "training", "results", "trainer_state", "history", "progress",
                 "probe"}


def build_run(
    name: str,
    path: Path,
    fmt: str,
    raw: Mapping[str, Series],
    context: Mapping[str, Any] | None = None,
    warnings: list[str] | tuple[str, ...] = (),
    default_role: str = "train",
    unmapped: Collection[str] = (),
    model_dir: Path | None = None,
) -> Run:
    """Normalise metric names (names.py) and assemble the Run. A log with a generic file name
    (metrics.csv, training.log, …) is named after its folder. Readers put the x axis in the
    context (:func:`axis`: ``step_unit``, ``steps_per_epoch``). A model saved in ``model_dir``
    (default: the log's folder) is probed for its weights and its optimiser's state
    (``_checkpoints.saved_context``)."""
    path = path if isinstance(path, Path) else Path(path)  # (Path of a Path parses it again)
    if name.lower() in GENERIC_NAMES and path.parent.name:
        name = path.parent.name
    series, hints = canonicalise(raw, default_role=default_role, unmapped=unmapped)
    ctx = dict(context or {})
    ctx.update(hints)
    if model_dir is None:
        model_dir = path if path.is_dir() else path.parent
    ctx.update(saved_context(model_dir))
    return Run(name=name, path=path, format=fmt, series=series, context=ctx,
               warnings=tuple(warnings))


def context_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the hyper-parameters rules care about out of a (possibly nested) mapping.

    Top-level keys win over keys found one level down (``model: {num_classes: 10}``). Values
    are only read, never followed: a path in the mapping is not opened. The fine-tuning setup
    (pretrained checkpoint, precision, gradient accumulation) comes from ``_setup``.
    """
    out: dict[str, Any] = setup_from_params(params)
    levels: list[Mapping[str, Any]] = [params]
    levels += [v for v in params.values() if isinstance(v, Mapping)]
    for key, spellings in CONTEXT_KEYS.items():
        for level in levels:
            found = _lookup(level, spellings)
            value = _coerce(key, found)
            if value is not None:
                out[key] = value
                break
    return out


def _lookup(level: Mapping[str, Any], spellings: tuple[str, ...]) -> Any:
    lowered = {str(k).lower(): v for k, v in level.items()}
    for s in spellings:
        if s in lowered:
            return lowered[s]
    return None


def _coerce(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return None
    if key == "optimizer":
        if isinstance(value, Mapping):  # LightningCLI: {class_path: torch.optim.Adam, init_args}
            value = value.get("class_path") or value.get("name")
        if isinstance(value, str) and value.strip():
            return value.strip().rsplit(".", 1)[-1]
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    if key in _INT_KEYS:
        return int(value) if float(value).is_integer() and value > 0 else None
    if key == "dropout" and not 0 <= value < 1:
        return None  # a rate is a probability (a keep-probability has its own names)
    return float(value)


def yaml_context(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Context from a hparams.yaml / args.yaml beside a log (safe loader); warnings on failure."""
    import yaml  # only for a run with a YAML file beside its log

    from nndoctor.safe_yaml import load_yaml

    try:
        data = _limits.read_capped(path, _limits.MAX_YAML_BYTES)
        if data is None:
            return {}, [f"{path.name}: over the {_limits.MAX_YAML_BYTES >> 20} MiB limit for a "
                        "YAML file beside a log, hyper-parameters ignored"]
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [f"{path.name}: not read ({exc})"]
    try:
        data = load_yaml(text)  # the one safe loader: alias bombs refused
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, [f"{path.name}: not plain YAML, hyper-parameters ignored ({first})"]
    if not isinstance(data, Mapping):
        return {}, []
    return context_from_params(data), []


def axis(unit: str, steps: Any = None, epochs: Any = None,
         fallback: float | None = None) -> dict[str, Any]:
    """The run's x axis for ``Run.context``: ``step_unit`` ("step" or "epoch") and, when the log
    shows it, ``steps_per_epoch`` (from steps and epochs logged together; else ``fallback``,
    e.g. HF's max_steps / num_train_epochs)."""
    out: dict[str, Any] = {"step_unit": unit}
    spe = steps_per_epoch(steps, epochs) if steps is not None and epochs is not None else None
    if spe is None and fallback is not None and fallback >= 1 and float(fallback).is_integer():
        spe = int(fallback)
    if spe is not None:
        out["steps_per_epoch"] = spe
    return out


def steps_per_epoch(steps: Any, epochs: Any) -> int | None:
    """Optimizer steps per epoch from (step, epoch) pairs logged together.

    Fractional epochs (Hugging Face: ``epoch`` = steps done / steps per epoch) give it as the
    median of step / epoch; whole epochs (Lightning: the epoch a row was logged in) as the median
    gap between the last steps of consecutive epochs (needs two complete epochs; a full-batch run
    gives 1). None when the pairs do not tell.
    """
    s = np.asarray(steps)  # int64 steps stay int64: no copy of a 10M-row CSV's steps
    if s.dtype.kind not in "iu":
        s = s.astype(np.float64)
    e = np.asarray(epochs, dtype=np.float64)
    ok = np.isfinite(e) & (e >= 0) & (s >= 0)
    if s.dtype.kind == "f":
        ok &= np.isfinite(s)
    if not ok.all():
        s, e = s[ok], e[ok]
    del ok
    if s.size < 2:
        return None
    if np.any(e != np.floor(e)):
        pos = e > 0
        if not pos.any():
            return None
        spe = median(s[pos] / e[pos])  # np.median's value, without importing numpy.ma
    else:
        if np.any(e[1:] < e[:-1]):  # the last step of each epoch, in one pass over them
            order = np.argsort(e, kind="stable")
            e, s = e[order], s[order]
        heads = np.concatenate(([0], np.flatnonzero(np.diff(e)) + 1))
        epochs_seen = e[heads]
        last = np.maximum.reduceat(s, heads)
        gaps = np.diff(last)[np.diff(epochs_seen) == 1]
        if gaps.size == 0:
            return None
        spe = median(gaps)
    return round(spe) if spe >= 0.5 else None


class FolderReader:
    """A reader of run folders whose files are read together (Ray Tune trials, Sacred runs): a
    file's group is its folder, and reading a file reads its folder. Subclasses give ``name``,
    ``priority``, ``can_read`` and ``read_many``."""

    name = ""
    priority = 50

    def group_key(self, path: Path) -> Path:
        return path.parent

    def read(self, path: Path) -> list[Run]:
        return self.read_many([path])

    def read_many(self, paths: list[Path]) -> list[Run]:
        raise NotImplementedError

