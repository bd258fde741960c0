"""grad_norm_accumulating: gradients summed instead of replaced, from a real torch loop.

The loops below are real PyTorch training (SGD on a small classifier) that clear the gradients
every step, once per epoch, or never; the detector sees the gradient norm torch computed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.pipeline import diagnose_run, load_runs
from tests.symptoms.synth import STEPS, make_run, value

torch = pytest.importorskip("torch")

STEPS_PER_EPOCH = 25


def _train(clear: str, epochs: int = 8, lr: float = 0.03, seed: int = 0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, gradient norms, training losses) of SGD on a 4-class MLP; ``clear`` is "step"
    (the correct loop), "epoch" (zero_grad() in the epoch loop) or "never"."""
    torch.manual_seed(seed)
    x = torch.randn(800, 12)
    y = (x @ torch.randn(12, 4)).argmax(1)
    model = torch.nn.Sequential(torch.nn.Linear(12, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    steps, norms, losses = [], [], []
    for epoch in range(epochs):
        if clear == "epoch":
            optimizer.zero_grad()
        for k in range(STEPS_PER_EPOCH):
            idx = torch.randint(0, 800, (32,))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            if clear == "step":
                optimizer.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            optimizer.step()
            steps.append(epoch * STEPS_PER_EPOCH + k)
            norms.append(float(norm))
            losses.append(loss.item())
    return np.array(steps, float), np.array(norms), np.array(losses)


def _accumulating(clear: str, **kwargs: object) -> object:
    steps, norms, losses = _train(clear, **kwargs)
    return value(make_run(grad_norm=(steps, norms), train_loss=(steps, losses)),
                 "grad_norm_accumulating")


def test_gradients_never_cleared_climb_like_a_sum() -> None:
    assert _accumulating("never") is True


def test_gradients_cleared_once_per_epoch_climb_within_each_epoch() -> None:
    assert _accumulating("epoch") is True


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_cleared_every_step_do_not(seed: int) -> None:
    assert _accumulating("step", seed=seed) is False


def test_an_exploding_gradient_is_not_a_sum() -> None:
    """Exponential growth accelerates; a running sum decelerates."""
    norms = 0.1 * np.exp(STEPS / STEPS[-1] * np.log(1e4))
    assert value(make_run(grad_norm=(STEPS, norms)), "grad_norm_accumulating") is False


def test_an_early_rise_that_levels_off_is_not_a_sum() -> None:
    """A fine-tune's gradient norm rises while its fresh head learns, then stays noisy."""
    rng = np.random.default_rng(3)
    norms = 2.0 / (1 + np.exp(-(STEPS - 300) / 60)) + 0.05
    norms = norms * np.exp(rng.normal(0, 0.3, STEPS.size))
    assert value(make_run(grad_norm=(STEPS, norms)), "grad_norm_accumulating") is False


def test_a_healthy_norm_drifting_up_over_a_long_run_is_not_a_sum() -> None:
    """Long pre-training runs often see the gradient norm rise steadily as the learning rate
    decays: 5x over 3,000 steps logged every 10 is far slower than any sum of 300 gradients
    (at least sqrt(300) = 17x)."""
    rng = np.random.default_rng(1)
    steps = np.arange(10, 3001, 10, dtype=float)
    norms = 0.15 + 0.9 * (steps / steps[-1]) ** 1.2 + np.abs(rng.normal(0, 0.05, steps.size))
    assert value(make_run(grad_norm=(steps, norms)), "grad_norm_accumulating") is False


def test_too_few_points_say_nothing() -> None:
    steps, norms, _ = _train("never", epochs=1)
    run = make_run(grad_norm=(steps[:10], norms[:10]))
    assert value(run, "grad_norm_accumulating") is None


def test_a_tensorboard_log_of_a_loop_without_zero_grad_is_diagnosed(tmp_path: Path) -> None:
    """End to end: the loop writes TensorBoard scalars with torch's own SummaryWriter."""
    from torch.utils.tensorboard import SummaryWriter

    steps, norms, losses = _train("never")
    with SummaryWriter(str(tmp_path)) as writer:
        for step, norm, loss in zip(steps, norms, losses, strict=True):
            writer.add_scalar("train/loss", loss, int(step))
            writer.add_scalar("train/grad_norm", norm, int(step))
    (run,) = load_runs([tmp_path])
    top = diagnose_run(run).diagnosis.causes[0]
    assert top.id == "gradient_bug"
    assert "IMP029" in [t.rule_id for t in top.support if t.contribution > 0]
