"""One training run logged twice (by two loggers) → one Run with the union of their series.

Grouping rules (a directory scan; runs of the **same** format are never merged — two
``version_N`` folders of CSVs are two runs):

1. **One folder, one run.** Logs of different formats whose home folder is the same (the folder
   of the file, or the run folder a reader groups its files by) are one run: a Lightning version
   folder with ``metrics.csv`` and an event file, a TensorBoard run folder with the probe's
   ``probe.jsonl``, an Ultralytics ``train/`` folder with ``results.csv`` and its event file, a
   Keras log folder with the CSVLogger file. A format with several runs in that folder (two
   ``*.csv`` of different experiments) is not merged there: which one belongs is not known.
2. **Hugging Face output_dir.** Event files under ``<output_dir>/runs/<date>/`` join the
   ``trainer_state.json`` of that ``output_dir`` when their series agree with it (several such
   folders when a resumed job started a new one; an earlier run into the same output_dir
   disagrees and stays apart).
3. **Lightning loggers side by side.** Two loggers of one Lightning run write into different
   folders (``CSVLogger`` in ``version_0``, ``TensorBoardLogger`` in the next free
   ``version_1``; or ``csv_logs/…/version_0`` beside ``tb_logs/…/version_0``). Lightning run
   folders (a ``version_N`` folder, or one holding ``hparams.yaml``) of different formats that
   are siblings, or the same path under two save_dirs, join when their series hold the same
   numbers at the same steps (at least :data:`MIN_AGREE` points, no disagreement): two
   genuinely different runs never log identical losses. The nearest folders pair first, and a
   merged run holds each format once, so a deterministic re-run elsewhere does not join.

Series of one name in both logs are kept once when one covers the other; otherwise the longer
keeps the name and the other keeps its own. Per-layer probe-scheme series come from one log per
quantity (their layer numbering is per log).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nndoctor.adapters.names import _ordered, _unique, clean_name
from nndoctor.adapters.run import CANONICAL, Run, Series
from nndoctor.lazy_re import regex

MIN_AGREE = 3  # points two logs must share, equal, before folders apart count as one run
# which log of a merged run gives its name, path and context first (richest context first)
FORMAT_ORDER = ("hf_trainer_state", "lightning_csv", "ultralytics", "mlflow", "keras_csv",
                "keras_history", "tensorboard", "generic_csv", "jsonl")
_VERSION = regex(r"^version_\d+$")
_PROBE = "nndoctor/"


class Logged(NamedTuple):
    """A run read from a directory scan, with the folder it belongs to."""

    run: Run
    home: Path


class Components:
    """Disjoint sets over the indexes 0..n-1 (union-find); each set is led by its smallest index."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, *members: int) -> None:
        roots = sorted({self.find(i) for i in members})
        for r in roots[1:]:
            self.parent[r] = roots[0]

    def groups(self) -> list[list[int]]:
        """The sets, each in index order, ordered by their smallest index."""
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return list(out.values())


def merge_logged(items: Sequence[Logged]) -> list[Run]:
    """Apply the grouping rules; runs that join nothing come back unchanged."""
    sets = Components(len(items))
    for group in _same_folder(items):
        sets.union(*group)
    for i, j, repeat_ok in _across_folders(items):
        group = [k for k in range(len(items)) if sets.find(k) in (sets.find(i), sets.find(j))]
        if repeat_ok or not _formats_clash(items, group):
            sets.union(i, j)
    out = []
    for members in sets.groups():
        if len(members) == 1:
            out.append(items[members[0]].run)
        else:
            out.append(_merge([items[i] for i in members]))
    return out


def _formats_clash(items: Sequence[Logged], members: list[int]) -> bool:
    formats = [items[k].run.format for k in members]
    return len(formats) != len(set(formats))


def _same_folder(items: Sequence[Logged]) -> list[list[int]]:
    by_home: dict[Path, dict[str, list[int]]] = {}
    for i, item in enumerate(items):
        by_home.setdefault(item.home, {}).setdefault(item.run.format, []).append(i)
    groups = []
    for formats in by_home.values():
        single = [idx[0] for idx in formats.values() if len(idx) == 1]
        if len(single) > 1:
            groups.append(single)
    return groups


def _across_folders(items: Sequence[Logged]) -> list[tuple[int, int, bool]]:
    """Pairs (i, j, format may repeat) joined by rule 2 or 3, checked by their numbers. An HF
    output_dir may gather several event folders (a resumed job starts a new one)."""
    pairs: list[tuple[int, int, bool]] = []
    hf = {item.home: i for i, item in enumerate(items) if item.run.format == "hf_trainer_state"}
    lightning = [i for i, item in enumerate(items) if _lightning_home(item)]
    keys: dict[tuple[Any, ...], list[int]] = {}
    for i in lightning:
        for key in _fingerprints(items[i].run):
            keys.setdefault(key, []).append(i)
    candidates: dict[tuple[int, int], int] = {}  # pair → how far apart their folders are
    for members in keys.values():
        for a in members:
            for b in members:
                if a < b and items[a].run.format != items[b].run.format:
                    apart = _apart(items[a].home, items[b].home)
                    if apart is not None:
                        candidates[(a, b)] = apart
    for i, item in enumerate(items):
        if item.run.format == "tensorboard" and item.home.parent.name == "runs":
            j = hf.get(item.home.parent.parent)
            if j is not None:
                candidates[(min(i, j), max(i, j))] = 0
    for a, b in sorted(candidates, key=lambda ab: (candidates[ab], ab[1] - ab[0], ab)):
        if _agree(items[a].run, items[b].run):
            pairs.append((a, b, candidates[(a, b)] == 0))
    return pairs


def _apart(a: Path, b: Path, max_depth: int = 3) -> int | None:
    """How far apart two run folders of one Lightning run can be: siblings (1:
    ``lightning_logs/version_0`` and ``version_1``), or the same path under two save_dirs
    (``csv_logs/lightning_logs/version_0``, ``tb_logs/lightning_logs/version_0``: the depth of the
    save_dir + 1). None for folders in no such relation."""
    if a == b:
        return None
    if a.parent == b.parent:
        return 1
    if a.name != b.name:
        return None
    pa, pb = a.parent, b.parent
    for depth in range(1, max_depth + 1):
        if pa.parent == pb.parent:
            return depth + 1
        if pa.name != pb.name or pa == pa.parent:
            return None
        pa, pb = pa.parent, pb.parent
    return None


def _lightning_home(item: Logged) -> bool:
    return bool(_VERSION.match(item.home.name)) or (item.home / "hparams.yaml").is_file()


def _fingerprints(run: Run) -> list[tuple[Any, ...]]:
    """The first points of each canonical series, as float32 (TensorBoard stores float32)."""
    out = []
    for name in CANONICAL:
        s = run.series.get(name)
        if s is not None and len(s) >= MIN_AGREE:
            out.append((name, tuple(s.steps[:MIN_AGREE].tolist()),
                        tuple(np.float32(s.values[:MIN_AGREE]).tobytes())))
    return out


def _agree(a: Run, b: Run) -> bool:
    """Same numbers at the same steps on every canonical series both have (float32-equal),
    at least MIN_AGREE of them in all."""
    agreed = 0
    for name in CANONICAL:
        sa, sb = a.series.get(name), b.series.get(name)
        if sa is None or sb is None:
            continue
        common, ia, ib = np.intersect1d(sa.steps, sb.steps, return_indices=True)
        if common.size == 0:
            continue
        if not _same(sa.values[ia], sb.values[ib]):
            return False
        agreed += int(common.size)
    return agreed >= MIN_AGREE


def _same(x: np.ndarray, y: np.ndarray) -> bool:
    fx, fy = x.astype(np.float32), y.astype(np.float32)
    return bool(np.all((fx == fy) | (np.isnan(fx) & np.isnan(fy))))


def _covers(big: Series, small: Series) -> bool:
    """Every point of ``small`` is in ``big`` with the same value (float32)."""
    common, ib, is_ = np.intersect1d(big.steps, small.steps, return_indices=True)
    if common.size != np.unique(small.steps).size:
        return False
    return _same(big.values[ib], small.values[is_])


def _rank(item: Logged) -> int:
    fmt = item.run.format
    return FORMAT_ORDER.index(fmt) if fmt in FORMAT_ORDER else len(FORMAT_ORDER)


def _merge(members: list[Logged]) -> Run:
    members = sorted(members, key=lambda m: (_rank(m), str(m.run.path)))
    base = members[0]
    series: dict[str, Series] = dict(base.run.series)
    layer_source = {_quantity(n): 0 for n in series if _quantity(n)}
    context: dict[str, Any] = dict(base.run.context)
    warnings: list[str] = list(base.run.warnings)
    for k, member in enumerate(members[1:], 1):
        for name, s in member.run.series.items():
            quantity = _quantity(name)
            if quantity and layer_source.setdefault(quantity, k) != k:
                if name in series and _covers(series[name], s):
                    continue
                name = _own_name(s, name, series)  # per-layer numbering: one log per quantity
            _add(series, name, s)
        for key, value in member.run.context.items():
            if isinstance(value, dict) and isinstance(context.get(key), dict):
                context[key] = {**value, **context[key]}
            else:
                context.setdefault(key, value)
        warnings += [f"{_label(member)}: {w}" for w in member.run.warnings
                     if w not in warnings]
    context["sources"] = [f"{m.run.format}: {m.run.path}" for m in members]
    homes = {m.home for m in members}
    path = base.home if len(homes) == 1 or base.run.format == "hf_trainer_state" else base.run.path
    return Run(name=base.run.name, path=path,
               format="+".join(dict.fromkeys(m.run.format for m in members)),
               series=_ordered(series), context=context, warnings=tuple(warnings))


def _label(member: Logged) -> str:
    return f"{member.run.format} ({Path(member.run.path).name})"


def _quantity(name: str) -> str | None:
    if not name.startswith(_PROBE):
        return None
    parts = name.split("/")
    return parts[1] if len(parts) == 3 else None


def _own_name(s: Series, name: str, taken: dict[str, Series]) -> str:
    own = clean_name(s.source_tag or name)
    return _unique(own if own != name else f"{name}_2", taken)


def _add(series: dict[str, Series], name: str, s: Series) -> None:
    """Add ``s`` as ``name``; when the name is taken, one copy of shared points is kept."""
    have = series.get(name)
    if have is None:
        series[name] = s
        return
    if _covers(have, s):
        return
    if _covers(s, have):
        series[name] = s
        return
    keep, other = (have, s) if len(have) >= len(s) else (s, have)
    series[name] = keep
    series[_own_name(other, name, series)] = other
