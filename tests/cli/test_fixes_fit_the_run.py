"""End to end: a real torch run at lr = 200, logged by SummaryWriter, is told to divide its own
learning rate (200 → 20 → 2), not the textbook 0.1 → 0.01."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")

ROOT = Path(__file__).resolve().parents[2]


def _train(log_dir: Path, lr: float, steps: int = 200) -> None:
    """A small ReLU MLP on a separable task, plain SGD, logging what a training script logs."""
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(0)
    x = torch.randn(512, 20)
    y = (x[:, :5].sum(1) > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    writer = SummaryWriter(str(log_dir))
    for step in range(steps):
        batch = torch.randint(0, 512, (64,))
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))  # measure only
        optimizer.step()
        writer.add_scalar("train/loss", loss.item(), step)
        writer.add_scalar("train/learning_rate", lr, step)
        writer.add_scalar("train/grad_norm", norm.item(), step)
    writer.close()


def test_the_first_fix_names_the_runs_own_learning_rate(tmp_path):
    _train(tmp_path / "run", lr=200.0)
    done = subprocess.run([sys.executable, "-m", "nndoctor", "diagnose", str(tmp_path / "run"),
                           "--format", "json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode in (0, 1), done.stderr
    (run,) = json.loads(done.stdout)["runs"]
    lead = run["causes"][0]
    assert lead["id"] == "lr_too_high"
    assert lead["fixes"][0]["id"] == "divide-lr-by-10"
    assert "(200 → 20 → 2)" in lead["fixes"][0]["action"]
    assert "0.1 → 0.01" not in json.dumps(lead["fixes"])
    bisect = next(f for f in lead["fixes"] if f["id"] == "bisect-lr-from-checkpoint")
    assert "below the 200 that failed" in bisect["action"]
