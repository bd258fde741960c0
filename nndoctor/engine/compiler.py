"""Compile rules to durable_rules JSON rulesets, one per stratum (pure functions, no durable).

Every evaluation asserts ONE fact per stratum holding all known facts as properties, so each rule
becomes a single-pattern durable rule. Negation is pushed down to the leaves (negation normal
form) with closed-world semantics: ``not (x = v)`` is ``x absent or x ≠ v``.

durable_rules indexes the tests that follow one node of its network in a table of 512 slots and
spins for ever when the table is full (``findAlpha`` in rete.c), and every alternative of an
``in:`` list or ``any:`` takes a slot next to those of the other rules of its stratum. So an
``in:`` list longer than :data:`MAX_IN_ALTERNATIVES` becomes ONE test of a membership property
that the matcher computes in Python (:func:`membership_tests`); every compile also runs under a
watchdog (durable_matcher.py).
"""

from __future__ import annotations

import json
import math
from typing import Any

from nndoctor.knowledge.kb import AllOf, Condition, FactTest, NotOf, Rule

SINK_RULE = "zz_sink"
SINK_PRIORITY = 65000
MAX_IN_ALTERNATIVES = 16  # longer in: lists are tested in Python (one durable test each)
MEMBERSHIP_PREFIX = "nnd__in__"  # property names of those tests (fact names are identifiers)


class CycleError(ValueError):
    """Findings that depend on each other in a loop."""


def durable_number(value: float) -> float:
    """A float durable's JSON parser accepts: its repr must not be ``1e-05``-like (no '.')."""
    if not math.isfinite(value):
        raise ValueError(f"durable_rules cannot take non-finite number {value!r}")
    text = repr(value)
    while "e" in text and "." not in text.split("e")[0]:
        value = math.nextafter(value, math.inf)
        text = repr(value)
    return value


def durable_scalar(value: Any) -> Any:
    if isinstance(value, (bool, str, int)):
        return value
    return durable_number(float(value))


def membership_key(test: FactTest) -> str:
    """The property that holds whether ``test`` (a long ``in:`` list) holds: True/False when the
    fact is known, absent when it is not. Named by the fact and a hash of the list."""
    import hashlib  # compiling only: a start finds its rules compiled (engine/compiled.py)

    _, ref = test.operator()
    blob = json.dumps([[type(r).__name__, r] for r in ref], sort_keys=True).encode()
    return f"{MEMBERSHIP_PREFIX}{test.fact}__{hashlib.sha256(blob).hexdigest()[:12]}"


def is_membership(test: FactTest) -> bool:
    op, ref = test.operator()
    return op == "in" and len(ref) > MAX_IN_ALTERNATIVES


def membership_tests(rules: dict[str, Rule]) -> dict[str, FactTest]:
    """Property name → ``in:`` test, for every list the compiler leaves to Python."""
    from nndoctor.engine.conditions import fact_tests

    return {membership_key(t): t for rule in rules.values() for t, _neg in fact_tests(rule.when)
            if is_membership(t)}


def _leaf(test: FactTest, negated: bool) -> dict[str, Any]:
    op, ref = test.operator()
    name = test.fact
    exists = {"$ex": {name: 1}}
    missing = {"$nex": {name: 1}}
    if op == "present":
        return missing if negated else exists
    if op == "absent":
        return exists if negated else missing
    if is_membership(test):  # one test, whatever the length of the list
        key = membership_key(test)
        return {"$or": [missing, {key: False}]} if negated else {key: True}
    if op == "in":
        options = [{name: durable_scalar(r)} for r in ref]
        if negated:
            return {"$or": [missing, {"$and": [{"$neq": {name: durable_scalar(r)}} for r in ref]}]}
        return {"$or": options}
    if negated:
        op = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}[op]
    value = durable_scalar(ref)
    if op == "eq":
        positive: dict[str, Any] = {name: value}
    else:
        key = {"ne": "$neq", "lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}[op]
        positive = {"$and": [exists, {key: {name: value}}]}
    return {"$or": [missing, positive]} if negated else positive


def to_durable(cond: Condition, negated: bool = False) -> dict[str, Any]:
    """Translate a condition tree to a durable expression over one fact."""
    if isinstance(cond, FactTest):
        return _leaf(cond, negated)
    if isinstance(cond, NotOf):
        return to_durable(cond.not_, not negated)
    children = cond.all if isinstance(cond, AllOf) else cond.any
    conjunctive = isinstance(cond, AllOf) != negated
    parts = [to_durable(c, negated) for c in children]
    return {"$and" if conjunctive else "$or": parts}


def findings_used(rule: Rule, findings: set[str]) -> set[str]:
    from nndoctor.engine.conditions import facts_in

    return {f for f in facts_in(rule.when) if f in findings}


def stratify(rules: dict[str, Rule], findings: set[str]) -> dict[str, int]:
    """Stratum of each rule: 0 if it uses no finding, else 1 + the stratum of its inputs."""
    producers: dict[str, list[str]] = {}
    for rule in rules.values():
        for c in rule.then:
            if c.finding:
                producers.setdefault(c.finding, []).append(rule.id)
    level: dict[str, int] = {}
    visiting: list[str] = []

    def rule_level(rid: str) -> int:
        if rid in level:
            return level[rid]
        if rid in visiting:
            loop = " → ".join([*visiting[visiting.index(rid):], rid])
            raise CycleError(f"rules depend on each other's findings in a cycle: {loop}")
        visiting.append(rid)
        used = findings_used(rules[rid], findings)
        deps = [rule_level(p) for f in sorted(used) for p in producers.get(f, [])]
        visiting.pop()
        level[rid] = 1 + max(deps) if deps else 0
        return level[rid]

    for rid in rules:
        rule_level(rid)
    return level


def compile_strata(rules: dict[str, Rule], strata: dict[str, int]) -> list[dict[str, Any]]:
    """One durable ruleset definition per stratum, its rules under their ids (no actions: the
    matcher reads which rules an activation names, durable_matcher.py)."""
    count = max(strata.values(), default=-1) + 1
    definitions: list[dict[str, Any]] = [{} for _ in range(count)]
    for rid, rule in rules.items():
        definitions[strata[rid]][rid] = {"all": [{"m": to_durable(rule.when)}]}
    for definition in definitions:
        definition[SINK_RULE] = {
            "all": [{"m": {"$ex": {"kind": 1}}}],
            "pri": SINK_PRIORITY,
        }
    return definitions


def split_ruleset(definition: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """One stratum's ruleset cut into rulesets of at most ``size`` rules, each with the sink.

    durable_rules evaluates a fact by walking its network with a fixed-size stack of the tests
    still to visit (``MAX_STACK_SIZE`` in events.c, error 303 when full) and indexes the tests
    after one node in a table of 512 slots: both fill up as a stratum grows. Rulesets of bounded
    size keep every walk and table small; the matcher asserts the facts into each of them."""
    sink = {SINK_RULE: definition[SINK_RULE]} if SINK_RULE in definition else {}
    rules = [(rid, d) for rid, d in definition.items() if rid != SINK_RULE]
    chunks = [dict(rules[i:i + size]) for i in range(0, len(rules), size)] or [{}]
    return [{**chunk, **sink} for chunk in chunks]


def ruleset_properties(ruleset: dict[str, Any]) -> frozenset[str]:
    """The properties of the asserted fact that some rule of ``ruleset`` tests (present,
    absent, compared): no other property can change which of them fire."""
    found: set[str] = set()

    def walk(expression: Any) -> None:
        if isinstance(expression, list):
            for item in expression:
                walk(item)
            return
        for key, value in expression.items():
            if key in ("$and", "$or"):
                walk(value)
            elif key.startswith("$"):  # $ex, $nex, $neq, $lt...: {property: value}
                found.update(value)
            else:
                found.add(key)

    for rule in ruleset.values():
        for pattern in rule["all"]:
            for expression in pattern.values():
                walk(expression)
    return frozenset(found)


def ruleset_json(ruleset: dict[str, Any]) -> str:
    """A ruleset as durable's ``create_ruleset`` takes it."""
    return json.dumps(ruleset, ensure_ascii=False)


def ruleset_fingerprint(texts: list[list[str]]) -> str:
    """The hash (hex SHA-256) of each stratum's rulesets (:func:`ruleset_json`) and where each
    stands: it versions ruleset names, so a changed KB never reuses a name."""
    import hashlib

    h = hashlib.sha256()
    for k, stratum in enumerate(texts):
        for j, text in enumerate(stratum):
            data = text.encode()
            h.update(f"{k}:{j}:{len(data)}:".encode())
            h.update(data)
    return h.hexdigest()
