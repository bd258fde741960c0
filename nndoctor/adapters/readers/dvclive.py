"""DVCLive output (``dvclive/``) → one Run per DVCLive folder (log-formats.md §5).

``plots/metrics/<name>.tsv`` files (``timestamp\\tstep\\t<metric>``; the metric name may hold
``/`` and then is a sub-folder) are the series, named by their path below ``plots/metrics``:
both layouts people use, ``plots/metrics/train/loss.tsv`` and ``plots/metrics/loss/train.tsv``,
give the role (train/eval/val/test) through the name map (``train/loss``, ``loss/train``).
``params.yaml`` beside ``plots/`` is the context; ``metrics.json`` (last values only) is claimed
and not used as a series. The x axis is DVCLive's ``step``; it is in epochs when a logged
``epoch`` metric equals the step (the Keras and Lightning integrations step once per epoch and
then say so), else in steps, with steps per epoch from an ``epoch`` metric when there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nndoctor.adapters.readers._runs import axis, build_run, yaml_context
from nndoctor.adapters.readers._sniff import DVCLIVE_FILES
from nndoctor.adapters.readers._table import read_table
from nndoctor.adapters.run import LogError, Run, Series

MAX_DEPTH = 6


def root_of(path: Path) -> Path | None:
    """The DVCLive folder a file belongs to, or None."""
    if path.name in DVCLIVE_FILES and (
            path.parent / "plots" / "metrics").is_dir():
        return path.parent
    if path.suffix.lower() != ".tsv":
        return None
    for depth, folder in enumerate(path.parents):
        if depth >= MAX_DEPTH:
            break
        if folder.name == "metrics" and folder.parent.name == "plots":
            return folder.parent.parent
    return None


class DVCLiveReader:
    """A DVCLive folder: its metric TSVs, params.yaml and metrics.json."""

    name = "dvclive"
    priority = 18

    def can_read(self, path: Path) -> bool:
        return root_of(path) is not None

    def group_key(self, path: Path) -> Path:
        root = root_of(path)
        return root if root is not None else path

    def read(self, path: Path) -> list[Run]:
        return self.read_many([path])

    def read_many(self, paths: list[Path]) -> list[Run]:
        root = self.group_key(paths[0])
        metrics = root / "plots" / "metrics"
        warnings: list[str] = []
        raw: dict[str, Series] = {}
        for file in sorted(metrics.rglob("*.tsv")):
            key = file.relative_to(metrics).with_suffix("").as_posix()
            table = read_table(file, "\t")
            columns, _text = table.columns()
            if "step" not in columns:
                raise LogError(file, "no 'step' column (not a DVCLive metric file)")
            value_cols = [c for c in table.header if c not in ("timestamp", "step")]
            if not value_cols:
                continue
            col = columns.get(value_cols[-1])
            if col is None:
                continue
            step = columns["step"]
            ok = col.present & step.present
            raw[key] = Series.from_pairs(step.values[ok].astype(np.int64), col.values[ok], key)
        if not raw:
            raise LogError(paths[0], "a DVCLive folder without metric files (plots/metrics/*.tsv)")
        context: dict[str, Any] = {}
        params = root / "params.yaml"
        if params.is_file():
            ctx, more = yaml_context(params)
            context.update(ctx)
            warnings += more
        epoch = raw.get("epoch")
        if epoch is not None and len(epoch) and np.array_equal(epoch.values, epoch.steps):
            context.update(axis("epoch"))
        else:
            context.update(axis("step", *((epoch.steps, epoch.values) if epoch is not None
                                          else (None, None))))
        name = root.name if root.name != "dvclive" else (root.parent.name or root.name)
        return [build_run(name, root, self.name, raw, context, warnings)]


reader = DVCLiveReader()
