"""The differential layer: absent manifestations count against a cause, unknown ones never do;
ties are reported, not ordered by id; questions separate the contenders; verdicts agree."""

from __future__ import annotations

import random

from nndoctor.engine.conditions import certainty_false
from nndoctor.engine.facts import Fact
from nndoctor.engine.inference import default_engine
from nndoctor.engine.session import Session
from nndoctor.knowledge.schema import AnyOf

FLAT_AT_CHANCE = {"train_loss_trend": "flat", "val_loss_trend": "flat", "loss_at_chance": True,
                  "train_loss_high": True}
SMOOTH = {"loss_oscillating": False, "loss_nonfinite": False, "loss_exploded": False,
          "grad_norm_spikes": False, "loss_fast_drop_then_plateau": False, "lr": 0.001}


def _session(facts: dict[str, object]) -> Session:
    return Session(facts=[Fact(k, v, 1.0, "log") for k, v in facts.items()])  # type: ignore[arg-type]


def test_three_valued_absence_needs_every_alternative_known_false():
    cond = AnyOf.model_validate({"any": [{"fact": "loss_exploded", "eq": True},
                                         {"fact": "loss_nonfinite", "eq": True}]}).to_kb()
    assert certainty_false(cond, {"loss_exploded": (False, 1.0)}) == 0.0  # one still unknown
    assert certainty_false(cond, {"loss_exploded": (False, 1.0),
                                  "loss_nonfinite": (False, 0.6)}) == 0.6
    assert certainty_false(cond, {"loss_exploded": (True, 1.0),
                                  "loss_nonfinite": (False, 1.0)}) == 0.0


def test_a_smooth_flat_curve_speaks_against_a_too_high_learning_rate():
    shape_only = _session(FLAT_AT_CHANCE).diagnose(questions=0)
    assert shape_only.scores["lr_too_high"] > 0  # the checklist rule still informs ...
    session = _session({**FLAT_AT_CHANCE, **SMOOTH})
    smooth = session.diagnose(questions=0)
    assert smooth.scores["lr_too_high"] < 0  # ... but the absent instability decides
    assert all(c.id != "lr_too_high" for c in smooth.causes)
    (absence,) = session.engine.evaluate(session.known()).absences["lr_too_high"]
    assert absence.name == "instability" and absence.value < 0
    assert {"loss_oscillating", "loss_nonfinite", "lr"} <= set(absence.facts)


def test_an_absence_is_explained_among_the_evidence_of_a_ranked_cause():
    session = _session({"val_loss_rising": True, "generalization_gap": "large",
                        "val_loss_trend": "increasing", "train_loss_trend": "flat",
                        "loss_noisy_but_trending_down": False, "loss_slow_linear": True,
                        "lr": 1e-6})
    d = session.diagnose(questions=0)
    assert d.scores["overfitting"] < 0  # overfitting needs a training loss that falls
    evaluation = session.engine.evaluate(session.known())
    assert [a.name for a in evaluation.absences["overfitting"]] == ["training_improves"]
    ranked = d.cause("lr_too_low")
    assert ranked is not None and ranked.band is not None
    assert all(t.contribution > 0 for t in ranked.support)  # nothing expected is absent here


def test_an_unknown_manifestation_never_counts_against():
    with_lr_high = _session({**FLAT_AT_CHANCE, **SMOOTH, "lr": 0.9}).diagnose(questions=0)
    assert with_lr_high.scores["lr_too_high"] > 0  # the logged LR is the clue that remains
    unmeasured = dict(SMOOTH)
    del unmeasured["loss_oscillating"]  # a fact that decides the absence is unknown
    partial = _session({**FLAT_AT_CHANCE, **unmeasured}).diagnose(questions=0)
    assert partial.scores["lr_too_high"] == _session(FLAT_AT_CHANCE).diagnose(
        questions=0).scores["lr_too_high"]


def test_decided_by_judges_absence_without_the_secondary_alternatives():
    no_grads = {k: v for k, v in {**FLAT_AT_CHANCE, **SMOOTH}.items()
                if k not in ("grad_norm_spikes", "lr")}
    d = _session(no_grads).diagnose(questions=0)  # no gradient norm, no LR logged
    assert d.scores["lr_too_high"] < 0


def test_a_tie_is_reported_with_a_separating_question_and_step():
    d = _session({**FLAT_AT_CHANCE, **SMOOTH}).diagnose(questions=1)
    assert len(d.tied) >= 2
    lead = d.causes[0]
    assert set(lead.tied_with) == set(d.tied) - {lead.id}
    assert d.separation is not None and d.separation.causes == d.tied
    assert d.separation.question is not None
    assert d.separation.question.fact not in d.facts
    assert any("nndoctor.probes.attach" in s for s in d.separation.steps)


def test_equal_confidence_is_ordered_by_the_strongest_rule_not_by_id():
    d = _session({**FLAT_AT_CHANCE, **SMOOTH}).diagnose(questions=0)
    groups: dict[float, list] = {}
    for c in d.causes:
        groups.setdefault(c.confidence, []).append(c)
    for same in groups.values():
        strongest = [max(t.contribution for t in c.support) for c in same]
        assert strongest == sorted(strongest, reverse=True)


def test_the_ranking_does_not_depend_on_the_order_facts_arrive_in():
    facts = [Fact(k, v, 1.0, "log") for k, v in {**FLAT_AT_CHANCE, **SMOOTH}.items()]
    first = Session(facts=facts).diagnose(questions=0)
    for seed in range(5):
        shuffled = list(facts)
        random.Random(seed).shuffle(shuffled)
        other = Session(facts=shuffled).diagnose(questions=0)
        assert [(c.id, c.confidence, c.tied_with) for c in other.causes] == [
            (c.id, c.confidence, c.tied_with) for c in first.causes]


def test_questions_are_chosen_among_the_contenders():
    d = _session({**FLAT_AT_CHANCE, **SMOOTH, "num_classes": 10.0}).diagnose(questions=3)
    assert d.questions
    assert all(q.fact != "inputs_contain_nan" for q in d.questions)


def test_a_weak_leader_alone_leaves_the_differential_open():
    """The leading group is the causes with support; but when a report shows one cause alone
    and it is weaker than 'likely', causes held barely above 0 do not make a differential:
    every cause stays a contender."""
    from nndoctor.engine.questions import contenders

    bands = default_engine().kb.settings.bands
    ids = ["a", "b", "c", "d"]
    assert contenders({"a": 0.3, "b": 0.25, "c": 0.1}, ids, 5, bands) == ["a", "b", "c"]
    assert contenders({"a": 0.3, "b": 0.08}, ids, 5, bands) == ids
    assert contenders({"a": 0.75, "b": 0.08}, ids, 5, bands) == ["a", "b"]
    assert contenders({"a": 0.75}, ids, 5, bands) == ids
    assert contenders({"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}, ids, 2, bands) == ["a", "b"]


def test_healthy_verdict_never_alarms():
    healthy = {"train_loss_trend": "decreasing", "val_loss_trend": "decreasing",
               "generalization_gap": "none", **SMOOTH, "loss_still_decreasing_at_end": False,
               "train_loss_high": False, "accuracy_low": False, "val_loss_rising": False,
               "insufficient_data": False, "loss_slow_linear": False, "training_short": False}
    d = _session(healthy).diagnose(questions=0)
    assert d.verdict == "healthy"
    assert d.alarming("possible") == ()


def test_build_shows_an_absence_as_evidence_against():
    from nndoctor.engine.diagnosis import build
    from nndoctor.engine.inference import Absence, Contribution, Evaluation, default_engine

    engine = default_engine()
    rid = next(r.id for r in engine.kb.rules.values()
               if any(c.cause == "model_too_small" and c.cf > 0 for c in r.then))
    support = Contribution(rid, "model_too_small", True, 0.7, 1.0, 0.7, ())
    absent = Absence("model_too_small", "no_large_gap", 0.6, 1.0, -0.6, ("generalization_gap",))
    facts = {"generalization_gap": Fact("generalization_gap", "large", 1.0, "log")}
    evaluation = Evaluation({rid: (support,)}, {"model_too_small": 0.25}, {},
                            {"model_too_small": (absent,)})
    (ranked,) = build(engine, evaluation, facts).causes
    against = ranked.support[-1]
    assert against.rule_id == "expects:no_large_gap" and against.contribution == -0.6
    assert against.facts[0].name == "generalization_gap"
    assert "against" in ranked.evidence_lines()[-2]


def test_an_interview_without_a_log_opens_with_the_symptom():
    session = Session()
    first = session.next_question()
    assert first is not None and first.fact == "main_symptom"
    session.answer("main_symptom", "nan_or_inf")
    leaders = {c.id for c in session.diagnose(questions=0).causes}
    assert {"lr_too_high", "numerical_instability"} <= leaders
    assert session.next_question().fact != "main_symptom"


def test_the_symptom_is_never_asked_once_a_log_has_spoken():
    d = _session({**FLAT_AT_CHANCE, **SMOOTH}).diagnose(questions=5)
    assert "main_symptom" not in {q.fact for q in d.questions}


def test_an_observation_read_by_several_rules_counts_once():
    from nndoctor.engine.inference import Contribution, independent

    def c(rule: str, value: float, *facts: str) -> Contribution:
        return Contribution(rule, "x", True, value, 1.0, value, facts, frozenset(facts))

    same = [c("A", 0.5, "loss_still_decreasing_at_end", "training_short"),
            c("B", 0.3, "loss_still_decreasing_at_end")]  # B saw nothing A did not
    assert independent(same) == [0.5]
    new = [*same, c("C", 0.3, "val_still_improving")]  # C brings a new observation
    assert independent(new) == [0.5, 0.3]
    against = [*same, c("D", -0.4, "loss_still_decreasing_at_end")]  # the other sign counts
    assert independent(against) == [0.5, -0.4]


def test_facts_of_one_observation_count_as_one():
    from nndoctor.engine.inference import default_engine

    engine = default_engine()
    groups = engine.kb.settings.observations
    assert "val_loss_rising" in groups["validation_degrades"]
    session = _session({"val_loss_rising": True, "val_loss_trend": "increasing",
                        "train_loss_trend": "decreasing", "generalization_gap": "none"})
    evaluation = engine.evaluate(session.known())
    seen = [c.observed for cs in evaluation.contributions.values() for c in cs
            if c.target == "overfitting" and c.value > 0]
    assert seen and all("val_loss_rising" not in o and "val_loss_trend" not in o for o in seen)
    assert any("validation_degrades" in o for o in seen)


def test_a_rise_and_the_gap_it_opened_count_once():
    """A validation loss that rose after its minimum and the large gap the run ends with are
    one observation: together they give overfitting no more than the stronger rule alone."""
    from nndoctor.engine.inference import default_engine

    engine = default_engine()
    rise = {"val_loss_rising": True, "train_loss_trend": "decreasing"}
    alone = engine.evaluate(_session(rise).known()).causes["overfitting"]
    gap_only = engine.evaluate(_session({**rise, "val_loss_rising": False,
                                         "generalization_gap": "large"}).known())
    both = engine.evaluate(_session({**rise, "generalization_gap": "large"}).known())
    assert 0 < gap_only.causes["overfitting"] < alone
    assert both.causes["overfitting"] == alone
    rules = {c.rule_id for cs in both.contributions.values() for c in cs
             if c.target == "overfitting" and c.value > 0}
    assert len(rules) >= 2  # both rules fired; only one was counted


def test_insufficient_data_only_when_points_are_too_few():
    from nndoctor.engine.diagnosis import _verdict

    common = {"top": 0.0, "shown": False, "looks_healthy": False, "likely": 0.5}
    # enough points, no cause singled out: the curves decide
    assert _verdict(**common, too_little=False, patterns=True, enough_points=True) == "problem"
    assert _verdict(**common, too_little=False, patterns=False, enough_points=True) == "healthy"
    # too few points, or no loss curve at all (an interview without a log)
    assert _verdict(**common, too_little=True, patterns=True, enough_points=False) \
        == "insufficient-data"
    assert _verdict(**common, too_little=False, patterns=True, enough_points=False) \
        == "insufficient-data"
    # a likely cause is a problem whatever the curves look like; a possible one on healthy
    # curves is not
    assert _verdict(0.6, True, True, False, False, True, 0.5) == "problem"
    assert _verdict(0.3, True, True, False, False, True, 0.5) == "healthy"



def test_at_equal_evidence_the_cause_a_more_specific_rule_backs_comes_first():
    # "the training loss stays high" backs optimisation difficulty (OPT012) and, for a
    # regression, the output activation (LOS031, which also needs task_type) with the same weight
    facts = {"train_loss_high": True, "task_type": "regression"}
    d = _session(facts).diagnose(questions=0)
    first, second = d.causes[0], d.causes[1]
    assert {first.id, second.id} == {"wrong_output_activation", "optimization_difficulty"}
    assert first.confidence == second.confidence
    assert first.id == "wrong_output_activation"  # not the alphabetical order
    assert second.id in first.tied_with  # still reported as a tie
