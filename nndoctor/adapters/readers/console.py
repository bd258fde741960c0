"""Console output of a training script (``train.log``, ``nohup.out``, ``slurm-*.out``, ``*.out``,
a ``*.txt`` whose content says so, or standard input) → Run.

Recognised line kinds (the one with the most lines in the log is used; a log with no recognised
metric line is not a console log, never a guess):

* **Keras ``fit``**: ``Epoch 3/20`` then the epoch's last progress line ``25/25 ━━━━ 0s 2ms/step -
  accuracy: 0.87 - loss: 0.41 - val_accuracy: … - val_loss: …`` (Keras 3; Keras 2's ``[=====]``
  bars and ``verbose=2`` lines too). ``\\r``-overwritten progress updates are separate segments:
  the last one of each epoch holds the epoch's averages and its validation. Step = epoch − 1
  (0-based, as Keras' CSVLogger and TensorBoard callback count), x axis in epochs.
* **Hugging Face Trainer** printed dicts ``{'loss': 0.52, 'grad_norm': 1.3, 'learning_rate':
  4e-05, 'epoch': 0.5}`` (numbers or quoted numbers, ``nan``/``inf``). The step is the position
  of the last tqdm counter (``120/400 [..]``) printed before the dict when there is one, else the
  count of training dicts so far; the final ``{'train_runtime': …, 'train_loss': …}`` summary
  (``train_loss`` there is the run's average) is not a point: it says training ended.
  ``epoch`` gives steps per epoch.
* **PyTorch Lightning** progress bars ``Epoch 3: 100%|…| 50/50 [00:01<00:00, …, v_num=0,
  train_loss=0.123, val_loss=0.456]``: the last bar of each epoch; step = epoch, x axis in epochs.
* **Hand-written** lines with an index and named numbers: ``epoch 3 loss=0.12 val_loss=0.3``,
  ``step 100 | loss 2.31``, ``Epoch [3/10], Step [100/600], Loss: 0.2345`` (the step inside an
  epoch becomes a global step with the ``/600`` total), nanoGPT's ``iter 100: loss 4.23, time
  …`` and ``step 100: train loss 4.1, val loss 4.2``; a role word standing alone before the
  index gives the line's split to its unprefixed names (fairseq's ``| valid | epoch 001 | …
  | loss 8.1``, ``[val] epoch 3 loss 0.6``); OpenMMLab's ``Epoch(train) [3][ 50/157]`` and
  ``Iter(train) [100/80000]`` are read as such lines, and so are PyTorch Ignite's ProgressBar
  ``Epoch [3/10]: [50/157]  32%|███ , loss=0.41`` (a bar drawn again at one step replaces its
  earlier drawing; an epoch's ``Validation Results - Epoch: 3`` sits at the epoch's last
  iteration and its ``Training Results`` are kept as ``*_epoch``, apart from the iteration
  loss), PyTorch's MNIST example ``Train Epoch: 3 [12800/60000 (21%)]`` (samples seen: the
  x axis counts the printed lines), PyTorch's CIFAR-10 tutorial
  ``[2,  4000] loss: 1.23`` (epoch, mini-batches so far in it: with no epoch length, a count
  that starts again runs on from the last one seen), timm's ``Train: 3 [ 50/1251 ( 4%)]
  Loss: 6.89 (6.91)``, PyTorch's ImageNet example ``Epoch: [3][ 10/5005]  … Loss 6.9e+00
  (6.9e+00)  Acc@1 …`` and MMDetection 2's ``Epoch [3][50/1000]`` (``Acc@1`` is the accuracy,
  ``Acc@5`` kept apart); their ``Test: [ 48/49] …`` lines are an evaluation printed batch by
  batch, whose last line's running average ``(…)`` is the result; CLU's (Flax) ``[1000]
  learning_rate=0.1, train_loss=0.21`` is step 1000. An index-less validation
  or test line is the evaluation of the step before it (PyTorch's MNIST example: ``Test set:
  Average loss: 0.05, Accuracy: 9838/10000 (98%)``, a count out of a total read as the
  fraction). A name
  counts when it holds a metric word (loss, acc, lr, norm, perplexity, …); ``85.2%`` is read
  as 85.2 (accuracies in percent are scaled by the name map). The x axis is in epochs when
  the index is the epoch.
* **Tables**: a header of column names (one an index: ``epoch``, ``step``, ``iter``…; at least
  one a metric), then rows of as many whitespace-separated cells - fastai's printed
  ``epoch  train_loss  valid_loss  accuracy  time`` and Ultralytics' ``Epoch  GPU_mem  box_loss …``
  (``3/100`` is epoch 3). Cells that are not numbers (``00:12``, ``2.1G``) are left out.

Lightning's closing ``Trainer.fit stopped: max_epochs=3 reached.`` says training ended too.
ANSI colour codes are dropped. Lines are never evaluated as code (dicts are scanned by a regex).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nndoctor.adapters.readers._io import file_size, head, open_log, read_text
from nndoctor.adapters.readers._runs import axis, build_run
from nndoctor.adapters.readers._sniff import is_console_name
from nndoctor.adapters.run import LogError, Run, Series
from nndoctor.lazy_re import LazyPattern

SNIFF_BYTES = 256 * 1024
MIN_LINES = 2  # recognised metric lines a log must have before it counts as a console log
GENERIC_STEMS = {"train", "training", "nohup", "output", "out", "log", "stdout", "stderr",
                 "console", "run", "logs"}  # named after their folder instead
NUM = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
_ANSI = LazyPattern(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_SEGMENTS = LazyPattern(r"[\r\n]+")
_METRIC_WORD = LazyPattern(r"(loss|acc|accuracy|lr|learning_rate|norm|error|err|perplexity|ppl|"
                           r"f1|auc|map|precision|recall|score|reward|bleu|iou|dice|mae|mse|rmse|"
                           r"nll|kl)", re.IGNORECASE)

_KERAS_EPOCH = LazyPattern(r"^\s*Epoch\s+(\d+)\s*/\s*(\d+)\s*$")
_KERAS_PAIR = LazyPattern(r"(?:^|\s)-\s+([A-Za-z_][\w/.]*)\s*:\s*(" + NUM + r")(?![\w.])")
_HF_DICT = LazyPattern(r"\{\s*'[A-Za-z_][^{}]*\}")
_HF_PAIR = LazyPattern(r"'([^'\\]+)'\s*:\s*(?:'(" + NUM + r")'|\"(" + NUM + r")\"|(" + NUM + r"))"
                       r"(?=\s*[,}])")
_TQDM_COUNT = LazyPattern(r"(?<![\w.])(\d+)/(\d+)\s*\[\d")
_PL_EPOCH = LazyPattern(r"^\s*Epoch\s+(\d+)\s*:\s*\d+%\|")
_PL_PAIR = LazyPattern(r"([A-Za-z_][\w/.\-]*)=(" + NUM + r")(?=[,\]\s]|$)")
_INDEX = LazyPattern(r"(?<![A-Za-z_])(epoch|ep|step|global_step|iteration|iter|it|batch)s?"
                     r"\s*[:=#]?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?\s*\]?", re.IGNORECASE)
_PAIR = LazyPattern(r"(?<![\w.])([A-Za-z][\w/.]*(?:[ \-][A-Za-z][\w/.]*){0,2}?)\s*(?::|=|\s)\s*"
                    r"(" + NUM + r")(%?)(?![\w.])", re.IGNORECASE)
# the Trainer's summary (its train_loss is the run's average) is read apart; in any other printed
# dict - a script's own {'epoch': 3, 'train_loss': 0.41, 'valid_loss': 0.52} - train_loss is a point
_HF_SKIP = {"epoch", "step", "total_flos", "train_runtime", "train_samples_per_second",
            "train_steps_per_second"}
_IGNORED = {"v_num", "it/s", "s/it"}
_OUT_OF = LazyPattern(r"/(\d+)(?![\w.])")
_ROLES = {"train": "train", "training": "train", "trn": "train", "val": "val", "valid": "val",
          "validation": "val", "eval": "val", "evaluation": "val", "dev": "val", "test": "test"}
_LINE_ROLE = LazyPattern(r"(?<![\w'])(" + "|".join(_ROLES) + r")(?![\w'])", re.IGNORECASE)
# OpenMMLab's mmengine runner: "Epoch(train)  [1][ 50/157]  lr: 1.0e-01 ... loss: 2.1"
_MMENGINE = LazyPattern(r"\b(Epoch|Iter)\((train|val|test)\)\s*\[\s*(\d+)(?:\s*/\s*\d+)?\s*\]"
                        r"(?:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\])?")
_FIT_STOPPED = LazyPattern(r"`Trainer\.fit` stopped: (.{1,120})")  # Lightning's last word
# PyTorch's CIFAR-10 tutorial: "[1,  2000] loss: 2.302" (epoch, mini-batches so far in it)
_TUTORIAL = LazyPattern(r"^\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]\s*(?=[A-Za-z])")
# timm's train.py (and the AverageMeter scripts after it): "Train: 3 [ 50/1251 ( 4%)]  Loss:
# 6.89 (6.91) ..." and its evaluation "Test: [ 48/49]  Loss: 5.5 (5.6)  Acc@1: 10 (12)"
_TIMM_TRAIN = LazyPattern(r"^\s*Train:\s*(\d+)\s*\[\s*(\d+)\s*/\s*(\d+)")
_TIMM_TEST = LazyPattern(r"^\s*Test:\s*\[\s*\d+\s*/\s*\d+\s*\]")
# PyTorch's ImageNet example "Epoch: [3][ 10/5005]\tTime ... Loss 6.9e+00 (6.9e+00)\tAcc@1 ..."
# and MMDetection 2's "- INFO - Epoch [3][50/1000]\tlr: 1.000e-02, ..., loss: 2.3"; torchvision's
# reference scripts (MetricLogger) space the brackets: "Epoch: [0]  [ 10/5005]  eta: ..."
_EPOCH_BATCH = LazyPattern(r"\bEpoch:?\s*\[\s*(\d+)\s*\]\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")
# PyTorch Ignite's ProgressBar: "Epoch [3/10]: [50/157]  32%|███▏      , loss=0.41 [00:01<00:02]"
_IGNITE_BAR = LazyPattern(r"\bEpoch\s*\[\s*(\d+)\s*/\s*\d+\s*\]\s*:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")
# CLU's LoggingWriter (the Flax/JAX examples), behind absl's prefix: "...logging_writer.py:48]
# [1000] learning_rate=0.1, train_accuracy=0.93, train_loss=0.21"
_BRACKET_STEP = LazyPattern(r"(?:^|(?<=\]\s))\s*\[(\d+)\]\s+(?=[A-Za-z_][\w/.]*=)")
# PyTorch's MNIST example and the scripts after it: "Train Epoch: 3 [12800/60000 (21%)]\tLoss:
# 0.12" - samples seen in the epoch, not steps
_SAMPLES_SEEN = LazyPattern(r"\bEpoch:?\s*(\d+)\s*\[\s*(\d+)\s*/\s*(\d+)"
                            r"(?:\s*\(\s*[\d.]+\s*%\s*\))?\s*\]")
_TOP_K = LazyPattern(r"\bAcc@(\d+)", re.IGNORECASE)  # top-1 accuracy is the accuracy
# an AverageMeter's "value (running average)": an evaluation's result is the average
_AVERAGED = LazyPattern(r"(?<![\w.])(" + NUM + r")\s*\(\s*(" + NUM + r")\s*\)")


def _segments(text: str) -> Iterable[str]:
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    openmmlab = "Epoch(" in text or "Iter(" in text
    for seg in _SEGMENTS.split(text):
        if seg.strip():
            seg = _MMENGINE.sub(_mmengine_index, seg) if openmmlab else seg
            if seg[:12].lstrip().startswith(("[", "Train:", "Test:")):
                seg = _TUTORIAL.sub(r"epoch \1 batch \2 ", seg, count=1)
                seg = _TIMM_TRAIN.sub(r"[train] epoch \1 step \2/\3", seg, count=1)
                seg = _TIMM_TEST.sub("[val] ", seg, count=1)
            if "Epoch" in seg and "[" in seg:  # torchvision's MetricLogger: "Epoch: [0]  [ 10/50]"
                seg = _EPOCH_BATCH.sub(r"epoch \1 step \2/\3", seg, count=1)
            if "]:" in seg:
                seg = _IGNITE_BAR.sub(r"epoch \1 step \2/\3", seg, count=1)
            if "=" in seg and "[" in seg:
                seg = _BRACKET_STEP.sub(r"step \1 ", seg, count=1)
            if "Acc@" in seg:
                seg = _TOP_K.sub(lambda m: "acc" if m.group(1) == "1" else f"acc_top{m.group(1)}",
                                 seg)
            yield seg


def _mmengine_index(m: re.Match[str]) -> str:
    """mmengine's ``Epoch(train) [3][ 50/157]`` / ``Iter(train) [ 100/80000]`` as the hand-written
    ``[train] epoch 3 step 50/157`` / ``[train] iter 100``; its ``Epoch(val) [3][79/79]`` counts
    the evaluation's own batches, so a val line keeps only its role and, like any index-less
    evaluation line, belongs to the training step before it."""
    unit, role, outer, inner, total = m.groups()
    if role != "train":
        return f"[{role}] "
    if unit == "Iter":
        return f"[train] iter {outer} "
    return f"[train] epoch {outer} step {inner}/{total} " if inner else f"[train] epoch {outer} "


def _num(text: str) -> float:
    return float(text)


class _Points:
    """Points of one line kind: tag → ([step], [value]), plus how many lines gave them."""

    def __init__(self) -> None:
        self.points: dict[str, tuple[list[int], list[float]]] = {}
        self.lines = 0
        self.context: dict[str, Any] = {}
        self.epochs: tuple[list[int], list[float]] = ([], [])

    def replace(self, step: int, pairs: list[tuple[str, float]]) -> bool:
        """:meth:`add`, a metric's points already at ``step`` dropped first (an evaluation
        printed batch by batch: its last line holds the result)."""
        for name, _value in pairs:
            s, v = self.points.get(name, ([], []))
            while s and s[-1] == step:
                s.pop()
                v.pop()
        return self.add(step, pairs)

    def add(self, step: int, pairs: Iterable[tuple[str, float]]) -> bool:
        added = False
        for name, value in pairs:
            s, v = self.points.setdefault(name, ([], []))
            s.append(step)
            v.append(value)
            added = True
        if added:
            self.lines += 1
        return added


_WORD = LazyPattern(r"[A-Za-z_][\w/.\-]*")
_TABLE_INDEX = {"epoch", "step", "iter", "iteration", "global_step"}
_CELL_INDEX = LazyPattern(r"(\d+)(?:/\d+)?")


class _Table(_Points):
    """A printed table: the last header line seen names the columns of the rows below it."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: list[tuple[int, str]] = []  # (position, metric name)
        self.index: int | None = None
        self.width = 0
        self.base: int | None = None
        self.unit = "step"
        self.unprefixed = "train"  # the role of an unprefixed accuracy or loss column

    def feed(self, seg: str) -> bool:
        """Take ``seg`` as a header or a row of the current table; False when it is neither."""
        cells = seg.split()
        if len(cells) >= 2 and all(_WORD.fullmatch(c) for c in cells):
            index = next((i for i, c in enumerate(cells) if c.lower() in _TABLE_INDEX), None)
            columns = [(i, m) for i, c in enumerate(cells) if i != index
                       and (m := _metric_name(c)) is not None]
            if index is not None and columns:
                self.columns, self.index, self.width = columns, index, len(cells)
                self.unit = "epoch" if cells[index].lower() == "epoch" else "step"
                # fastai prints train_loss, valid_loss, then validation metrics unprefixed
                self.unprefixed = "val" if {"train_loss", "valid_loss"} <= {
                    c.lower() for c in cells} else "train"
                return True
        if self.index is None or len(cells) < self.width:
            return False
        at = _CELL_INDEX.fullmatch(cells[self.index])
        if at is None:
            return False
        value = int(at.group(1))
        pairs = []
        for i, name in self.columns:
            try:
                pairs.append((name, _num(cells[i])))
            except ValueError:
                continue  # a cell that is no number (a unit, a time)
        if self.unit == "epoch":
            if self.base is None:
                self.base = min(value, 1)
            value -= self.base
        return self.add(value, pairs)


def _hf_pairs(text: str) -> list[tuple[str, float]]:
    out = []
    for m in _HF_PAIR.finditer(text):
        raw = m.group(2) or m.group(3) or m.group(4)
        out.append((m.group(1), _num(raw)))
    return out


def _metric_name(name: str) -> str | None:
    name = re.sub(r"[\s\-]+", "_", name.strip()).strip("_")
    low = name.lower()
    if not _METRIC_WORD.search(low) or low in _IGNORED:
        return None
    if _INDEX.fullmatch(low):
        return None
    return low


def _pairs(text: str, role: str | None) -> list[tuple[str, float]]:
    """The named numbers of a hand-written line, under the line's role; a count out of a total
    (``Accuracy: 9890/10000``) is read as the fraction."""
    out = []
    for m in _PAIR.finditer(text):
        metric = _metric_name(m.group(1))
        if metric is None:
            continue
        value = _num(m.group(2))
        total = _OUT_OF.match(text, m.end())
        if total and not m.group(3) and float(total.group(1)) > 0:
            value /= float(total.group(1))
        out.append((_with_role(metric, role), value))
    return out


def _evaluation_name(metric: str) -> bool:
    """Whether a metric's own name says it is measured on validation or test data."""
    return any(_ROLES.get(part) in ("val", "test") for part in metric.split("_"))


def _line_role(prefix: str) -> str | None:
    """The split a hand-written line reports, when a role word stands alone before its index:
    fairseq's ``| valid | epoch 001 | … | loss 8.1``, ``[val] epoch 3 loss 0.6``."""
    words = {w.lower() for w in _LINE_ROLE.findall(prefix)}
    roles = {_ROLES[w] for w in words}
    return roles.pop() if len(roles) == 1 else None


def _with_role(metric: str, role: str | None) -> str:
    """``metric`` under the line's role unless its own name carries one."""
    if role is None or any(part in _ROLES for part in metric.split("_")):
        return metric
    return f"{role}_{metric}"


Parsed = tuple[str, dict[str, Series], dict[str, Any], list[str]]


def parse(text: str) -> Parsed | None:
    """(kind, raw series, context, warnings) of a console log, or None when no line kind has
    at least :data:`MIN_LINES` recognised metric lines."""
    parsed = _parse(text, until_recognised=False)
    assert parsed != RECOGNISED
    return parsed  # type: ignore[return-value]


RECOGNISED = "recognised"  # what _parse says when it stops at the lines that tell


def _parse(text: str, until_recognised: bool) -> Parsed | str | None:
    """:func:`parse`; with ``until_recognised``, :data:`RECOGNISED` as soon as one line kind
    has :data:`MIN_LINES` recognised lines (parse then cannot give None: each kind's count
    only grows, and a Keras or Lightning epoch seen counts once at the end)."""
    keras, hf, pl, plain, table = _Points(), _Points(), _Points(), _Points(), _Table()
    keras_epoch: int | None = None
    keras_last: dict[int, list[tuple[str, float]]] = {}
    pl_last: dict[int, list[tuple[str, float]]] = {}
    tqdm_step: int | None = None
    tqdm_total = 0  # the trainer's main bar has the largest total (eval bars count batches)
    hf_train = 0
    plain_epoch_base: int | None = None
    plain_step_unit = "step"
    plain_spe: int | None = None
    plain_last: int | None = None  # the step of the last hand-written line with an index
    plain_inner = False  # whether a line has given a step inside its epoch
    sample_epoch: int | None = None  # "Train Epoch: E [n/N (p%)]": the last E, the lines so far
    sample_lines = 0
    inner_epoch: int | None = None  # "epoch E batch B" without an epoch length: the last E,
    inner_last, inner_offset = 0, 0  # its last B and the batches of the epochs before it
    ended: str | None = None
    for seg in _segments(text):
        if "`Trainer.fit` stopped" in seg:
            stopped = _FIT_STOPPED.search(seg)
            ended = f"Lightning printed `Trainer.fit` stopped: {stopped.group(1).strip()}" \
                if stopped else ended
            continue
        m = _KERAS_EPOCH.match(seg)
        if m:
            keras_epoch = int(m.group(1))
            continue
        if "{'" in seg or '{"' in seg:
            d = _HF_DICT.search(seg.replace('"', "'"))
            if d:
                pairs = _hf_pairs(d.group(0))
                keys = {k for k, _ in pairs}
                if "train_runtime" in keys:
                    hf.context["hf_summary"] = dict(pairs)
                    continue
                if pairs and keys & {"loss", "eval_loss", "learning_rate", "grad_norm", "epoch"}:
                    is_eval = any(k.startswith("eval_") for k in keys)
                    if not is_eval:
                        hf_train += 1
                    step = tqdm_step if tqdm_step is not None else hf_train
                    epoch = dict(pairs).get("epoch")
                    if epoch is not None and not is_eval:
                        hf.epochs[0].append(step)
                        hf.epochs[1].append(epoch)
                    hf.add(step, [(k, v) for k, v in pairs if k not in _HF_SKIP])
                    if until_recognised and hf.lines >= MIN_LINES:
                        return RECOGNISED
                    continue
        m = _PL_EPOCH.match(seg)
        if m:
            tail = seg[seg.rfind("[") + 1:] if "[" in seg else ""
            pairs = [(k, _num(v)) for k, v in _PL_PAIR.findall(tail)
                     if _metric_name(k) is not None]
            if pairs:
                pl_last[int(m.group(1))] = pairs
                if until_recognised and len(pl_last) >= MIN_LINES:
                    return RECOGNISED
            continue
        t = _TQDM_COUNT.search(seg)
        if t and "{" not in seg and int(t.group(2)) >= tqdm_total:
            tqdm_step, tqdm_total = int(t.group(1)), int(t.group(2))
        if keras_epoch is not None and " - " in seg:
            pairs = [(k, _num(v)) for k, v in _KERAS_PAIR.findall(seg)]
            if pairs and any(_metric_name(k) for k, _ in pairs):
                keras_last[keras_epoch] = pairs
                if until_recognised and len(keras_last) >= MIN_LINES:
                    return RECOGNISED
                continue
        if table.feed(seg):
            if until_recognised and table.lines >= MIN_LINES:
                return RECOGNISED
            continue
        if not any(ch.isdigit() for ch in seg):
            continue
        samples = _SAMPLES_SEEN.search(seg) if "Epoch" in seg and "[" in seg else None
        if samples:
            pairs = _pairs(seg[samples.end():], _line_role(seg[:samples.start()]))
            if pairs:  # the printed lines count the steps: one every log interval
                epoch_value = int(samples.group(1))
                if sample_epoch is not None and epoch_value != sample_epoch and plain_spe is None:
                    plain_spe = sample_lines
                sample_epoch, plain_inner, plain_last = epoch_value, True, sample_lines
                plain.add(sample_lines, pairs)
                sample_lines += 1
                if until_recognised and plain.lines >= MIN_LINES:
                    return RECOGNISED
            continue
        idx = _index(seg)
        if idx is None:
            # an evaluation printed after the epoch it follows, without an index of its own:
            # PyTorch's MNIST example's "Test set: Average loss: 0.03, Accuracy: 9890/10000"
            # or a script's own "val_loss: 0.41, val_acc: 0.87" after a tqdm epoch bar
            first = _PAIR.search(seg)
            role = _line_role(seg[:first.start()]) if first else None
            body = seg[first.start():] if first else ""
            pairs = _pairs(_AVERAGED.sub(r"\2", body) if "(" in body else body, role)
            if role is None and not all(_evaluation_name(name) for name, _ in pairs):
                continue
            if pairs and role in (None, "val", "test") and plain_last is not None:
                plain.replace(plain_last, pairs)
            elif pairs and role is None and pl_last:
                last = pl_last[max(pl_last)]
                have = {name for name, _ in last}
                last.extend((name, v) for name, v in pairs if name not in have)
            continue
        (kind, value, total), rest = idx
        role = _line_role(seg[:len(seg) - len(rest)])
        pairs = _pairs(rest, role)
        if not pairs:
            continue
        if kind[0] == "epoch" and kind[1] is not None:  # epoch and a step inside it
            plain_inner = True
            epoch_value, step_in, per_epoch = kind[1], value, total
            if plain_epoch_base is None:
                plain_epoch_base = min(epoch_value, 1)
            if per_epoch:
                plain_spe = per_epoch
                step = (epoch_value - plain_epoch_base) * per_epoch + step_in
            else:  # no epoch length: a count that starts again in a new epoch runs on from
                # the last one seen (a global step, "epoch 2 global_step 1200", does not)
                if inner_epoch is not None and epoch_value > inner_epoch and step_in < inner_last:
                    inner_offset += inner_last
                inner_epoch, inner_last = epoch_value, step_in
                step = inner_offset + step_in
        elif kind[0] == "epoch" and plain_inner and plain_last is not None:
            step = plain_last  # Ignite's "Validation Results - Epoch: 3" after its iterations
            if role == "train":  # its "Training Results": the epoch's model measured on the
                # training set, a coarser view of the loss the iteration lines print
                pairs = _pairs(rest, None)
                pairs = [(n if _evaluation_name(n) else f"{n}_epoch", v) for n, v in pairs]
        elif kind[0] == "epoch":
            plain_step_unit = "epoch"
            if plain_epoch_base is None:
                plain_epoch_base = min(value, 1)
            step = value - plain_epoch_base
        else:
            step = value
        if step == plain_last:  # a bar redrawn at the same step: its last drawing holds
            plain.replace(step, pairs)
        else:
            plain.add(step, pairs)
        plain_last = step
        if until_recognised and plain.lines >= MIN_LINES:
            return RECOGNISED
    for epoch, pairs in sorted(keras_last.items()):
        keras.add(epoch - 1, pairs)
    for epoch, pairs in sorted(pl_last.items()):
        pl.add(epoch, [(k, v) for k, v in pairs if k.lower() not in _IGNORED])
    candidates = [("keras", keras), ("hf_console", hf), ("lightning", pl), ("plain", plain),
                  ("table", table)]
    kind, best = max(candidates, key=lambda kv: kv[1].lines)
    if best.lines < MIN_LINES:
        return None
    raw = {k: Series.from_pairs(s, v, k) for k, (s, v) in best.points.items()}
    warnings: list[str] = []
    context: dict[str, Any] = {"console": kind}
    if kind == "hf_console" and "hf_summary" in best.context:
        ended = "the Trainer printed its train_runtime summary"
    if ended:
        context["ended"] = ended
    if kind == "table":
        context["unprefixed_role"] = table.unprefixed
    if kind in ("keras", "lightning") or (kind == "table" and table.unit == "epoch"):
        context.update(axis("epoch"))
    elif kind == "hf_console":
        context.update(axis("step", *best.epochs))
        if tqdm_step is None:
            context["index"] = "logging entry"
            warnings.append("the printed Trainer logs carry no step: the x axis counts "
                            "logging entries")
    elif plain_step_unit == "epoch" and not plain_inner:
        context.update(axis("epoch"))
    else:
        context.update(axis("step"))
        if plain_spe:
            context["steps_per_epoch"] = plain_spe
        if sample_lines and kind == "plain":
            context["index"] = "printed line"
            warnings.append("the log counts the samples seen in each epoch, not steps: the x "
                            "axis counts its printed training lines")
    return kind, raw, context, warnings


def _index(seg: str) -> tuple[tuple[tuple[str, int | None], int, int | None], str] | None:
    """The line's index: ((kind, epoch-if-also-a-step), value, total) and the text after it."""
    matches = list(_INDEX.finditer(seg))
    if not matches:
        return None
    first = matches[0]
    word = first.group(1).lower()
    kind = "epoch" if word in ("epoch", "ep") else "step"
    value, total = int(first.group(2)), first.group(3)
    rest_from = first.end()
    if kind == "epoch":
        for m in matches[1:]:
            if m.group(1).lower() not in ("epoch", "ep"):
                # Epoch [3/10], Step [100/600]: the step inside the epoch
                return (("epoch", value), int(m.group(2)),
                        int(m.group(3)) if m.group(3) else None), seg[m.end():]
    return ((kind, None), value, int(total) if total else None), seg[rest_from:]


def sniff(data: bytes) -> bool:
    """Whether the start of a file reads as a console log (read only up to the lines that
    tell)."""
    text = data.decode("utf-8", errors="replace")
    if "\n" in text and len(data) >= SNIFF_BYTES:
        text = text[: text.rfind("\n")]  # a line cut by the sniff window is not judged
    return _parse(text, until_recognised=True) is not None


class ConsoleReader:
    """Console output of Keras, Hugging Face, Lightning and hand-written training loops."""

    name = "console"
    priority = 95  # after every structured reader: a CSV named training.log stays a CSV

    def can_read(self, path: Path) -> bool:
        return is_console_name(path) and sniff(head(path, SNIFF_BYTES))

    def read(self, path: Path) -> list[Run]:
        stem = path.stem.lower()
        generic = stem in GENERIC_STEMS or stem.startswith("slurm-")
        name = path.parent.name if generic and path.parent.name else path.stem
        if file_size(path) <= MAX_CONSOLE_BYTES:
            return [read_text_log(read_text(path), path, name)]
        with open_log(path) as fh:  # bounded memory: only the first MAX_CONSOLE_BYTES are parsed
            data = fh.read(MAX_CONSOLE_BYTES)
        run = read_text_log(_decode_prefix(data, path), path, name)
        return [dataclasses.replace(run, warnings=(
            *run.warnings, f"only the first {MAX_CONSOLE_BYTES >> 20} MiB of this console log "
                           "are read (limit for a text log); the rest is ignored"))]


def _decode_prefix(data: bytes, path: Path) -> str:
    """UTF-8 text of a file's first bytes; a character cut at the end of the prefix is dropped."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:
            return data[:exc.start].decode("utf-8-sig")
        raise LogError(path, f"not UTF-8 text (byte {exc.start})") from None


def read_text_log(text: str, path: Path, name: str) -> Run:
    """A Run from console text; LogError when no metric line is recognised."""
    parsed = parse(text)
    if parsed is None:
        raise LogError(path, "unknown log format (no training metric lines recognised)")
    _kind, raw, context, warnings = parsed
    role = context.pop("unprefixed_role", "train")
    return build_run(name, path, reader.name, raw, context, warnings, default_role=role)


reader = ConsoleReader()


MAX_STDIN = 256 * 1024 * 1024  # bytes of standard input read at most
MAX_CONSOLE_BYTES = MAX_STDIN  # bytes of a console log file parsed at most


def read_stdin(stream: Any = None) -> list[Run]:
    """``nndoctor diagnose -``: the console output piped in (``python train.py | nndoctor
    diagnose -``), read to its end, at most :data:`MAX_STDIN` bytes (the rest is ignored with a
    warning)."""
    import sys

    stream = stream if stream is not None else sys.stdin.buffer
    data = stream.read(MAX_STDIN + 1)
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    path = Path("-")
    if not data.strip():
        raise LogError("-", "empty standard input")
    cut = len(data) > MAX_STDIN
    text = data[:MAX_STDIN].decode("utf-8", "replace")
    run = read_text_log(text, path, "stdin")
    if cut:
        run = dataclasses.replace(run, warnings=(
            *run.warnings, f"standard input longer than {MAX_STDIN // 2**20} MiB: the rest "
                           "was not read"))
    return [run]
