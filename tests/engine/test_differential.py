"""durable_rules and the pure-Python matcher agree on random fact sets (the oracle test)."""

from __future__ import annotations

import random

import pytest

from nndoctor.engine import durable_matcher
from nndoctor.engine.conditions import facts_in
from nndoctor.engine.inference import default_engine
from nndoctor.knowledge.kb import AllOf, FactTest, NotOf

pytestmark = pytest.mark.skipif(not durable_matcher.AVAILABLE, reason="durable not importable")


def _thresholds(engine, name):
    values = set()

    def walk(cond):
        if isinstance(cond, FactTest):
            if cond.fact == name:
                op, ref = cond.operator()
                if op in {"lt", "le", "gt", "ge", "eq", "ne"} and isinstance(ref, int | float) \
                        and not isinstance(ref, bool):
                    values.update({float(ref), float(ref) * 0.5, float(ref) * 2, float(ref) + 1e-9})
        elif isinstance(cond, NotOf):
            walk(cond.not_)
        else:
            for c in cond.all if isinstance(cond, AllOf) else cond.any:
                walk(c)

    for rid in engine.rules_using.get(name, ()):
        walk(engine.kb.rules[rid].when)
    return sorted(values) or [0.0, 1.0]


def random_facts(engine, rng):
    facts = {}
    for name, spec in engine.kb.facts.items():
        if rng.random() < 0.5:
            continue
        if spec.type == "bool":
            facts[name] = rng.random() < 0.5
        elif spec.type == "enum":
            facts[name] = rng.choice([c.value for c in spec.choices])
        else:
            facts[name] = rng.choice(_thresholds(engine, name) + list(spec.probe_values or []))
        if spec.kind == "finding":
            facts[name] = True
    return facts


def test_durable_and_python_fire_the_same_rules_on_random_facts():
    engine = default_engine()
    assert engine.matcher.name == "durable"
    rng = random.Random(20261123)
    fired_total = 0
    for _ in range(400):
        facts = random_facts(engine, rng)
        for stratum in range(engine.depth):
            expected = engine.python.match(stratum, facts)
            assert engine.matcher.match(stratum, facts) == expected, (stratum, facts)
            fired_total += len(expected)
    assert fired_total > 400  # the random sets really exercise the rules


def test_every_rule_is_exercised_by_the_differential_inputs():
    engine = default_engine()
    rng = random.Random(7)
    seen = set()
    for _ in range(3000):
        facts = random_facts(engine, rng)
        for stratum in range(engine.depth):
            seen |= engine.python.match(stratum, facts)
    never = sorted(set(engine.kb.rules) - seen)
    # rules needing many specific facts at once may stay unseen at random; most must fire
    assert len(never) < 0.25 * len(engine.kb.rules), never


def test_rules_only_mention_declared_facts():
    engine = default_engine()
    for rule in engine.kb.rules.values():
        assert set(facts_in(rule.when)) <= set(engine.kb.facts)


def test_a_stratum_is_split_into_bounded_rulesets_that_keep_every_rule():
    from nndoctor.engine.compiler import SINK_RULE, compile_strata, split_ruleset

    engine = default_engine()
    [first, *_] = compile_strata(engine.kb.rules, engine.strata)
    parts = split_ruleset(first, 40)
    assert all(len(p) <= 41 and SINK_RULE in p for p in parts)  # 40 rules and the sink
    kept = [rid for p in parts for rid in p if rid != SINK_RULE]
    assert sorted(kept) == sorted(r for r in first if r != SINK_RULE)  # each rule exactly once


def test_small_rulesets_match_like_one_big_one():
    """The split that keeps durable's evaluation stack (error 303) and index tables small gives
    the same matches as the pure-Python matcher, with rulesets of only 25 rules."""
    from nndoctor.engine.compiler import compile_strata, membership_tests

    engine = default_engine()
    original = durable_matcher.RULES_PER_RULESET
    durable_matcher.RULES_PER_RULESET = 25
    try:
        small = durable_matcher.DurableMatcher(compile_strata(engine.kb.rules, engine.strata),
                                               membership_tests(engine.kb.rules))
    finally:
        durable_matcher.RULES_PER_RULESET = original
    rng = random.Random(5)
    for _ in range(40):
        facts = random_facts(engine, rng)
        for stratum in range(engine.depth):
            assert small.match(stratum, facts) == engine.python.match(stratum, facts)


def _python_fired(engine, facts):
    return {s: engine.python.match(s, facts) for s in range(engine.depth)}


def test_one_session_serves_every_match_and_is_left_empty():
    """A matcher asserts into one session per ruleset and retracts the fact after each match:
    match after match gives what the Python matcher gives, and no fact stays behind."""
    import durable_rules_engine as rete

    engine = default_engine()
    matcher = engine.matcher
    rng = random.Random(7)
    for _ in range(150):
        facts = random_facts(engine, rng)
        assert {s: matcher.match(s, facts) for s in range(engine.depth)} == \
            _python_fired(engine, facts)
    for handles in matcher._handles:
        for handle in handles:
            assert rete.get_facts(handle, matcher._sid) == "[]"


def test_a_failed_match_drops_its_session_and_the_next_one_starts_anew(monkeypatch):
    import durable_rules_engine as rete

    engine = default_engine()
    matcher = engine.matcher
    rng = random.Random(11)
    facts = [random_facts(engine, rng) for _ in range(3)]
    matcher.match(0, facts[0])
    real = durable_matcher._rete.complete_and_start_action

    def broken(handle, state):
        raise RuntimeError("durable broke")

    monkeypatch.setattr(durable_matcher._rete, "start_action_for_state", broken)
    with pytest.raises(durable_matcher.EngineError, match="durable broke"):
        matcher.match(0, facts[1])
    monkeypatch.undo()
    assert durable_matcher._rete.complete_and_start_action is real
    with pytest.raises(rete.error):  # the session was deleted
        rete.get_state(matcher._handles[0][0], matcher._sid)
    for f in facts:
        assert matcher.match(0, f) == engine.python.match(0, f)


def test_a_matcher_that_goes_deletes_its_sessions():
    import gc

    import durable_rules_engine as rete

    from nndoctor.engine.compiled import compile_kb

    engine = default_engine()
    compiled = compile_kb(engine.kb, durable_matcher.RULES_PER_RULESET)
    other = durable_matcher.DurableMatcher.from_texts(compiled.texts, compiled.memberships,
                                                     compiled.properties)
    other.match(0, {"lr": 0.1})
    handle, sid = other._handles[0][0], other._sid
    rete.get_state(handle, sid)  # the session lives
    del other
    gc.collect()
    with pytest.raises(rete.error):
        rete.get_state(handle, sid)


def test_holds_is_certainty_above_zero_on_random_facts():
    """conditions.holds (short-circuit truth) answers certainty(cond) > 0 for every rule's
    condition and every expected manifestation, on random facts with random certainties."""
    from nndoctor.engine.conditions import certainty, holds

    engine = default_engine()
    conditions = [rule.when for rule in engine.kb.rules.values()]
    conditions += [m.when for cause in engine.kb.causes.values() for m in cause.expects]
    rng = random.Random(11)
    decided = {True: 0, False: 0}
    for _ in range(60):
        known = {name: (value, rng.choice([0.0, 0.15, 0.5, 1.0]))
                 for name, value in random_facts(engine, rng).items()}
        for cond in conditions:
            truth = holds(cond, known)
            assert truth == (certainty(cond, known) > 0), cond
            decided[truth] += 1
    assert min(decided.values()) > 100  # both answers were exercised
