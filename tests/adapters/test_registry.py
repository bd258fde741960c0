"""Registry: detection, directory scans, bad input, plugins through entry points."""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

import pytest

from nndoctor.adapters import readers as registry
from nndoctor.adapters.readers import BUILTIN, detect_reader, read_path, readers
from nndoctor.adapters.readers.jsonl import reader as jsonl_reader
from nndoctor.adapters.run import LogError, Run

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"

DETECTED = {
    "tensorboard/torch_simple/events.out.tfevents.1700000000.fixture-host.4242.0": "tensorboard",
    "lightning/version_0/metrics.csv": "lightning_csv",
    "keras_csv/training.log": "keras_csv",
    "generic_csv/history.csv": "generic_csv",
    "hf/bert-sst2/trainer_state.json": "hf_trainer_state",
    "keras_history/history.json": "keras_history",
    "mlflow/mlruns/1/3f9c2a7e5d1b4c8e9a0b1c2d3e4f5a6b/meta.yaml": "mlflow",
    "jsonl/metrics.jsonl": "jsonl",
    "ultralytics/train/results.csv": "ultralytics",
}


@pytest.mark.parametrize(("rel", "name"), sorted(DETECTED.items()))
def test_detect_reader(rel: str, name: str) -> None:
    reader = detect_reader(LOGS / rel)
    assert reader is not None and reader.name == name


@pytest.mark.parametrize("rel", ["lightning/version_0/hparams.yaml",
                                 "ultralytics/train/args.yaml",
                                 "tensorboard/make_fixtures.py",
                                 "tensorboard/expected_scalars.json"])
def test_side_files_are_not_logs(rel: str) -> None:
    assert detect_reader(LOGS / rel) is None


def test_whole_fixture_tree_reads_every_run_once() -> None:
    runs = read_path(LOGS)
    formats = sorted(r.format for r in runs)
    assert formats.count("tensorboard") == 4
    assert formats.count("hf_trainer_state") == 3  # checkpoint copy merged, not-HF ignored
    assert formats.count("mlflow") == 2
    assert formats.count("ultralytics") == 3
    assert len({r.name for r in runs}) == len(runs)  # clashing names made unique
    assert [str(r.path) for r in runs] == sorted(str(r.path) for r in runs)
    for run in runs:
        assert isinstance(run, Run) and run.series


def test_unknown_format_named_directly(tmp_path: Path) -> None:
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x00\x01binary")
    with pytest.raises(LogError, match="unknown log format") as err:
        read_path(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unknown_files_in_a_directory_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "model.pt").write_bytes(b"\x80\x02")
    (tmp_path / "empty.dat").write_bytes(b"")
    shutil.copy(LOGS / "keras_history" / "history.json", tmp_path / "history.json")
    (run,) = read_path(tmp_path)
    assert run.format == "keras_history"


@pytest.mark.parametrize("name", ["metrics.csv", "log.csv", "x.jsonl", "trainer_state.json",
                                  "events.out.tfevents.1.host"])
def test_empty_file_named_directly(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(LogError, match="empty file") as err:
        read_path(path)
    assert str(path) in str(err.value)


def test_missing_path() -> None:
    with pytest.raises(LogError, match="no such file or directory"):
        read_path("/nonexistent/nowhere/metrics.csv")


def test_invalid_json_named_directly(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"loss": [1.0, 0.5,')
    with pytest.raises(LogError, match="invalid JSON at line 1"):
        read_path(path)


def test_symlink_loop_and_duplicate_links(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(LOGS / "lightning", logs / "lightning")
    os.symlink(logs, logs / "lightning" / "loop")  # a cycle back to the top
    os.symlink(logs / "lightning", logs / "again")  # a second way to the same runs
    os.symlink(logs / "lightning" / "version_0" / "metrics.csv", logs / "link.csv")
    os.symlink(tmp_path / "gone", logs / "dangling")
    outside = tmp_path / "elsewhere" / "deep"
    shutil.copytree(LOGS / "lightning" / "version_1", outside / "version_9")
    os.symlink(tmp_path / "elsewhere", logs / "linked")  # a real folder inside a linked one
    runs = read_path(logs)
    assert sorted(r.name for r in runs) == ["version_0", "version_1", "version_9"]
    assert runs[0].path.parent == logs / "lightning" / "version_0"  # the real path, not a link


def test_nothing_is_written_next_to_the_logs(tmp_path: Path) -> None:
    shutil.copytree(LOGS, tmp_path / "logs")

    def snapshot() -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in (tmp_path / "logs").rglob("*")}

    before = snapshot()
    read_path(tmp_path / "logs")
    assert snapshot() == before


def test_on_error_lets_a_scan_go_on(tmp_path: Path) -> None:
    shutil.copytree(LOGS / "generic_csv", tmp_path / "csv")
    (tmp_path / "csv" / "broken.csv").write_text("step,loss\n0,1.0\n1,bad\n2,0.5\n")
    with pytest.raises(LogError, match=r"broken\.csv"):
        read_path(tmp_path)
    errors: list[LogError] = []
    runs = read_path(tmp_path, on_error=errors.append)
    assert len(runs) == 4 and len(errors) == 1 and "line 3" in str(errors[0])


def test_metric_overrides_through_read_path() -> None:
    (run,) = read_path(LOGS / "generic_csv" / "history.csv",
                       metric_overrides={"val_acc": "error_rate"})
    assert run.series["val_acc"].source_tag == "error_rate"
    assert run.series["accuracy"].source_tag == "accuracy"


# ------------------------------------------------------------------------- plugins

class FakeReader:
    name = "fake"
    priority = 5

    def can_read(self, path: Path) -> bool:
        return path.suffix == ".fake"

    def read(self, path: Path) -> list[Run]:
        return [Run("fake", path, self.name)]


class ExplodingReader:
    name = "exploding"

    def can_read(self, path: Path) -> bool:
        raise RuntimeError("boom")

    def read(self, path: Path) -> list[Run]:  # pragma: no cover - never chosen
        raise RuntimeError("boom")


JSONL_ALIAS = jsonl_reader  # the same reader object under another entry point


def _fake_entry_points(extra: list[metadata.EntryPoint]):
    builtins = [metadata.EntryPoint(r.name, f"nndoctor.adapters.readers.{r.name}:reader",
                                    registry.ENTRY_POINT_GROUP) for r in BUILTIN]

    def entry_points(group: str) -> list[metadata.EntryPoint]:  # as readers.entry_points
        assert group == registry.ENTRY_POINT_GROUP
        return builtins + extra
    return entry_points


def test_builtins_registered_in_pyproject() -> None:
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    section = text.split('[project.entry-points."nndoctor.readers"]')[1].split("\n[")[0]
    for reader in BUILTIN:
        assert f'{reader.name} = "nndoctor.adapters.readers.{reader.name}:reader"' in section


def test_plugins_found_and_builtins_counted_once(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    mod = __name__
    extra = [metadata.EntryPoint("fake", f"{mod}:FakeReader", registry.ENTRY_POINT_GROUP),
             metadata.EntryPoint("exploding", f"{mod}:ExplodingReader", registry.ENTRY_POINT_GROUP),
             metadata.EntryPoint("broken", "no_such_module_xyz:reader", registry.ENTRY_POINT_GROUP),
             metadata.EntryPoint("again", f"{mod}:JSONL_ALIAS", registry.ENTRY_POINT_GROUP),
             metadata.EntryPoint("jsonl", f"{mod}:FakeReader", registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "entry_points", _fake_entry_points(extra))
    monkeypatch.setattr(registry, "plugin_errors", [])
    registry.readers.cache_clear()
    try:
        names = [r.name for r in readers()]
        assert sorted(names) == sorted([r.name for r in BUILTIN] + ["fake", "exploding"])
        assert names[0] == "fake"  # priority 5 asks first
        assert any("broken" in e for e in registry.plugin_errors)
        assert not any("'tensorboard'" in e for e in registry.plugin_errors)  # built-ins: silent
        assert any("'again'" in e and "already registered" in e for e in registry.plugin_errors)
        assert any("'jsonl'" in e and "name taken" in e for e in registry.plugin_errors)
        path = tmp_path / "x.fake"
        path.write_text("anything")
        (run,) = read_path(path)
        assert run.format == "fake"
        # a plugin whose can_read raises is treated as "no"
        assert detect_reader(LOGS / "jsonl" / "metrics.jsonl").name == "jsonl"
    finally:
        registry.readers.cache_clear()


def test_plugin_crash_inside_read_becomes_logerror(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    class Crashing(FakeReader):
        def read(self, path: Path) -> list[Run]:
            raise ValueError("bad\nmulti-line")

    monkeypatch.setattr(registry, "readers", lambda: (Crashing(),))
    path = tmp_path / "x.fake"
    path.write_text("x")
    with pytest.raises(LogError, match="fake: cannot read") as err:
        read_path(path)
    assert "\n" not in str(err.value)


def test_directory_without_logs(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("# nothing here")
    with pytest.raises(LogError, match="no log of a known format"):
        read_path(tmp_path)


def test_unreadable_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if Path(path) == tmp_path:
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(registry.os, "scandir", scandir)
    with pytest.raises(LogError, match="cannot read directory: Permission denied"):
        read_path(tmp_path)


def test_unreadable_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"loss": 1}\n')

    def read_bytes(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    from nndoctor.adapters.readers import _io  # streaming readers open the file themselves

    monkeypatch.setattr(_io, "open", lambda *a, **k: read_bytes(path), raising=False)
    with pytest.raises(LogError, match="cannot read: Permission denied") as err:
        read_path(path)
    assert str(path) in str(err.value)


def test_detection_reads_a_files_head_once(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """The readers asked about one file (four for a console log, the SQLite sniff for any)
    share one read of its head (_io.shared_head), and each gets the bytes a read of its own
    gives: shorter heads cut from it, a longer one than it holds read again."""
    from nndoctor.adapters.readers import _io

    log = tmp_path / "train.log"
    log.write_text("".join(f"Epoch {e}/3 - loss: {1 / e:.4f} - val_loss: {1.2 / e:.4f}\n"
                           for e in range(1, 4)))
    opened: list[tuple[str, int]] = []
    real = _io._head
    monkeypatch.setattr(_io, "_head", lambda path, size: opened.append((str(path), size))
                        or real(path, size))
    assert detect_reader(log) is not None
    assert opened == [(str(log), _io.SHARED_HEAD)]
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 1024)  # 256 KiB
    with _io.shared_head(big):
        assert _io.head(big, 16) == real(big, 16)
        assert _io.head(big, 4096) == real(big, 4096)
        assert _io.head(big, 200_000) == real(big, 200_000)  # past the shared read
        assert _io.head(log, 10) == real(log, 10)  # another file: its own read
    opened.clear()
    assert _io.head(big, 16) == real(big, 16) and len(opened) == 1  # nothing kept after


def test_walk_gives_the_paths_a_parse_gives(tmp_path: Path) -> None:
    """The walk's paths, made a part at a time from the folders it lists, are the Paths their
    text parses to (equal, hashed alike, the same text)."""
    shutil.copytree(LOGS, tmp_path / "logs")
    walked = list(registry._walk(tmp_path / "logs"))
    assert len(walked) > 50
    for path in walked:
        parsed = Path(str(path))
        assert path == parsed and hash(path) == hash(parsed) and path.parts == parsed.parts
