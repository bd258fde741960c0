"""A small diagnosis imports only what it uses (docs/speed.md, "Start-up"): with warm caches, no
validation (pydantic, PyYAML), no plugin scan (importlib.metadata), no child process, no pool,
no durable Host, no sqlite3."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_IMPORTED = ("pydantic", "yaml", "importlib.metadata", "subprocess", "multiprocessing",
                "concurrent.futures", "rich", "textual", "jsonschema", "nndoctor.knowledge.schema",
                "nndoctor.report.schema",
                "durable", "logging",  # durable's C engine is driven directly, not its Python Host
                "sqlite3",  # only an SQLite log needs it
                "numpy.ma",  # np.quantile/np.percentile import it: the detectors use base.quantile
                "tempfile",  # a sweep's report spills to disk only past sweep.SPOOL_BYTES
                "zipfile",  # only a Hugging Face run's training_args.bin needs it
                "hashlib",  # unchanged caches are judged by their files' stats (cache.py)
                "threading",  # its locks come from _thread
                "shutil",  # argparse's help width comes from cli.terminal_columns
                # the readers whose sniff (readers/_sniff.py) a Keras CSV log does not match
                *(f"nndoctor.adapters.readers.{name}" for name in (
                    "tensorboard", "hf_trainer_state", "mlflow", "lightning_csv", "ultralytics",
                    "keras_history", "jsonl", "generic_csv", "mlflow_sqlite", "wandb", "dvclive",
                    "ray_tune", "sacred", "console")))


def _imported(env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nndoctor", "diagnose",
         str(ROOT / "examples" / "healthy"), "--format", "json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return {m[1] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr,
                                      re.MULTILINE)}


def test_a_small_diagnosis_with_warm_caches_imports_only_what_it_uses(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NNDOCTOR_NO_CACHE", None)
    first = _imported(env)  # builds the caches: validates the knowledge base
    assert "pydantic" in first
    again = _imported(env)
    leaked = sorted(m for m in again if any(m == n or m.startswith(n + ".") for n in NOT_IMPORTED))
    assert leaked == [], f"imported by a small diagnosis: {leaked}"
