"""The shape of the JSON report (``--format json`` / ``jsonl``) as typed dicts.

:func:`nndoctor.report.common.run_dict` returns a :class:`RunDoc`. ``nndoctor rules docs``
generates ``docs/schema/report.schema.json`` (the document) and ``report-run.schema.json`` (one
``jsonl`` line) from these classes, and tests validate real reports against them, so the
published schema cannot drift from the output. Bump ``common.SCHEMA_VERSION`` (and the
``schema_version`` literals here) when a field changes meaning or goes away; adding an optional
field needs no bump.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

STRICT = ConfigDict(extra="forbid")

Source = Literal["metric", "config", "probe", "answer", "default", "finding"]
Band = Literal["possible", "likely", "confirmed"]
Verdict = Literal["problem", "healthy", "insufficient-data"]


@with_config(STRICT)
class EvidenceDoc(TypedDict):
    """One fact with where it came from."""

    fact: str
    value: Annotated[bool | float | str, Field(description="Typed as the fact vocabulary says.")]
    certainty: Annotated[float, Field(ge=0, le=1)]
    source: Annotated[Source, Field(description=(
        "metric: a logged curve; config: the run's hyper-parameters; probe: nndoctor's probe or "
        "pre-flight checks; answer: given with --answer; default: assumed; finding: concluded "
        "by rules."))]
    series: Annotated[list[str], Field(description="The curves the fact was measured on.")]
    step: Annotated[int | None, Field(description=(
        "The step the evidence points at (an onset, a first non-finite value, a peak), if any."))]
    range: Annotated[tuple[int, int] | None, Field(description=(
        "The first and last step the detector looked at, if known."))]
    text: Annotated[str, Field(description="The evidence in words, with the run's numbers.")]


@with_config(STRICT)
class RuleDoc(TypedDict):
    """One rule that moved a cause's confidence (HOW the conclusion was reached)."""

    rule: Annotated[str, Field(description=(
        "The rule id, or expects:FACT for an expected manifestation that is absent."))]
    title: str
    direction: Literal["for", "against"]
    contribution: float
    because: str
    facts: Annotated[list[str], Field(description="The facts the rule used (see evidence).")]


@with_config(STRICT)
class FixDoc(TypedDict):
    id: str
    action: str
    verify: str | None
    effort: Literal["low", "medium", "high"]


@with_config(STRICT)
class CauseDoc(TypedDict):
    id: str
    title: str
    confidence: Annotated[float, Field(ge=-1, le=1)]
    band: Band
    tied_with: Annotated[list[str], Field(description=(
        "Leading causes the evidence cannot tell apart from this one."))]
    evidence: Annotated[list[EvidenceDoc], Field(description=(
        "Every fact the rules below used, once, in the order of the rules."))]
    rules: list[RuleDoc]
    fixes: Annotated[list[FixDoc], Field(description="In the order to try them.")]


@with_config(STRICT)
class TieDoc(TypedDict):
    causes: list[str]
    question: Annotated[str | None, Field(description="The fact whose answer separates them.")]
    steps: Annotated[list[str], Field(description="Probes or checks that separate them.")]


@with_config(STRICT)
class QuestionDoc(TypedDict):
    fact: str
    text: str
    why: str


@with_config(ConfigDict(extra="forbid", title="nndoctor report: one run"))
class RunDoc(TypedDict):
    """One run: the whole document's ``runs`` item, and one line of ``--format jsonl``."""

    schema_version: Literal[1]
    id: Annotated[str, Field(description=(
        "Stable id: the run's path relative to the PATH argument it was found under (that PATH "
        "as given when the run is the file or folder named), made unique within the report."))]
    path: str
    name: Annotated[str, Field(description="The name the log gives the run (may repeat).")]
    format: str
    verdict: Verdict
    causes: Annotated[list[CauseDoc], Field(description="Highest confidence first.")]
    tie: TieDoc | None
    verdict_basis: Annotated[list[RuleDoc], Field(description=(
        "For a healthy or insufficient-data verdict: the rules it rests on (what was checked), "
        "strongest first; empty for a problem."))]
    patterns: Annotated[list[str], Field(description=(
        "Problem findings that hold (no_learning, underfitting_pattern, …), strongest first: "
        "what is wrong with the curves when no single cause stands out."))]
    questions: list[QuestionDoc]
    facts: Annotated[dict[str, EvidenceDoc], Field(description="Every fact known, by name.")]
    warnings: list[str]


@with_config(ConfigDict(extra="forbid", title="nndoctor report"))
class ReportDoc(TypedDict):
    """The document ``nndoctor diagnose --format json`` writes."""

    nndoctor: Annotated[str, Field(description="The nndoctor version that wrote it.")]
    schema_version: Literal[1]
    runs: list[RunDoc]
    preflight: NotRequired[Annotated[list[str], Field(description=(
        "The check summary, when `python -m nndoctor.probes.preflight` wrote the report."))]]


def report_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas (draft 2020-12): ``report`` for the document, ``report-run`` for a line."""
    out = {}
    for name, model in (("report", ReportDoc), ("report-run", RunDoc)):
        schema = TypeAdapter(model).json_schema()
        out[name] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return out
