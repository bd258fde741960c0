"""Choose the next question: the unknown askable fact with the highest expected information
gain per unit of effort (look < experiment < measure, settings.yaml), so cheap questions come
first when they are about as informative.

Initial data (``asked_first``, what the model predicts) comes first while unknown: it frames
what the other answers mean, so its value shows only with the questions after it (a regression
with a ReLU output needs both answers).

Only the contenders count: the causes the evidence already points at (the leading group, at
most ``settings.contenders``), so a run flat at chance is not asked about NaN in its inputs.
With nothing pointing anywhere yet (no log, no answers), or one weak leader alone among the
causes a report shows, every cause is a contender (#8's dev split, ask-3 top-1: 234 → 235/265;
test 152 → 153/173: validation left in train mode, found once the differential stays open).

Belief over causes: each cause holds ``prior·(1 + min(cf, 0)) + max(cf, 0)``, normalised, so
evidence for a cause concentrates belief and evidence against drains it. A question's gain is how
much belief its answer is expected to move between the contenders (the total variation distance
between the belief before and after, :func:`moved_belief`), each answer weighted by how likely the
current belief makes it (:func:`answer_probabilities`). These beliefs are certainty factors made
to sum to one, not a Bayesian posterior, so measures that assume one mislead: the expected belief
in whichever cause then leads (used before) scores an answer that overturns the leader into a
near-tie below one that leaves the leader where it was, and never asked "was the validation set
a random split of the training data?" once a "no" could hand the lead to a train/test mismatch;
entropy counts such an answer as a loss too. Measured on #8's dev split, ask-3 top-1: expected
leader belief 231/265, expected KL divergence 223, expected gain of the new leader 228, total
variation 233.
"""

from __future__ import annotations

from collections.abc import Iterable

from nndoctor.engine.conditions import Known
from nndoctor.engine.diagnosis import Question
from nndoctor.engine.inference import Engine, Evaluation
from nndoctor.knowledge.kb import Bands, KnowledgeBase


def belief(causes: dict[str, float], cause_ids: Iterable[str],
           prior: dict[str, float]) -> dict[str, float]:
    raw = {c: prior[c] * (1 + min(causes.get(c, 0.0), 0.0)) + max(causes.get(c, 0.0), 0.0)
           for c in cause_ids}
    total = sum(raw.values()) or 1.0
    return {c: v / total for c, v in raw.items()}


def contenders(causes: dict[str, float], all_ids: list[str], limit: int,
               bands: Bands) -> list[str]:
    """The leading group: the ``limit`` causes with the most support (positive certainty), or
    every cause when fewer than two have any - or when a report would show one cause alone
    (at least 'possible') and it is weaker than 'likely': a weak leader with causes held at
    0.08 beside it leaves the differential open."""
    supported = sorted((c for c in all_ids if causes.get(c, 0.0) > 0),
                       key=lambda c: (-causes[c], c))
    shown = [c for c in supported if causes[c] >= bands.possible]
    if len(shown) == 1 and causes[shown[0]] < bands.likely:
        return all_ids
    return sorted(supported[:limit]) if len(supported) >= 2 else all_ids


def priors(engine: Engine, base: Evaluation, known: Known,
           cause_ids: list[str]) -> dict[str, float]:
    """Each cause's belief mass before any rule speaks for it: ``settings.question_prior``
    (``common_mistake_weight`` times that for a cause named among the most common mistakes),
    drained by the manifestations it expects that the facts show absent (as a supported cause's
    certainty is). A run whose curves are smooth and finite leaves little mass on a learning
    rate too high, so the questions go to the causes such a run can still have."""
    settings = engine.kb.settings
    facts = engine.judged_facts(base, known)
    out = {}
    for cause in cause_ids:
        common = bool(engine.kb.causes[cause].common_mistake)
        share = settings.common_mistake_weight if common else 1.0
        if base.causes.get(cause, 0.0) <= 0:
            for absence in engine.absences(cause, facts):
                share *= 1 + absence.value
        out[cause] = settings.question_prior * share
    return out


def initial_data(kb: KnowledgeBase, known: Known, excluded: set[str]) -> list[str]:
    """The facts asked before all others while unknown (``asked_first``, MYCIN's initial data),
    unless a fact that tells them (``known_from``) is known."""
    return [name for name in kb.askable_facts()
            if kb.facts[name].asked_first and name not in known and name not in excluded
            and not any(other in known for other in kb.facts[name].known_from)]


def answer_probabilities(now: dict[str, float],
                         posteriors: list[dict[str, float]]) -> list[float]:
    """How likely each answer is under the current belief. Each posterior is read as P(cause |
    answer) with answers equally likely a priori, so by Bayes P(answer | cause) is the cause's
    posterior share across the answers; P(answer) = Σ_c P(c)·P(answer | c). An answer that only
    a cause nobody suspects would give ("yes, the inputs hold NaN" on a flat run) is unlikely, so
    it adds little to the question's expected gain."""
    weights = [0.0] * len(posteriors)
    for cause, p in now.items():
        shares = [b.get(cause, 0.0) for b in posteriors]
        total = sum(shares)
        for i, share in enumerate(shares):
            weights[i] += p * (share / total if total > 0 else 1 / len(posteriors))
    norm = sum(weights) or 1.0
    return [w / norm for w in weights]


def moved_belief(now: dict[str, float], after: dict[str, float]) -> float:
    """How much belief an answer moves between the contenders: the total variation distance,
    half the summed absolute changes (0 = nothing moves, 1 = all belief changes hands)."""
    return 0.5 * sum(abs(after[c] - p) for c, p in now.items())


def rank_questions(
    engine: Engine,
    base: Evaluation,
    known: Known,
    excluded: set[str],
    limit: int = 3,
    among: list[str] | None = None,
    opening: bool = False,
) -> list[Question]:
    """The best ``limit`` questions, best first; facts in ``known`` or ``excluded`` are skipped.
    ``among`` fixes the causes to separate (default: the contenders). Facts that open an
    interview (what is the symptom?) come first while ``opening`` and are never asked otherwise;
    nor are facts read off the curves (effort ``curves``) once a log has been read."""
    kb = engine.kb
    cause_ids = among or contenders(base.causes, sorted(kb.causes), kb.settings.contenders,
                                    kb.settings.bands)
    prior = priors(engine, base, known, cause_ids)
    now = belief(base.causes, cause_ids, prior)
    scored: list[tuple[float, str, list[tuple[object, Evaluation]]]] = []
    # initial data opens the follow-up questions; telling named causes apart asks what does
    first = set(initial_data(kb, known, excluded)) if among is None else set()
    for name in kb.askable_facts():
        if name in known or name in excluded or name not in engine.rules_using:
            continue
        if not opening and (kb.facts[name].opens_interview or kb.facts[name].effort == "curves"):
            continue  # a log has been read: it showed what the curves show
        outcomes = []
        for answer in kb.facts[name].answers():
            hypo = dict(known)
            hypo[name] = (answer, 1.0)
            outcomes.append((answer, engine.reevaluate(base, hypo, name)))
        posteriors = [belief(ev.causes, cause_ids, prior) for _, ev in outcomes]
        weights = answer_probabilities(now, posteriors)
        spec = kb.facts[name]
        shift = sum(w * moved_belief(now, b) for w, b in zip(weights, posteriors, strict=True))
        gain = shift / kb.settings.question_effort[spec.effort]
        moved = any(ev.causes != base.causes for _, ev in outcomes)
        if moved or name in first:  # initial data moves little alone: it frames what follows
            scored.append((gain, name, outcomes))
    scored.sort(key=lambda item: (not kb.facts[item[1]].opens_interview, item[1] not in first,
                                  -item[0], item[1]))
    return [_question(engine, name, gain, base, outcomes, now, name in first)
            for gain, name, outcomes in scored[:limit]]


def _question(engine: Engine, name: str, gain: float, base: Evaluation,
              outcomes: list[tuple[object, Evaluation]], now: dict[str, float],
              first: bool) -> Question:
    spec = engine.kb.facts[name]
    choices = tuple((str(a), _label(spec, a)) for a in spec.answers())
    why = (spec.asked_first if first else None) or why_text(engine, base, outcomes, now, spec)
    return Question(name, spec.question or name, spec.help or "", choices, why, round(gain, 6))


def _label(spec: object, answer: object) -> str:
    if isinstance(answer, bool):
        return "Yes" if answer else "No"
    for choice in getattr(spec, "choices", None) or []:
        if choice.value == answer:
            return choice.label
    return f"{answer:g}" if isinstance(answer, float) else str(answer)


def why_text(engine: Engine, base: Evaluation, outcomes: list[tuple[object, Evaluation]],
             now: dict[str, float], spec: object) -> str:
    """WHY: which leading hypotheses the question separates, and how each answer moves them."""
    kb = engine.kb
    leaders = [c for c, _ in sorted(now.items(), key=lambda kv: -kv[1])[:3]
               if base.causes.get(c, 0.0) > 0]
    parts = []
    for answer, ev in outcomes:
        deltas = {c: ev.causes.get(c, 0.0) - base.causes.get(c, 0.0) for c in now}
        top = sorted((d for d in deltas.items() if abs(d[1]) > 1e-9), key=lambda d: -abs(d[1]))
        if not top:
            continue
        cause, delta = top[0]
        verb = "raises" if delta > 0 else "lowers"
        title = kb.causes[cause].title if cause in kb.causes else cause
        parts.append(f"'{_label(spec, answer)}' {verb} {title} to {ev.causes.get(cause, 0):.2f}")
    lead = ""
    if len(leaders) >= 2:
        titles = " vs ".join(kb.causes[c].title for c in leaders)
        lead = f"It helps tell apart the leading hypotheses ({titles}). "
    elif leaders:
        lead = f"It tests the leading hypothesis ({kb.causes[leaders[0]].title}). "
    return lead + ("; ".join(parts) + "." if parts else "")
