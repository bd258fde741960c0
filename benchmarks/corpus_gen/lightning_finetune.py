"""Fine-tuning runs with PyTorch Lightning: the pre-trained tiny GPT-2 (``pretrained.py``) in a
``LightningModule``, as people fine-tune Hugging Face models with Lightning.

Logged with the loggers of ``recipe.log.formats`` (``backend_lightning.loggers``): ``train_loss``
per step, ``val_loss`` per validation; with two eval sets (``Finetune.eval_sets``) two
validation dataloaders, which Lightning logs as ``val_loss/dataloader_idx_0`` (the new topic)
and ``val_loss/dataloader_idx_1`` (the original text), measured once before training by
``trainer.validate`` too. AdamW with warm-up and linear/cosine decay per step
(``torch_parts.make_scheduler``), clipping at ``optim.clip_norm``. Fault: ``bad_batches``
(``ft_parts.corrupt``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from corpus_gen import backend_lightning, ft_data, pretrained
from corpus_gen import torch_parts as tp
from corpus_gen.ft_parts import ColumnsDataset, bad_steps, corrupt, optimizer_steps
from corpus_gen.recipe import Recipe

EVAL_ORDER = ("new", "original")  # dataloader_idx 0, 1


def _module(recipe: Recipe, model: torch.nn.Module, total: int) -> Any:
    import lightning.pytorch as pl

    corrupt_at = bad_steps(recipe, total)

    class FinetuneModule(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.save_hyperparameters({"model_name_or_path": str(pretrained.base_path(recipe)),
                                       "lr": recipe.optim.lr, "optimizer": recipe.optim.name,
                                       "batch_size": recipe.batch_size,
                                       "max_epochs": recipe.epochs,
                                       "scheduler": recipe.optim.schedule,
                                       "warmup_frac": recipe.optim.warmup_frac})

        def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
            if self.global_step in corrupt_at:
                batch = corrupt(recipe, batch, self.global_step)
            loss = self.model(**batch).loss
            self.log("train_loss", loss, on_step=True, on_epoch=False)
            return loss

        def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int,
                            dataloader_idx: int = 0) -> None:
            self.log("val_loss", self.model(**batch).loss, on_epoch=True)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.AdamW(self.parameters(), lr=recipe.optim.lr,
                                    weight_decay=recipe.optim.weight_decay)
            sched = tp.make_scheduler(recipe, opt, total)
            return {"optimizer": opt,
                    "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1}}

    return FinetuneModule()


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Fine-tune with ``lightning.Trainer``; write ``out_dir/lightning_logs/``."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import LearningRateMonitor

    from corpus_gen.backend_hf import quiet_transformers

    started = time.perf_counter()
    backend_lightning.quiet_lightning()
    quiet_transformers()
    tp.seed_everything(recipe)
    ft = recipe.finetune
    assert ft is not None
    data = ft_data.make_ft_data(recipe)
    total = optimizer_steps(recipe, len(data.train))
    module = _module(recipe, pretrained.load(recipe), total)
    gen = torch.Generator().manual_seed(recipe.seed + 29)
    train_loader = DataLoader(ColumnsDataset(data.train), batch_size=recipe.batch_size,
                              shuffle=True, generator=gen)
    val_loaders = [DataLoader(ColumnsDataset(data.evals[name]), batch_size=256)
                   for name in EVAL_ORDER if name in data.evals]
    callbacks: list[Any] = []
    if recipe.log.log_lr:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    evals = max(1, min(recipe.log.evals_per_epoch, len(train_loader)))
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1, logger=backend_lightning.loggers(recipe, out_dir),
        callbacks=callbacks, log_every_n_steps=max(1, recipe.log.every_n_steps),
        enable_progress_bar=False, enable_model_summary=False,
        deterministic=True, gradient_clip_val=recipe.optim.clip_norm, num_sanity_val_steps=0,
        val_check_interval=1.0 / evals if evals > 1 else 1.0)
    if len(val_loaders) > 1:  # the original task's level before any update
        trainer.validate(module, val_loaders, verbose=False)
    trainer.fit(module, train_loader, val_loaders)
    return {"log_dir": "lightning_logs/version_0", "steps": int(trainer.global_step),
            "steps_per_epoch": len(train_loader), "seconds": time.perf_counter() - started,
            "series": {}}
