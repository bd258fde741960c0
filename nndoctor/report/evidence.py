"""A fact as structured evidence: where it came from, which series, which step or step range.

The detectors write where they looked into :attr:`Fact.detail` (``"val_loss, steps 22-220"``,
``"train_loss, step 5"``, ``"hparams"``, ``"probe"``) and the step an event happened at into the
sentence (``"… rose 18% above its minimum 0.52 at step 4000 …"``). One parser here turns those
into fields, so every report (JSON, text, HTML marks) reads them the same way.
"""

from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

from nndoctor.engine.facts import Fact, Value
from nndoctor.lazy_re import regex

RANGE = regex(r"\bsteps (-?\d+)-(-?\d+)\b")
ONE_STEP = regex(r"\bstep (-?\d+)\b")
# Fact.detail values that name where a log fact came from instead of a series
CONFIG_DETAILS = frozenset({"hparams"})
PROBE_DETAILS = frozenset({"probe", "preflight", "layer norms"})
SOURCES = ("metric", "config", "probe", "answer", "default", "finding")


class Located(NamedTuple):
    """A fact's origin in plain fields: ``source`` is one of :data:`SOURCES`."""

    source: str
    series: tuple[str, ...]
    step: int | None
    range: tuple[int, int] | None


def source_of(fact: Fact) -> str:
    """``metric`` (a logged curve), ``config`` (hyper-parameters), ``probe`` (nndoctor's probe
    or pre-flight checks), or the engine's own ``answer``/``default``/``finding``."""
    return _source(fact.source, fact.detail)


def _source(source: str, detail: str) -> str:
    if source != "log":
        return source
    if detail in CONFIG_DETAILS:
        return "config"
    if detail in PROBE_DETAILS:
        return "probe"
    return "metric"


def locate(fact: Fact) -> Located:
    """Source, series, event step and step range of ``fact`` (None where the log does not say)."""
    where = _placed(fact.source, fact.detail)
    if where.source != "metric":
        return where
    step_match = _one_step(fact.evidence)
    if step_match is None:
        return where
    return Located(where.source, where.series, int(step_match.group(1)), where.range)


@functools.lru_cache(maxsize=4096)
def _placed(source: str, detail: str) -> Located:
    """:func:`_where` of the fact's source as :func:`source_of` names it (both are functions of
    its source and detail, which recur from run to run)."""
    return _where(_source(source, detail), detail)


def _where(source: str, detail: str) -> Located:
    """What ``detail`` says (series, step range, a step): the same few details come back in
    every run of a sweep, so each is parsed once."""
    if source != "metric":
        return Located(source, (), None, None)
    span = RANGE.search(detail) if "steps " in detail else None  # each pattern is searched
    if span:  # only where its words occur (cheaper)
        head = detail[: span.start()]
    else:
        head = ONE_STEP.split(detail, maxsplit=1)[0] if "step " in detail else detail
    series = tuple([s for s in map(str.strip, head.split(",")) if s])
    step_match = _one_step(detail)
    return Located(
        source, series,
        int(step_match.group(1)) if step_match else None,
        (int(span.group(1)), int(span.group(2))) if span else None,
    )


def _one_step(text: str) -> re.Match[str] | None:
    return ONE_STEP.search(text) if "step " in text else None


def json_value(value: Value) -> Value:
    """The value as JSON can hold it (a non-finite float becomes its name, e.g. ``"inf"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
