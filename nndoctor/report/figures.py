"""What the HTML report draws for one run, as plain data for :mod:`nndoctor.report.svg`.

Train and validation of one quantity share a figure (loss, accuracy, then the learning rate and
the gradient norm; other series paired by name, e.g. ``train/box_loss`` with ``val/box_loss``);
every figure of a run spans the same steps; a figure whose finite values are positive and span
two orders of magnitude or more gets a log y axis. Markers show the symptoms the diagnosis rests
on: facts read from the log (or a probe) that hold and support a shown cause, directly or through
a finding, each with its label from the fact vocabulary and the step its evidence names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nndoctor.adapters.names import ROLE_WORDS, classify
from nndoctor.adapters.run import Run, Series
from nndoctor.engine.conditions import facts_in
from nndoctor.engine.facts import Fact
from nndoctor.knowledge.loader import KnowledgeBase, builtin_knowledge_base
from nndoctor.pipeline import RunReport
from nndoctor.report.evidence import ONE_STEP
from nndoctor.report.svg import Figure, Line, Marker

GROUPS = (
    ("loss", ("train_loss", "val_loss")),
    ("accuracy", ("train_acc", "val_acc")),
    ("learning rate", ("lr",)),
    ("gradient norm", ("grad_norm",)),
)
ROLE_COLORS = {"train": "#1f6fb4", "val": "#e0711b"}
OTHER_COLORS = ("#2e8b57", "#8e44ad", "#6d7b8d", "#b8860b")
LOG_SPAN = 100.0  # finite, positive values spanning this factor (two decades) → log y axis
MAX_LINES = 4  # per figure: the canonical pair and a few variants (train_loss_epoch, …)
MAX_OTHER_FIGURES = 6
NOT_PLOTTED = ("nndoctor/", "hist/")  # per-layer probe series, histogram summaries: too many


@dataclass(frozen=True)
class Symptom:
    """A fact that holds and supports a shown cause; ``step`` when its evidence names one."""

    fact: str
    label: str
    evidence: str
    series: str
    step: int | None


@dataclass(frozen=True)
class RunFigures:
    figures: tuple[Figure, ...]
    x_range: tuple[float, float]  # shared by every figure of the run
    symptoms: tuple[Symptom, ...]
    not_drawn: tuple[str, ...]  # series left out (per-layer, beyond the figure limits)


def run_figures(report: RunReport, top: int = 5, kb: KnowledgeBase | None = None) -> RunFigures:
    """The figures of a run with the symptoms of its ``top`` causes marked."""
    run = report.run
    found = symptoms(report, top, kb or builtin_knowledge_base())
    groups, not_drawn = series_groups(run)
    x_label = "epoch" if run.context.get("step_unit") == "epoch" else "step"
    drawn = {name for _, names in groups for name in names}
    figures = []
    for i, (title, names) in enumerate(groups):
        lines = _lines(run, names)
        # a symptom whose series is not drawn still belongs on the first (loss) figure
        marks = tuple(Marker(s.step, s.label, s.evidence, s.series) for s in found
                      if s.step is not None
                      and (s.series in names or (i == 0 and s.series not in drawn)))
        figures.append(Figure(title, lines, marks, log_scale(lines), x_label))
    return RunFigures(tuple(figures), step_range(run, drawn), tuple(found), tuple(not_drawn))


def series_groups(run: Run) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
    """(title, series names) per figure, and the names of the series left out."""
    present = [n for n, s in run.series.items() if len(s)]
    groups: dict[str, list[str]] = {title: [n for n in names if n in present]
                                    for title, names in GROUPS}
    others: dict[str, list[str]] = {}
    not_drawn: list[str] = []
    canonical = {n for _, names in GROUPS for n in names}
    anchored = canonical & set(present)
    lo, hi = step_range(run, anchored)
    margin = (hi - lo) * 0.5 + 1
    for name in present:
        if name in canonical:
            continue
        steps = run.series[name].steps
        off_scale = bool(anchored) and (steps[-1] > hi + margin or steps[0] < lo - margin)
        if name.startswith(NOT_PLOTTED) or off_scale:  # off scale: counted in other units
            not_drawn.append(name)
            continue
        home = _canonical_group(name)
        if home is not None and groups[home] and len(groups[home]) < MAX_LINES:
            groups[home].append(name)
        else:
            others.setdefault(_quantity(name), []).append(name)
    out = [(title, tuple(names)) for title, names in groups.items() if names]
    for i, (quantity, names) in enumerate(others.items()):
        if i >= MAX_OTHER_FIGURES:
            not_drawn += names
            continue
        out.append((quantity, tuple(names[:MAX_LINES])))
        not_drawn += names[MAX_LINES:]
    return out, not_drawn


def _canonical_group(name: str) -> str | None:
    """The canonical figure a variant belongs on: train_loss_epoch → loss, lr/pg1 → lr."""
    candidate = classify(name)
    if candidate is None:
        return None
    return next(title for title, names in GROUPS if candidate.canonical in names)


def _quantity(name: str) -> str:
    """What a non-canonical series measures, as its figure's title: the name without its role
    (``train/box_loss`` and ``val/box_loss`` → ``box_loss``), else its namespace
    (``metrics/precision_b`` and ``metrics/recall_b`` → ``metrics``)."""
    parts = [p for p in re.split(r"[/_.\-]", name) if p]
    if len(parts) > 1 and parts[0] in ROLE_WORDS:
        return name[len(parts[0]) + 1:]
    if len(parts) > 1 and parts[-1] in ROLE_WORDS:
        return name[: -len(parts[-1]) - 1]
    head, sep, _ = name.partition("/")
    return head if sep and head else name


def _role(name: str) -> str | None:
    candidate = classify(name)
    if candidate is not None and candidate.canonical.startswith(("train_", "val_")):
        return candidate.canonical.split("_")[0]
    first = re.split(r"[/_.\-]", name)[0]
    role = ROLE_WORDS.get(first)
    return "val" if role == "test" else role


def _lines(run: Run, names: tuple[str, ...]) -> tuple[Line, ...]:
    """Train lines blue, validation orange, others in turn; a second line of a role dashed."""
    lines, roles = [], set()
    for i, name in enumerate(names):
        series: Series = run.series[name]
        role = _role(name)
        color = ROLE_COLORS.get(role or "", OTHER_COLORS[i % len(OTHER_COLORS)])
        lines.append(Line(name, series.steps, series.values, color, dashed=role in roles))
        if role is not None:
            roles.add(role)
    return tuple(lines)


def log_scale(lines: tuple[Line, ...]) -> bool:
    """True when every finite value is positive and they span at least LOG_SPAN."""
    finite = [line.values[np.isfinite(line.values)] for line in lines]
    values = np.concatenate(finite) if finite else np.array([])
    return bool(values.size and values.min() > 0 and values.max() / values.min() >= LOG_SPAN)


def step_range(run: Run, names: set[str]) -> tuple[float, float]:
    """The first and last step of the drawn series (the shared x axis)."""
    steps = [run.series[n].steps for n in names if n in run.series and len(run.series[n])]
    if not steps:
        return 0.0, 1.0
    return float(min(s[0] for s in steps)), float(max(s[-1] for s in steps))


# --------------------------------------------------------------------------- symptoms


def symptoms(report: RunReport, top: int, kb: KnowledgeBase) -> list[Symptom]:
    """The facts that hold (true, read from the log or a probe) and support one of the ``top``
    shown causes, directly or through the findings they concluded, in the causes' order."""
    d = report.diagnosis
    found: dict[str, Symptom] = {}
    for cause in d.causes[:top]:
        for trace in cause.support:
            if trace.contribution <= 0:
                continue
            for fact in _observations(trace.facts, report, kb, set()):
                if fact.name not in found:
                    found[fact.name] = _symptom(fact, report.run, kb)
    return list(found.values())


def _observations(facts: tuple[Fact, ...], report: RunReport, kb: KnowledgeBase,
                  seen: set[str]) -> Iterator[Fact]:
    """The true log/probe facts among ``facts``, findings resolved to the facts of the fired
    rules that concluded them."""
    d = report.diagnosis
    for fact in facts:
        if fact.name in seen:
            continue
        seen.add(fact.name)
        if fact.source == "finding":
            behind = []
            for rule_id in d.fired:
                rule = kb.rules.get(rule_id)
                if rule is None or not any(c.finding == fact.name and c.cf > 0
                                           for c in rule.then):
                    continue
                for name in facts_in(rule.when):
                    if name in d.facts:
                        behind.append(d.facts[name])
                    elif d.findings.get(name, 0.0) > 0:
                        behind.append(Fact(name, True, d.findings[name], "finding"))
            yield from _observations(tuple(behind), report, kb, seen)
        elif fact.value is True and fact.source in ("log", "probe"):
            yield fact


def _symptom(fact: Fact, run: Run, kb: KnowledgeBase) -> Symptom:
    spec = kb.facts.get(fact.name)
    label = spec.label if spec is not None and spec.label else fact.name.replace("_", " ")
    series = fact.detail.split(",")[0].strip()
    match = ONE_STEP.search(fact.evidence) or ONE_STEP.search(fact.detail)
    return Symptom(fact.name, label, fact.evidence, series if series in run.series else "",
                   int(match.group(1)) if match else None)
