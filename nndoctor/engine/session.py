"""A diagnosis session: facts in (answers, log metrics, probes), a Diagnosis out.

Every change re-evaluates from scratch, so the result never depends on the order facts arrived
in and a retracted fact leaves no trace (durable_rules has no truth maintenance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from nndoctor.engine.conditions import Known, certainty, describe, failing_clauses
from nndoctor.engine.diagnosis import Diagnosis, Question, Separation, build, describe_fact
from nndoctor.engine.facts import Fact, FactError, validate_fact
from nndoctor.engine.inference import Engine, Evaluation, default_engine
from nndoctor.engine.questions import rank_questions

DONT_KNOW = "dont_know"


class Move(NamedTuple):
    """How one cause's confidence changed in a what-if."""

    cause: str
    before: float
    after: float


class WhatIf(NamedTuple):
    """The diagnosis before and after a hypothetical answer, and what moved."""

    before: Diagnosis
    after: Diagnosis
    moves: tuple[Move, ...]  # causes whose confidence changed, largest change first


class Session:
    """Holds the known facts of one diagnosis and answers HOW / WHY / WHY NOT / what-if."""

    def __init__(self, engine: Engine | None = None, facts: Iterable[Fact] = (),
                 validated: bool = False) -> None:
        """``validated``: ``facts`` already passed :func:`validate_fact` against this engine's
        vocabulary (as :func:`nndoctor.adapters.symptoms.derive_facts` returns them)."""
        self.engine = engine or default_engine()
        self._facts: dict[str, Fact] = {}
        self._dont_know: set[str] = set()
        # the evaluation, its diagnosis and the fixes_for it was built with
        self._cache: tuple[Evaluation, Diagnosis, int | None] | None = None
        if validated:
            self._facts.update((f.name, f) for f in facts)
        else:
            self.tell(*facts)

    # ------------------------------------------------------------------ facts in
    @property
    def facts(self) -> dict[str, Fact]:
        return dict(self._facts)

    @property
    def dont_know(self) -> set[str]:
        return set(self._dont_know)

    def tell(self, *facts: Fact) -> None:
        """Add or replace facts; all are validated before any is stored."""
        checked = [validate_fact(f, self.engine.kb.facts) for f in facts]
        for fact in checked:
            self._facts[fact.name] = fact
            self._dont_know.discard(fact.name)
        if checked:
            self._cache = None

    def answer(self, name: str, value: object, certainty: float = 1.0) -> None:
        """Record a person's answer; ``"dont_know"`` marks the fact as unanswerable."""
        if value == DONT_KNOW or value is None:
            if name not in self.engine.kb.facts:
                raise FactError(f"unknown fact {name!r}")
            self._facts.pop(name, None)
            self._dont_know.add(name)
            self._cache = None
            return
        self.tell(Fact(name, value, certainty, "answer", "answered by you"))  # type: ignore[arg-type]

    def retract(self, name: str) -> None:
        if self._facts.pop(name, None) is not None or name in self._dont_know:
            self._dont_know.discard(name)
            self._cache = None

    def known(self) -> Known:
        return {n: (f.value, f.certainty) for n, f in self._facts.items()}

    # ------------------------------------------------------------------ results out
    def _evaluate(self, fixes_for: int | None = None) -> tuple[Evaluation, Diagnosis]:
        if self._cache is None or self._cache[2] != fixes_for:
            evaluation = self._cache[0] if self._cache is not None \
                else self.engine.evaluate(self.known())
            self._cache = (evaluation, build(self.engine, evaluation, self._facts, fixes_for),
                           fixes_for)
        return self._cache[0], self._cache[1]

    def diagnose(self, questions: int = 3, fixes_for: int | None = None) -> Diagnosis:
        """The diagnosis with ``questions`` follow-up questions; with ``fixes_for``, fixes are
        fitted only for the first that many causes (a report that shows no more)."""
        evaluation, diagnosis = self._evaluate(fixes_for)
        if not questions:
            return diagnosis
        asked = rank_questions(self.engine, evaluation, self.known(), self._dont_know, questions,
                               opening=self._opening())
        return diagnosis._replace(questions=tuple(asked),
                                  separation=self._separation(evaluation, diagnosis))

    def _separation(self, evaluation: Evaluation, diagnosis: Diagnosis) -> Separation | None:
        """For a tie at the top: the best question among the tied causes and the probes or
        checks that tell them apart."""
        tied = diagnosis.tied
        if not tied:
            return None
        best = rank_questions(self.engine, evaluation, self.known(), self._dont_know, 1,
                              among=sorted(tied), opening=self._opening())
        steps = tuple(s.step for s in self.engine.kb.settings.separating_steps
                      if len(set(s.causes) & set(tied)) >= 2)
        return Separation(tied, best[0] if best else None, steps)

    def next_question(self) -> Question | None:
        evaluation, _ = self._evaluate()
        best = rank_questions(self.engine, evaluation, self.known(), self._dont_know, 1,
                              opening=self._opening())
        return best[0] if best else None

    def _opening(self) -> bool:
        """An interview opens (asks what the symptom is) only when no log or probe has spoken."""
        return not any(f.source in ("log", "probe") for f in self._facts.values())

    def how(self, cause_id: str) -> list[str]:
        """HOW: the rules that concluded the cause and the facts (with origin) they used."""
        _, diagnosis = self._evaluate()
        ranked = next((c for c in diagnosis.causes if c.id == cause_id), None)
        if ranked is None:
            return self.why_not(cause_id)
        return [f"{ranked.title}: confidence {ranked.confidence:.2f} ({ranked.band})",
                *ranked.evidence_lines()]

    def why_not(self, cause_id: str) -> list[str]:
        """WHY NOT: why a cause is unranked or low - each rule's missing or false clause."""
        kb = self.engine.kb
        if cause_id not in kb.causes:
            raise FactError(f"unknown cause {cause_id!r}")
        evaluation, diagnosis = self._evaluate()
        score = diagnosis.scores.get(cause_id, 0.0)
        title = kb.causes[cause_id].title
        lines = [f"{title}: confidence {score:.2f}"
                 + (" - below the 'possible' band" if score < kb.settings.bands.possible else "")]
        facts = self.known()
        facts.update({f: (True, cf) for f, cf in evaluation.findings.items()})
        for rid, rule in kb.rules.items():
            targets = [c for c in rule.then if c.cause == cause_id]
            if not targets:
                continue
            cf = targets[0].cf
            if rid in evaluation.contributions:
                if cf < 0:
                    lines.append(f"  {rid} speaks against it ({cf:+.2f}): {rule.because}")
                continue
            missing = []
            for test in failing_clauses(rule.when, facts):
                if test.fact in self._facts:
                    known = describe_fact(self._facts[test.fact])
                    missing.append(f"{describe(test)} is false ({known})")
                elif test.fact in kb.facts and kb.facts[test.fact].kind == "finding":
                    missing.append(f"{describe(test)} was not concluded")
                else:
                    missing.append(f"{describe(test)} is unknown")
            if cf > 0:
                lines.append(f"  {rid} ({rule.title}) did not fire: " + "; ".join(missing[:3]))
        return lines

    def what_if(self, changes: Mapping[str, object]) -> WhatIf:
        """Re-rank with facts changed (value) or retracted (None); this session is unchanged."""
        other = self.copy()
        for name, value in changes.items():
            if value is None:
                other.retract(name)
            else:
                other.answer(name, value)
        before, after = self.diagnose(questions=0), other.diagnose(questions=0)
        ids = set(before.scores) | set(after.scores)
        moves = [Move(c, before.scores.get(c, 0.0), after.scores.get(c, 0.0)) for c in ids]
        moves = [m for m in moves if abs(m.after - m.before) > 1e-9]
        moves.sort(key=lambda m: (-abs(m.after - m.before), m.cause))
        return WhatIf(before, after, tuple(moves))

    def premise(self, rule_id: str) -> float:
        return certainty(self.engine.kb.rules[rule_id].when, self.known())

    # ------------------------------------------------------------------ persistence
    def copy(self) -> Session:
        other = Session(self.engine)
        other._facts = dict(self._facts)
        other._dont_know = set(self._dont_know)
        return other

    def to_dict(self) -> dict[str, Any]:
        return {
            "facts": [f._asdict() for f in self._facts.values()],
            "dont_know": sorted(self._dont_know),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], engine: Engine | None = None) -> Session:
        try:
            facts = [Fact(**f) for f in data.get("facts", [])]
            session = cls(engine, facts)
            for name in data.get("dont_know", []):
                session.answer(str(name), DONT_KNOW)
        except TypeError as exc:
            raise FactError(f"malformed saved session: {exc}") from None
        return session
