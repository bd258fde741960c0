"""The result of an evaluation in plain data: verdict, ranked causes with evidence and fixes."""

from __future__ import annotations

from typing import Literal, NamedTuple

from nndoctor.engine.certainty import BAND_ORDER, band
from nndoctor.engine.facts import Fact
from nndoctor.engine.fixes import FittedFix, LeftOutFix, fit_fixes
from nndoctor.engine.inference import Contribution, Engine, Evaluation
from nndoctor.knowledge.kb import Fix

Verdict = Literal["problem", "healthy", "insufficient-data"]


class RuleTrace(NamedTuple):
    """One rule that fired for a conclusion, with the facts it used (HOW)."""

    rule_id: str
    title: str
    because: str
    rule_cf: float
    premise: float
    contribution: float
    facts: tuple[Fact, ...]


class RankedCause(NamedTuple):
    """A cause with its confidence and band, the rules behind it and the fixes that fit."""

    id: str
    title: str
    confidence: float
    band: str | None
    explanation: str
    support: tuple[RuleTrace, ...]
    fixes: tuple[FittedFix, ...]  # the ones that fit this run, in the order to try them
    sources: tuple[str, ...]
    tied_with: tuple[str, ...] = ()  # leading causes the evidence cannot separate from this one
    fixes_left_out: tuple[LeftOutFix, ...] = ()  # fixes of the cause that do not fit this run

    def evidence_lines(self) -> list[str]:
        """Plain sentences: the rule's reason, then each fact with its value and origin."""
        lines = []
        for trace in self.support:
            sign = "for" if trace.contribution > 0 else "against"
            lines.append(f"[{trace.rule_id} {sign}, {trace.contribution:+.2f}] {trace.because}")
            for fact in trace.facts:
                lines.append("    " + describe_fact(fact))
        return lines


class Question(NamedTuple):
    """A fact worth asking next, with why it is asked and how much it would tell."""

    fact: str
    text: str
    help: str
    choices: tuple[tuple[str, str], ...]  # (value, label); "don't know" is always allowed too
    why: str
    score: float


class Separation(NamedTuple):
    """How to tell apart leading causes the evidence cannot separate."""

    causes: tuple[str, ...]
    question: Question | None  # the cheapest telling question among the tied causes
    steps: tuple[str, ...]  # probes or checks that separate them (settings.separating_steps)


class Diagnosis(NamedTuple):
    """The verdict on one run: ranked causes, every score, the facts used, what to ask."""

    verdict: Verdict
    causes: tuple[RankedCause, ...]  # at or above the 'possible' band, highest first
    scores: dict[str, float]  # every cause any rule touched, including negative ones
    findings: dict[str, float]
    facts: dict[str, Fact]
    fired: tuple[str, ...]
    questions: tuple[Question, ...] = ()
    separation: Separation | None = None  # set when the leading causes are tied
    patterns: tuple[str, ...] = ()  # problem findings that hold, strongest first
    # the rules behind a healthy or insufficient-data verdict (what was checked), strongest first
    verdict_basis: tuple[RuleTrace, ...] = ()

    @property
    def tied(self) -> tuple[str, ...]:
        """The leading group when the evidence cannot separate it, else empty."""
        if not self.causes or not self.causes[0].tied_with:
            return ()
        return (self.causes[0].id, *self.causes[0].tied_with)

    def alarming(self, floor: str) -> tuple[RankedCause, ...]:
        """Causes at or above band ``floor`` that the verdict stands behind: none when the run
        is judged healthy or too short to judge (weak candidates are only worth a look)."""
        if self.verdict != "problem":
            return ()
        lowest = BAND_ORDER.index(floor)
        return tuple(c for c in self.causes if c.band and BAND_ORDER.index(c.band) >= lowest)

    def cause(self, cause_id: str) -> RankedCause | None:
        return next((c for c in self.causes if c.id == cause_id), None)


def describe_fact(fact: Fact) -> str:
    value = fact.value
    shown = ("yes" if value else "no") if isinstance(value, bool) else (
        f"{value:g}" if isinstance(value, float) else str(value))
    origin = {
        "answer": "your answer",
        "log": "from the log",
        "probe": "measured by a probe",
        "default": "default",
        "finding": "concluded",
    }[fact.source]
    detail = f", {fact.detail}" if fact.detail else ""
    text = f"{fact.name} = {shown} ({origin}{detail})"
    return f"{text}: {fact.evidence}" if fact.evidence else text


def _rank_key(confidence: float, contributions: list[float], specificity: int, cause_id: str
              ) -> tuple[float, float, int, int, str]:
    """Highest (rounded) confidence first; at equal confidence the more specific evidence (the
    strongest single rule or absence) first, then the cause with more independent support, then
    the one a more specific rule backs (more observations matched together - a production
    system's specificity order: "regression and the training loss stays high" before "the
    training loss stays high"). The id only makes the order deterministic: ties are reported as
    such (:func:`_mark_ties`)."""
    strongest = max(contributions, default=0.0)
    backing = sum(1 for v in contributions if v > 0)
    return (-confidence, -round(strongest, 6), -backing, -specificity, cause_id)


def _mark_ties(shown: tuple[RankedCause, ...], margin: float) -> tuple[RankedCause, ...]:
    """The causes within ``margin`` of the leader form the leading group: each names the others."""
    if len(shown) < 2:
        return shown
    group = [c for c in shown if shown[0].confidence - c.confidence <= margin]
    if len(group) < 2:
        return shown
    ids = [c.id for c in group]
    tied = [c._replace(tied_with=tuple(i for i in ids if i != c.id)) for c in group]
    return (*tied, *shown[len(group):])


def _with_fixes(cause: RankedCause, fixes: list[Fix], usable: dict[str, tuple[object, float]]
                ) -> RankedCause:
    fitted, left_out = fit_fixes(fixes, usable)
    return cause._replace(fixes=fitted, fixes_left_out=left_out)


def _fact_is(facts: dict[str, Fact], name: str, value: object) -> bool:
    fact = facts.get(name)
    return fact is not None and fact.value == value


def _verdict(top: float, shown: bool, looks_healthy: bool, too_little: bool, patterns: bool,
             enough_points: bool, likely: float) -> Verdict:
    """A likely cause, or any cause on curves that do not look healthy, is a problem; too few
    points is insufficient data. With enough points and no cause singled out, the curves decide:
    a problem pattern (no learning, underfitting, …) is a problem, none is healthy."""
    if top >= likely or (shown and not (looks_healthy or too_little)):
        return "problem"  # a merely 'possible' cause does not overrule healthy curves
    if too_little:
        return "insufficient-data"
    if looks_healthy:
        return "healthy"
    if not enough_points:
        return "insufficient-data"  # no loss curve read (an interview without a log)
    return "problem" if patterns else "healthy"


def build(engine: Engine, evaluation: Evaluation, facts: dict[str, Fact],
          fixes_for: int | None = None) -> Diagnosis:
    """Turn an evaluation into a ranked, explained diagnosis. With ``fixes_for``, only the
    first that many shown causes get their fixes fitted (a report that shows no more)."""
    kb = engine.kb
    settings = kb.settings
    facts_with_findings = dict(facts)
    for name, cf in evaluation.findings.items():
        facts_with_findings[name] = Fact(name, True, max(cf, 0.0), "finding")
    usable = {n: (f.value, f.certainty) for n, f in facts_with_findings.items()
              if f.certainty > settings.premise_threshold}  # what the rules could use

    by_target: dict[str, list[Contribution]] = {}  # in the order of the rule ids
    for rid in sorted(evaluation.contributions):
        for c in evaluation.contributions[rid]:
            by_target.setdefault(c.target, []).append(c)

    def traces(target: str) -> tuple[RuleTrace, ...]:
        return tuple(
            RuleTrace(
                c.rule_id, kb.rules[c.rule_id].title, kb.rules[c.rule_id].because,
                c.rule_cf, c.premise, c.value,
                tuple(facts_with_findings[f] for f in c.facts if f in facts_with_findings),
            )
            for c in by_target.get(target, ())
        )

    ranked: list[tuple[tuple[float, float, int, int, str], RankedCause | None]] = []
    for cause_id, confidence in evaluation.causes.items():
        cause = kb.causes.get(cause_id)
        if cause is None:
            continue
        rounded = round(confidence, 6)
        absent = evaluation.absences.get(cause_id, ())
        concluded = by_target.get(cause_id, ())
        specificity = max((len(c.observed) for c in concluded if c.value > 0), default=0)
        key = _rank_key(rounded, [c.value for c in concluded] + [a.value for a in absent],
                        specificity, cause.id)
        shown_as = band(confidence, settings.bands)
        if shown_as is None:  # only a cause with a band is shown (below): ranked, not explained
            ranked.append((key, None))
            continue
        expected = {m.name: m for m in cause.expects}
        support = traces(cause_id) + tuple(
            RuleTrace(
                f"expects:{a.name}", f"expected, but absent: {a.name.replace('_', ' ')}",
                expected[a.name].because, -a.frequency, a.certainty, a.value,
                tuple(facts_with_findings[f] for f in a.facts if f in facts_with_findings),
            )
            for a in absent
        )
        support = tuple(sorted(support, key=lambda t: -t.contribution))
        ranked.append((key, RankedCause(
            cause.id, cause.title, rounded, shown_as,
            cause.explanation, support, (), tuple(cause.sources),
        )))
    ranked.sort(key=lambda pair: pair[0])
    shown = _mark_ties(tuple(c for _key, c in ranked if c is not None), settings.tie_margin)
    fitted = len(shown) if fixes_for is None else min(fixes_for, len(shown))
    shown = (*(_with_fixes(c, kb.causes[c.id].fixes, usable) for c in shown[:fitted]),
             *shown[fitted:])
    top = shown[0].confidence if shown else 0.0
    found = evaluation.findings
    looks_healthy = found.get(settings.healthy_finding, 0.0) >= settings.bands.likely
    too_little = found.get(settings.insufficient_finding, 0.0) >= settings.bands.likely
    patterns = tuple(sorted((f for f in settings.problem_findings
                             if found.get(f, 0.0) >= settings.bands.confirmed),
                            key=lambda f: -found[f]))  # the strongest first
    verdict = _verdict(top, bool(shown), looks_healthy, too_little, bool(patterns),
                       enough_points=_fact_is(facts, settings.few_points_fact, False),
                       likely=settings.bands.likely)
    finding = {"healthy": settings.healthy_finding,
               "insufficient-data": settings.insufficient_finding}.get(verdict)
    basis = tuple(sorted((t for t in traces(finding) if t.contribution > 0),
                         key=lambda t: -t.contribution)) if finding else ()
    return Diagnosis(
        verdict=verdict,
        patterns=patterns,
        causes=shown,
        scores={key[-1]: -key[0] for key, _c in ranked},
        findings=dict(evaluation.findings),
        facts=dict(facts),
        fired=tuple(evaluation.fired),
        verdict_basis=basis,
    )
