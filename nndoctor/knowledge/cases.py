"""Run the test cases embedded in each rule file through the engine's matcher."""

from __future__ import annotations

from dataclasses import dataclass

from nndoctor.engine.conditions import certainty
from nndoctor.engine.facts import coerce_value
from nndoctor.engine.inference import Engine
from nndoctor.knowledge.kb import Rule, RuleCase
from nndoctor.knowledge.loader import KnowledgeBase


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    case: str
    passed: bool
    message: str


def case_facts(kb: KnowledgeBase, case: RuleCase) -> dict[str, object]:
    return {n: coerce_value(n, v, kb.facts[n]) for n, v in case.facts.items()}


def check_case(engine: Engine, rule: Rule, case: RuleCase) -> CaseResult:
    """Whether the rule fires (on the engine's matcher) as the case expects, with its bounds."""
    facts = case_facts(engine.kb, case)
    fired = rule.id in engine.matcher.match(engine.strata[rule.id], facts)
    reference = certainty(rule.when, {n: (v, 1.0) for n, v in facts.items()}) > 0
    if fired != reference:
        return CaseResult(rule.id, case.name, False,
                          f"matchers disagree: {engine.matcher.name} says fired={fired}, "
                          f"python says fired={reference}")
    if fired != (case.expect == "fires"):
        verb = "fired" if fired else "stayed silent"
        return CaseResult(rule.id, case.name, False,
                          f"expected the rule to {case.expect.replace('fires', 'fire')} "
                          f"but it {verb} on {case.facts}")
    premise = certainty(rule.when, {n: (v, 1.0) for n, v in facts.items()})
    for target, bounds in (case.certainty or {}).items():
        value = sum(c.cf * premise for c in rule.then if c.target == target) if fired else 0.0
        if bounds.min is not None and value < bounds.min - 1e-9:
            return CaseResult(rule.id, case.name, False,
                              f"certainty of {target} is {value:.3f}, expected ≥ {bounds.min}")
        if bounds.max is not None and value > bounds.max + 1e-9:
            return CaseResult(rule.id, case.name, False,
                              f"certainty of {target} is {value:.3f}, expected ≤ {bounds.max}")
    return CaseResult(rule.id, case.name, True, "ok")


def run_cases(kb: KnowledgeBase, engine: Engine | None = None) -> list[CaseResult]:
    engine = engine or Engine(kb)
    return [check_case(engine, rule, case) for rule in kb.rules.values() for case in rule.tests]
