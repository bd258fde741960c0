"""TensorBoard reader: files written by torch / tensorboardX / TensorBoard's writer, edge cases."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.adapters.readers import read_path
from nndoctor.adapters.readers import tensorboard as tb
from nndoctor.adapters.run import LogError
from tests.adapters import eventfile as ef

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "tensorboard"
EXPECTED = json.loads((FIXTURES / "expected_scalars.json").read_text())


def _read(folder: Path):
    files = sorted(folder.rglob("events.out.tfevents.*"))
    runs = tb.reader.read_many(files)
    assert len(runs) == 1
    return runs[0]


def _by_source(run):
    return {s.source_tag: s for s in run.series.values()}


@pytest.mark.parametrize("key", sorted(k for k in EXPECTED if not k.startswith("tbx_restart")))
def test_matches_tensorboards_own_reader(key: str) -> None:
    """Every scalar equals what TensorBoard's EventAccumulator returned for the same file."""
    run_dir, tag = key.split("|")
    if run_dir.startswith("keras_tf2/"):
        run = _read(FIXTURES / "keras_tf2")
        tag = f"{run_dir.split('/')[1]}/{tag}"
    else:
        run = _read(FIXTURES / run_dir)
    series = _by_source(run)[tag]
    steps = [p[0] for p in EXPECTED[key]]
    values = [p[1] for p in EXPECTED[key]]
    assert series.steps.tolist() == steps
    np.testing.assert_array_equal(series.values, np.asarray(values, dtype=np.float64))


def test_torch_simple_value_run() -> None:
    run = _read(FIXTURES / "torch_simple")
    assert run.format == "tensorboard" and run.name == "torch_simple"
    assert run.series["train_loss"].source_tag == "train/loss"
    assert run.series["val_loss"].source_tag == "eval/loss"
    assert run.series["lr"].source_tag == "train/learning_rate"
    grad = run.series["grad_norm"]
    assert math.isnan(grad.values[grad.steps.tolist().index(45)])
    assert math.isinf(grad.values[grad.steps.tolist().index(46)])
    assert run.series["zero_value"].values.tolist() == [0.0]
    assert run.series["zero_value"].steps.tolist() == [0]
    assert "notes" not in run.series and not any("notes" in k for k in run.series)  # text plugin
    assert run.warnings == ()


def test_histograms_become_summary_series() -> None:
    run = _read(FIXTURES / "torch_simple")
    mean, std = run.series["hist/fc1/weight/mean"], run.series["hist/fc1/weight/std"]
    assert mean.steps.tolist() == [0, 20, 40]
    assert np.all(np.abs(mean.values) < 0.3)
    assert std.values[0] == pytest.approx(1.0, abs=0.2)  # randn(200) * (1 + step/60)
    assert std.values[2] > std.values[0]
    assert run.series["hist/fc1/weight/min"].values[0] < run.series["hist/fc1/weight/max"].values[0]


def test_new_style_float_val_and_double_val() -> None:
    run = _read(FIXTURES / "torch_new_style")
    assert set(run.series) == {"train_loss", "train_acc", "lr"}
    assert run.series["lr"].values.tolist() == [1e-3] * 20  # double precision: exact
    assert run.series["train_loss"].values[1] == pytest.approx(1 / 11, rel=1e-6)


def test_keras_subruns_split_by_directory_name() -> None:
    run = _read(FIXTURES / "keras_tf2")
    assert run.name == "keras_tf2"
    assert run.series["train_loss"].source_tag == "train/epoch_loss"
    assert run.series["val_loss"].source_tag == "validation/epoch_loss"
    assert run.series["train_acc"].source_tag == "train/epoch_accuracy"
    assert run.series["val_acc"].source_tag == "validation/epoch_accuracy"
    assert run.series["lr"].source_tag == "train/epoch_learning_rate"
    assert "validation/evaluation_loss_vs_iterations" in run.series
    assert not any("keras" in k for k in run.series)  # graph_keras_model plugin skipped
    hist = run.series["hist/train/dense/kernel_0/std"]
    assert hist.values[0] == pytest.approx(0.1, abs=0.02)  # normal(0, 0.1, 500)


def test_group_keys() -> None:
    v2 = sorted((FIXTURES / "keras_tf2").rglob("events*"))
    assert {tb.reader.group_key(p) for p in v2} == {FIXTURES / "keras_tf2"}
    torch_file = next((FIXTURES / "torch_simple").glob("events*"))
    assert tb.reader.group_key(torch_file) == FIXTURES / "torch_simple"


def test_yolo_train_dir_is_not_a_keras_subrun(tmp_path: Path) -> None:
    """Ultralytics' runs/detect/train holds torch (not .v2) files: it stays its own run."""
    ef.write(tmp_path / "detect" / "train" / "events.out.tfevents.1.host.1.0",
             [ef.event(s, ef.simple("train/box_loss", 1.0 - s / 10)) for s in range(3)])
    ef.write(tmp_path / "detect" / "val" / "events.out.tfevents.1.host.1.0",
             [ef.event(0, ef.simple("metrics/mAP50(B)", 0.5))])
    runs = read_path(tmp_path)
    assert sorted(r.name for r in runs) == ["train", "val"]


def test_estimator_eval_dir_merges_into_parent(tmp_path: Path) -> None:
    ef.write(tmp_path / "model" / "events.out.tfevents.1.host",
             [ef.event(s, ef.simple("loss", 1.0 / (s + 1))) for s in range(0, 30, 10)])
    ef.write(tmp_path / "model" / "eval" / "events.out.tfevents.2.host",
             [ef.event(s, ef.simple("loss", 2.0 / (s + 1))) for s in range(0, 30, 10)])
    (run,) = read_path(tmp_path)
    assert run.name == "model"
    assert run.series["train_loss"].source_tag == "loss"
    assert run.series["val_loss"].source_tag == "eval/loss"


def test_torch_add_scalars_folders_are_one_run(tmp_path: Path) -> None:
    """torch's SummaryWriter.add_scalars("Loss", {"train": …, "val": …}) writes tag "Loss" into
    <run>/Loss_train/ and <run>/Loss_val/ beside the run's own (scalar-less) event file: one
    run whose series are Loss/train and Loss/val, not four runs of a training loss."""
    writer_module = pytest.importorskip("torch.utils.tensorboard")
    writer = writer_module.SummaryWriter(str(tmp_path / "runs" / "exp1"))
    for step in range(0, 100, 10):
        writer.add_scalars("Loss", {"train": 2.0 - step / 100, "val": 2.1 - step / 200}, step)
        writer.add_scalars("Acc/top1", {"train": step / 100, "val": step / 120}, step)
    writer.close()
    (run,) = read_path(tmp_path / "runs")
    assert run.name == "exp1"
    assert run.series["train_loss"].source_tag == "Loss/train"
    assert run.series["val_loss"].source_tag == "Loss/val"
    assert run.series["val_loss"].values.tolist() == pytest.approx(
        [2.1 - s / 200 for s in range(0, 100, 10)])
    assert run.series["val_acc"].source_tag == "Acc/top1/val"  # the main tag's "/" was "_"


def test_an_underscore_folder_joins_its_parent_only_beside_its_event_file(tmp_path: Path) -> None:
    """lightning_logs/version_0 has no event file above it: its own run. The parent's listing
    is remembered per modification time, so an event file written there later is seen."""
    sub = tmp_path / "exp" / "Loss_train" / "events.out.tfevents.1.host.1.1"
    ef.write(sub, [ef.event(s, ef.simple("Loss", 1.0 - s / 10)) for s in range(3)])
    assert tb.reader.group_key(sub) == sub.parent
    ef.write(tmp_path / "exp" / "events.out.tfevents.1.host.1.0", [])
    later = (tmp_path / "exp").stat().st_mtime_ns + 10**9  # a coarse clock may not have moved
    os.utime(tmp_path / "exp", ns=(later, later))
    assert tb.reader.group_key(sub) == tmp_path / "exp"


def test_restart_keeps_newest_segment() -> None:
    run = _read(FIXTURES / "tbx_restart")
    s = run.series["train_loss"]
    assert s.steps.tolist() == list(range(40))
    assert s.values[25] == pytest.approx(0.5 - 25 / 1000)  # from the resumed file
    assert s.values[10] == pytest.approx(1.0 - 10 / 100)
    assert any("went back" in w for w in run.warnings)


def test_session_log_start_purges_later_points(tmp_path: Path) -> None:
    events = [ef.event(s, ef.simple("loss", 1.0)) for s in range(10)]
    events += [ef.session_start(5)] + [ef.event(s, ef.simple("loss", 2.0)) for s in range(5, 8)]
    run = _read(ef.write(tmp_path / "events.out.tfevents.1.h", events).parent)
    s = run.series["train_loss"]
    assert s.steps.tolist() == list(range(8))
    assert s.values.tolist() == [1.0] * 5 + [2.0] * 3


def test_mixed_encodings_in_one_tag_and_multi_value_events(tmp_path: Path) -> None:
    events = [ef.event(0, ef.simple("loss", 4.0))]
    events += [ef.event(1, ef.float_val("loss", 3.0))]
    events += [ef.event(2, ef.tensor_content("loss", 2.0))]
    events += [ef.event(3, ef.tensor_content("loss", 1.0, double=True))]
    events += [ef.event(4, ef.simple("loss", 0.5), ef.simple("accuracy", 0.9))]  # two values
    events += [ef.event(5, ef.text("note", "hello"))]
    run = _read(ef.write(tmp_path / "events.out.tfevents.1.h", events).parent)
    assert run.series["train_loss"].steps.tolist() == [0, 1, 2, 3, 4]
    assert run.series["train_loss"].values.tolist() == [4.0, 3.0, 2.0, 1.0, 0.5]
    assert run.series["train_acc"].values.tolist() == [pytest.approx(0.9)]
    assert "note" not in run.series


def test_tag_skipped_when_its_first_metadata_names_another_plugin(tmp_path: Path) -> None:
    events = [ef.event(0, ef.tensor_content("weird", 1.0, plugin="custom_scalars"))]
    events += [ef.event(1, ef.simple("weird", 2.0)), ef.event(1, ef.simple("loss", 1.0))]
    run = _read(ef.write(tmp_path / "events.out.tfevents.1.h", events).parent)
    assert "weird" not in run.series and "train_loss" in run.series


def test_large_and_negative_steps(tmp_path: Path) -> None:
    steps = [0, 1, 127, 128, 16384, 2**35 + 3, 2**40]
    events = [ef.event(s, ef.simple("loss", float(i))) for i, s in enumerate(steps)]
    events.insert(0, ef.event(-5, ef.simple("loss", -1.0)))
    run = _read(ef.write(tmp_path / "events.out.tfevents.1.h", events).parent)
    s = run.series["train_loss"]
    assert s.steps.tolist() == [-5, *steps]
    assert s.values.tolist() == [-1.0, *map(float, range(len(steps)))]


def test_fast_path_agrees_with_protobuf_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Column-wise decoding and the plain protobuf path give identical runs."""
    fast = {d: _read(FIXTURES / d) for d in ("torch_simple", "torch_new_style", "keras_tf2")}
    monkeypatch.setattr(tb, "_decode_fast", lambda buf, s, n, base, prefix, out: np.arange(s.size))
    for folder, run in fast.items():
        slow = _read(FIXTURES / folder)
        assert list(slow.series) == list(run.series)
        for name, series in run.series.items():
            np.testing.assert_array_equal(series.steps, slow.series[name].steps)
            np.testing.assert_array_equal(series.values, slow.series[name].values)


def test_many_points_decoded_column_wise(tmp_path: Path) -> None:
    tags = ["train/loss", "train/learning_rate", "eval/loss"]
    events = [ef.event(s, ef.simple(tags[s % 3], s / 7)) for s in range(30000)]
    run = _read(ef.write(tmp_path / "events.out.tfevents.1.h", events).parent)
    s = run.series["train_loss"]
    assert len(s) == 10000 and s.steps[-1] == 29997
    assert s.values[-1] == pytest.approx(29997 / 7, rel=1e-6)


# ------------------------------------------------------------------------- bad input

def _copy(tmp_path: Path, folder: str = "torch_new_style") -> Path:
    src = next((FIXTURES / folder).glob("events*"))
    dst = tmp_path / "run" / src.name
    dst.parent.mkdir()
    shutil.copy(src, dst)
    return dst


def test_truncated_tail_keeps_valid_records(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    full = _read(path.parent)
    path.write_bytes(path.read_bytes()[:-30])
    run = _read(path.parent)
    assert any("truncated" in w for w in run.warnings)
    assert 0 < len(run.series["train_loss"]) + len(run.series["lr"]) < (
        len(full.series["train_loss"]) + len(full.series["lr"]))
    assert run.series["train_loss"].values[0] == full.series["train_loss"].values[0]


def test_corrupt_payload_is_skipped_by_crc(tmp_path: Path) -> None:
    pytest.importorskip("crc32c")
    path = _copy(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    run = _read(path.parent)
    assert any("CRC" in w for w in run.warnings)
    total = sum(len(s) for s in run.series.values())
    assert total == 59  # 3 tags x 20 steps, one record lost


def test_the_crc_extension_loads_without_its_package() -> None:
    """The CRC-32C function is the extension's own, loaded without the package's __init__ (it
    imports importlib.metadata for its version: 20-50 ms of a start)."""
    pytest.importorskip("crc32c")
    import subprocess
    import sys

    code = ("import sys; from nndoctor.adapters.readers import tensorboard as tb; "
            "crc = tb._crc32c(); print(crc(b'123456789'), 'importlib.metadata' in sys.modules, "
            "'crc32c' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout.split()
    assert out == [str(0xE3069283), "False", "False"]  # the CRC-32C check value
    import crc32c

    data = bytes(range(256)) * 9
    assert tb._crc32c()(data) == crc32c.crc32c(data)


def test_corrupt_length_header_stops_reading(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    data = bytearray(path.read_bytes())
    first_len = int.from_bytes(data[:8], "little")
    second = 12 + first_len + 4
    data[second + 1] ^= 0x40  # length of record 2 now wrong, its header CRC fails
    path.write_bytes(bytes(data))
    run = _read(path.parent)
    assert any("corrupt record header" in w for w in run.warnings)
    assert sum(len(s) for s in run.series.values()) == 0  # only the file_version record was good


def test_empty_event_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(b"")
    with pytest.raises(LogError, match="empty file"):
        tb.reader.read(path)


def test_garbage_event_file_gives_warning_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(b"this is not a tfrecord at all, just text" * 3)
    (run,) = tb.reader.read(path)
    assert run.series == {}
    assert run.warnings


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=3800), flips=st.lists(
    st.tuples(st.integers(min_value=0, max_value=3822), st.integers(min_value=1, max_value=255)),
    max_size=3))
def test_any_damage_yields_runs_or_logerror(tmp_path_factory: pytest.TempPathFactory, cut: int,
                                            flips: list[tuple[int, int]]) -> None:
    src = next((FIXTURES / "torch_new_style").glob("events*")).read_bytes()
    data = bytearray(src[:cut])
    for pos, mask in flips:
        if pos < len(data):
            data[pos] ^= mask
    path = tmp_path_factory.mktemp("fuzz") / "events.out.tfevents.1.h"
    path.write_bytes(bytes(data))
    try:
        (run,) = tb.reader.read(path)
    except LogError as exc:
        assert "\n" not in str(exc)
        return
    for series in run.series.values():
        assert series.steps.shape == series.values.shape


def test_lightning_tensorboard_layout_reads_hparams(tmp_path: Path) -> None:
    folder = tmp_path / "lightning_logs" / "version_3"
    ef.write(folder / "events.out.tfevents.1.h.1.0",
             [ef.event(s, ef.simple("train_loss_step", 1.0), ef.simple("epoch", 0.0))
              for s in range(5)])
    (folder / "hparams.yaml").write_text("num_classes: 100\nlr: 0.05\n")
    (run,) = read_path(tmp_path)
    assert run.name == "version_3"
    assert run.context["num_classes"] == 100 and run.context["lr"] == 0.05
    assert "epoch" not in run.series


def test_add_hparams_folder_joins_its_run(tmp_path: Path) -> None:
    """torch/HF ``add_hparams`` writes <run>/<time.time()>/events…: part of the same run."""
    run_dir = tmp_path / "runs" / "Jun29_06-31-19_host"
    ef.write(run_dir / "events.out.tfevents.1719642679.host.1.0",
             [ef.event(s, ef.simple("train/loss", 1.0 / (s + 1))) for s in range(5)])
    ef.write(run_dir / "1719642696.8209522" / "events.out.tfevents.1719642696.host.1.1",
             [ef.event(0, ef.tensor_content("_hparams_/experiment", 0.0, plugin="hparams")),
              ef.event(0, ef.simple("hp_metric", 0.5))])
    (run,) = read_path(tmp_path)
    assert run.name == "Jun29_06-31-19_host"
    assert set(run.series) == {"train_loss", "hp_metric"}


def _field(number: int, wire: int, payload: bytes) -> bytes:
    head = ef.varint(number << 3 | wire)
    return head + (ef.varint(len(payload)) + payload if wire == 2 else payload)


_FIELDS = st.one_of(
    st.builds(lambda v: _field(1, 1, v), st.binary(min_size=8, max_size=8)),  # wall_time
    st.builds(lambda v: _field(2, 0, ef.varint(v)), st.integers(0, 2**64 - 1)),  # step
    st.builds(lambda v: _field(3, 2, v), st.sampled_from(
        [b"brain.Event:2", b"", b"\xff\xfe", "é".encode()])),  # file_version (UTF-8 or not)
    st.builds(lambda f, v: _field(f, 2, v), st.sampled_from([4, 6, 8, 9, 10, 99]),
              st.binary(max_size=12)),  # bytes fields, source_metadata, an unknown field
    st.builds(lambda f, w: _field(f, w, b"\x01" * (8 if w == 1 else 4 if w == 5 else 1)),
              st.integers(1, 12), st.sampled_from([0, 1, 5])),  # a wrong wire type
    st.builds(lambda v: _field(5, 2, v), st.sampled_from(
        [b"", ef.ld(1, ef.ld(1, b"loss") + b"\x15\x00\x00\x80?")])),  # a summary
    st.builds(lambda v: _field(7, 2, v), st.sampled_from([b"", b"\x08\x01"])),  # session log
    st.binary(max_size=4),  # bytes that may not parse at all
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FIELDS, max_size=5))
def test_records_passed_over_without_protobuf_are_those_it_passes_over(parts: list[bytes]
                                                                       ) -> None:
    """A record taken for one without summary or session log (so protobuf is not loaded for
    it) is one that protobuf parses and finds neither in."""
    pytest.importorskip("google.protobuf")
    from google.protobuf.message import DecodeError

    data = b"pad" + b"".join(parts) + b"\x80\x80"  # bytes around it are not read
    size = len(data) - 5
    if not tb._no_scalars(data, 3, size):
        return
    event = tb.event_class()()
    try:
        event.ParseFromString(data[3:3 + size])
    except DecodeError:
        pytest.fail(f"protobuf cannot parse {data[3:3 + size]!r}")
    assert event.WhichOneof("what") not in ("summary", "session_log")


def test_a_plain_event_file_is_read_without_protobuf() -> None:
    code = ("import sys; from pathlib import Path; from nndoctor.adapters.readers import "
            "read_path; run, = read_path(Path('examples/nan_blowup')); "
            "print(len(run.series) > 0, 'google.protobuf' in sys.modules)")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout.split()
    assert out == ["True", "False"]
