"""The built-in readers, known without importing them.

Each is declared here by its name (also its module's), its priority (the order the registry asks
in) and a *sniff*: a test of the path alone - its name, suffix and folders (a :class:`Named`,
taken once per file); for an SQLite file its first 16 bytes - that holds for every file the
reader's ``can_read`` accepts. The registry passes over a reader whose sniff says no without
importing it, so a start imports only the readers that could want its files (a console log:
the four text readers, not all fourteen and what they import). The reader's own ``can_read`` has
the last word, so the reader found is the one an eager registry finds
(tests/adapters/test_sniff.py checks every sniff against its reader on the fixtures and the
corpus). The name tests that are all of a reader's own test live here
and the readers use them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nndoctor.adapters.readers._io import head
from nndoctor.adapters.run import Reader, Run

CONSOLE_SUFFIXES = {".log", ".out", ".txt", ".err"}
CSV_SUFFIXES = {".csv", ".tsv"}  # generic_csv: tables, and whitespace tables in text files
CSV_TEXT_SUFFIXES = {".txt", ".log", ".dat"}
KERAS_CSV_SUFFIXES = {".csv", ".log", ".txt", ".tsv"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}  # JSON Lines by name; the others when their lines are
JSONL_SNIFF_SUFFIXES = {".json", ".log", ".txt"}
RAY_TUNE_FILES = ("result.json", "progress.csv", "params.json")
DVCLIVE_FILES = ("metrics.json", "params.yaml")
SACRED_FILES = ("metrics.json", "run.json", "config.json", "cout.txt", "info.json")
SQLITE_MAGIC = b"SQLite format 3\x00"


class Named:
    """What the sniffs test of a path, taken once per file (``Path.name``, ``suffix`` and
    ``parts`` are worked out again at every access, and a file meets up to fourteen sniffs)."""

    __slots__ = ("folders", "name", "path", "suffix", "suffix_lower")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.suffix = path.suffix  # as written (a W&B log is ``.wandb``, lower case)
        self.suffix_lower = self.suffix.lower()
        self.folders = path.parts[:-1]  # the names of the folders it is in


def is_event_name(name: str) -> bool:
    """A file name of a TensorBoard event file."""
    return name.startswith("events.out.tfevents") or ".tfevents." in name


def is_event_file(path: Path) -> bool:
    """Named like a TensorBoard event file."""
    return is_event_name(path.name)


def is_console_name(path: Path) -> bool:
    """Named like console output: ``train.log``, ``nohup.out``, ``slurm-1234.out``…"""
    return _console(path.name, path.suffix.lower())


def _console(name: str, suffix_lower: str) -> bool:
    if suffix_lower in CONSOLE_SUFFIXES:
        return True
    lowered = name.lower()
    return lowered == "nohup.out" or lowered.startswith("slurm-")


def _suffix_in(suffixes: set[str]) -> Callable[[Named], bool]:
    return lambda f: f.suffix_lower in suffixes


def _mlflow(f: Named) -> bool:  # a run's meta.yaml, or a file under a metrics/ folder
    return f.name == "meta.yaml" or "metrics" in f.folders


def _wandb(f: Named) -> bool:  # a run-*.wandb log, or a file under a wandb/ folder
    return f.suffix == ".wandb" or "wandb" in f.folders


def _dvclive(f: Named) -> bool:  # a metric TSV under plots/metrics/, or a file beside it
    return f.name in DVCLIVE_FILES or f.suffix_lower == ".tsv"


def _ray_tune(f: Named) -> bool:
    return f.name in RAY_TUNE_FILES


def _sacred(f: Named) -> bool:
    return f.name in SACRED_FILES


def _sqlite(f: Named) -> bool:
    return head(f.path, len(SQLITE_MAGIC)) == SQLITE_MAGIC


class BuiltinReader:
    """A built-in reader by name: its module is imported when its sniff accepts a file or when
    the reader is used. ``can_read`` and ``read`` are the reader's; every other attribute
    (``group_key``, ``read_many``) is looked up on the reader itself."""

    def __init__(self, name: str, priority: int, test: Callable[[Named], bool]) -> None:
        self.name = name
        self.priority = priority
        self.test = test  # the sniff, of a file's Named
        self._reader: Reader | None = None

    def sniff(self, path: Path) -> bool:
        """Whether the reader could want this file (its sniff)."""
        return self.test(Named(path))

    def load(self) -> Reader:
        """The reader object of module ``nndoctor.adapters.readers.<name>`` (imported once)."""
        if self._reader is None:
            self._reader = importlib.import_module(f"{__package__}.{self.name}").reader
        return self._reader

    def can_read(self, path: Path) -> bool:
        return self.sniff(path) and self.load().can_read(path)

    def read(self, path: Path) -> list[Run]:
        return self.load().read(path)

    def __getattr__(self, name: str) -> Any:  # only for names not set on the handle
        if name.startswith("_"):  # dunders (copy, pickle) and private names are never the reader's
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        return f"BuiltinReader({self.name!r})"


BUILTIN: tuple[BuiltinReader, ...] = (  # among equal priorities, the order they are asked in
    BuiltinReader("tensorboard", 10, lambda f: is_event_name(f.name)),
    BuiltinReader("hf_trainer_state", 20, _suffix_in({".json"})),
    BuiltinReader("mlflow", 20, _mlflow),
    BuiltinReader("lightning_csv", 30, _suffix_in({".csv"})),
    BuiltinReader("ultralytics", 30, _suffix_in({".csv"})),
    BuiltinReader("keras_csv", 40, _suffix_in(KERAS_CSV_SUFFIXES)),
    BuiltinReader("keras_history", 40, _suffix_in({".json"})),
    BuiltinReader("skorch_history", 40, _suffix_in({".json"})),
    BuiltinReader("jsonl", 50, _suffix_in(JSONL_SUFFIXES | JSONL_SNIFF_SUFFIXES)),
    BuiltinReader("generic_csv", 90, _suffix_in(CSV_SUFFIXES | CSV_TEXT_SUFFIXES)),
    BuiltinReader("mlflow_sqlite", 15, _sqlite),
    BuiltinReader("wandb", 12, _wandb),
    BuiltinReader("dvclive", 18, _dvclive),
    BuiltinReader("ray_tune", 18, _ray_tune),
    BuiltinReader("sacred", 18, _sacred),
    BuiltinReader("console", 95, lambda f: _console(f.name, f.suffix_lower)),
)
