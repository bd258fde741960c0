"""Hugging Face Transformers ``trainer_state.json`` → Run (log-formats.md §2.3).

``log_history`` mixes train entries (``loss``, ``grad_norm``, ``learning_rate``), eval entries
(``eval_loss``, ``eval_<metric>``, ``eval_<set>_loss``) and one final summary entry whose
``train_loss`` is a run average, not a point of the curve: summary entries are left out. Checkpoint
copies (``checkpoint-N/trainer_state.json``) are prefixes of the final file: one run per output
directory, read from the copy with the highest ``global_step``. The summary entry, or a
``global_step`` that reached ``max_steps``, says the training ended (``context["ended"]``). The
last two ``checkpoint-N/model.safetensors`` say which weights never changed (``_checkpoints``);
``training_args.bin`` gives the optimizer and the other TrainingArguments (``_torch_pickle``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from nndoctor.adapters.readers import _limits
from nndoctor.adapters.readers._checkpoints import CHECKPOINT_DIR, checkpoint_context
from nndoctor.adapters.readers._io import file_size, head_text, load_json_cached, to_float
from nndoctor.adapters.readers._runs import axis, build_run, context_from_params
from nndoctor.adapters.readers._setup import setup_from_params
from nndoctor.adapters.run import LogError, Run, Series

SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second",
                "total_flos", "train_loss"}
SKIP_KEYS = {"epoch", "step", "total_flos", "num_input_tokens_seen", "num_tokens"}
MAX_BYTES = _limits.MAX_JSON_BYTES


def _is_hf(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("log_history"), list)
            and all(isinstance(e, dict) for e in data["log_history"]))


class HFTrainerStateReader:
    """``trainer_state.json`` saved by ``transformers.Trainer`` (and TRL trainers)."""

    name = "hf_trainer_state"
    priority = 20

    def can_read(self, path: Path) -> bool:
        if path.suffix.lower() != ".json":
            return False
        named = path.name == "trainer_state.json"
        if not named and '"log_history"' not in head_text(path, 65536):
            return False
        if not 0 < file_size(path) <= MAX_BYTES:
            return named  # an empty or oversized trainer_state.json: say so
        try:
            return _is_hf(load_json_cached(path))
        except LogError:
            return named  # broken JSON in a file of that name: report it, don't ignore it

    def group_key(self, path: Path) -> Path:
        """The training output directory (checkpoint copies belong to it)."""
        folder = path.parent
        return folder.parent if CHECKPOINT_DIR.match(folder.name) else folder

    def read(self, path: Path) -> list[Run]:
        return self.read_many([path])

    def read_many(self, paths: list[Path]) -> list[Run]:
        """Read the copy with the highest ``global_step`` (the final one when saved)."""
        best: tuple[float, int, Path, dict[str, Any]] | None = None
        for path in sorted(paths):
            data = load_json_cached(path)
            if not _is_hf(data):
                raise LogError(path, "not a Hugging Face trainer_state.json (no log_history list)")
            rank = (to_float(data.get("global_step")) or 0.0,
                    0 if CHECKPOINT_DIR.match(path.parent.name) else 1)
            if best is None or rank > (best[0], best[1]):
                best = (rank[0], rank[1], path, data)
        assert best is not None
        path, data = best[2], best[3]
        return [self._run(path, data)]

    def _run(self, path: Path, data: dict[str, Any]) -> Run:
        points: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        warnings: list[str] = []
        skipped = 0
        summary = False
        at: tuple[list[float], list[float]] = ([], [])  # (step, fractional epoch) pairs
        for entry in data["log_history"]:
            if SUMMARY_KEYS & entry.keys() and "loss" not in entry:
                summary = summary or "train_runtime" in entry
                continue  # the final summary: averages, not curve points
            step = to_float(entry.get("step"))
            if step is None:
                skipped += 1
                continue
            epoch = to_float(entry.get("epoch"))
            if epoch is not None:
                at[0].append(step)
                at[1].append(epoch)
            for key, value in entry.items():
                if key in SKIP_KEYS or key.endswith(("_runtime", "_per_second")):
                    continue
                number = to_float(value)
                if number is None:
                    continue
                steps, values = points[key]
                steps.append(int(step))
                values.append(number)
        if skipped:
            warnings.append(f"{skipped} log_history entr{'y' if skipped == 1 else 'ies'} "
                            "without a step ignored")
        raw = {key: Series.from_pairs(s, v, key) for key, (s, v) in points.items()}
        context = context_from_params(data)
        for key in ("max_steps", "num_train_epochs", "logging_steps", "eval_steps",
                    "global_step", "best_metric"):
            number = to_float(data.get(key))
            if number is not None:
                context[key] = number
        reached = to_float(data.get("epoch"))  # the epoch training got to (a float)
        if reached is not None and reached >= 0:
            context["epochs_reached"] = reached
        max_steps, epochs = to_float(data.get("max_steps")), to_float(data.get("num_train_epochs"))
        context.update(axis("step", *at, fallback=max_steps / epochs
                            if max_steps and epochs and epochs > 0 else None))
        ended = _ended(summary, to_float(data.get("global_step")), max_steps)
        if ended:
            context["ended"] = ended
        run_dir = self.group_key(path)
        folders = (path.parent, run_dir)
        configs = [c for c in (_side_json(d / "config.json") for d in folders) if c]
        classes = next((n for n in map(_num_labels, configs) if n is not None), None)
        if classes is not None and "num_classes" not in context:
            context["num_classes"] = classes
        for name in ("config.json", "adapter_config.json"):  # the model, a PEFT adapter
            for folder in folders:
                for key, value in setup_from_params(_side_json(folder / name) or {}).items():
                    context.setdefault(key, value)
        for key, value in _training_args(folders).items():
            context.setdefault(key, value)
        context.update(checkpoint_context(run_dir))
        return build_run(run_dir.name, path, self.name, raw, context, warnings,
                         model_dir=run_dir)  # the output dir, not the state's folder


def _ended(summary: bool, global_step: float | None, max_steps: float | None) -> str | None:
    """How the state says training ended: the summary entry ``Trainer.train`` appends when it
    returns (saved by ``save_state``), or a checkpoint taken at the last step."""
    if summary:
        return "trainer_state.json has the train_runtime summary Trainer.train writes at the end"
    if global_step and max_steps and max_steps > 0 and global_step >= max_steps:
        return f"trainer_state.json is at global_step {global_step:g} = max_steps"
    return None


def _training_args(folders: tuple[Path, ...]) -> dict[str, Any]:
    """The hyper-parameters of the ``training_args.bin`` the Trainer saves beside its state (the
    pickled TrainingArguments: optimizer, learning rate, weight decay, precision, accumulation),
    read inertly (``_torch_pickle``: none of the pickle's code runs)."""
    from nndoctor.adapters.readers._torch_pickle import load_plain  # zipfile: HF runs only

    for folder in folders:
        path = folder / "training_args.bin"
        if path.is_file():
            args = load_plain(path)
            if isinstance(args, dict):
                return context_from_params(args)
    return {}


def _side_json(path: Path) -> dict[str, Any] | None:
    """A small JSON object saved beside the state (``config.json`` …), None if absent or bad."""
    if not path.is_file() or file_size(path) > 16 * 1024 * 1024:
        return None
    try:
        data = load_json_cached(path)
    except LogError:
        return None
    return data if isinstance(data, dict) else None


def _num_labels(data: dict[str, Any]) -> int | None:
    """Number of classes from a classifier's ``config.json`` saved beside the state, if any: 0
    for a regression head (``problem_type`` "regression"), None for a multi-label one (its
    labels are independent yes/no answers, not C classes of one softmax)."""
    arch = data.get("architectures") or []
    if not any(isinstance(a, str) and a.endswith("Classification") for a in arch):
        return None
    problem = data.get("problem_type")
    if problem == "regression":
        return 0
    if problem == "multi_label_classification":
        return None
    labels = data.get("id2label")
    count = len(labels) if isinstance(labels, dict) and labels else to_float(data.get("num_labels"))
    return int(count) if count and count > 1 else None


reader = HFTrainerStateReader()
