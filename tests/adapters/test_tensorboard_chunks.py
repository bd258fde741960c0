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


def _assert_same(run, other) -> None:
    assert set(run.series) == set(other.series) and run.warnings == other.warnings
    for name, series in other.series.items():  # NaN equals NaN here
        np.testing.assert_array_equal(run.series[name].steps, series.steps)
        np.testing.assert_array_equal(run.series[name].values, series.values)


@pytest.mark.parametrize("folder", ["torch_simple", "torch_new_style"])
@pytest.mark.parametrize("chunk", [64, 1000, 4096])
def test_small_chunks_read_the_same_series(monkeypatch, folder, chunk):
    whole = _read(FIXTURES / folder)
    monkeypatch.setattr(tensorboard, "CHUNK", chunk)
    _assert_same(_read(FIXTURES / folder), whole)


def test_truncated_file_warns_once_with_small_chunks(monkeypatch, tmp_path):
    src = next((FIXTURES / "torch_simple").glob("events*"))
    data = src.read_bytes()
    cut = tmp_path / src.name
    cut.write_bytes(data[: len(data) - 7])
    monkeypatch.setattr(tensorboard, "CHUNK", 100)
    run = _read(tmp_path)
    assert sum("truncated last record" in w for w in run.warnings) == 1
    assert run.series["train_loss"].values.size > 0


@pytest.mark.parametrize("folder", ["torch_simple", "torch_new_style"])
def test_decoding_beside_the_crc_thread_reads_the_same_run(monkeypatch, folder):
    pytest.importorskip("crc32c")
    monkeypatch.setattr(tensorboard, "_CRC_BESIDE", 1 << 40)  # sequential
    alone = _read(FIXTURES / folder)
    monkeypatch.setattr(tensorboard, "_CRC_BESIDE", 1)  # every chunk beside its CRC check
    beside = _read(FIXTURES / folder)
    _assert_same(beside, alone)


def test_a_crc_failure_beside_the_decoder_falls_back_to_skipping_the_record(monkeypatch,
                                                                           tmp_path):
    pytest.importorskip("crc32c")
    src = next((FIXTURES / "torch_simple").glob("events*"))
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / src.name).write_bytes(bytes(data))
    monkeypatch.setattr(tensorboard, "_CRC_BESIDE", 1 << 40)
    alone = _read(tmp_path)
    calls = []
    decode = tensorboard._decode_beside_crc_check
    monkeypatch.setattr(tensorboard, "_decode_beside_crc_check",
                        lambda *a: calls.append(1) or decode(*a))
    monkeypatch.setattr(tensorboard, "_CRC_BESIDE", 1)
    beside = _read(tmp_path)
    assert calls  # the threaded path ran, found the bad record and handed over
    assert sum("failed the CRC check" in w for w in beside.warnings) == 1
    _assert_same(beside, alone)
    whole = sum(len(s) for s in _read(FIXTURES / "torch_simple").series.values())
    assert sum(len(s) for s in beside.series.values()) < whole  # the bad record's points lost
