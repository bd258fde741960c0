"""Facts as the engine receives them: typed per the vocabulary, with provenance and evidence."""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

from nndoctor.knowledge.kb import Fact as FactSpec

Value = bool | float | str
Source = Literal["answer", "log", "probe", "default", "finding"]


class FactError(ValueError):
    """A fact the vocabulary does not allow; ``str()`` names the fact and what is wrong."""


class Fact(NamedTuple):
    """One known fact: its value, how sure we are of it, where it came from and why."""

    name: str
    value: Value
    certainty: float = 1.0
    source: Source = "answer"
    detail: str = ""  # e.g. "val_loss, steps 4000-9000" or "answered in the interview"
    evidence: str = ""  # plain words with numbers: "val_loss rose 18% above its minimum"


def coerce_value(name: str, raw: object, spec: FactSpec) -> Value:
    """Convert a raw value (from YAML, JSON or a command line) to the fact's declared type."""
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"true", "yes", "y", "1", "on"}:
            return True
        if text in {"false", "no", "n", "0", "off"}:
            return False
        raise FactError(f"fact {name!r} is yes/no; got {raw!r} (use true or false)")
    if spec.type == "enum":
        allowed = [c.value for c in spec.choices or []]
        if not isinstance(raw, str) or raw not in allowed:
            raise FactError(f"fact {name!r} must be one of {', '.join(allowed)}; got {raw!r}")
        return raw
    if isinstance(raw, bool):
        raise FactError(f"fact {name!r} is a number; got {raw!r}")
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FactError(f"fact {name!r} is a number; got {raw!r}") from None
    if not math.isfinite(number):
        raise FactError(f"fact {name!r} must be a finite number; got {raw!r}")
    if spec.minimum is not None and number < spec.minimum:
        raise FactError(f"fact {name!r} must be ≥ {spec.minimum:g}; got {number:g}")
    if spec.maximum is not None and number > spec.maximum:
        raise FactError(f"fact {name!r} must be ≤ {spec.maximum:g}; got {number:g}")
    return number


def validate_fact(fact: Fact, vocabulary: dict[str, FactSpec]) -> Fact:
    """Return the fact with its value coerced to the declared type, or raise FactError."""
    spec = vocabulary.get(fact.name)
    if spec is None:
        raise FactError(f"unknown fact {fact.name!r} (see `nndoctor rules facts` for the list)")
    return validated(fact, spec)


def validated(fact: Fact, spec: FactSpec) -> Fact:
    """:func:`validate_fact` of a fact whose declaration ``spec`` is already looked up (the
    detectors' ~75 facts a run)."""
    if spec.kind == "finding":
        raise FactError(f"{fact.name!r} is a finding concluded by rules; it cannot be given")
    if not (isinstance(fact.certainty, (int, float)) and 0.0 <= fact.certainty <= 1.0):
        raise FactError(f"certainty of fact {fact.name!r} must be in [0, 1]; "
                        f"got {fact.certainty!r}")
    if type(fact.value) is bool and spec.type == "bool":  # most detector facts: nothing to do
        return fact
    value = coerce_value(fact.name, fact.value, spec)
    if value == fact.value and type(value) is type(fact.value):
        return fact
    return Fact(fact.name, value, fact.certainty, fact.source, fact.detail, fact.evidence)
