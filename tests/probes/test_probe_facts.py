"""The probes detector on hand-made series: ordering, evidence, and garbage values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.run import Run, Series
from nndoctor.pipeline import diagnose_run

QUANTITIES = ("dead_fraction", "saturated_fraction", "update_ratio", "grad_norm", "act_std",
              "act_mean", "act_kind", "act_units", "frozen", "weights_nonfinite",
              "act_nonfinite", "symmetric_units")
PREFLIGHT = ("overfit_tiny_batch", "gradcheck_rel_error", "initial_loss", "expected_loss",
             "inputs_nonfinite", "batches_single_label", "class_imbalance_ratio",
             "random_input_same")


def run(series: dict[str, list[float]]) -> Run:
    return Run("r", Path("r.jsonl"), "jsonl",
               {k: Series.from_pairs(range(len(v)), v, k) for k, v in series.items()})


def test_layers_are_ordered_by_index_not_by_name() -> None:
    r = run({"nndoctor/grad_norm/10-head": [1.0], "nndoctor/grad_norm/02-stem": [1e-6],
             "nndoctor/act_kind/03-act": [3.0], "nndoctor/act_kind/05-act2": [3.0],
             "nndoctor/act_std/03-act": [1.0], "nndoctor/act_std/05-act2": [0.001]})
    facts = diagnose_run(r).diagnosis.facts
    assert facts["grad_ratio_first_last"].value == pytest.approx(1e-6)
    assert "02-stem" in facts["grad_ratio_first_last"].evidence
    assert facts["hidden_activation"].value == "sigmoid"
    assert facts["activation_std_ratio"].value == pytest.approx(0.001)
    assert facts["activation_std_collapse"].value is True


def test_first_nonfinite_layer_and_step() -> None:
    r = run({"nndoctor/weights_nonfinite/00-a": [0, 0, 1, 1],
             "nndoctor/weights_nonfinite/01-b": [0, 1, 1, 1],
             "nndoctor/act_nonfinite/00-a": [0, 0, 1, 1]})
    fact = diagnose_run(r).diagnosis.facts["weights_nonfinite"]
    assert fact.value is True
    assert "first in layer 01-b at step 1" in fact.evidence
    assert "output: 00-a at step 2" in fact.evidence


@pytest.mark.parametrize("value", [-1e30, -1.0, 0.0, 1e-300, 1e300, np.nan, np.inf, -np.inf])
def test_garbage_values_never_break_the_diagnosis(value: float) -> None:
    series = {f"nndoctor/{q}/{i:02d}-l{i}": [value, value] for q in QUANTITIES for i in range(2)}
    series |= {f"nndoctor/preflight/{n}": [value] for n in PREFLIGHT}
    diagnosis = diagnose_run(run(series)).diagnosis  # raises FactError on an invalid fact
    assert diagnosis.verdict in {"problem", "healthy", "insufficient-data"}
