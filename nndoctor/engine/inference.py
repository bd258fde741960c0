"""The compiled knowledge base and one evaluation: which rules fired and what they concluded."""

from __future__ import annotations

import _thread
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from nndoctor.engine import durable_matcher
from nndoctor.engine.certainty import combine, combine_all
from nndoctor.engine.compiled import Compiled, cached_compile, compile_kb
from nndoctor.engine.conditions import (
    Known,
    certainty,
    certainty_false,
    facts_in,
    holds,
    supporting_facts,
)
from nndoctor.engine.matchers import Matcher, PythonMatcher
from nndoctor.knowledge.kb import Manifestation
from nndoctor.knowledge.loader import KnowledgeBase, builtin_digest, builtin_knowledge_base
from nndoctor.plain import PLAIN, Plain


class Contribution(NamedTuple):
    """What one fired rule added to one conclusion."""

    rule_id: str
    target: str
    is_cause: bool
    rule_cf: float
    premise: float
    value: float
    facts: tuple[str, ...]
    observed: frozenset[str] = frozenset()  # what the rule saw: its un-negated facts (grouped
    # into settings.observations)


class Absence(NamedTuple):
    """An expected manifestation of a cause that the facts show to be absent (evidence against)."""

    cause: str
    name: str
    frequency: float
    certainty: float  # how surely it is absent: the certainty of the facts that decide it
    value: float  # -frequency × certainty, combined into the cause's certainty
    facts: tuple[str, ...]


@dataclass(**PLAIN)
class Evaluation(Plain):
    """The outcome of matching all strata over a set of known facts."""

    contributions: dict[str, tuple[Contribution, ...]]  # rule id -> its contributions
    causes: dict[str, float]
    findings: dict[str, float]
    absences: dict[str, tuple[Absence, ...]] = field(default_factory=dict)  # cause -> absences
    support: dict[str, float] = field(default_factory=dict, compare=False)  # before absences
    _shown = ("contributions", "causes", "findings", "absences", "support")
    _compared = ("contributions", "causes", "findings", "absences")

    def __init__(self, contributions: dict[str, tuple[Contribution, ...]],
                 causes: dict[str, float], findings: dict[str, float],
                 absences: dict[str, tuple[Absence, ...]] | None = None,
                 support: dict[str, float] | None = None) -> None:
        object.__setattr__(self, "contributions", contributions)
        object.__setattr__(self, "causes", causes)
        object.__setattr__(self, "findings", findings)
        object.__setattr__(self, "absences", {} if absences is None else absences)
        object.__setattr__(self, "support", {} if support is None else support)

    @property
    def fired(self) -> list[str]:
        return sorted(self.contributions)


class Engine:
    """A knowledge base compiled once: strata, matcher, and indexes for fast re-evaluation."""

    def __init__(self, kb: KnowledgeBase, backend: str = "auto",
                 compiled: Compiled | None = None) -> None:
        """``compiled``: :func:`compile_kb` of ``kb`` when already at hand (from its cache)."""
        if compiled is None:
            compiled = compile_kb(kb, durable_matcher.RULES_PER_RULESET)
        self.kb = kb
        self.threshold = kb.settings.premise_threshold
        self.findings = set(compiled.findings)  # not from kb.facts: they unpickle when read
        self.strata = compiled.strata
        self.python = PythonMatcher(kb.rules, self.strata)
        self.matcher: Matcher = self.python
        if backend == "durable" or (backend == "auto" and durable_matcher.AVAILABLE):
            self.matcher = durable_matcher.DurableMatcher.from_texts(
                compiled.texts, compiled.memberships, compiled.fingerprint, compiled.properties)
        self.depth = max(self.strata.values(), default=-1) + 1
        self.observation = {f: name for name, facts in kb.settings.observations.items()
                            for f in facts}
        self.positive_facts = compiled.positive_facts

    # the indexes of :meth:`reevaluate` (questions, what-ifs): made when first asked for
    @functools.cached_property
    def rules_using(self) -> dict[str, set[str]]:
        """Fact name -> the rules whose condition mentions it."""
        using: dict[str, set[str]] = {}
        for rid, rule in self.kb.rules.items():
            for name in facts_in(rule.when):
                using.setdefault(name, set()).add(rid)
        return using

    @functools.cached_property
    def cause_targets(self) -> dict[str, frozenset[str]]:
        """Rule id -> the causes it concludes."""
        return {rid: frozenset(c.target for c in rule.then if c.cause is not None)
                for rid, rule in self.kb.rules.items()}

    @functools.cached_property
    def expected_facts(self) -> dict[str, frozenset[str]]:
        """Cause id -> the facts its expected manifestations are judged on."""
        return {cid: frozenset(n for m in cause.expects
                               for n in (*facts_in(m.when), *(m.decided_by or ())))
                for cid, cause in self.kb.causes.items() if cause.expects}

    def evaluate(self, known: Known, matcher: Matcher | None = None) -> Evaluation:
        """Match every stratum in order; findings of one stratum are facts of the next."""
        matcher = matcher or self.matcher
        usable = {n: vc for n, vc in known.items() if vc[1] > self.threshold}
        contributions: dict[str, tuple[Contribution, ...]] = {}
        findings: dict[str, float] = {}
        for stratum in range(self.depth):
            facts = self._with_findings(usable, findings)
            fired = matcher.match(stratum, {n: v for n, (v, _) in facts.items()})
            for rid in sorted(fired):
                contributions[rid] = self._contributions(rid, facts)
            findings = self._combine(contributions, causes=False)
        return self._finish(contributions, findings, usable)

    def reevaluate(self, base: Evaluation, known: Known, changed: str) -> Evaluation:
        """Re-run only the rules a change of fact ``changed`` can reach (pure Python)."""
        usable = {n: vc for n, vc in known.items() if vc[1] > self.threshold}
        contributions = dict(base.contributions)
        affected = set(self.rules_using.get(changed, ()))
        findings = dict(base.findings)
        for stratum in range(self.depth):
            facts = self._with_findings(usable, findings)
            for rid in sorted(r for r in affected if self.strata[r] == stratum):
                contributions.pop(rid, None)
                fired = self._contributions(rid, facts)
                if fired:
                    contributions[rid] = fired
            new_findings = self._combine(contributions, causes=False)
            moved = {f for f in new_findings.keys() | findings.keys()
                     if new_findings.get(f) != findings.get(f)}
            for f in moved:
                affected |= self.rules_using.get(f, set())
            findings = new_findings
        if not base.support and base.causes:  # an Evaluation built elsewhere: no shortcut
            return self._finish(contributions, findings, usable)
        touched = {changed} | {f for f in findings.keys() | base.findings.keys()
                               if findings.get(f) != base.findings.get(f)}
        targets = set().union(*(self.cause_targets[r] for r in affected))
        return self._refinish(base, contributions, findings, usable, targets, touched)

    def _refinish(self, base: Evaluation, contributions: dict[str, tuple[Contribution, ...]],
                  findings: dict[str, float], usable: Known, targets: set[str],
                  touched: set[str]) -> Evaluation:
        """:meth:`_finish` after a change that reached only the causes ``targets`` (through
        their rules) and the facts ``touched``: every other cause keeps its base score and
        absences (the same numbers :meth:`_finish` would compute, without computing them)."""
        by_target: dict[str, list[Contribution]] = {t: [] for t in targets}
        for rid in sorted(contributions):
            for c in contributions[rid]:
                if c.is_cause and c.target in by_target:
                    by_target[c.target].append(c)
        support = dict(base.support)
        for t, cs in by_target.items():
            if cs:
                support[t] = self._support(cs)
            else:
                support.pop(t, None)
        support = dict(sorted(support.items()))
        causes = dict(support)
        facts = self._with_findings(usable, findings)
        absences: dict[str, tuple[Absence, ...]] = {}
        for cause_id, score in support.items():
            expected = self.expected_facts.get(cause_id)
            if score <= 0 or expected is None:
                continue
            if (cause_id not in targets or base.support.get(cause_id) == score) \
                    and not expected & touched:
                if cause_id in base.absences:
                    absences[cause_id] = base.absences[cause_id]
                    causes[cause_id] = base.causes[cause_id]
                continue
            self._weigh_absences(cause_id, score, facts, causes, absences)
        return Evaluation(contributions, causes, findings, absences, support)

    def _weigh_absences(self, cause_id: str, score: float, facts: Known,
                        causes: dict[str, float],
                        absences: dict[str, tuple[Absence, ...]]) -> None:
        """Weigh ``cause_id``'s expected manifestations that ``facts`` show absent (in place)."""
        found = self.absences(cause_id, facts)
        if found:
            absences[cause_id] = found
            causes[cause_id] = _weigh(score, found)

    def judged_facts(self, evaluation: Evaluation, known: Known
                     ) -> dict[str, tuple[object, float]]:
        """What the rules and expected manifestations of ``evaluation`` were judged on: the
        usable facts of ``known`` and the findings above the premise threshold."""
        usable = {n: vc for n, vc in known.items() if vc[1] > self.threshold}
        return self._with_findings(usable, evaluation.findings)

    def _with_findings(self, usable: Known, findings: Mapping[str, float]
                       ) -> dict[str, tuple[object, float]]:
        """The usable facts and, as true facts, the findings above the premise threshold."""
        facts = dict(usable)
        facts.update({f: (True, cf) for f, cf in findings.items() if cf > self.threshold})
        return facts

    def absences(self, cause_id: str, facts: Known) -> tuple[Absence, ...]:
        """The manifestations ``cause_id`` expects that ``facts`` (:meth:`judged_facts`) show
        absent, whether or not any rule supports the cause."""
        found = []
        for m in self.kb.causes[cause_id].expects:
            sure = absence_of(m, facts)
            if sure > self.threshold:
                used = tuple(dict.fromkeys(n for n in facts_in(m.when) if n in facts))
                found.append(Absence(cause_id, m.name, m.frequency, sure,
                                     -m.frequency * sure, used))
        return tuple(found)

    def _finish(self, contributions: dict[str, tuple[Contribution, ...]],
                findings: dict[str, float], usable: Known) -> Evaluation:
        """Combine the rules' conclusions per cause, then weigh the expected manifestations the
        facts show to be absent against each cause that has support."""
        causes = self._combine(contributions, causes=True)
        support = dict(causes)
        facts = self._with_findings(usable, findings)
        absences: dict[str, tuple[Absence, ...]] = {}
        for cause_id, score in causes.items():
            cause = self.kb.causes.get(cause_id)
            if score <= 0 or cause is None or not cause.expects:
                continue
            self._weigh_absences(cause_id, score, facts, causes, absences)
        return Evaluation(contributions, causes, findings, absences, support)

    def _contributions(self, rid: str, facts: Known) -> tuple[Contribution, ...]:
        """What rule ``rid`` concludes over ``facts``; empty when its condition is false."""
        rule = self.kb.rules[rid]
        premise = certainty(rule.when, facts)
        if premise <= 0:
            return ()
        used = tuple(dict.fromkeys(supporting_facts(rule.when, facts)))
        observed = frozenset(self.observation.get(f, f)
                             for f in set(used) & self.positive_facts[rid])
        return tuple(
            Contribution(rid, c.target, c.cause is not None, c.cf, premise, c.cf * premise, used,
                         observed)
            for c in rule.then
        )

    def _combine(
        self, contributions: Mapping[str, tuple[Contribution, ...]], causes: bool
    ) -> dict[str, float]:
        by_target: dict[str, list[Contribution]] = {}
        for rid in sorted(contributions):
            for c in contributions[rid]:
                if c.is_cause == causes:
                    by_target.setdefault(c.target, []).append(c)
        if not causes:
            return {t: combine_all(c.value for c in cs) for t, cs in sorted(by_target.items())}
        return {t: self._support(cs) for t, cs in sorted(by_target.items())}

    def _support(self, contributions: list[Contribution]) -> float:
        """A cause's certainty from its rules, each observation counted once when so set."""
        if self.kb.settings.count_shared_evidence_once:
            return combine_all(independent(contributions))
        return combine_all(c.value for c in contributions)


def _weigh(score: float, absences: tuple[Absence, ...]) -> float:
    """A cause's support combined with the expected manifestations found absent."""
    for absence in absences:
        score = combine(score, absence.value)
    return score


def independent(contributions: list[Contribution]) -> list[float]:
    """The values that count as independent evidence: strongest first, a contribution counts only
    if its rule saw a fact that no stronger same-sign rule for this cause saw. A checklist rule
    that re-reads an observation already counted (two rules on "still decreasing at the end")
    adds nothing new, so the observation is counted once."""
    seen: dict[bool, set[str]] = {True: set(), False: set()}
    values = []
    for c in sorted(contributions, key=lambda c: (-abs(c.value), c.rule_id)):
        sign = c.value > 0
        if c.observed and c.observed <= seen[sign]:
            continue
        seen[sign] |= c.observed
        values.append(c.value)
    return values


def absence_of(m: Manifestation, facts: Known) -> float:
    """How surely manifestation ``m`` is absent: three-valued over all of its facts, or, with
    ``decided_by``, as soon as those facts are known and ``m.when`` does not hold."""
    if not m.decided_by:
        return certainty_false(m.when, facts)
    if any(name not in facts for name in m.decided_by) or holds(m.when, facts):
        return 0.0
    return min(facts[name][1] for name in m.decided_by)


_DEFAULT_LOCK = _thread.allocate_lock()  # threading.Lock (threading itself: ~3 M instructions)


def default_engine() -> Engine:
    """The built-in knowledge base compiled once per process (once, even when threads ask at
    the same time: functools.cache alone lets each of them build it)."""
    with _DEFAULT_LOCK:
        return _default_engine()


@functools.cache
def _default_engine() -> Engine:
    kb = builtin_knowledge_base()
    return Engine(kb, compiled=cached_compile(kb, builtin_digest(),
                                              durable_matcher.RULES_PER_RULESET))
