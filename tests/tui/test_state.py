"""The interview state without a terminal: moves, overrides of log facts, labels, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndoctor.engine.facts import FactError
from nndoctor.engine.session import DONT_KNOW, Move, Session
from nndoctor.tui.files import read_saved, restore, session_json, write_file
from nndoctor.tui.state import Interview, compute_moves
from tests.tui.conftest import overfitting_run


def test_moves_are_sorted_by_size_and_skip_unchanged_causes() -> None:
    moves = compute_moves({"a": 0.5, "b": 0.2, "c": 0.1}, {"a": 0.6, "b": 0.9, "c": 0.1})
    assert moves == (Move("b", 0.2, 0.9), Move("a", 0.5, 0.6))


def test_an_answer_overrides_a_log_fact_and_forgetting_it_restores_the_log() -> None:
    interview = Interview(Session())
    interview.open_log(overfitting_run())
    assert interview.session.facts["val_loss_rising"].source == "log"
    change = interview.answer("val_loss_rising", "false")
    assert interview.session.facts["val_loss_rising"].value is False
    assert change.label == "val_loss_rising = no" and change.moves
    entry = next(e for e in interview.entries() if e.fact == "val_loss_rising")
    assert entry.source == "answer" and "overrides the log (yes)" in entry.note
    assert interview.preview("val_loss_rising", None)  # what-if: back to the log
    interview.retract("val_loss_rising")
    assert interview.session.facts["val_loss_rising"].source == "log"
    with pytest.raises(FactError, match="comes from the log"):
        interview.retract("val_loss_rising")


def test_a_new_log_replaces_the_old_log_facts_but_keeps_answers() -> None:
    interview = Interview(Session())
    interview.answer("hidden_activation", "relu")
    interview.open_log(overfitting_run())
    assert "val_loss_rising" in interview.log_facts
    interview.open_log(overfitting_run("other"))
    assert interview.session.facts["hidden_activation"].source == "answer"
    assert interview.run is not None and interview.run.name == "other"


def test_start_over_forgets_answers_and_keeps_the_log() -> None:
    interview = Interview(Session())
    interview.open_log(overfitting_run())
    interview.answer("hidden_activation", "relu")
    interview.answer("dead_unit_fraction", DONT_KNOW)
    interview.start_over()
    assert interview.session.dont_know == set()
    assert {f.source for f in interview.session.facts.values()} == {"log"}
    assert interview.history == []


def test_labels_read_like_the_question() -> None:
    interview = Interview(Session())
    assert interview.label("val_loss_rising", True) == "yes"
    assert interview.label("hidden_activation", "relu") == "ReLU"
    assert interview.label("lr", 0.01) == "0.01"
    assert interview.label("lr", DONT_KNOW) == "don't know"
    prompt = interview.prompt_for("hidden_activation")
    assert prompt.choices and not prompt.number and prompt.current is None


def test_session_round_trips_through_json(tmp_path: Path) -> None:
    interview = Interview(Session())
    interview.answer("hidden_activation", "sigmoid")
    interview.answer("lr", "0.5")
    interview.answer("dead_unit_fraction", DONT_KNOW)
    path = tmp_path / "s.json"
    write_file(path, session_json(interview))
    again = Interview(restore(read_saved(path)))
    assert again.session.facts == interview.session.facts
    assert again.session.dont_know == interview.session.dont_know
    assert again.diagnosis.scores == interview.diagnosis.scores


def test_write_file_never_overwrites_the_log(tmp_path: Path) -> None:
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss\n", "utf-8")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        write_file(log, "x", protect=log)
    write_file(tmp_path / "list.json", "[1, 2]")
    with pytest.raises(ValueError, match="not a saved nndoctor session"):
        read_saved(tmp_path / "list.json")
