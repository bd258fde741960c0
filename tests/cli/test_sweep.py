"""Issue #13: sweeps planned in the parent and diagnosed in workers give the report the
in-memory path (read_path + diagnose_run + render) gives; jsonl is one run per line; follow-up
questions are computed only where they are shown. Issue #16: run ids are the paths relative to
the PATH given, unique in the report."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from nndoctor.adapters.readers import read_path
from nndoctor.cli import main
from nndoctor.engine import session as session_module
from nndoctor.pipeline import diagnose_run
from nndoctor.report import render
from nndoctor.report.ids import base_id, unique_ids

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures" / "logs"


def _reference(paths: list[Path], fmt: str, questions: int, top: int = 5) -> str:
    found = [(p, run) for p in paths for run in read_path(p)]
    reports = [diagnose_run(run, questions=questions) for _, run in found]
    ids = unique_ids([(base_id(p, run.path), str(run.path), run.name) for p, run in found])
    return render([r._replace(id=i) for r, i in zip(reports, ids, strict=True)], fmt, top)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    sources = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    for i in range(12):  # mixed formats, duplicate run names (mlflow) renamed by path
        shutil.copytree(sources[i % len(sources)], root / f"run_{i:02d}")
    shutil.copytree(FIXTURES / "twice", root / "twice")  # runs merged across loggers
    return root


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_json_identical_to_in_memory_render(sweep: Path, jobs: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["diagnose", str(sweep), "--format", "json", "--top", "2", "--jobs", jobs,
                 "--no-progress", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == _reference([sweep], "json", 0, top=2)


def test_json_identical_when_the_workers_detect_the_readers(
        sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder large enough for the workers to detect its files' readers, in chunks sent
    while the walk goes on (made large here by lowering the thresholds)."""
    from nndoctor import workers

    monkeypatch.setattr(workers, "CLASSIFY_FROM", 8)
    monkeypatch.setattr(workers, "CLASSIFY_CHUNK", 5)
    out = tmp_path / "r.json"
    assert main(["diagnose", str(sweep), "--format", "json", "--top", "2", "--jobs", "2",
                 "--no-progress", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == _reference([sweep], "json", 0, top=2)


def test_workers_classify_files_as_they_come(sweep: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from nndoctor import workers
    from nndoctor.adapters.readers import classify

    monkeypatch.setattr(workers, "CLASSIFY_FROM", 8)
    monkeypatch.setattr(workers, "CLASSIFY_CHUNK", 5)
    files = sorted(p for p in sweep.rglob("*") if p.is_file())
    pool = workers.Workers(2)
    try:
        found = list(pool.classify(iter(files)))
        assert pool.started
    finally:
        pool.close()

    def plain(what: object) -> object:
        return what if what is None else tuple(map(str, what))  # type: ignore[arg-type]

    assert [plain(w) for w in found] == [plain(classify(f)) for f in files]


def test_text_and_questions_identical_when_asked(sweep: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    paths = [EXAMPLES / "healthy", FIXTURES / "hf", EXAMPLES / "mlflow_sqlite"]
    assert main(["diagnose", *map(str, paths), "--questions", "3", "--no-progress"]) == 0
    assert capsys.readouterr().out == _reference(paths, "text", 3)
    assert main(["diagnose", *map(str, paths), "--format", "json", "--questions", "1"]) == 0
    assert capsys.readouterr().out == _reference(paths, "json", 1)


def test_jsonl_one_run_per_line(sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(sweep), "--format", "jsonl", "--jobs", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    document = json.loads(_reference([sweep], "json", 0))
    assert [json.loads(line) for line in lines] == document["runs"]
    assert len(lines) == len(document["runs"]) > 12


def test_questions_only_when_shown(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []
    real = session_module.rank_questions

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(session_module, "rank_questions", counting)
    log = str(EXAMPLES / "slow_lr")
    assert main(["diagnose", log, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["questions"] == []
    assert not calls  # JSON does not show them: never ranked
    assert main(["diagnose", str(EXAMPLES), "--no-progress"]) == 0
    assert "Sharpen: --answer" not in capsys.readouterr().out and not calls  # a sweep
    assert main(["diagnose", log]) == 0  # one run as text: shown, so ranked
    assert "Sharpen: --answer" in capsys.readouterr().out and calls
    calls.clear()
    assert main(["diagnose", log, "--format", "json", "--questions", "2"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"][0]["questions"]) == 2 and calls


def test_reevaluate_shortcut_matches_full_finish() -> None:
    """The re-combination of only what an answer touches gives _finish's numbers."""
    import dataclasses

    from nndoctor.adapters.symptoms import derive_facts
    from nndoctor.engine.inference import default_engine

    engine = default_engine()
    for folder in ("slow_lr", "overfitting", "nan_blowup"):
        run = read_path(EXAMPLES / folder)[0]
        known = {f.name: (f.value, f.certainty) for f in derive_facts(run, engine.kb)}
        base = engine.evaluate(known)
        for name in engine.kb.askable_facts()[:60]:
            if name in known or name not in engine.rules_using:
                continue
            for answer in engine.kb.facts[name].answers():
                hypo = {**known, name: (answer, 1.0)}
                fast = engine.reevaluate(base, hypo, name)
                slow = engine.reevaluate(dataclasses.replace(base, support={}), hypo, name)
                assert (fast.causes, fast.absences) == (slow.causes, slow.absences)
                assert list(fast.causes) == list(slow.causes)


def _sweep_of(root: Path, runs: int, empty: int) -> Path:
    for i in range(runs):
        shutil.copytree(EXAMPLES / "healthy", root / f"r{i:02d}")
    for i in range(empty):  # a log with nothing in it: dropped when others have something
        (root / f"e{i:02d}").mkdir()
        (root / f"e{i:02d}" / "metrics.csv").write_text("step,train_loss\n")
    return root


@pytest.mark.parametrize(("runs", "empty"), [(7, 5), (12, 0)])
def test_text_blocks_rendered_only_when_shown(runs: int, empty: int, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A text sweep too large to show its runs' blocks renders none; if fewer runs than tasks
    turn out to be shown, few enough for blocks, their blocks are rendered after all."""
    from nndoctor.report import text

    root = _sweep_of(tmp_path, runs, empty)
    monkeypatch.setenv("COLUMNS", "80")
    calls: list[int] = []
    real = text.run_body
    monkeypatch.setattr(text, "run_body", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert main(["diagnose", str(root), "--jobs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert len(calls) == (runs if runs <= text.BLOCKS_UP_TO else 0)
    monkeypatch.setattr(text, "run_body", real)
    assert out == _reference([root], "text", 0)


def test_the_spill_moves_to_disk_only_past_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small reports stay in memory; past SPOOL_BYTES the parts move to a temporary file and
    every part still reads back as written."""
    import io

    from nndoctor import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "SPOOL_BYTES", 100)
    spill = sweep_module.Sweep()
    texts = [f"part {i} " + "é" * 20 for i in range(4)]  # 47 bytes each in UTF-8
    results = [sweep_module.Result(0, f"r{i}", f"r{i}", "jsonl", True, "healthy", None, False,
                                   True, text.encode()) for i, text in enumerate(texts)]
    spill.add(results[0])
    spill.add(results[1])
    assert isinstance(spill.spill, io.BytesIO)
    spill.add(results[2])
    assert not isinstance(spill.spill, io.BytesIO)
    spill.replace_text(results[3], texts[3])
    assert [spill.text(r) for r in results[:3]] == texts[:3]
    assert spill.text(results[3]) == texts[3]
    spill.close()


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_parts_go_out_as_utf8_bytes_or_as_text(sweep: Path, fmt: str) -> None:
    """The parts travel as UTF-8 bytes; a UTF-8 stream with a binary buffer takes them as they
    are, any other stream gets them decoded (its own encoding applies): the same text."""
    import io

    from nndoctor.sweep import Options, plan, run_sweep, write

    def report(out: io.TextIOBase) -> None:
        tasks, ready = plan([sweep], lambda error: None)
        done = run_sweep(tasks, ready, Options(fmt, 2, 0), None, None, lambda error: None)
        done.finish()
        out.write("before ")  # text written first stays first
        write(done, Options(fmt, 2, 0), out)
        done.close()

    want = "before " + _reference([sweep], fmt, 0, top=2)
    plain = io.StringIO()  # no binary buffer
    report(plain)
    assert plain.getvalue() == want
    for encoding in ("utf-8", "utf-16"):
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding=encoding, newline="")
        report(out)
        out.flush()
        assert raw.getvalue().decode(encoding) == want


@pytest.mark.parametrize(("total", "jobs"), [(1, 2), (7, 2), (40, 2), (1000, 2), (10_000, 4)])
def test_batches_cover_the_tasks_in_order_and_shrink_at_the_end(total: int, jobs: int) -> None:
    from nndoctor.sweep import BATCH, _batches

    batches = list(_batches(total, jobs))
    assert batches[0][0] == 0 and batches[-1][1] == total
    assert all(a[1] == b[0] for a, b in itertools.pairwise(batches))  # contiguous, in order
    sizes = [end - start for start, end in batches]
    assert all(1 <= size <= BATCH for size in sizes)
    assert sizes == sorted(sizes, reverse=True)  # never larger than the one before
    assert sizes[-1] == 1  # the last workers' wait is one task, not a whole batch


def test_settle_freezes_what_is_loaded() -> None:
    import gc

    from nndoctor.workers import settle

    try:
        settle()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
