"""Tiny models, data and training loops for the probe tests (CPU, a few dozen steps)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import nndoctor.probes
from nndoctor.pipeline import RunReport, diagnose_run, load_runs


def blobs(n: int = 512, d: int = 20, classes: int = 4, seed: int = 0) -> tuple[torch.Tensor,
                                                                             torch.Tensor]:
    """Gaussian inputs labelled by a random linear teacher: learnable, balanced enough."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x @ torch.randn(d, classes, generator=g)).argmax(1)


def mlp(depth: int = 4, width: int = 64, d: int = 20, classes: int = 4,
        act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = d
    for _ in range(depth - 1):
        layers += [nn.Linear(size, width), act()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, classes))


class TinyRNN(nn.Module):
    """Input projection → tanh RNN over the sequence → classifier on the last state."""

    def __init__(self, recurrent_scale: float = 1.0, hidden: int = 64) -> None:
        super().__init__()
        self.inp = nn.Linear(4, hidden)
        self.rnn = nn.RNN(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 4)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(hidden, hidden))
            self.rnn.weight_hh_l0.copy_(recurrent_scale * q)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(self.inp(x))[0][:, -1])


def sequences(n: int = 256, length: int = 30, seed: int = 0) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, 4, generator=g)
    return x, x[:, 0, :].argmax(1)


class PairDataset(torch.utils.data.Dataset):  # type: ignore[misc]
    """``(x, y)`` tensors as the dict items a Hugging Face Trainer feeds its model."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


class LossModel(nn.Module):
    """A classifier ``net`` that returns its cross-entropy loss, as a Trainer expects."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": nn.functional.cross_entropy(self.net(x), labels)}


def train(model: nn.Module, optimizer: torch.optim.Optimizer, log_dir: Path,
          data: tuple[torch.Tensor, torch.Tensor], steps: int = 60, every: int = 5,
          batch: int = 32, loss_fn: Callable[..., torch.Tensor] | None = None) -> Path:
    """Train with the probe writing JSONL; returns the log file."""
    x, y = data
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    with nndoctor.probes.attach(model, optimizer, log_dir=log_dir, every=every) as probe:
        for _ in range(steps):
            idx = torch.randint(0, len(x), (batch,), generator=g)
            optimizer.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            probe.step(loss)
    return log_dir / "probe.jsonl"


def diagnose(path: Path) -> RunReport:
    runs = load_runs([path])
    assert len(runs) == 1
    return diagnose_run(runs[0])


def fit_lightning(folder: Path, module: object, epochs: int = 3) -> Path:
    """Fit a LightningModule on :func:`blobs` (batches of 16) with Lightning's CSVLogger and
    default ModelCheckpoint, as a user's script does; the run folder (``version_0``)."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import CSVLogger

    torch.manual_seed(0)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*blobs(256)),
                                       batch_size=16)
    trainer = Trainer(max_epochs=epochs, logger=CSVLogger(folder), log_every_n_steps=2,
                      enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, data)
    return folder / "lightning_logs" / "version_0"


def fit_hf_trainer(folder: Path, net: nn.Module, **saving: object) -> Path:
    """Train the classifier ``net`` on :func:`blobs` (256 samples, batches of 16, 2 epochs,
    AdamW 1e-3) with the Hugging Face Trainer writing its checkpoints into ``folder`` as the
    ``saving`` arguments (save_strategy, save_steps, …) say; ``folder``."""
    import transformers

    args = transformers.TrainingArguments(
        output_dir=str(folder), per_device_train_batch_size=16, num_train_epochs=2,
        learning_rate=1e-3, logging_steps=4, report_to=[], use_cpu=True, disable_tqdm=True,
        **saving)
    transformers.Trainer(model=LossModel(net), args=args,
                         train_dataset=PairDataset(*blobs(256))).train()
    return folder
