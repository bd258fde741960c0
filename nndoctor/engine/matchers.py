"""The matcher interface and its pure-Python implementation.

A matcher answers one question: given the known facts, which rules of a stratum fire? Certainty,
ranking and explanation are computed elsewhere, the same way for every matcher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from nndoctor.engine.conditions import certainty
from nndoctor.knowledge.kb import Rule


class Matcher(Protocol):
    name: str

    def match(self, stratum: int, facts: Mapping[str, object]) -> set[str]:
        """Ids of the rules of ``stratum`` whose condition holds over ``facts`` (name → value)."""
        ...


class PythonMatcher:
    """Reference matcher: evaluates each rule's condition tree directly."""

    name = "python"

    def __init__(self, rules: Mapping[str, Rule], strata: dict[str, int]) -> None:
        self._rules = rules  # read when matched: a cached knowledge base unpickles them then
        self._by_stratum: dict[int, list[str]] = {}
        for rid in rules:
            self._by_stratum.setdefault(strata[rid], []).append(rid)

    def match(self, stratum: int, facts: Mapping[str, object]) -> set[str]:
        known = {name: (value, 1.0) for name, value in facts.items()}
        return {rid for rid in self._by_stratum.get(stratum, [])
                if certainty(self._rules[rid].when, known) > 0}
