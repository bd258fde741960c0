"""#9.12: a fact declared derived_from_logs needs a detector that declares it can produce it,
and detectors emit only what they declare."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.symptoms import curves, task
from nndoctor.adapters.symptoms.base import DETECTORS, PRODUCES, producers
from nndoctor.knowledge.lint import lint
from nndoctor.knowledge.loader import BUILTIN_ROOT, builtin_knowledge_base
from tests.symptoms.synth import HEALTHY, STEPS, VAL_STEPS, make_run

KB = builtin_knowledge_base()


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def test_every_derived_fact_of_the_builtin_base_has_a_producer():
    made = producers()
    missing = [n for n, f in KB.facts.items() if f.derived_from_logs and n not in made]
    assert not missing
    assert not [p for p in lint().errors if "no detector produces" in p.message]


def test_a_derived_fact_without_producer_fails_lint(kb_copy):
    path = kb_copy / "facts" / "signals.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "  made_up_signal:\n    type: bool\n    derived_from_logs: true\n"
                    "    askable: false\n    sources: [ref:autotrainer]\n", encoding="utf-8")
    errors = [str(p) for p in lint(kb_copy).errors]
    [msg] = [m for m in errors if "made_up_signal" in m]
    assert str(path) in msg and "no detector produces it" in msg and "produces=" in msg


def test_every_declared_product_is_a_declared_fact():
    for name, facts in PRODUCES.items():
        assert set(facts) <= set(KB.facts), name


def _battery():
    rng = np.random.default_rng(0)
    runs = [make() for make in HEALTHY.values()]
    blow = np.r_[np.linspace(2.3, 0.5, 300), np.full(200, 5e4)]
    runs.append(make_run({"optimizer": "sgd", "lr": 8.0, "steps_per_epoch": 50},
                         train_loss=(STEPS, blow),
                         val_loss=(VAL_STEPS, np.r_[np.full(10, 2.0), np.full(10, np.nan)]),
                         grad_norm=(STEPS, np.r_[np.ones(300), np.full(200, np.nan)]),
                         train_acc=(STEPS, np.full(STEPS.size, 0.1)),
                         val_acc=(VAL_STEPS, 0.1 + rng.normal(0, 0.01, VAL_STEPS.size))))
    runs.append(make_run(train_loss=(STEPS, np.linspace(1, -3, STEPS.size)),
                         train_acc=(STEPS, np.linspace(0.1, 0.99, STEPS.size))))
    return runs


def test_detectors_emit_only_what_they_declare():
    params = {n: KB.detector_params(n) for n in DETECTORS if n in KB.detectors.detectors}
    for run in _battery():
        run = curves.annotate(task.annotate(run, params["task"]), params["loss_shape"])
        for name, detector in DETECTORS.items():
            emitted = {f.name for f in detector(run, params.get(name, {}))}
            assert emitted <= set(PRODUCES[name]), (name, emitted - set(PRODUCES[name]))
