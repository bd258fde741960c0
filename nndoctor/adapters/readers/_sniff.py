"""The built-in readers, known without importing them.

Each is declared here by its name (also its module's), its priority (the order the registry asks
in) and a *sniff*: a test of the path alone - its name, suffix and folders; for an SQLite file
its first 16 bytes - that holds for every file the reader's ``can_read`` accepts. The registry
passes over a reader whose sniff says no without importing it, so a start imports only the
readers that could want its files (a console log: the four text readers, not all fourteen and
what they import). The reader's own ``can_read`` has the last word, so the reader found is the
one an eager registry finds (tests/adapters/test_sniff.py checks every sniff against its reader
on the fixtures and the corpus). The name tests that are all of a reader's own test live here
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
SQLITE_MAGIC = b"SQLite format 3\x00"


def is_event_file(path: Path) -> bool:
    """Named like a TensorBoard event file."""
    return path.name.startswith("events.out.tfevents") or ".tfevents." in path.name


def is_console_name(path: Path) -> bool:
    """Named like console output: ``train.log``, ``nohup.out``, ``slurm-1234.out``…"""
    name = path.name.lower()
    return (path.suffix.lower() in CONSOLE_SUFFIXES or name == "nohup.out"
            or name.startswith("slurm-"))


def _suffix_in(suffixes: set[str]) -> Callable[[Path], bool]:
    return lambda path: path.suffix.lower() in suffixes


def _mlflow(path: Path) -> bool:  # a run's meta.yaml, or a file under a metrics/ folder
    return path.name == "meta.yaml" or "metrics" in path.parts[:-1]


def _wandb(path: Path) -> bool:  # a run-*.wandb log, or a file under a wandb/ folder
    return path.suffix == ".wandb" or "wandb" in path.parts[:-1]


def _dvclive(path: Path) -> bool:  # a metric TSV under plots/metrics/, or a file beside it
    return path.name in DVCLIVE_FILES or path.suffix.lower() == ".tsv"


def _ray_tune(path: Path) -> bool:
    return path.name in RAY_TUNE_FILES


def _sqlite(path: Path) -> bool:
    return head(path, len(SQLITE_MAGIC)) == SQLITE_MAGIC


class BuiltinReader:
    """A built-in reader by name: its module is imported when its sniff accepts a file or when
    the reader is used. ``can_read`` and ``read`` are the reader's; every other attribute
    (``group_key``, ``read_many``) is looked up on the reader itself."""

    def __init__(self, name: str, priority: int, sniff: Callable[[Path], bool]) -> None:
        self.name = name
        self.priority = priority
        self.sniff = sniff

    def load(self) -> Reader:
        """The reader object of module ``nndoctor.adapters.readers.<name>``."""
        return importlib.import_module(f"{__package__}.{self.name}").reader

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
    BuiltinReader("tensorboard", 10, is_event_file),
    BuiltinReader("hf_trainer_state", 20, _suffix_in({".json"})),
    BuiltinReader("mlflow", 20, _mlflow),
    BuiltinReader("lightning_csv", 30, _suffix_in({".csv"})),
    BuiltinReader("ultralytics", 30, _suffix_in({".csv"})),
    BuiltinReader("keras_csv", 40, _suffix_in(KERAS_CSV_SUFFIXES)),
    BuiltinReader("keras_history", 40, _suffix_in({".json"})),
    BuiltinReader("jsonl", 50, _suffix_in(JSONL_SUFFIXES | JSONL_SNIFF_SUFFIXES)),
    BuiltinReader("generic_csv", 90, _suffix_in(CSV_SUFFIXES | CSV_TEXT_SUFFIXES)),
    BuiltinReader("mlflow_sqlite", 15, _sqlite),
    BuiltinReader("wandb", 12, _wandb),
    BuiltinReader("dvclive", 18, _dvclive),
    BuiltinReader("ray_tune", 18, _ray_tune),
    BuiltinReader("console", 95, is_console_name),
)
