"""Pydantic models of the knowledge base: facts, causes, rules (with embedded tests), detectors.

Every model forbids unknown keys and is frozen, so a typo in a contributor's YAML is an error
that names the field, never a silently ignored key. A validated model becomes the plain record
of the same name in :mod:`nndoctor.knowledge.kb` (:func:`to_kb`), which is what the engine reads:
this module is imported only to validate (a changed or uncached knowledge base, `rules lint`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from nndoctor.knowledge import kb
from nndoctor.knowledge.templates import TemplateError
from nndoctor.knowledge.templates import names as template_names

Scalar = kb.Scalar
SOURCE_PATTERN = re.compile(r"^(seed:\d{3}-[A-Za-z0-9]+|https?://\S+|ref:[a-z0-9][a-z0-9._-]*)$")
SNAKE = r"^[a-z][a-z0-9_]*$"
KEBAB = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Effort = kb.Effort
RULE_ID = r"^[A-Z]{2,4}\d{3}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_kb(self) -> Any:
        """The plain record of the same name in :mod:`nndoctor.knowledge.kb`."""
        return to_kb(self)


def to_kb(value: Any) -> Any:
    """``value`` with every model in it turned into its :mod:`nndoctor.knowledge.kb` record
    (lists and dicts rebuilt, scalars as they are)."""
    if isinstance(value, BaseModel):
        record = getattr(kb, type(value).__name__)
        return record(**{name: to_kb(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return [to_kb(v) for v in value]
    if isinstance(value, dict):
        return {k: to_kb(v) for k, v in value.items()}
    return value


def _check_sources(sources: list[str]) -> list[str]:
    for source in sources:
        if not SOURCE_PATTERN.match(source):
            raise ValueError(
                f"source {source!r} must be 'seed:<ID>' (see KNOWLEDGE-COVERAGE.md), "
                "'ref:<name>' (see references.yaml) or an http(s) URL"
            )
    return sources


Sources = Annotated[list[str], AfterValidator(_check_sources)]


# --------------------------------------------------------------------------- facts


class Choice(Strict):
    value: str = Field(pattern=SNAKE)
    label: str


class Fact(Strict):
    """One entry of the fact vocabulary: what a rule may test and how a person is asked for it."""

    type: Literal["bool", "enum", "number"]
    kind: Literal["observation", "finding"] = "observation"
    label: str | None = Field(
        default=None, min_length=3, max_length=40,
        description="A short human name for reports and plot markers, e.g. 'val loss rising'.")
    question: str | None = None
    help: str | None = None
    choices: list[Choice] | None = None
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    probe_values: list[float] | None = Field(
        default=None, description="Representative answers used to score a number question."
    )
    derived_from_logs: bool = Field(
        default=False, description="A log detector or probe can set it; then it is never asked."
    )
    askable: bool = True
    opens_interview: bool = Field(
        default=False, description="Asked first when nothing is known yet (no log, no answers); "
        "never once a log has been read.")
    asked_first: str | None = Field(
        default=None, description="Initial data (as in MYCIN): asked before the other "
        "questions whenever it is unknown, because it frames what the other answers mean; the "
        "text says why and is shown as the question's WHY.")
    known_from: list[str] = Field(
        default_factory=list, description="Facts that tell this one when known (the class "
        "count tells the task): then an asked_first fact is not asked first.")
    effort: Effort = Field(
        default="look",
        description="What answering takes: look at the setup (the code, config, dataset "
        "description), inspect data or outputs (print a batch, check the labels), read the "
        "training curves, run an experiment, or measure with a probe. Questions are ranked by "
        "information gain per effort; a 'curves' question is never asked once a log has been "
        "read (the person sees the same curves, and the log showed what it could).",
    )
    sources: Sources = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Fact:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum fact needs 'choices'")
        if self.type != "enum" and self.choices:
            raise ValueError("only enum facts take 'choices'")
        if self.type == "number" and self.askable and self.kind == "observation" \
                and not self.probe_values:
            raise ValueError("an askable number fact needs 'probe_values' (typical answers)")
        if self.kind == "finding" and (self.type != "bool" or self.askable):
            raise ValueError("a finding is a bool with 'askable: false'")
        if self.kind == "observation" and self.askable and not (self.question and self.help):
            raise ValueError("an askable fact needs 'question' and 'help'")
        return self


class Vocabulary(Strict):
    facts: dict[Annotated[str, Field(pattern=SNAKE)], Fact]


# --------------------------------------------------------------------------- causes


class Fix(Strict):
    """One thing to try, with an optional version of its text that uses the run's own numbers
    and conditions that leave it out or put it first (docs/reasoning.md, point 8)."""

    id: str = Field(pattern=KEBAB)
    action: str = Field(min_length=10, description="The generic text, shown when a value that "
                        "'action_with_values' needs is unknown.")
    verify: str | None = Field(default=None, description="How to tell the fix worked.")
    effort: Literal["low", "medium", "high"] = "low"
    needs: list[Annotated[str, Field(pattern=SNAKE)]] = Field(
        default_factory=list,
        description="The number facts the '*_with_values' texts use, e.g. [lr]. When all are "
        "known those texts are shown, else the generic ones.")
    action_with_values: str | None = Field(
        default=None, min_length=10,
        description="'action' with the run's numbers: {lr}, {lr / 10}, {batch_size / 2 | int} "
        "(a number fact of 'needs', * or / by constants, a format sig3 | sig2 | int).")
    verify_with_values: str | None = Field(default=None, min_length=10,
                                           description="'verify' with the run's numbers.")
    applies_when: Condition | None = Field(
        default=None, description="Left out when the known facts make this false (an unknown "
        "fact never leaves a fix out).")
    not_when: Condition | None = Field(
        default=None, description="Left out when this holds, e.g. a warmup for a run that "
        "never moved from its initialisation.")
    first_when: Condition | None = Field(
        default=None, description="Tried before the fixes whose 'first_when' does not hold, "
        "the most certain first; then by effort (low first), then in file order.")
    sources: Sources = Field(min_length=1)

    @model_validator(mode="after")
    def _templates_use_needs(self) -> Fix:
        used: set[str] = set()
        for name in ("action_with_values", "verify_with_values"):
            text = getattr(self, name)
            if text is None:
                continue
            try:
                used |= template_names(text)
            except TemplateError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if self.verify_with_values and not self.verify:
            raise ValueError("'verify_with_values' needs a generic 'verify' to fall back to")
        if missing := sorted(used - set(self.needs)):
            raise ValueError(f"the texts use {', '.join(missing)}; list them under 'needs'")
        if unused := sorted(set(self.needs) - used):
            raise ValueError(f"'needs' lists {', '.join(unused)}, which no '*_with_values' text "
                             "uses")
        return self


class Cause(Strict):
    id: str = Field(pattern=SNAKE)
    title: str
    category: str = Field(pattern=SNAKE)
    explanation: str = Field(min_length=40, description="What it means, in plain words.")
    fixes: list[Fix] = Field(min_length=1)
    expects: list[Manifestation] = Field(
        default_factory=list,
        description="What the cause is expected to show (QMR frequency / PROSPECTOR necessity): a "
        "manifestation the facts show to be absent lowers the cause's certainty by its frequency.")
    judged_at_end: bool = Field(
        default=False,
        description="A judgement about where training stopped ('train longer'): it means nothing "
        "while the run goes on, so `nndoctor watch` holds its alert until the run has ended.")
    common_mistake: Sources = Field(
        default_factory=list,
        description="Sources that name this cause among the most common mistakes in training "
        "code: before anything speaks for it, the interview gives it more belief "
        "(settings.common_mistake_weight), so it is asked about early.")
    sources: Sources = Field(min_length=1)

    @field_validator("fixes")
    @classmethod
    def _unique_fix_ids(cls, fixes: list[Fix]) -> list[Fix]:
        ids = [f.id for f in fixes]
        if len(ids) != len(set(ids)):
            raise ValueError(f"fix ids must be unique within a cause: {ids}")
        return fixes


# --------------------------------------------------------------------------- rules

OPERATORS = kb.OPERATORS


class FactTest(Strict):
    """A test of one fact: exactly one operator, e.g. ``{fact: lr, gt: 0.01}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    fact: str = Field(pattern=SNAKE)
    eq: Scalar | None = None
    ne: Scalar | None = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    present: Literal[True] | None = None
    absent: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> FactTest:
        used = kb.operators_set(self)
        if len(used) != 1:
            raise ValueError(
                f"a test of fact {self.fact!r} needs exactly one operator of "
                f"{', '.join(OPERATORS)}; found {used or 'none'}"
            )
        op = used[0]
        value = getattr(self, "in_" if op == "in" else op)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"threshold of {self.fact!r} must be finite")
        if op == "in" and not value:
            raise ValueError(f"'in' of fact {self.fact!r} needs a non-empty list")
        return self


class AllOf(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(Strict):
    not_: Condition = Field(alias="not")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Condition = FactTest | AllOf | AnyOf | NotOf
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class Manifestation(Strict):
    """Something a cause is expected to show; observed absent, it counts against the cause.

    ``frequency`` is how often the cause shows it (INTERNIST-1/QMR). Only facts known to be false
    make a manifestation absent: an unknown fact never counts against a cause (``decided_by``
    names the facts whose being known is enough to judge).
    """

    name: str = Field(pattern=SNAKE)
    when: AllOf | AnyOf
    frequency: float = Field(gt=0.0, le=1.0)
    decided_by: list[str] = Field(
        default_factory=list,
        description="Facts that decide absence: once all are known and `when` is false, the "
        "manifestation is absent even if other alternatives were not measured (e.g. a too-high LR "
        "shows in the training curve itself; a missing validation curve does not hide that). "
        "Empty: every alternative must be known false.")
    because: str = Field(min_length=20, description="Shown when the manifestation is absent.")
    sources: Sources = Field(min_length=1)


Fix.model_rebuild()
Cause.model_rebuild()


class Conclusion(Strict):
    """A rule's conclusion: a cause or an intermediate finding, with a certainty factor."""

    cause: str | None = Field(default=None, pattern=SNAKE)
    finding: str | None = Field(default=None, pattern=SNAKE)
    cf: float = Field(ge=-1.0, le=1.0)

    @model_validator(mode="after")
    def _one_target(self) -> Conclusion:
        if (self.cause is None) == (self.finding is None):
            raise ValueError("a conclusion names exactly one of 'cause' or 'finding'")
        return self


class Expectation(Strict):
    """What a test case expects of one conclusion's certainty (after this rule alone)."""

    min: float | None = Field(default=None, ge=-1, le=1)
    max: float | None = Field(default=None, ge=-1, le=1)


class RuleCase(Strict):
    name: str = Field(pattern=KEBAB)
    facts: dict[str, Scalar]
    expect: Literal["fires", "silent"]
    certainty: dict[str, Expectation] | None = Field(
        default=None, description="Optional bounds on the resulting certainty of targets."
    )


class Rule(Strict):
    id: str = Field(pattern=RULE_ID)
    name: str = Field(pattern=KEBAB)
    title: str
    category: str = Field(pattern=SNAKE)
    when: AllOf | AnyOf
    then: list[Conclusion] = Field(min_length=1)
    because: str = Field(min_length=20)
    sources: Sources = Field(min_length=1)
    tests: list[RuleCase] = Field(min_length=2)

    @model_validator(mode="after")
    def _fires_and_silent(self) -> Rule:
        kinds = {case.expect for case in self.tests}
        if kinds != {"fires", "silent"}:
            raise ValueError("tests need at least one 'fires' case and one 'silent' case")
        return self


# --------------------------------------------------------------------------- settings, detectors


class Bands(Strict):
    confirmed: float = 0.8
    likely: float = 0.5
    possible: float = 0.2


class SeparatingStep(Strict):
    """A measurement that tells apart causes the logs cannot (a probe, a pre-flight check)."""

    step: str = Field(min_length=20, description="What to do, concretely.")
    causes: list[str] = Field(min_length=2, description="The causes it separates.")
    sources: Sources = Field(min_length=1)


class Settings(Strict):
    """Engine knobs that are knowledge, not mechanism."""

    bands: Bands = Bands()
    premise_threshold: float = Field(0.2, description="Clause certainty at or below this is false.")
    tie_margin: float = Field(
        0.05, ge=0, le=1,
        description="Causes within this much of the leader's certainty are reported as a tie.")
    healthy_finding: str = Field(pattern=SNAKE)
    insufficient_finding: str = Field(pattern=SNAKE)
    few_points_fact: str = Field(
        "insufficient_data", pattern=SNAKE,
        description="The log fact that is false when the run has enough points to judge.")
    problem_findings: list[Annotated[str, Field(pattern=SNAKE)]] = Field(
        default_factory=list,
        description="Findings that describe something wrong with the curves (no learning, "
        "underfitting, …): with enough data and no cause singled out, the verdict is a problem "
        "when one is confirmed, and healthy when none is.")
    count_shared_evidence_once: bool = Field(
        True, description="Rules concluding a cause from a common observed fact count as one "
        "piece of evidence (the strongest), not as independent confirmations.")
    observations: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Facts that measure one underlying observation (e.g. the validation loss "
        "getting worse: its rise, its trend, how far above its minimum); for counting evidence "
        "once they are one fact.")
    contenders: int = Field(
        5, ge=2, description="Questions are chosen to separate at most this many leading causes.")
    question_prior: float = Field(0.1, gt=0, description="Belief mass of an unsupported cause.")
    common_mistake_weight: float = Field(
        1.0, ge=1, description="How many times question_prior a cause named a common mistake "
        "(its common_mistake sources) holds before anything speaks for it.")
    question_effort: dict[Effort, float] = Field(
        default={"look": 1.0, "inspect": 1.5, "curves": 1.0, "experiment": 2.0, "measure": 3.0},
        description="Cost of answering, by the fact's effort; a question's gain is divided by it.",
    )
    separating_steps: list[SeparatingStep] = Field(
        default_factory=list,
        description="Offered when tied causes are two or more of a step's causes.")
    sources: Sources = Field(min_length=1)


class Detector(Strict):
    """Thresholds of one log detector; the parameters are read by name by the detector."""

    description: str
    params: dict[str, float | int | str | bool]
    sources: Sources = Field(min_length=1)


class Detectors(Strict):
    detectors: dict[Annotated[str, Field(pattern=SNAKE)], Detector]


class Reference(Strict):
    title: str
    url: str


class References(Strict):
    references: dict[str, Reference]


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas for editors, one per kind of YAML file."""
    return {
        "rule": Rule.model_json_schema(by_alias=True),
        "cause": Cause.model_json_schema(by_alias=True),
        "facts": Vocabulary.model_json_schema(by_alias=True),
        "detectors": Detectors.model_json_schema(by_alias=True),
    }
