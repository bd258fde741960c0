"""The built-in readers' sniffs (readers/_sniff.py): a reader whose sniff says no is never
imported, so each sniff must hold for every file its reader accepts, and the registry must find
the reader an eager registry (every reader imported and asked in order) finds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nndoctor.adapters import readers as registry
from nndoctor.adapters.readers import detect_reader
from nndoctor.adapters.readers._sniff import BUILTIN, BuiltinReader

ROOT = Path(__file__).resolve().parents[2]
TREES = [ROOT / "tests" / "fixtures", ROOT / "examples", ROOT / "benchmarks" / "corpus"]


def _layouts(root: Path) -> Path:
    """Files of the three readers no fixture holds, laid out as their tools write them
    (test_formats_2026.py reads the same layouts)."""
    dvclive = root / "exp" / "dvclive"
    (dvclive / "plots" / "metrics" / "train").mkdir(parents=True)
    (dvclive / "plots" / "metrics" / "train" / "loss.tsv").write_text("step\tloss\n0\t1.0\n")
    (dvclive / "params.yaml").write_text("lr: 0.01\n")
    (dvclive / "metrics.json").write_text('{"step": 0}')
    trial = root / "tune" / "train_fn_0a1b2_00000_0_lr=0.01"
    trial.mkdir(parents=True)
    (trial / "result.json").write_text('{"loss": 1.0, "training_iteration": 1}\n')
    (trial / "params.json").write_text('{"lr": 0.01}')
    (trial / "progress.csv").write_text("loss,training_iteration\n1.0,1\n")
    run = root / "wandb" / "offline-run-20260101_000000-abc"
    (run / "files").mkdir(parents=True)
    (run / "run-abc.wandb").write_bytes(b":W&B\xe1\xbe\x00")
    (run / "files" / "config.yaml").write_text("lr:\n  value: 0.01\n")
    (root / "wandb" / "debug.log").write_text("{}\n")
    return root


def _files(extra: Path) -> list[Path]:
    found = []
    for tree in [*TREES, extra]:
        for folder, _dirs, names in os.walk(tree):
            found += [Path(folder, name) for name in sorted(names)]
    return found


def test_each_handle_names_its_module_reader() -> None:
    for handle in BUILTIN:
        real = handle.load()
        assert (real.name, getattr(real, "priority", 50)) == (handle.name, handle.priority)
        assert real.can_read.__self__ is real  # the module's own reader object


def test_every_sniff_holds_for_what_its_reader_reads(tmp_path: Path) -> None:
    files = _files(_layouts(tmp_path))
    assert len(files) > 100
    eager = [handle.load() for handle in sorted(BUILTIN, key=lambda h: h.priority)]
    claimed: dict[str, int] = {}
    for path in files:
        first = None
        for handle, real in zip(sorted(BUILTIN, key=lambda h: h.priority), eager, strict=True):
            try:
                accepted = real.can_read(path)
            except Exception:
                accepted = False
            if accepted:
                assert handle.sniff(path), f"{handle.name} reads {path} but its sniff says no"
                first = first or real
        if not registry.plugin_errors and all(isinstance(r, BuiltinReader)
                                              for r in registry.readers()):
            assert detect_reader(path) is first, path
        if first is not None:
            claimed[first.name] = claimed.get(first.name, 0) + 1
    assert set(claimed) == {h.name for h in BUILTIN}, claimed  # every reader was exercised


@pytest.mark.parametrize(("name", "sniffed"), [
    ("events.out.tfevents.1700000000.host.1.0", {"tensorboard"}),
    ("run/metrics/loss", {"mlflow"}),
    ("run/meta.yaml", {"mlflow"}),
    ("wandb/run-1-abc/run-abc.wandb", {"wandb"}),
    ("wandb/run-1-abc/files/config.yaml", {"wandb"}),
    ("dvclive/plots/metrics/loss.tsv", {"dvclive", "mlflow", "keras_csv", "generic_csv"}),
    ("trial/progress.csv", {"ray_tune", "lightning_csv", "ultralytics", "keras_csv",
                            "generic_csv"}),
    ("train.log", {"keras_csv", "jsonl", "generic_csv", "console"}),
    ("slurm-1234.out", {"console"}),
    ("README.md", set()),
])
def test_sniffs_by_name(name: str, sniffed: set[str]) -> None:
    path = Path("/nonexistent") / name  # by name alone: nothing is opened
    assert {h.name for h in BUILTIN if h.sniff(path)} == sniffed


def test_a_handle_is_the_reader_to_its_callers(tmp_path: Path) -> None:
    handle = next(h for h in BUILTIN if h.name == "tensorboard")
    real = handle.load()
    assert handle.group_key == real.group_key and handle.read_many == real.read_many
    with pytest.raises(AttributeError):
        handle.no_such_attribute  # noqa: B018
    with pytest.raises(AttributeError):
        handle.__getstate_of_nothing__  # noqa: B018
    log = tmp_path / "history.csv"
    log.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.5,0.7\n")
    assert detect_reader(log) is next(h for h in BUILTIN if h.name == "keras_csv").load()


def test_detecting_a_csv_imports_no_other_reader() -> None:
    log = ROOT / "examples" / "healthy" / "training.log"
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from nndoctor.adapters.readers import detect_reader;"
         f"print(detect_reader({str(log)!r}).name); print(sorted(m.rsplit('.', 1)[1] for m in "
         "sys.modules if m.startswith('nndoctor.adapters.readers.') and "
         "not m.rsplit('.', 1)[1].startswith('_')))"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    name, imported = done.stdout.splitlines()
    assert name == "keras_csv"
    assert imported == "['keras_csv']"
