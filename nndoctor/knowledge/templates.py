"""Fix texts with the run's own numbers: a small template language, parsed, never evaluated.

A template is plain text with placeholders in braces. A placeholder names a number fact, may
multiply or divide it by constants, and may pick a format::

    Lower the learning rate: {lr} → {lr / 10} → {lr / 100}
    Halve the batch size ({batch_size | int} → {batch_size / 2 | int})

Operators are ``*``, ``/`` (or ``×``, ``÷``) with a positive constant; formats are ``sig3``
(three significant digits, the default), ``sig2`` and ``int`` (rounded to a whole number, at
least 1). Nothing else is allowed: a stray brace, an unknown format or an expression is an error
that names the placeholder.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import NamedTuple

from nndoctor.lazy_re import LazyPattern

NAME = r"[a-z][a-z0-9_]*"
NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_PLACEHOLDER = LazyPattern(r"\{([^{}]*)\}")
_STEP = LazyPattern(rf"\s*([*/×÷])\s*({NUMBER})")
_EXPRESSION = LazyPattern(rf"^\s*({NAME})((?:\s*[*/×÷]\s*{NUMBER})*)\s*(?:\|\s*([a-z0-9]+)\s*)?$")
FORMATS = ("sig3", "sig2", "int")


class TemplateError(ValueError):
    """A template that does not parse; ``str()`` names the placeholder and what is wrong."""


class Placeholder(NamedTuple):
    """``{name × factor | format}``: one number fact scaled by constants, then formatted."""

    name: str
    factor: float
    format: str

    def value(self, values: Mapping[str, object]) -> float | None:
        raw = values.get(self.name)
        if raw is None or isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return None
        scaled = float(raw) * self.factor
        return scaled if math.isfinite(scaled) else None

    def render(self, values: Mapping[str, object]) -> str | None:
        scaled = self.value(values)
        return None if scaled is None else format_number(scaled, self.format)


Part = str | Placeholder


def format_number(value: float, style: str = "sig3") -> str:
    """``sig3``/``sig2``: that many significant digits (``200``, ``0.02``, ``3e-05``); ``int``:
    the nearest whole number, at least 1 (a count that cannot be 0: steps, a batch size)."""
    if style == "int":
        return str(max(1, math.floor(value + 0.5)))
    rounded = float(f"{value:.{3 if style == 'sig3' else 2}g}")
    if 1 <= abs(rounded) < 1e9 and rounded.is_integer():
        return str(int(rounded))  # 24700, not 2.47e+04
    return f"{rounded:g}"


@functools.lru_cache(maxsize=2048)
def parse(template: str) -> tuple[Part, ...]:
    """The literal text and placeholders of ``template``, in order."""
    parts: list[Part] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(_literal(template[last:match.start()]))
        parts.append(_placeholder(match.group(1)))
        last = match.end()
    parts.append(_literal(template[last:]))
    return tuple(p for p in parts if p != "")


def _literal(text: str) -> str:
    if "{" in text or "}" in text:
        raise TemplateError(f"unmatched brace in {text.strip()!r}; placeholders are {{name}}")
    return text


def _placeholder(body: str) -> Placeholder:
    match = _EXPRESSION.match(body)
    if match is None:
        raise TemplateError(f"placeholder {{{body}}} must be {{fact}}, {{fact / 10}}, "
                            f"{{fact * 2 | int}}: a number fact, * or / by constants, a format")
    name, steps, style = match.group(1), match.group(2), match.group(3) or "sig3"
    if style not in FORMATS:
        raise TemplateError(f"placeholder {{{body}}}: unknown format {style!r}; use one of "
                            f"{', '.join(FORMATS)}")
    factor = 1.0
    for op, number in _STEP.findall(steps):
        constant = float(number)
        if not math.isfinite(constant) or constant <= 0:
            raise TemplateError(f"placeholder {{{body}}}: constants must be positive numbers")
        factor = factor * constant if op in "*×" else factor / constant
    return Placeholder(name, factor, style)


def names(template: str) -> set[str]:
    """The facts ``template`` uses."""
    return {p.name for p in parse(template) if isinstance(p, Placeholder)}


def render(template: str, values: Mapping[str, object]) -> str | None:
    """``template`` with every placeholder filled in, or None when a value is unknown."""
    out = []
    for part in parse(template):
        text = part if isinstance(part, str) else part.render(values)
        if text is None:
            return None
        out.append(text)
    return "".join(out)
