"""Run and Series, the readers' (and reader plugins') API: frozen dataclasses whose generated
methods are written out (adapters/run.py), so they must behave exactly as @dataclass made them."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.run import Run, Series

ROOT = Path(__file__).resolve().parents[2]


def _series() -> Series:
    return Series(np.arange(3), np.array([1.0, 0.5, 0.25]), "loss")


def test_series_and_run_are_the_same_frozen_dataclasses() -> None:
    s = _series()
    run = Run("r", Path("a/b"), "jsonl", {"train_loss": s})
    assert dataclasses.is_dataclass(run) and dataclasses.is_dataclass(s)
    assert [f.name for f in dataclasses.fields(Run)] == ["name", "path", "format", "series",
                                                         "context", "warnings"]
    assert [f.default_factory for f in dataclasses.fields(Run)][3:5] == [dict, dict]
    assert str(inspect.signature(Run)) == (
        "(name: 'str', path: 'Path', format: 'str', series: 'dict[str, Series]' = <factory>, "
        "context: 'dict[str, Any]' = <factory>, warnings: 'tuple[str, ...]' = ()) -> 'None'")
    assert repr(run) == ("Run(name='r', path=PosixPath('a/b'), format='jsonl', series={"
                         f"'train_loss': {s!r}}}, context={{}}, warnings=())")
    assert repr(s) == ("Series(steps=array([0, 1, 2]), values=array([1.  , 0.5 , 0.25]), "
                       "source_tag='loss')")
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del s.source_tag
    with pytest.raises(ValueError, match="same length"):
        Series(np.arange(3), np.ones(2))


def test_replace_equality_and_fresh_defaults() -> None:
    run = Run("r", Path("a"), "csv")
    other = Run("r", Path("a"), "csv")
    assert run.series is not other.series and run.context is not other.context
    assert run == other != Run("s", Path("a"), "csv")
    assert run.__eq__(("r", Path("a"), "csv", {}, {}, ())) is NotImplemented
    renamed = dataclasses.replace(run, name="s", warnings=("w",))
    assert (renamed.name, renamed.warnings, renamed.path) == ("s", ("w",), Path("a"))
    assert dataclasses.replace(_series(), source_tag="x").source_tag == "x"
    assert dataclasses.asdict(Run("r", Path("a"), "csv", context={"lr": 0.1}))["context"] == {
        "lr": 0.1}
    with pytest.raises(TypeError):
        hash(run)  # its dicts are unhashable, as a generated __hash__ finds


def test_a_frozen_dataclass_may_derive_from_run() -> None:
    @dataclasses.dataclass(frozen=True)
    class TaggedRun(Run):
        tag: str = ""

    tagged = TaggedRun("r", Path("a"), "csv", tag="t")
    assert tagged.tag == "t" and tagged.series == {} and isinstance(tagged, Run)


def test_a_small_diagnosis_generates_no_dataclass_method() -> None:
    """@dataclass compiles the methods it generates at every start: none is left on the way
    of a small diagnosis."""
    code = ("import dataclasses, os, sys\n"
            "from nndoctor.cli import main\n"
            "sys.stdout = open(os.devnull, 'w')\n"
            f"main(['diagnose', {str(ROOT / 'examples' / 'healthy')!r}, '--format', 'json'])\n"
            "sys.stdout = sys.__stdout__\n"
            "made = sorted(f'{n}.{k}' for n, m in list(sys.modules.items())\n"
            "              if n.startswith('nndoctor') for k, v in vars(m).items()\n"
            "              if isinstance(v, type) and v.__module__ == n\n"
            "              and dataclasses.is_dataclass(v) and v.__dataclass_params__.init)\n"
            "print(made)\n")
    env = {k: v for k, v in os.environ.items() if k != "NNDOCTOR_NO_CACHE"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
