"""Hostile inputs end in one line naming the file, exit 2, and never a hang (issue #12).

Items 5 (``ask --resume`` of a device, a FIFO, a huge file, a saved log of ``/``), 7 (errors
without a file name or with exit 3), 10 (``--jobs``) and 11 (unreadable and special files in a
directory scan, the engine built once). Inputs that used to hang or eat memory run in a
subprocess with a timeout and a 1 GiB memory cap, so a regression fails instead of stalling.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from nndoctor import pipeline
from nndoctor.adapters.readers import read_path
from nndoctor.adapters.readers._io import head
from nndoctor.adapters.run import LogError
from nndoctor.cli import main
from nndoctor.commands.watch import Watcher
from nndoctor.tui.files import MAX_SAVE_BYTES, read_saved, saved_log
from tests.reliability._measure import run_capped

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIG_INT = "7" * 5000  # beyond Python's int-string conversion limit (4,300 digits)


def cli(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return run_capped(f"from nndoctor.cli import main\nraise SystemExit(main({list(args)!r}))",
                  timeout)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1, done.stderr
    return lines[0]


# --------------------------------------------------------------------------- 5: ask --resume


def test_resume_from_a_device_is_refused_without_reading_it():
    line = one_error_line(cli("ask", "--resume", "/dev/zero", timeout=15))
    assert line == "nndoctor: /dev/zero: not a regular file (a saved session is a JSON file)"


def test_resume_from_a_fifo_does_not_wait(tmp_path):
    fifo = tmp_path / "session.json"
    os.mkfifo(fifo)
    line = one_error_line(cli("ask", "--resume", str(fifo), timeout=15))
    assert line.endswith("session.json: not a regular file (a saved session is a JSON file)")


def test_resume_from_a_huge_file_is_refused_by_size(tmp_path):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(MAX_SAVE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ValueError, match="too large for a saved session"):
        read_saved(big)


@pytest.mark.parametrize("log", ["/", "/proc", "/sys/kernel", "/dev"])
def test_a_saved_session_never_makes_ask_scan_a_system_folder(tmp_path, log):
    saved = tmp_path / "session.json"
    saved.write_text(json.dumps({"nndoctor_session": 1, "log": log, "facts": []}))
    done = run_capped(f"""
    from pathlib import Path
    from nndoctor.commands.ask import build_app
    app = build_app(None, Path({str(saved)!r}))
    print(app._initial_run is None, app._notices)
    """, timeout=20)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("True ")
    assert "names a system folder as its log; give the log's path yourself" in done.stdout


def test_a_saved_session_of_an_ordinary_folder_still_opens_it(tmp_path):
    assert saved_log({"log": str(EXAMPLES / "slow_lr")}) == EXAMPLES / "slow_lr"
    assert saved_log({"log": None}) is None
    with pytest.raises(ValueError):
        saved_log({"log": "/proc/self"})


# --------------------------------------------------------------------------- 7: errors


def test_a_5000_digit_integer_names_the_file(tmp_path, capsys):
    state = tmp_path / "run" / "trainer_state.json"
    state.parent.mkdir()
    state.write_text('{"log_history": [{"step": 1, "loss": ' + BIG_INT + '}], "global_step": 1}')
    assert main(["diagnose", str(state)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"nndoctor: {state}: invalid JSON: Exceeds the limit (4300 digits) for "
                   "integer string conversion")
    shutil.copy(EXAMPLES / "slow_lr" / "metrics.jsonl", tmp_path / "run" / "metrics.jsonl")
    assert main(["diagnose", str(tmp_path / "run"), "--format", "json"]) in (0, 1)
    captured = capsys.readouterr()
    assert f"nndoctor: skipped {state}: invalid JSON" in captured.err
    assert len(json.loads(captured.out)["runs"]) == 1
    jsonl = tmp_path / "one.jsonl"
    jsonl.write_text('{"step": 1, "loss": ' + BIG_INT + '}\n')
    assert main(["diagnose", str(jsonl)]) == 2
    assert f"{jsonl}: line 1: invalid JSON: Exceeds the limit" in capsys.readouterr().err
    saved = tmp_path / "s.json"
    saved.write_text('{"nndoctor_session": ' + BIG_INT + '}')
    with pytest.raises(ValueError, match=r"s\.json: not a saved session \(Exceeds the limit"):
        read_saved(saved)


def test_non_utf8_folder_names_with_output(tmp_path, capsys):
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/in\xffput"))
    shutil.copytree(EXAMPLES / "slow_lr", folder)
    for fmt in ("text", "markdown", "html", "json"):
        out = tmp_path / f"report.{fmt}"
        assert main(["diagnose", str(folder), "--format", fmt, "-o", str(out)]) == 0
        assert "in\\xffput" in out.read_text(encoding="utf-8") or fmt == "json"
    missing = Path(os.fsdecode(bytes(tmp_path) + b"/no\xffdir/r.md"))
    capsys.readouterr()
    assert main(["diagnose", str(folder), "-o", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"nndoctor: {tmp_path}/no\\xffdir/r.md: cannot write: No such file or directory"


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e12"])
def test_watch_interval_must_be_a_usable_number(value, capsys):
    assert main(["watch", str(EXAMPLES / "slow_lr"), "--interval", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nndoctor: --interval must be a number of seconds")


def test_a_csv_header_over_the_field_limit_is_skipped_and_watch_goes_on(tmp_path, capsys):
    run = tmp_path / "runs"
    shutil.copytree(EXAMPLES / "slow_lr", run / "good")
    bad = run / "bad" / "metrics.csv"
    bad.parent.mkdir()
    bad.write_text("step," + "x" * 140_000 + "\n1,2\n")
    assert main(["diagnose", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"nndoctor: {bad}: line 1: field larger than field limit (131072)")
    assert main(["diagnose", str(run), "--format", "json"]) in (0, 1)
    assert f"skipped {bad}: line 1: field larger" in capsys.readouterr().err
    lines: list[str] = []
    Watcher(run, "likely", None, lines.append).check()
    assert any(x.startswith(f"skipped {bad}") for x in lines)
    assert any(x.startswith("good: ") for x in lines), lines  # the good run is watched


# --------------------------------------------------------------------------- 10: --jobs


@pytest.mark.parametrize("jobs", ["0", "-5"])
def test_jobs_below_one_is_a_one_line_usage_error(jobs, capsys):
    assert main(["diagnose", str(EXAMPLES / "slow_lr"), "--jobs", jobs]) == 2
    assert capsys.readouterr().err.strip() == (
        f"nndoctor: --jobs must be at least 1, got {jobs} (leave it out to use every core)")


def test_jobs_are_capped_at_the_usable_cores(monkeypatch):
    from tests.tui.conftest import overfitting_run

    started: list[int] = []

    class Pool:
        def __init__(self, max_workers: int) -> None:
            started.append(max_workers)

        def __enter__(self) -> Pool:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def map(self, fn, items, chunksize=1):
            return map(fn, items)

    import concurrent.futures  # pipeline imports the pool only when it needs one

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Pool)
    runs = [overfitting_run(f"r{i}") for i in range(pipeline.PARALLEL_FROM)]
    assert len(pipeline.diagnose_runs(runs, jobs=100_000)) == len(runs)
    assert len(pipeline.diagnose_runs(runs)) == len(runs)  # None: every core
    cores = pipeline.usable_cores()
    assert started and all(1 <= n <= cores for n in started), (started, cores)
    with pytest.raises(ValueError, match="at least 1"):
        pipeline.diagnose_runs(runs, jobs=0)


# --------------------------------------------------------------------------- 11: scans


def test_an_unreadable_log_in_a_folder_says_permission_denied(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "version_0"
    shutil.copytree(EXAMPLES / "overfitting", folder)
    secret = folder / "metrics.csv"
    secret.chmod(0)
    real_access = os.access
    # root reads anything: deny it as the OS would for another user
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != secret
                        and real_access(p, mode, **kw))
    assert main(["diagnose", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"nndoctor: {secret}: cannot read: permission denied", err
    skipped: list[LogError] = []
    shutil.copy(EXAMPLES / "slow_lr" / "metrics.jsonl", folder / "metrics.jsonl")
    assert read_path(folder, on_error=skipped.append)
    assert [str(e) for e in skipped] == [f"{secret}: cannot read: permission denied"]


def test_sniffing_a_fifo_never_waits(tmp_path):
    fifo = tmp_path / "metrics.csv"
    os.mkfifo(fifo)
    done = run_capped(f"""
    from pathlib import Path
    from nndoctor.adapters.readers import detect_reader
    from nndoctor.adapters.readers._io import head
    detect_reader(Path({str(fifo)!r}))  # every reader's can_read answers at once
    print(head(Path({str(fifo)!r})))
    """, timeout=15)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "b''"
    assert head(EXAMPLES / "overfitting" / "metrics.csv", 4) == (
        EXAMPLES / "overfitting" / "metrics.csv").read_bytes()[:4]


def test_a_saved_model_that_is_a_fifo_is_never_opened(tmp_path):
    """A FIFO named like a saved model beside a log (model.safetensors, model.pt, a Lightning
    checkpoint) is passed over: opening it would wait for a writer forever."""
    folder = tmp_path / "run"
    shutil.copytree(EXAMPLES / "slow_lr", folder)
    (folder / "checkpoints").mkdir()
    for name in ("model.safetensors", "model.pt", "checkpoints/last.ckpt"):
        os.mkfifo(folder / name)
    done = run_capped(f"""
    from pathlib import Path
    from nndoctor.pipeline import diagnose_run, load_runs
    (run,) = load_runs([Path({str(folder)!r})])
    print("weights_scale" in run.context, diagnose_run(run).diagnosis.verdict)
    """, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "False"


def test_a_scan_skips_devices_and_fifos_and_never_reads_empty_files(tmp_path, monkeypatch):
    import nndoctor.adapters.readers as registry

    folder = tmp_path / "runs"
    shutil.copytree(EXAMPLES / "slow_lr", folder / "good")
    (folder / "linked").mkdir()
    os.mkfifo(tmp_path / "pipe")
    (folder / "linked" / "events.out.tfevents.1.host").symlink_to(tmp_path / "pipe")
    (folder / "linked" / "history.csv").symlink_to("/dev/zero")
    (folder / "empty").mkdir()
    (tmp_path / "zero").write_bytes(b"")  # stands for /proc/kmsg: 0 bytes, blocks when read
    (folder / "empty" / "metrics.csv").symlink_to(tmp_path / "zero")
    read: list[Path] = []
    guarded = registry._guarded

    def spy(reader, paths):
        read.extend(paths)
        return guarded(reader, paths)

    monkeypatch.setattr(registry, "_guarded", spy)
    skipped: list[LogError] = []
    runs = read_path(folder, on_error=skipped.append)
    assert [r.path.name for r in runs] == ["metrics.jsonl"]
    assert all(p.stat().st_size > 0 for p in read), read
    assert [str(e) for e in skipped] == [f"{folder / 'empty' / 'metrics.csv'}: empty file"]


def test_default_engine_is_built_once_by_concurrent_threads(monkeypatch):
    from nndoctor.engine import inference

    built: list[int] = []

    class SlowEngine:
        def __init__(self, kb: object, **compiled: object) -> None:
            time.sleep(0.2)
            built.append(1)

    inference._default_engine.cache_clear()
    monkeypatch.setattr(inference, "Engine", SlowEngine)
    try:
        threads = [threading.Thread(target=inference.default_engine) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(built) == 1
    finally:
        inference._default_engine.cache_clear()
