"""Event files are read in chunks: any chunk size gives the same series and the same warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import tensorboard

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "tensorboard"


def _read(folder: Path):
    files = sorted(folder.glob("events*"))
    [run] = tensorboard.reader.read_many(files)
    return run


@pytest.mark.parametrize("folder", ["torch_simple", "torch_new_style"])
@pytest.mark.parametrize("chunk", [64, 1000, 4096])
def test_small_chunks_read_the_same_series(monkeypatch, folder, chunk):
    whole = _read(FIXTURES / folder)
    monkeypatch.setattr(tensorboard, "CHUNK", chunk)
    chunked = _read(FIXTURES / folder)
    assert set(chunked.series) == set(whole.series)
    for name, series in whole.series.items():
        np.testing.assert_array_equal(chunked.series[name].steps, series.steps)
        np.testing.assert_array_equal(chunked.series[name].values, series.values)
    assert chunked.warnings == whole.warnings


def test_truncated_file_warns_once_with_small_chunks(monkeypatch, tmp_path):
    src = next((FIXTURES / "torch_simple").glob("events*"))
    data = src.read_bytes()
    cut = tmp_path / src.name
    cut.write_bytes(data[: len(data) - 7])
    monkeypatch.setattr(tensorboard, "CHUNK", 100)
    run = _read(tmp_path)
    assert sum("truncated last record" in w for w in run.warnings) == 1
    assert run.series["train_loss"].values.size > 0
