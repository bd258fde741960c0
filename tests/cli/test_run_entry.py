"""The program's entry point (cli.run) sets up the process before numpy loads: one BLAS thread
unless the user chose a number, and a young-generation threshold for start-up's objects."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

from nndoctor import cli


@pytest.fixture
def entry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(cli, "main", lambda: 0)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # not the test process's whole heap
    for name in cli.BLAS_THREADS:
        monkeypatch.setenv(name, "")  # unset as far as run() can tell; restored afterwards
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


def test_one_blas_thread_unless_the_user_chose(entry: None, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    assert cli.run() == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    cli.run()
    assert os.environ["OPENBLAS_NUM_THREADS"] == ""


def test_young_generation_threshold(entry: None) -> None:
    before = gc.get_threshold()
    cli.run()
    assert gc.get_threshold() == (cli.STARTUP_GC_THRESHOLD, *before[1:])
