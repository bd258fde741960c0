"""Run → Facts: pure numpy detectors, one module per family, thresholds from detectors.yaml.

Detectors know nothing of log formats; they see canonical series only. Each returns facts that
carry their evidence (numbers and steps) so a report can say why.
"""

from __future__ import annotations

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms import context, curves, gradients, lr_schedule, nonfinite, probes
from nndoctor.adapters.symptoms.base import DETECTORS, Params
from nndoctor.engine.facts import Fact, FactError, validate_fact
from nndoctor.knowledge.loader import KnowledgeBase

__all__ = ["derive_facts"]
_MODULES = (context, curves, gradients, lr_schedule, nonfinite, probes)  # registration by import


def derive_facts(run: Run, kb: KnowledgeBase) -> list[Fact]:
    """Every fact the detectors can establish from this run, at most one per fact name."""
    facts: dict[str, Fact] = {}
    for name, detector in DETECTORS.items():
        params: Params = kb.detector_params(name) if name in kb.detectors.detectors else {}
        for fact in detector(run, params):
            if fact.name in kb.facts and fact.name not in facts:
                try:  # a log can hold nonsense (a negative lr): such a fact is not evidence
                    facts[fact.name] = validate_fact(fact, kb.facts)
                except FactError:
                    continue
    return sorted(facts.values(), key=lambda f: f.name)
