"""Fine-tuning runs with ``transformers.Trainer``: a pre-trained tiny GPT-2 / BERT adapted to a
topic of its world (``ft_data``), with the faults real fine-tuning scripts have (issue 17).

The files are the Trainer's own (``checkpoint-N/trainer_state.json``, ``runs/…`` TensorBoard, and
with ``"save_state"`` the final state and model), as in ``backend_hf``. ``Finetune.eval_sets``
of two sets passes ``eval_dataset`` as a dict, so the Trainer logs ``eval_original_loss`` and
``eval_new_loss``. How each fault is injected:

* ``bad_batches``: at a few steps after the first quarter, the batch is replaced by a corrupt
  one — for the LM a shard tokenised with another vocabulary (token ids permuted), for the
  classifier labels shuffled within the batch.
* ``fp16="half"``: ``model.half()`` and the Trainer's AdamW on float16 weights and states, no
  loss scaling. ``fp16="static_scale"``: the forward under ``torch.autocast(float16)`` and a
  hand-rolled loss scaler that doubles every ``SCALE_GROWTH`` steps and never backs off. On CPU
  ``fp16=True`` does nothing (accelerate has no CPU GradScaler), so both are written out here.
* ``labels_unshifted``: a custom ``compute_loss`` scores the logits at t against the token at t.
* ``pad_not_masked`` / ``labels_all_masked``: the datasets (``ft_data``).
* ``ga_loss_not_scaled``: ``"custom_loss"`` — a custom ``compute_loss`` returns the micro-batch
  mean; the model takes ``**kwargs``, so the Trainer believes the loss is normalised by
  ``num_items_in_batch`` and does not divide it by ``gradient_accumulation_steps`` (transformers
  #35438, #37766). ``"model_ignores_num_items"`` — nothing is injected: the stock Trainer does the
  same with ``BertForSequenceClassification``, whose ``**kwargs`` ignore ``num_items_in_batch``
  (transformers 5.24).
* ``_early_stop`` (not a fault): ``EarlyStoppingCallback`` with that patience on
  ``eval_loss``, the best checkpoint loaded at the end.
* ``schedule_bug``: ``warmup_past_end`` (warm-up twice the run), ``one_epoch_schedule``
  (``create_scheduler`` given the steps of one epoch), ``max_steps_short`` (``max_steps`` set
  to ``recipe.max_steps``, far below one epoch).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from corpus_gen import backend_hf, ft_data, pretrained
from corpus_gen import torch_parts as tp
from corpus_gen.ft_parts import ColumnsDataset, bad_steps, corrupt, optimizer_steps
from corpus_gen.recipe import Recipe

SCALE_INIT = 2.0 ** 16  # torch.amp.GradScaler's init_scale
SCALE_GROWTH = 20  # steps between doublings of the hand-rolled loss scale


def _extra_args(recipe: Recipe, total: int) -> dict[str, Any]:
    ft = recipe.finetune
    assert ft is not None
    kw: dict[str, Any] = {"adam_beta2": ft.adam_beta2, "adam_epsilon": ft.adam_eps,
                          "gradient_accumulation_steps": ft.grad_accum}
    evals = max(1, recipe.log.evals_per_epoch)
    if ft.grad_accum > 1 and evals > 1:  # evaluate in optimiser steps, not in batches
        every = max(1, total // max(1, recipe.epochs) // evals)
        kw.update(eval_steps=every, save_steps=every * evals * max(1, recipe.epochs // 2))
    if ft.warmup_steps is not None:
        kw["warmup_steps"] = int(ft.warmup_steps)
    if len(ft.eval_sets) > 1:  # watching the original task: measure it before any update too
        kw["eval_on_start"] = True
    if recipe.faults.get("_early_stop"):  # EarlyStoppingCallback's requirements
        every = max(1, total // max(1, recipe.epochs * recipe.log.evals_per_epoch))
        kw.update(eval_strategy="steps", eval_steps=every, save_strategy="steps",
                  save_steps=every, save_total_limit=2, load_best_model_at_end=True,
                  metric_for_best_model="eval_loss", greater_is_better=False)
    bug = recipe.faults.get("schedule_bug")
    if bug == "warmup_past_end":
        kw["warmup_steps"] = 2 * total
    elif bug == "max_steps_short" and recipe.max_steps:
        every = max(1, recipe.max_steps // 4)
        kw.update(max_steps=recipe.max_steps, eval_strategy="steps", eval_steps=every,
                  save_strategy="steps", save_steps=recipe.max_steps)
    return kw


def _lm_loss(logits: torch.Tensor, labels: torch.Tensor, shift: bool) -> torch.Tensor:
    """Mean token cross-entropy as a hand-written training script computes it."""
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                           ignore_index=ft_data.IGNORE)


def _trainer_cls(recipe: Recipe, total: int, steps_per_epoch: int) -> type:
    from transformers import Trainer

    f = recipe.faults
    corrupt_at = bad_steps(recipe, total)
    custom_loss = bool(f.get("labels_unshifted") or f.get("ga_loss_not_scaled") == "custom_loss")
    static_scale = f.get("fp16") == "static_scale"

    class FinetuneTrainer(Trainer):
        """The Trainer subclass of a fine-tuning script, with its mistake."""

        loss_scale = SCALE_INIT
        grown_at = 0

        def training_step(self, model: nn.Module, inputs: dict[str, Any],
                          num_items_in_batch: Any = None) -> torch.Tensor:
            if self.state.global_step in corrupt_at:
                inputs = corrupt(recipe, inputs, self.state.global_step)
            if not static_scale:
                return super().training_step(model, inputs, num_items_in_batch)
            model.train()
            inputs = self._prepare_inputs(inputs)
            with torch.autocast("cpu", dtype=torch.float16):
                loss = self.compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
            if not (self.model_accepts_loss_kwargs and num_items_in_batch is not None):
                loss = loss / self.current_gradient_accumulation_steps
            (loss * self.loss_scale).backward()
            for p in model.parameters():  # unscale; no check for inf, no skipped step
                if p.grad is not None:
                    p.grad.div_(self.loss_scale)
            step = self.state.global_step + 1
            if step % SCALE_GROWTH == 0 and step != self.grown_at:
                self.loss_scale *= 2.0
                self.grown_at = step
            return loss.detach()

        def compute_loss(self, model: nn.Module, inputs: dict[str, Any],
                         return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            if not custom_loss:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs["labels"]
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
            if recipe.task == "lm":  # ga bug: the usual shifted CE; leak: no shift at all
                loss = _lm_loss(outputs.logits, labels, shift=not f.get("labels_unshifted"))
            else:  # a class-weighted cross-entropy, the usual reason to override compute_loss
                weights = torch.ones(recipe.num_classes, device=labels.device)
                weights[0] = 1.5
                loss = F.cross_entropy(outputs.logits.float(), labels, weight=weights)
            return (loss, outputs) if return_outputs else loss

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if f.get("schedule_bug") == "one_epoch_schedule":
                num_training_steps = steps_per_epoch  # len(train_dataloader), not × epochs
            return super().create_scheduler(num_training_steps, optimizer)

    return FinetuneTrainer


def _metrics(recipe: Recipe) -> tuple[Any, Any]:
    """``compute_metrics`` and ``preprocess_logits_for_metrics``: accuracy for the classifier."""
    if recipe.task != "transformer_cls":
        return None, None

    def preprocess(logits: Any, labels: torch.Tensor) -> torch.Tensor:
        logits = logits[0] if isinstance(logits, tuple) else logits
        return logits.argmax(dim=-1)

    def compute(pred: Any) -> dict[str, float]:
        return {"accuracy": float((np.asarray(pred.predictions)
                                   == np.asarray(pred.label_ids)).mean())}

    return compute, preprocess


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Fine-tune the recipe's pre-trained base with ``transformers.Trainer`` into ``out_dir``."""
    backend_hf.quiet_transformers()
    from transformers.trainer_callback import PrinterCallback

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tp.seed_everything(recipe)
    data = ft_data.make_ft_data(recipe)
    model = pretrained.load(recipe)
    if recipe.faults.get("fp16") == "half":
        model = model.half()
    ft = recipe.finetune
    assert ft is not None
    total = optimizer_steps(recipe, len(data.train))
    steps_per_epoch = max(1, -(-len(data.train) // recipe.batch_size) // ft.grad_accum)
    args = backend_hf._args(recipe, out_dir, _extra_args(recipe, total))
    evals = {name: ColumnsDataset(cols) for name, cols in data.evals.items()}
    compute, preprocess = _metrics(recipe)
    callbacks: list[Any] = []
    if recipe.faults.get("_early_stop"):
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(int(recipe.faults["_early_stop"])))
    if recipe.max_steps and recipe.faults.get("schedule_bug") != "max_steps_short":
        callbacks.append(backend_hf._stop_callback(recipe.max_steps,
                                                   args.save_strategy == "steps"))
    trainer = _trainer_cls(recipe, total, steps_per_epoch)(
        model=model, args=args, train_dataset=ColumnsDataset(data.train),
        eval_dataset=evals if len(evals) > 1 else evals["new"], compute_metrics=compute,
        preprocess_logits_for_metrics=preprocess, callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    if "save_state" in recipe.log.formats:
        trainer.save_state()
        trainer.save_model()
    history = trainer.state.log_history
    series: dict[str, list[list[float]]] = {}
    for entry in history:
        for key, value in entry.items():
            if key != "step" and isinstance(value, (int, float)) and "step" in entry:
                series.setdefault(key, []).append([entry["step"], float(value)])
    return {"steps": int(trainer.state.global_step), "steps_per_epoch": steps_per_epoch,
            "seconds": time.perf_counter() - started, "series": series,
            "base": pretrained.base_path(recipe).name}
