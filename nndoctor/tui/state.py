"""The interview as plain data: a Session plus the UI bookkeeping around it (no textual here).

The screens render from an :class:`Interview` and call its methods; it owns the what-if moves of
the last change and the facts a log provided (so a retracted override falls back to them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nndoctor.adapters.run import Run
from nndoctor.engine.diagnosis import Diagnosis, Question, RankedCause
from nndoctor.engine.facts import Fact, FactError
from nndoctor.engine.session import DONT_KNOW, Move, Session

if TYPE_CHECKING:
    from nndoctor.knowledge.loader import KnowledgeBase
    from nndoctor.pipeline import RunReport

@dataclass(frozen=True)
class Prompt:
    """A question as the UI shows it: the next best question, or one being changed."""

    fact: str
    text: str
    help: str
    why: str
    choices: tuple[tuple[str, str], ...]  # (value, label); "don't know" is added by the UI
    number: bool
    unit: str | None = None
    current: str | None = None  # label of the value it has now (when changing an answer)


@dataclass(frozen=True)
class Change:
    """The last change to the facts and the causes it moved, largest move first."""

    label: str
    moves: tuple[Move, ...]


@dataclass(frozen=True)
class Entry:
    """One known fact (or "don't know") as the answers list shows it."""

    fact: str
    value: str  # display label
    source: str  # "answer", "log", "probe", "dont_know"…
    note: str  # evidence, or what the log said before an override


@dataclass(frozen=True)
class Progress:
    answered: int
    dont_know: int
    from_log: int
    leader: RankedCause | None
    done: bool  # no question left that would move the ranking


def compute_moves(before: Mapping[str, float], after: Mapping[str, float]) -> tuple[Move, ...]:
    ids = set(before) | set(after)
    moves = [Move(c, before.get(c, 0.0), after.get(c, 0.0)) for c in ids]
    moves = [m for m in moves if abs(m.after - m.before) > 1e-9]
    moves.sort(key=lambda m: (-abs(m.after - m.before), m.cause))
    return tuple(moves)


def interview_run() -> Run:
    """The stand-in run of an interview without a log (for the report)."""
    return Run(name="interview", path=Path("-"), format="interview")


class Interview:
    """A Session with the current diagnosis, the next question and the last change."""

    def __init__(self, session: Session, run: Run | None = None) -> None:
        self.session = session
        self.run = run
        self.log_facts: dict[str, Fact] = {
            n: f for n, f in session.facts.items() if f.source == "log"}
        self.last_change: Change | None = None
        self.history: list[str] = [n for n, f in session.facts.items() if f.source == "answer"]
        self.history += sorted(session.dont_know)
        self.diagnosis: Diagnosis
        self.question: Question | None
        self._refresh()

    @property
    def kb(self) -> KnowledgeBase:
        return self.session.engine.kb

    def _refresh(self) -> None:
        self.diagnosis = self.session.diagnose(questions=0)
        self.question = self.session.next_question()

    # ------------------------------------------------------------------ display
    def label(self, name: str, value: object) -> str:
        """A fact value as a person reads it: yes/no, the choice label, a short number."""
        spec = self.kb.facts.get(name)
        if value == DONT_KNOW:
            return "don't know"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if spec is not None and spec.type == "enum":
            for choice in spec.choices or []:
                if choice.value == value:
                    return choice.label
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def prompt(self) -> Prompt | None:
        """The next best question, or None when no answer would move the ranking."""
        q = self.question
        if q is None:
            return None
        spec = self.kb.facts[q.fact]
        return Prompt(q.fact, q.text, q.help, q.why, q.choices, spec.type == "number", spec.unit)

    def prompt_for(self, name: str) -> Prompt:
        """A prompt to change the answer to any askable fact."""
        spec = self.kb.facts.get(name)
        if spec is None:
            raise FactError(f"unknown fact {name!r}")
        choices = tuple((str(a), self.label(name, a)) for a in spec.answers())
        fact = self.session.facts.get(name)
        current = (self.label(name, fact.value) if fact is not None
                   else "don't know" if name in self.session.dont_know else None)
        return Prompt(name, spec.question or name, spec.help or "", "", choices,
                      spec.type == "number", spec.unit, current)

    def progress(self) -> Progress:
        facts = self.session.facts.values()
        return Progress(
            answered=sum(f.source == "answer" for f in facts),
            dont_know=len(self.session.dont_know),
            from_log=sum(f.source == "log" for f in facts),
            leader=self.diagnosis.causes[0] if self.diagnosis.causes else None,
            done=self.question is None,
        )

    def entries(self) -> list[Entry]:
        """Answers in the order given, then "don't know"s, then facts from the log."""
        facts = self.session.facts
        out = []
        for name, fact in facts.items():
            if fact.source == "log":
                continue
            note = ""
            if name in self.log_facts:
                note = f"overrides the log ({self.label(name, self.log_facts[name].value)})"
            out.append(Entry(name, self.label(name, fact.value), fact.source, note))
        out += [Entry(n, "don't know", "dont_know", "") for n in sorted(self.session.dont_know)]
        out += [Entry(n, self.label(n, f.value), "log", f.evidence)
                for n, f in sorted(facts.items()) if f.source == "log"]
        return out

    def all_causes(self) -> list[tuple[str, str, float]]:
        """(id, title, score) of every cause in the knowledge base, highest score first."""
        scores = self.diagnosis.scores
        rows = [(cid, c.title, scores.get(cid, 0.0)) for cid, c in self.kb.causes.items()]
        rows.sort(key=lambda r: (-r[2], r[1]))
        return rows

    def source_label(self, source: str) -> str:
        """A source id (``ref:x``, ``seed:…``, URL) with the reference title when known."""
        if source.startswith("ref:"):
            ref = self.kb.references.references.get(source[4:])
            if ref is not None:
                return f"{ref.title} — {ref.url}"
        return source

    # ------------------------------------------------------------------ changes
    def _setter(self, name: str, value: object) -> Callable[[Session], None]:
        """How setting ``name`` to ``value`` (None = retract) changes a session."""

        def apply(session: Session) -> None:
            if value is not None:
                session.answer(name, value)
                return
            current = session.facts.get(name)
            if name in self.log_facts and (current is None or current.source != "log"):
                session.tell(self.log_facts[name])  # drop the override, back to the log
            elif current is not None and current.source == "log":
                raise FactError(f"{name} comes from the log; give an answer to override it")
            else:
                session.retract(name)

        return apply

    def _apply(self, label: str, mutate: Callable[[Session], None]) -> Change:
        before = dict(self.diagnosis.scores)
        mutate(self.session)
        self._refresh()
        self.last_change = Change(label, compute_moves(before, self.diagnosis.scores))
        return self.last_change

    def answer(self, name: str, value: object) -> Change:
        """Record an answer (``"dont_know"`` allowed); raises FactError for a bad value."""
        change = self._apply("", self._setter(name, value))
        fact = self.session.facts.get(name)
        shown = self.label(name, fact.value) if fact is not None else "don't know"
        self.last_change = Change(f"{name} = {shown}", change.moves)
        self.history = [n for n in self.history if n != name] + [name]
        return self.last_change

    def last_answer(self) -> str | None:
        """The fact answered most recently (for undo)."""
        return self.history[-1] if self.history else None

    def retract(self, name: str) -> Change:
        """Forget an answer; an overridden log fact falls back to the log's value."""
        change = self._apply(f"{name} retracted", self._setter(name, None))
        self.history = [n for n in self.history if n != name]
        return change

    def preview(self, name: str, value: object) -> tuple[Move, ...]:
        """What-if: the moves that setting (or, with None, retracting) a fact would cause."""
        other = self.session.copy()
        self._setter(name, value)(other)
        return compute_moves(self.diagnosis.scores, other.diagnose(questions=0).scores)

    def start_over(self) -> Change:
        """Forget every answer; facts from the log stay."""

        def reset(session: Session) -> None:
            for name in list(session.facts) + list(session.dont_know):
                session.retract(name)
            session.tell(*self.log_facts.values())

        self.history = []
        return self._apply("started over", reset)

    def open_log(self, run: Run) -> Change:
        """Pre-fill the facts a log establishes; the person's own answers still win."""
        from nndoctor.adapters.symptoms import derive_facts

        facts = derive_facts(run, self.kb)
        change = self._apply(f"opened {run.name}", lambda s: merge_log_facts(s, facts))
        self.run = run
        self.log_facts = {f.name: f for f in facts}
        return change

    # ------------------------------------------------------------------ files
    def report(self, questions: int = 3) -> RunReport:
        from nndoctor.pipeline import RunReport

        return RunReport(self.run or interview_run(), self.session.diagnose(questions=questions))

    def markdown(self, top: int = 5) -> str:
        """The same Markdown report as ``nndoctor diagnose --format markdown``."""
        from nndoctor.report.markdown import render_markdown

        return render_markdown([self.report()], top)


def merge_log_facts(session: Session, facts: Sequence[Fact]) -> None:
    """Replace the session's log facts with ``facts``, except where the person answered."""
    for name, fact in session.facts.items():
        if fact.source == "log":
            session.retract(name)
    answered = set(session.facts)
    session.tell(*(f for f in facts if f.name not in answered))
