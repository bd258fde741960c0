"""`nndoctor watch --until-done` on real training runs while they train: a PyTorch loop writing
TensorBoard events in a subprocess (ends by --idle: TensorBoard logs have no end marker), and a
Hugging Face Trainer whose last checkpoint says it ended (global_step = max_steps)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from nndoctor.cli import main

ROOT = Path(__file__).resolve().parents[2]
TORCH_TRAINING = """
import sys, time
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
torch.set_num_threads(1)
x = torch.randn(512, 20)
y = (x @ torch.randn(20, 4)).argmax(1)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
model(x).sum().backward()  # warm up autograd before the log starts: no pause after it starts
model.zero_grad()
writer = SummaryWriter(sys.argv[1])
print("training", flush=True)
for step in range(120):
    idx = torch.randint(0, 512, (32,))
    loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
    model.zero_grad()
    loss.backward()
    with torch.no_grad():  # plain SGD at lr 0.1 (torch.optim would add seconds of imports)
        for p in model.parameters():
            p -= 0.1 * p.grad
    writer.add_scalar("train/loss", loss.item(), step)
    if step % 5 == 4:
        writer.flush()
        time.sleep(0.02)
writer.close()
"""


def lines_before(out: str, marker: str) -> list[str]:
    return out.split(marker)[0].splitlines()


def test_watch_follows_a_pytorch_run_to_its_end(tmp_path, capsys):
    """While it trains the run is 'still falling, short': not trained long enough would be
    likely, and is held back; once the log goes idle the watch alerts it, prints the report
    `nndoctor diagnose` prints and exits as diagnose --fail-on likely does."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    logs = tmp_path / "runs" / "exp1"
    logs.mkdir(parents=True)
    training = subprocess.Popen([sys.executable, "-c", TORCH_TRAINING, str(logs)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert training.stdout is not None and training.stdout.readline() == "training\n"
        code = main(["watch", str(logs.parent), "--until-done", "--idle", "2", "--interval",
                     "0.1", "--fail-on", "likely"])
        trained = training.poll()
    finally:
        training.kill()
        _, err = training.communicate()
    assert trained == 0, err[-2000:]  # training had finished before the watch ended
    out = capsys.readouterr().out
    during = lines_before(out, "] done:")
    assert any("exp1: problem" in line or "exp1: insufficient-data" in line for line in during)
    assert any("judged once training ends: not_trained_long_enough" in line for line in during)
    assert not any("ALERT exp1: not_trained_long_enough" in line for line in during)
    watch, _, report = out.partition(f"final diagnosis of {logs.parent}:\n\n")
    assert "ALERT exp1: not_trained_long_enough" in watch.split("] done:")[1]
    assert "Not trained long enough" in report
    assert main(["diagnose", str(logs.parent), "--fail-on", "likely"]) == code == 1
    assert report == capsys.readouterr().out


def hf_training(output_dir: Path, steps: int = 20) -> None:
    """A tiny Trainer run on CPU that checkpoints every 10 steps (and at the last one)."""
    import torch
    import transformers
    from torch import nn

    from tests.probes.helpers import LossModel, PairDataset

    torch.manual_seed(0)
    x = torch.randn(256, 20)
    y = (x @ torch.randn(20, 4)).argmax(1)

    class Pace(transformers.TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, *args: object, **kwargs: object) -> None:
            time.sleep(0.05)  # long enough for the watch to see the run mid-way

    args = transformers.TrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=16, max_steps=steps,
        learning_rate=30.0, optim="sgd", lr_scheduler_type="constant", logging_steps=2,
        save_strategy="steps", save_steps=10, save_only_model=True, report_to=[],
        use_cpu=True, disable_tqdm=True)
    net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    transformers.Trainer(model=LossModel(net), args=args, train_dataset=PairDataset(x, y),
                         callbacks=[Pace()]).train()


def test_watch_stops_when_the_hf_trainer_reaches_max_steps(tmp_path):
    """The watch runs as the real command in its own process; the Trainer runs here (a second
    interpreter would spend ~10 s importing transformers again). --idle is far away: the last
    checkpoint's global_step = max_steps ends the watch."""
    pytest.importorskip("transformers")
    out = tmp_path / "out"
    out.mkdir()
    watch = subprocess.Popen(
        [sys.executable, "-m", "nndoctor", "watch", str(out), "--until-done", "--interval",
         "0.1", "--idle", "300", "--fail-on", "likely"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        assert "watching" in watch.stdout.readline()  # the watch is up before training starts
        hf_training(out)
        trained = time.monotonic()
        stdout, stderr = watch.communicate(timeout=120)
        waited = time.monotonic() - trained
    finally:
        if watch.poll() is None:
            watch.kill()
    assert waited < 60, stdout  # ended by the marker, not by --idle 300
    assert "out: training ended (trainer_state.json is at global_step 20 = max_steps)" in stdout
    assert "done: every run's log says training ended" in stdout
    assert "ALERT out: lr_too_high" in stdout
    report = stdout.partition(f"final diagnosis of {out}:\n\n")[2]
    assert "PROBLEM  Learning rate too high" in report
    assert watch.returncode == 1, stderr  # lr 30: lr_too_high is likely
