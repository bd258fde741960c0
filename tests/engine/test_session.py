"""Sessions: ranking, determinism, explanations, questions, what-if, bad input, threads."""

from __future__ import annotations

import random
import threading

import pytest

from nndoctor.engine import durable_matcher
from nndoctor.engine.facts import Fact, FactError
from nndoctor.engine.inference import default_engine
from nndoctor.engine.session import DONT_KNOW, Session

NAN_EARLY = [Fact("loss_nonfinite", True, source="log", detail="train_loss, step 40"),
             Fact("nonfinite_early", True, source="log", detail="step 40 of 5000")]


def test_early_nan_ranks_lr_too_high_with_how_explanation():
    session = Session(facts=NAN_EARLY)
    diagnosis = session.diagnose()
    assert diagnosis.verdict == "problem"
    ids = [c.id for c in diagnosis.causes]
    assert "lr_too_high" in ids[:3]
    how = "\n".join(session.how("lr_too_high"))
    assert "NUM001" in how and "loss_nonfinite = yes (from the log, train_loss, step 40)" in how
    cause = diagnosis.cause("lr_too_high")
    assert cause.fixes[0].id == "divide-lr-by-10"


def test_same_facts_in_any_order_give_the_same_diagnosis():
    engine = default_engine()
    rng = random.Random(3)
    names = [n for n in engine.kb.askable_facts() if engine.kb.facts[n].type == "bool"][:30]
    facts = [Fact(n, rng.random() < 0.5) for n in names]
    reference = Session(facts=facts).diagnose(questions=0)
    for _ in range(5):
        rng.shuffle(facts)
        other = Session(facts=facts).diagnose(questions=0)
        assert other.scores == reference.scores
        assert [c.id for c in other.causes] == [c.id for c in reference.causes]


@pytest.mark.parametrize(("fact", "message"), [
    (Fact("no_such_fact", True), "unknown fact 'no_such_fact'"),
    (Fact("lr", "fast"), "fact 'lr' is a number; got 'fast'"),
    (Fact("lr", -1.0), "fact 'lr' must be ≥ 0"),
    (Fact("lr", float("nan")), "fact 'lr' must be a finite number"),
    (Fact("hidden_activation", "softplus"), "fact 'hidden_activation' must be one of"),
    (Fact("no_learning", True), "is a finding concluded by rules"),
])
def test_bad_facts_raise_a_clear_error(fact, message):
    with pytest.raises(FactError, match=message.replace("(", r"\(")):
        Session(facts=[fact])


def test_a_bad_fact_in_a_batch_stores_nothing():
    session = Session()
    with pytest.raises(FactError):
        session.tell(Fact("loss_nonfinite", True), Fact("lr", "oops"))
    assert session.facts == {}


def test_next_question_skips_known_and_dont_know_facts():
    session = Session(facts=NAN_EARLY)
    first = session.next_question()
    assert first is not None and first.fact not in session.facts
    assert first.why
    session.answer(first.fact, DONT_KNOW)
    second = session.next_question()
    assert second is None or second.fact != first.fact


def test_what_if_reports_moves_and_leaves_the_session_alone():
    session = Session(facts=NAN_EARLY)
    before = session.diagnose(questions=0).scores
    result = session.what_if({"nonfinite_early": None})
    assert any(m.cause == "lr_too_high" and m.after < m.before for m in result.moves)
    assert session.diagnose(questions=0).scores == before


def test_why_not_names_the_missing_clause():
    session = Session(facts=[Fact("loss_nonfinite", True)])
    text = "\n".join(session.why_not("lr_too_high"))
    assert "NUM001" in text and "nonfinite_early = true is unknown" in text


def test_no_facts_is_insufficient_data():
    assert Session().diagnose().verdict == "insufficient-data"


def test_save_and_restore_round_trip():
    session = Session(facts=NAN_EARLY)
    session.answer("hidden_activation", DONT_KNOW)
    restored = Session.from_dict(session.to_dict())
    assert restored.facts == session.facts and restored.dont_know == {"hidden_activation"}
    assert restored.diagnose(questions=0).scores == session.diagnose(questions=0).scores


@pytest.mark.skipif(not durable_matcher.AVAILABLE, reason="durable not importable")
def test_more_sessions_than_durables_cap_and_from_threads():
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(300):
                results.append(Session(facts=NAN_EARLY).diagnose(questions=0).scores)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 1200 and all(r == results[0] for r in results)


@pytest.mark.skipif(not durable_matcher.AVAILABLE, reason="durable not importable")
def test_engine_errors_surface():
    engine = default_engine()
    with pytest.raises(ValueError):
        engine.matcher.match(0, {"lr": float("nan")})


def _healthy_curves(source: str) -> list[Fact]:
    return [Fact("train_loss_trend", "decreasing", source=source),
            Fact("val_loss_trend", "decreasing", source=source),
            Fact("loss_nonfinite", False, source=source),
            Fact("loss_oscillating", False, source=source),
            Fact("loss_exploded", False, source=source)]


RL_QUESTIONS = {"rl_reward_trend", "rl_kl_diverging", "rl_entropy_collapsed"}


def test_a_run_that_is_not_rl_is_not_asked_about_rl():
    told = Session(default_engine(), [*_healthy_curves("answer"),
                                      Fact("rl_style_run", False, source="answer")])
    assert not RL_QUESTIONS & {q.fact for q in told.diagnose(questions=40).questions}
    unknown = Session(default_engine(), _healthy_curves("answer"))  # nobody said it is not RL
    assert RL_QUESTIONS & {q.fact for q in unknown.diagnose(questions=40).questions}


def test_once_a_log_is_read_nothing_is_asked_about_the_curves():
    session = Session(default_engine(), _healthy_curves("log"))
    asked = [q.fact for q in session.diagnose(questions=60).questions]
    assert asked and not [f for f in asked if default_engine().kb.facts[f].effort == "curves"]
    interview = Session(default_engine(), _healthy_curves("answer"))
    assert any(default_engine().kb.facts[q.fact].effort == "curves"
               for q in interview.diagnose(questions=60).questions)


def test_inspecting_data_is_priced_above_reading_the_setup(monkeypatch):
    """An 'inspect' question (print a batch, check the labels) costs settings.question_effort's
    1.5 looks: its gain is divided by that price, so it yields to an equally telling question
    about the setup."""
    kb = default_engine().kb
    assert kb.settings.question_effort["look"] < kb.settings.question_effort["inspect"] \
        < kb.settings.question_effort["experiment"]

    def inspect_gains() -> dict[str, float]:
        questions = Session(default_engine(), NAN_EARLY).diagnose(questions=80).questions
        return {q.fact: q.score for q in questions if kb.facts[q.fact].effort == "inspect"}

    priced = inspect_gains()
    assert priced  # the NaN run asks whether the inputs hold NaN, an inspection
    monkeypatch.setitem(kb.settings.question_effort, "inspect", 1.0)
    free = inspect_gains()
    compared = [(free[f], gain) for f, gain in priced.items() if f in free and gain > 1e-3]
    assert compared
    for unpriced, gain in compared:
        assert unpriced == pytest.approx(gain * 1.5, rel=1e-3)


def test_what_the_model_predicts_is_asked_first_until_the_class_count_tells():
    """task_type is initial data: asked before every other question while unknown (alone it
    moves nothing - with the output activation after it, a regression with a ReLU output is
    found), and not once num_classes is known."""
    flat = [Fact("train_loss_trend", "flat", source="log"), Fact("train_loss_high", True,
                                                                  source="log")]
    session = Session(default_engine(), flat)
    assert session.next_question().fact == "task_type"
    session.answer("task_type", "regression")
    assert session.next_question().fact != "task_type"
    session.answer("output_activation", "relu")
    assert session.diagnose(questions=0).causes[0].id == "wrong_output_activation"
    told = Session(default_engine(), [*flat, Fact("num_classes", 10.0)])
    assert all(q.fact != "task_type" for q in told.diagnose(questions=5).questions)
    unsure = Session(default_engine(), flat)
    unsure.answer("task_type", DONT_KNOW)
    assert unsure.next_question().fact != "task_type"


def test_the_most_common_mistakes_hold_more_belief_before_anything_speaks():
    """A cause named among the most common mistakes (its common_mistake sources) starts with
    settings.common_mistake_weight times question_prior, the others with question_prior
    (when no expected manifestation is observed absent)."""
    from nndoctor.engine.questions import priors

    engine = default_engine()
    kb = engine.kb
    common = {c for c, cause in kb.causes.items() if cause.common_mistake}
    assert {"eval_mode_bug", "gradient_bug", "loss_input_mismatch"} <= common
    session = Session(engine, [Fact("train_loss_trend", "decreasing", source="log")])
    base, _ = session._evaluate()
    judged = engine.judged_facts(base, session.known())
    unsupported = sorted(c for c in kb.causes if base.causes.get(c, 0.0) <= 0
                         and not list(engine.absences(c, judged)))
    held = priors(engine, base, session.known(), unsupported)
    weight = kb.settings.common_mistake_weight
    assert weight > 1
    for cause in unsupported:
        expected = kb.settings.question_prior * (weight if cause in common else 1.0)
        assert held[cause] == pytest.approx(expected)
