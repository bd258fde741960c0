"""PyTorch Lightning backend: a LightningModule trained by ``lightning.Trainer`` with its loggers.

``recipe.log.formats`` picks the loggers (``"csv"`` → ``CSVLogger``, ``"tensorboard"`` →
``TensorBoardLogger``; both may be given), both under ``out_dir/lightning_logs/version_0/``
(``metrics.csv`` + ``hparams.yaml``, or ``events.out.tfevents…`` + ``hparams.yaml``).
``recipe.log.log_lr`` adds a ``LearningRateMonitor``; ``recipe.log.log_grad_norm`` logs
``lightning.pytorch.utilities.grad_norm`` in ``on_before_optimizer_step``. The metric names
follow ``recipe.log.tag_scheme`` (see :data:`NAME_SCHEMES`).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from corpus_gen import torch_parts as tp
from corpus_gen.data import make_data
from corpus_gen.recipe import Recipe

SUPPORTED_FAULTS: set[str] = set(tp.TORCH_FAULTS) | {"bad_batches"}  # + lightning_finetune

# scheme -> (train loss name, val loss name, val acc name, train logged on_step, on_epoch)
NAME_SCHEMES: dict[str, tuple[str, str, str, bool, bool]] = {
    "canonical": ("train_loss", "val_loss", "val_acc", True, True),
    "lightning_default": ("train_loss", "val_loss", "val_acc", True, True),
    "slash": ("train/loss", "val/loss", "val/acc", True, False),
    "short": ("loss", "val_loss", "val_accuracy", True, False),
    "epoch_only": ("train_loss", "val_loss", "val_acc", False, True),
    "train_only": ("train_loss", "", "", True, False),
}


def _hparams(recipe: Recipe) -> dict[str, Any]:
    m, o = recipe.model, recipe.optim
    return {"lr": o.lr, "optimizer": o.name, "weight_decay": o.weight_decay,
            "batch_size": recipe.batch_size, "max_epochs": recipe.epochs, "arch": m.arch,
            "hidden_dim": m.width, "num_layers": m.depth, "dropout": m.dropout,
            "activation": m.activation, "scheduler": o.schedule, "num_classes":
                recipe.num_classes, "warmup_frac": o.warmup_frac}


def _module(recipe: Recipe, net: torch.nn.Module, n_train: int) -> Any:
    import lightning.pytorch as pl
    from lightning.pytorch.utilities import grad_norm

    names = NAME_SCHEMES.get(recipe.log.tag_scheme, NAME_SCHEMES["canonical"])
    train_name, val_name, acc_name, on_step, on_epoch = names

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.save_hyperparameters(_hparams(recipe))
            self.train_record: list[list[float]] = []
            self.val_record: list[list[float]] = []
            self.gen = torch.Generator().manual_seed(recipe.seed + 17)
            self._val: list[tuple[float, float, float, int]] = []
            self._bad = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            out = self(tp.augment(recipe, x, self.gen))
            loss = tp.compute_loss(recipe, out, y)
            value = float(loss.detach())
            self.train_record.append([self.global_step + 1, value])
            self._bad += not math.isfinite(value)
            if self._bad > 30:
                self.trainer.should_stop = True
            self.log(train_name, loss, on_step=on_step, on_epoch=on_epoch)
            if recipe.is_classification and val_name:
                self.log("train_acc", tp.accuracy(recipe, out.detach(), y), on_step=on_step,
                         on_epoch=on_epoch)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            out = self(x)
            loss = tp.compute_loss(recipe, out, y)
            self._val.append((float(loss), tp.accuracy(recipe, out, y),
                              float(tp.reference_loss(recipe, out, y)), len(y)))
            if val_name:
                self.log(val_name, loss, on_epoch=True)
                if recipe.is_classification:
                    self.log(acc_name, tp.accuracy(recipe, out, y), on_epoch=True)

        def on_validation_epoch_end(self) -> None:
            if self.trainer.sanity_checking or not self._val:
                self._val.clear()
                return
            n = sum(v[3] for v in self._val)
            mean = [sum(v[k] * v[3] for v in self._val) / n for k in range(3)]
            self.val_record.append([self.global_step, *mean])
            self._val.clear()

        def on_validation_model_eval(self) -> None:
            tp.validation_mode(recipe, self)  # eval_in_train_mode: someone overrode the hook

        def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
            tp.zero_grad(recipe, optimizer)

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            if recipe.log.log_grad_norm:
                self.log_dict(grad_norm(self, norm_type=2))

        def configure_optimizers(self) -> Any:
            opt = tp.make_optimizer(recipe, self.parameters())
            spe = max(1, -(-n_train // recipe.batch_size))
            sched = tp.make_scheduler(recipe, opt, spe * recipe.epochs)
            return {"optimizer": opt,
                    "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1}}

    return Module()


def quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def loggers(recipe: Recipe, out_dir: Path) -> list[Any]:
    """The loggers ``recipe.log.formats`` names, both under ``lightning_logs/version_0``."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    formats = recipe.log.formats or ("csv",)
    out: list[Any] = []
    if "csv" in formats:
        out.append(CSVLogger(str(out_dir), name="lightning_logs", version=0))
    if "tensorboard" in formats:
        out.append(TensorBoardLogger(str(out_dir), name="lightning_logs", version=0,
                                     default_hp_metric=False))
    return out


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Fit with ``lightning.Trainer``; write ``out_dir/lightning_logs/`` and return the records.

    A recipe with a ``finetune`` section fine-tunes a pre-trained base
    (``lightning_finetune``)."""
    if recipe.finetune is not None:
        from corpus_gen import lightning_finetune

        return lightning_finetune.train(recipe, out_dir)
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import LearningRateMonitor

    started = time.perf_counter()
    quiet_lightning()
    tp.seed_everything(recipe)
    data = make_data(recipe)
    xt, yt, xv, yv = tp.tensors(data)
    module = _module(recipe, tp.build_model(recipe, data), len(xt))
    gen = torch.Generator().manual_seed(recipe.seed + 29)
    train_loader = DataLoader(TensorDataset(xt, yt), batch_size=recipe.batch_size,
                              shuffle=not recipe.faults.get("sorted_by_label"), generator=gen)
    val_loader = DataLoader(TensorDataset(xv, yv), batch_size=256)
    callbacks: list[Any] = []
    if recipe.log.log_lr:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    evals = max(1, min(recipe.log.evals_per_epoch, len(train_loader)))
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1, logger=loggers(recipe, out_dir), callbacks=callbacks,
        log_every_n_steps=max(1, recipe.log.every_n_steps), enable_progress_bar=False,
        enable_model_summary=False, deterministic=True,
        gradient_clip_val=recipe.optim.clip_norm, num_sanity_val_steps=0,
        val_check_interval=1.0 / evals if evals > 1 else 1.0)
    trainer.fit(module, train_loader, val_loader)
    return {"log_dir": "lightning_logs/version_0", "scheme": recipe.log.tag_scheme,
            "steps": int(trainer.global_step), "steps_per_epoch": len(train_loader),
            "seconds": time.perf_counter() - started,
            "series": {"train_loss": module.train_record,
                       "val_loss": [[s, v[0]] for s, *v in module.val_record],
                       "val_acc": [[s, v[1]] for s, *v in module.val_record],
                       "reference_val_loss": [[s, v[2]] for s, *v in module.val_record]}}
