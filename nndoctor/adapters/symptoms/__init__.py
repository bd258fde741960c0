"""Run → Facts: pure numpy detectors, one module per family, thresholds from detectors.yaml.

Detectors know nothing of log formats; they see canonical series only. Each returns facts that
carry their evidence (numbers and steps) so a report can say why.
"""

from __future__ import annotations

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms import (
    architecture,
    checkpoints,
    config,
    consistency,
    context,
    curves,
    finetune,
    grad_accumulation,
    gradients,
    init_signals,
    labels,
    loss_signatures,
    lr_schedule,
    nonfinite,
    optimizer_state,
    periodicity,
    probes,
    progress,
    rl,
    scale,
    spikes,
    start_rise,
    task,
    validation,
)
from nndoctor.adapters.symptoms.base import DETECTORS, Detector, Params, one_run
from nndoctor.engine.facts import Fact, FactError, validated
from nndoctor.knowledge.loader import KnowledgeBase

__all__ = ["derive_facts"]
_MODULES = (context, architecture, task, curves, scale, consistency, validation, periodicity,
            gradients, grad_accumulation, lr_schedule, config, nonfinite, probes, labels,
            loss_signatures, progress, init_signals, finetune, spikes, start_rise, rl, checkpoints,
            optimizer_state)  # registration by import


_PLANS: dict[int, tuple[KnowledgeBase, list[tuple[Detector, Params]]]] = {}


def _plan(kb: KnowledgeBase) -> list[tuple[Detector, Params]]:
    """Every detector with its parameters, in registration order: once per knowledge base
    (kept alive here, so its id stays its own)."""
    found = _PLANS.get(id(kb))
    if found is None or found[0] is not kb or len(found[1]) != len(DETECTORS):
        if len(_PLANS) >= 8:
            _PLANS.clear()
        found = _PLANS[id(kb)] = (kb, [(fn, _params(kb, name)) for name, fn in DETECTORS.items()])
    return found[1]


def _params(kb: KnowledgeBase, name: str) -> Params:
    """The detector's thresholds: the knowledge base's own dict, not a copy (no detector
    writes to its parameters; tests/symptoms/test_detectors.py checks)."""
    spec = kb.detectors.detectors.get(name)
    return spec.params if spec is not None else {}


def derive_facts(run: Run, kb: KnowledgeBase) -> list[Fact]:
    """Every fact the detectors can establish from this run, at most one per fact name."""
    # computed once, read by several detectors: an RL run's surrogate loss set aside (it is no
    # supervised loss), the task (class count, possibly inferred) and the loss's own blow-up
    # (so correlated detectors do not count one event three times)
    with one_run():
        run = rl.annotate(run)
        run = task.annotate(run, _params(kb, "task"))
        run = curves.unmask_nan_placeholders(run)
        run = curves.annotate(run, _params(kb, "loss_shape"))
        facts: dict[str, Fact] = {}
        vocabulary = kb.facts
        for detector, params in _plan(kb):
            for fact in detector(run, params):
                if fact.name in facts:
                    continue
                spec = vocabulary.get(fact.name)
                if spec is not None:
                    try:  # a log can hold nonsense (a negative lr): such a fact is not evidence
                        facts[fact.name] = validated(fact, spec)
                    except FactError:
                        continue
    return sorted(facts.values(), key=lambda f: f.name)
