"""`nndoctor watch`: causes judged at the end wait for it, a log that says it ended ends the
watch, --until-done prints the diagnose report and exits per --fail-on, bad options exit 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nndoctor.cli import main
from nndoctor.commands.watch import DEFAULT_IDLE, Watcher, judged_at_end

HF_STATE = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "hf" / "bert-sst2" / \
    "trainer_state.json"


def still_falling(folder: Path, steps: range = range(0, 400, 5)) -> Path:
    """A short run whose loss still falls steadily when the log ends: 'not trained long
    enough' is likely - once the run has stopped."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "metrics.jsonl"
    with log.open("a") as fh:
        for s in steps:
            fh.write(json.dumps({"step": s, "train_loss": 2.3 * math.exp(-s / 400) + 0.1}) + "\n")
    return log


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_knowledge_base_marks_train_longer_as_a_judgement_at_the_end():
    assert "not_trained_long_enough" in judged_at_end()


def test_a_cause_judged_at_the_end_waits_for_the_end(tmp_path):
    still_falling(tmp_path / "run")
    clock, lines = Clock(), []
    watcher = Watcher(tmp_path / "run", "likely", None, lines.append, clock=clock)
    assert watcher.check() == 0
    assert not [line for line in lines if line.startswith("ALERT")]
    assert any("judged once training ends: not_trained_long_enough" in line for line in lines)
    assert watcher.done(idle=60) is None  # nothing says it ended, and it was just written
    clock.now = 61
    assert watcher.done(idle=60) == f"no file under {tmp_path / 'run'} changed for 61 s " \
                                    "(--idle 60)"
    assert watcher.conclude() == 1
    assert [line.split(" (")[0] for line in lines if line.startswith("ALERT")] == \
        ["ALERT run: not_trained_long_enough"]
    assert watcher.conclude() == 0  # once per (run, cause)


def test_a_log_that_says_it_ended_ends_the_watch_at_once(tmp_path):
    """A Hugging Face state mid-training, then the final one with the Trainer's summary: no
    idle time needed."""
    state = json.loads(HF_STATE.read_text())
    out = tmp_path / "out" / "trainer_state.json"
    out.parent.mkdir()
    partial = dict(state, global_step=500, log_history=[
        e for e in state["log_history"] if e.get("step", 0) <= 500 and "train_runtime" not in e])
    out.write_text(json.dumps(partial))
    clock, lines = Clock(), []
    watcher = Watcher(out.parent, "likely", None, lines.append, clock=clock)
    watcher.check()
    assert watcher.done(idle=DEFAULT_IDLE) is None
    out.write_text(json.dumps(state))
    watcher.check()
    assert "out: training ended (trainer_state.json has the train_runtime summary " \
           "Trainer.train writes at the end)" in lines
    assert watcher.done(idle=DEFAULT_IDLE) == "every run's log says training ended"


def test_until_done_prints_the_diagnose_report_and_its_exit_code(tmp_path, capsys):
    run = tmp_path / "run"
    still_falling(run)
    code = main(["watch", str(run), "--until-done", "--idle", "0.3", "--interval", "0.05",
                 "--fail-on", "likely"])
    out = capsys.readouterr().out
    watch_lines, _, report = out.partition(f"final diagnosis of {run}:\n\n")
    assert "] done: no file under" in watch_lines
    assert "ALERT run: not_trained_long_enough" in watch_lines.split("] done:")[1]  # after the end
    assert main(["diagnose", str(run), "--fail-on", "likely"]) == code == 1
    assert report == capsys.readouterr().out  # the report diagnose prints, word for word
    assert main(["watch", str(run), "--until-done", "--idle", "0.2", "--interval", "0.05",
                 "--fail-on", "confirmed"]) == 0  # the cause is likely, not confirmed


def test_until_done_without_any_log_is_an_error(tmp_path, capsys):
    code = main(["watch", str(tmp_path), "--until-done", "--idle", "0.2", "--interval", "0.05"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"nndoctor: {tmp_path}: no training log found (no file under")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(("options", "message"), [
    (["--once", "--until-done"], "--once and --until-done exclude each other"),
    (["--idle", "5"], "--idle is only used with --until-done"),
    (["--fail-on", "likely"], "--fail-on is only used with --until-done"),
    (["--until-done", "--idle", "0"], "--idle must be a number of seconds above 0"),
    (["--until-done", "--idle", "nan"], "--idle must be a number of seconds above 0"),
    (["--until-done", "--top", "0"], "--top must be at least 1"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, options, message):
    still_falling(tmp_path / "run")
    assert main(["watch", str(tmp_path / "run"), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
