"""Inject one fault into a small real model, train with the probe, diagnose the JSONL log.

Each injected cause must rank first; a healthy run must not show any of them as likely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from tests.probes.helpers import TinyRNN, blobs, diagnose, mlp, sequences, train  # noqa: E402

Setup = Callable[[], tuple[nn.Module, torch.optim.Optimizer, tuple[torch.Tensor, torch.Tensor]]]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add contention on a shared CPU
    yield
    torch.set_num_threads(threads)


def dead_relu() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp()
    for layer in list(model)[:-1]:
        if isinstance(layer, nn.Linear):
            nn.init.constant_(layer.bias, -10.0)  # every hidden pre-activation negative
    return model, torch.optim.Adam(model.parameters(), 1e-3), blobs()


def vanishing() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp(depth=8, width=32, act=nn.Sigmoid)
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.05)
            nn.init.zeros_(layer.bias)
    return model, torch.optim.SGD(model.parameters(), 0.1), blobs()


def zero_init() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp()
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model, torch.optim.Adam(model.parameters(), 1e-3), blobs()


def frozen() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp()
    model[0].requires_grad_(False)  # frozen by mistake ...
    trainable = [p for p in model.parameters() if p.requires_grad]
    return model, torch.optim.Adam(trainable[2:], 1e-3), blobs()  # ... and 02 left out


def lr_too_low() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp()
    return model, torch.optim.Adam(model.parameters(), 1e-7), blobs()


def exploding() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = TinyRNN(recurrent_scale=3.0)  # spectral radius 3: gradients grow back in time
    return model, torch.optim.Adam(model.parameters(), 1e-3), sequences()


def nan_from_high_lr() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp()
    return model, torch.optim.SGD(model.parameters(), 50.0), blobs()


def healthy() -> tuple[nn.Module, torch.optim.Optimizer, tuple]:
    model = mlp()
    return model, torch.optim.Adam(model.parameters(), 1e-3), blobs()


FAULTS: dict[str, tuple[Setup, str]] = {
    "dead_relu": (dead_relu, "dead_relu"),
    "vanishing": (vanishing, "vanishing_gradients"),
    "zero_init": (zero_init, "bad_weight_init"),
    "frozen": (frozen, "frozen_layers"),
    "lr_too_low": (lr_too_low, "lr_too_low"),
    "exploding": (exploding, "exploding_gradients"),
    "nan": (nan_from_high_lr, "lr_too_high"),
}


def run(setup: Setup, tmp_path: Path) -> list[tuple[str, float]]:
    torch.manual_seed(0)
    model, optimizer, data = setup()
    log = train(model, optimizer, tmp_path, data)
    return [(c.id, c.confidence) for c in diagnose(log).diagnosis.causes]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_injected_cause_ranks_first(fault: str, tmp_path: Path) -> None:
    setup, cause = FAULTS[fault]
    ranked = run(setup, tmp_path)
    assert ranked, f"{fault}: no cause found"
    assert ranked[0][0] == cause, f"{fault}: expected {cause} first, got {ranked[:3]}"
    assert ranked[0][1] >= 0.5, f"{fault}: {cause} only {ranked[0][1]:.2f}"


def test_healthy_run_shows_no_injected_cause(tmp_path: Path) -> None:
    ranked = dict(run(healthy, tmp_path))
    alarms = {c: v for c, v in ranked.items()
              if c in {cause for _, cause in FAULTS.values()} and v >= 0.5}
    assert not alarms, f"healthy run flagged {alarms}"


def test_nan_evidence_names_first_layer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, optimizer, data = nan_from_high_lr()
    report = diagnose(train(model, optimizer, tmp_path, data))
    fact = report.diagnosis.facts["weights_nonfinite"]
    assert fact.value is True
    assert "first in layer 00-0" in fact.evidence
