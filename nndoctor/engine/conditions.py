"""Evaluate rule conditions over known facts: truth, EMYCIN premise certainty, failing clauses.

This is the reference semantics. A test of an unknown fact is false (``absent`` is true);
``not`` is true when its inner condition is false; ``all`` is the minimum certainty of its
clauses and ``any`` the maximum.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from nndoctor.knowledge.kb import AllOf, AnyOf, Condition, FactTest, NotOf

Known = Mapping[str, tuple[object, float]]  # fact name -> (value, certainty)


def test_holds(test: FactTest, value: object) -> bool:
    """Whether a known value satisfies one fact test."""
    op, ref = test.operator()
    if op == "present":
        return True
    if op == "absent":
        return False
    if op == "eq":
        return _same(value, ref)
    if op == "ne":
        return not _same(value, ref)
    if op == "in":
        return any(_same(value, r) for r in ref)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if op == "lt":
        return value < ref  # type: ignore[operator]
    if op == "le":
        return value <= ref  # type: ignore[operator]
    if op == "gt":
        return value > ref  # type: ignore[operator]
    return value >= ref  # type: ignore[operator]


def _same(a: object, b: object) -> bool:
    """Equality that never confuses True with 1 (durable compares JSON types the same way)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def certainty(cond: Condition, known: Known) -> float:
    """Premise certainty of ``cond``: 0.0 when false, else in (0, 1]."""
    if isinstance(cond, FactTest):
        if cond.fact not in known:
            return 1.0 if cond.operator()[0] == "absent" else 0.0
        value, cf = known[cond.fact]
        return cf if test_holds(cond, value) else 0.0
    if isinstance(cond, AllOf):
        result = 1.0
        for child in cond.all:
            c = certainty(child, known)
            if c <= 0.0:
                return 0.0
            result = min(result, c)
        return result
    if isinstance(cond, AnyOf):
        return max(certainty(child, known) for child in cond.any)
    assert isinstance(cond, NotOf)
    return 0.0 if holds(cond.not_, known) else 1.0


def holds(cond: Condition, known: Known) -> bool:
    """``certainty(cond, known) > 0`` for known certainties that are numbers, without weighing
    them: an ``all`` stops at its first false clause and an ``any`` at its first true one (an
    expected manifestation's ``any`` may list a dozen)."""
    if isinstance(cond, FactTest):
        if cond.fact not in known:
            return cond.operator()[0] == "absent"
        value, cf = known[cond.fact]
        return cf > 0.0 and test_holds(cond, value)
    if isinstance(cond, AllOf):
        return all(holds(child, known) for child in cond.all)
    if isinstance(cond, AnyOf):
        return any(holds(child, known) for child in cond.any)
    assert isinstance(cond, NotOf)
    return not holds(cond.not_, known)


def certainty_false(cond: Condition, known: Known) -> float:
    """How surely ``cond`` is *observed* false: 0.0 unless the known facts decide it false.

    Three-valued, unlike :func:`certainty`: a test of an unknown fact is neither true nor false,
    so an ``any`` is false only when every alternative is known to fail. This is what lets absent
    manifestations count against a cause while unknown ones never do.
    """
    if isinstance(cond, FactTest):
        if cond.fact not in known or cond.operator()[0] in ("present", "absent"):
            return 0.0
        value, cf = known[cond.fact]
        return 0.0 if test_holds(cond, value) else cf
    if isinstance(cond, AllOf):
        return max(certainty_false(child, known) for child in cond.all)
    if isinstance(cond, AnyOf):
        return min(certainty_false(child, known) for child in cond.any)
    assert isinstance(cond, NotOf)
    return certainty(cond.not_, known)


def fact_tests(cond: Condition, negated: bool = False) -> Iterator[tuple[FactTest, bool]]:
    """Every fact test in a condition, with whether an odd number of ``not``s encloses it."""
    if isinstance(cond, FactTest):
        yield cond, negated
    elif isinstance(cond, NotOf):
        yield from fact_tests(cond.not_, not negated)
    else:
        for child in _children(cond):
            yield from fact_tests(child, negated)


def facts_in(cond: Condition) -> Iterator[str]:
    """Every fact name a condition mentions."""
    return (test.fact for test, _ in fact_tests(cond))


def supporting_facts(cond: Condition, known: Known) -> list[str]:
    """The known facts whose tests made a true condition true (for HOW explanations)."""
    if isinstance(cond, FactTest):
        return [cond.fact] if cond.fact in known and holds(cond, known) else []
    if isinstance(cond, AllOf):
        return [f for child in cond.all for f in supporting_facts(child, known)]
    if isinstance(cond, AnyOf):
        true_children = [c for c in cond.any if holds(c, known)]
        return [f for child in true_children for f in supporting_facts(child, known)]
    return [f for f in facts_in(cond.not_) if f in known]


def describe(cond: Condition) -> str:
    """A compact human reading of a condition, e.g. ``lr > 0.01 and optimizer = sgd``."""
    if isinstance(cond, FactTest):
        op, ref = cond.operator()
        symbols = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
        if op in symbols:
            return f"{cond.fact} {symbols[op]} {_show(ref)}"
        if op == "in":
            return f"{cond.fact} in {{{', '.join(_show(r) for r in ref)}}}"
        return f"{cond.fact} is {'known' if op == 'present' else 'unknown'}"
    if isinstance(cond, AllOf):
        return " and ".join(_group(c) for c in cond.all)
    if isinstance(cond, AnyOf):
        return " or ".join(_group(c) for c in cond.any)
    return f"not ({describe(cond.not_)})"


def _group(cond: Condition) -> str:
    text = describe(cond)
    return f"({text})" if isinstance(cond, AllOf | AnyOf) and len(_children(cond)) > 1 else text


def _children(cond: AllOf | AnyOf) -> list[Condition]:
    return cond.all if isinstance(cond, AllOf) else cond.any


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def failing_clauses(cond: Condition, known: Known) -> list[FactTest]:
    """Fact tests that keep a false condition false (for WHY NOT explanations)."""
    if holds(cond, known):
        return []
    if isinstance(cond, FactTest):
        return [cond]
    if isinstance(cond, AllOf):
        return [t for c in cond.all for t in failing_clauses(c, known)]
    if isinstance(cond, AnyOf):
        return [t for c in cond.any for t in failing_clauses(c, known)]
    return [t for t, _ in fact_tests(cond.not_) if t.fact in known]
