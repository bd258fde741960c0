"""Lightning / Hugging Face / Keras callbacks: the missing-extra error, the adapter logic with
fake frameworks, and (when the framework is installed) a real short training run."""

from __future__ import annotations

import importlib
import json
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from nndoctor.probes.sink import MemoryWriter  # noqa: E402
from tests.probes.helpers import LossModel, PairDataset, blobs, diagnose, mlp  # noqa: E402

FRAMEWORKS = {
    "lightning": ("nndoctor.probes.lightning", ("lightning", "lightning.pytorch",
                                               "pytorch_lightning")),
    "hf": ("nndoctor.probes.hf", ("transformers",)),
    "keras": ("nndoctor.probes.keras", ("keras",)),
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fresh_import(monkeypatch: pytest.MonkeyPatch, module: str,
                 fakes: dict[str, Any]) -> types.ModuleType:
    """Import ``module`` anew with ``fakes`` standing in for (or blocking) framework modules."""
    for name, fake in fakes.items():
        monkeypatch.setitem(sys.modules, name, fake)
    monkeypatch.setitem(sys.modules, module, None)  # so the undo also drops the fresh module
    del sys.modules[module]
    return importlib.import_module(module)


def rows(path: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("extra", list(FRAMEWORKS))
def test_missing_framework_names_the_extra(extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, blocked = FRAMEWORKS[extra]
    with pytest.raises(ImportError, match=rf"pip install 'nndoctor\[{extra}\]'"):
        fresh_import(monkeypatch, module, dict.fromkeys(blocked))


# ------------------------------------------------------------------------------ fakes
def fake_lightning() -> dict[str, Any]:
    pytorch = types.ModuleType("lightning.pytorch")
    pytorch.Callback = type("Callback", (), {})  # type: ignore[attr-defined]
    package = types.ModuleType("lightning")
    package.pytorch = pytorch  # type: ignore[attr-defined]
    return {"lightning": package, "lightning.pytorch": pytorch}


def test_lightning_adapter_with_a_fake_trainer(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    mod = fresh_import(monkeypatch, "nndoctor.probes.lightning", fake_lightning())
    torch.manual_seed(0)
    model, (x, y) = mlp(depth=2), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    trainer = SimpleNamespace(optimizers=[optimizer], loggers=[], log_dir=str(tmp_path))
    callback = mod.NndoctorCallback(every=2)
    callback.on_fit_start(trainer, model)
    for i in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        callback.on_train_batch_end(trainer, model, {"loss": loss}, (x, y), i)
    callback.on_fit_end(trainer, model)
    lines = rows(tmp_path / "nndoctor" / "probe.jsonl")
    assert [r["step"] for r in lines] == [0, 1, 2, 3, 4]
    assert all("train_loss" in r for r in lines)
    assert [r["step"] for r in lines if "nndoctor/grad_norm/00-0" in r] == [0, 2, 4]
    # with a TensorBoard logger the values go there, without the loss (the user logs it)
    board = MemoryWriter()
    trainer.loggers = [SimpleNamespace(experiment=board)]
    callback.on_fit_start(trainer, model)
    optimizer.step()
    callback.on_train_batch_end(trainer, model, {"loss": loss}, (x, y), 0)
    callback.on_fit_end(trainer, model)
    assert "nndoctor/update_ratio/00-0" in board.points and "train_loss" not in board.points
    assert mod.loss_value(torch.tensor(1.0)) is not None and mod.loss_value(None) is None


def test_hf_adapter_with_a_wrapped_optimizer(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    fake = types.ModuleType("transformers")
    fake.TrainerCallback = type("TrainerCallback", (), {})  # type: ignore[attr-defined]
    mod = fresh_import(monkeypatch, "nndoctor.probes.hf", {"transformers": fake})
    torch.manual_seed(0)
    model, (x, y) = mlp(depth=2), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 1e-7)
    wrapped = SimpleNamespace(optimizer=optimizer)  # like accelerate's AcceleratedOptimizer
    args, control = SimpleNamespace(output_dir=str(tmp_path)), SimpleNamespace()
    callback = mod.NndoctorCallback(every=2)
    callback.on_train_begin(args, SimpleNamespace(global_step=0), control, model=model,
                            optimizer=wrapped)
    assert callback.probe.optimizer is optimizer
    for i in range(6):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        callback.on_step_end(args, SimpleNamespace(global_step=i + 1), control)
        callback.on_log(args, SimpleNamespace(global_step=i + 1), control,
                        logs={"loss": loss.item()})
    callback.on_train_end(args, SimpleNamespace(global_step=6), control)
    lines = rows(tmp_path / "nndoctor" / "probe.jsonl")
    assert [r["step"] for r in lines if "nndoctor/update_ratio/00-0" in r] == [0, 2, 4]
    assert sum("train_loss" in r for r in lines) == 6


class FakeLayer:
    def __init__(self, name: str, kernel: np.ndarray, activation: str | None = None,
                 trainable: bool = True) -> None:
        self.name, self.kernel, self.bias = name, kernel, np.zeros(kernel.shape[-1])
        self.activation = SimpleNamespace(__name__=activation) if activation else None
        self.trainable = trainable

    @property
    def weights(self) -> list[np.ndarray]:
        return [self.kernel, self.bias]

    def get_weights(self) -> list[np.ndarray]:
        return [self.kernel.copy(), self.bias.copy()]


def test_keras_adapter_with_fake_layers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = types.ModuleType("keras")
    fake.callbacks = SimpleNamespace(  # type: ignore[attr-defined]
        Callback=type("Callback", (), {"__init__": lambda self: None}))
    mod = fresh_import(monkeypatch, "nndoctor.probes.keras", {"keras": fake})
    rng = np.random.default_rng(0)
    dense = FakeLayer("dense", rng.normal(size=(20, 8)), "relu")
    frozen = FakeLayer("frozen", rng.normal(size=(8, 8)), "tanh", trainable=False)
    zero = FakeLayer("out", np.zeros((8, 4)))
    callback = mod.NndoctorCallback(log_dir=tmp_path, every=2)
    callback.model = SimpleNamespace(layers=[dense, frozen, zero],
                                     optimizer=SimpleNamespace(learning_rate=0.01))
    callback.on_train_begin()
    for batch in range(4):
        callback.on_train_batch_begin(batch)
        dense.kernel = dense.kernel * 1.001  # an update of 1e-3 of the weights
        callback.on_train_batch_end(batch, {"loss": 1.0 - batch / 10})
    callback.on_train_end()
    lines = rows(tmp_path / "probe.jsonl")
    first = lines[0]
    assert first["nndoctor/update_ratio/00-dense"] == pytest.approx(1e-3)
    assert first["nndoctor/frozen/01-frozen"] == 1.0 and first["nndoctor/frozen/00-dense"] == 0.0
    assert first["nndoctor/symmetric_units/02-out"] == 1.0
    assert first["nndoctor/act_kind/00-dense"] == 1.0 and first["nndoctor/act_kind/01-frozen"] == 4
    assert first["lr"] == 0.01
    assert [r["step"] for r in lines if "nndoctor/frozen/00-dense" in r] == [0, 2]
    assert [r["train_loss"] for r in lines] == [1.0, 0.9, 0.8, 0.7]


# ------------------------------------------------------------------------------ real frameworks
def test_real_lightning_run_finds_frozen_layer(tmp_path: Path) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from nndoctor.probes.lightning import NndoctorCallback

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()
            self.net[0].requires_grad_(False)

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            return nn.functional.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], 1e-3)

    torch.manual_seed(0)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*blobs(512)), batch_size=16)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[NndoctorCallback(every=5, log_dir=tmp_path)])
    trainer.fit(Module(), data)
    assert diagnose(tmp_path / "probe.jsonl").diagnosis.causes[0].id == "frozen_layers"


def test_real_hf_trainer_finds_low_lr(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from nndoctor.probes.hf import NndoctorCallback

    x, y = blobs(512)

    torch.manual_seed(0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=2,
        learning_rate=1e-7, logging_steps=1, report_to=[], save_strategy="no", use_cpu=True,
        disable_tqdm=True)
    transformers.Trainer(model=LossModel(mlp()), args=args, train_dataset=PairDataset(x, y),
                         callbacks=[NndoctorCallback(every=5)]).train()
    report = diagnose(tmp_path / "nndoctor" / "probe.jsonl")
    assert report.diagnosis.causes[0].id == "lr_too_low"


def test_real_hf_trainer_records_gradient_norms_before_clipping(tmp_path: Path) -> None:
    """The Trainer clips to max_grad_norm before the optimizer step; the callback's norms are
    the pre-clip ones, equal to the grad_norm the Trainer itself logs."""
    transformers = pytest.importorskip("transformers")
    from nndoctor.probes.hf import NndoctorCallback

    x, y = blobs(64)

    torch.manual_seed(0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, num_train_epochs=1,
        learning_rate=1e-3, max_grad_norm=0.01, logging_steps=1, report_to=[],
        save_strategy="no", use_cpu=True, disable_tqdm=True)
    trainer = transformers.Trainer(model=LossModel(mlp()), args=args,
                                   train_dataset=PairDataset(x, y),
                                   callbacks=[NndoctorCallback(every=1)])
    trainer.train()
    logged = {e["step"]: e["grad_norm"] for e in trainer.state.log_history if "grad_norm" in e}
    probed = {r["step"] + 1: r["grad_norm"] for r in rows(tmp_path / "nndoctor" / "probe.jsonl")
              if "grad_norm" in r}  # probe step s is the Trainer's global_step s + 1
    assert len(logged) == 4 and set(logged) <= set(probed)
    assert min(logged.values()) > 0.05  # well above max_grad_norm: clipping cut every step
    for step, norm in logged.items():
        assert probed[step] == pytest.approx(norm, rel=1e-4), step


def test_real_keras_fit_finds_zero_init(tmp_path: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    from nndoctor.probes.keras import NndoctorCallback

    x, y = blobs(512)
    model = keras.Sequential([
        keras.Input((20,)),
        keras.layers.Dense(32, activation="relu", kernel_initializer="zeros"),
        keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x.numpy(), y.numpy(), epochs=2, batch_size=16, verbose=0,
              callbacks=[NndoctorCallback(log_dir=tmp_path, every=5)])
    assert diagnose(tmp_path / "probe.jsonl").diagnosis.causes[0].id == "bad_weight_init"
