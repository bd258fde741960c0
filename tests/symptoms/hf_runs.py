"""Real Hugging Face Trainer runs with fine-tuning faults, for the fine-tune detector tests.

Each function trains a tiny GPT-2 (built from a config, CPU, one thread, a few dozen to a few
hundred steps) with ``transformers.Trainer`` into ``out`` and writes what the Trainer writes:
``trainer_state.json`` (``save_state``), the model's ``config.json`` (``save_model``) and the
TensorBoard events of its TensorBoard callback (``runs/``), whose ``args`` text holds the
TrainingArguments. The faults are the ones practitioners hit, written the way they write them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import transformers
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
from transformers.trainer_callback import PrinterCallback

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
VOCAB, LENGTH = 16, 12


def sequences(n: int, step: int = 1, seed: int = 0, random: bool = False) -> torch.Tensor:
    """Token sequences counting up by ``step`` (mod the vocabulary) from a random start - a
    pattern a tiny LM learns in a few dozen steps - or uniformly random tokens."""
    g = torch.Generator().manual_seed(seed)
    if random:
        return torch.randint(0, VOCAB, (n, LENGTH), generator=g)
    start = torch.randint(0, VOCAB, (n, 1), generator=g)
    return (start + step * torch.arange(LENGTH)) % VOCAB


class Tokens(torch.utils.data.Dataset):
    """input_ids with labels = input_ids (the causal-LM model shifts them itself)."""

    def __init__(self, ids: torch.Tensor) -> None:
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def gpt2(width: int = 16, seed: int = 0, cls: type = GPT2LMHeadModel) -> Any:
    torch.manual_seed(seed)
    return cls(GPT2Config(n_embd=width, n_layer=1, n_head=2, vocab_size=VOCAB, n_positions=LENGTH,
                          bos_token_id=0, eos_token_id=0, pad_token_id=0))


class InOrder(Trainer):
    """Batches in dataset order, so a corrupted batch lands at a known step."""

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        return torch.utils.data.SequentialSampler(self.train_dataset)


class UnshiftedLoss(Trainer):
    """A custom compute_loss that forgets the one-token shift: position t learns token t,
    which it can read - the labels leak into the input."""

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        out = model(input_ids=inputs["input_ids"])
        loss = F.cross_entropy(out.logits.reshape(-1, VOCAB), inputs["labels"].reshape(-1))
        return (loss, out) if return_outputs else loss


class SummedAccumulation(Trainer):
    """Logs the loss summed over the gradient-accumulation micro-batches instead of averaged
    (transformers 4.46-4.48, issues #34263 / #35204)."""

    def training_step(self, model: Any, inputs: dict[str, Any],
                      num_items_in_batch: Any = None) -> torch.Tensor:
        loss = super().training_step(model, inputs, num_items_in_batch)
        return loss * self.args.gradient_accumulation_steps


class HotHalfGPT2(GPT2LMHeadModel):
    """A GPT-2 with a badly scaled output head (logits ×2000), to be cast to float16."""

    def forward(self, input_ids: Any = None, labels: Any = None, **kwargs: Any) -> Any:
        logits = super().forward(input_ids=input_ids, **kwargs).logits * 2000.0
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), labels[:, 1:].reshape(-1))
        return {"loss": loss, "logits": logits}


def train(out: Path, model: Any, data: torch.Tensor, trainer: type = Trainer,
          evals: Any = None, optimizers: tuple[Any, Any] = (None, None), **options: Any) -> Path:
    """Train with the Trainer's defaults (AdamW, linear schedule, NaN filter, clipping at 1.0),
    log every step and save state and model; returns ``out``."""
    settings: dict[str, Any] = dict(
        output_dir=str(out), logging_steps=1, per_device_train_batch_size=8, num_train_epochs=1,
        learning_rate=3e-3, use_cpu=True, report_to=["tensorboard"], disable_tqdm=True,
        save_strategy="no", seed=0, dataloader_num_workers=0, per_device_eval_batch_size=64)
    if evals is not None:
        settings.update(eval_strategy="steps", eval_steps=8)
    settings.update(options)
    run = trainer(model=model, args=TrainingArguments(**settings), train_dataset=Tokens(data),
                  eval_dataset=evals, optimizers=optimizers)
    run.remove_callback(PrinterCallback)
    run.train()
    run.save_state()
    run.save_model()
    return out


# ---------------------------------------------------------------------------------- runs


def loss_spikes(out: Path) -> Path:
    """Two garbage batches (random tokens) at steps 61 and 101 of a run with no warm-up."""
    ids = sequences(1024)
    g = torch.Generator().manual_seed(1)
    for step in (60, 100):
        ids[8 * step: 8 * step + 8] = torch.randint(0, VOCAB, (8, LENGTH), generator=g)
    return train(out, gpt2(), ids, InOrder, lr_scheduler_type="constant")


def healthy(out: Path) -> Path:
    """Warm-up of 10 % and linear decay over 3 epochs, evaluated every 8 steps."""
    return train(out, gpt2(), sequences(256), evals=Tokens(sequences(64, seed=5)),
                 warmup_steps=0.1, num_train_epochs=3)


def warmup_longer_than_run(out: Path) -> Path:
    """warmup_steps = 200 with max_steps = 40: the rate is still rising when training ends."""
    return train(out, gpt2(), sequences(256), warmup_steps=200, max_steps=40)


def max_steps_far_below_an_epoch(out: Path) -> Path:
    """max_steps = 12 of a 128-step epoch: it overrides num_train_epochs and ends the run."""
    return train(out, gpt2(), sequences(1024), max_steps=12)


def schedule_horizon_one_epoch(out: Path) -> Path:
    """A linear schedule built for 32 steps (one epoch) passed to a 3-epoch run."""
    model = gpt2()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, 2, 32)
    return train(out, model, sequences(256), optimizers=(optimizer, schedule), num_train_epochs=3)


def summed_accumulation(out: Path) -> Path:
    """gradient_accumulation_steps = 4 with the loss summed over the micro-batches."""
    return train(out, gpt2(), sequences(256), SummedAccumulation,
                 evals=Tokens(sequences(64, seed=5)), gradient_accumulation_steps=4,
                 per_device_train_batch_size=4, eval_steps=2, num_train_epochs=2)


def unshifted_labels(out: Path) -> Path:
    """Random tokens (nothing to learn) with a loss that compares position t with token t."""
    return train(out, gpt2(width=32), sequences(512, random=True), UnshiftedLoss,
                 evals=Tokens(sequences(64, seed=3, random=True)), eval_steps=16,
                 learning_rate=2e-2, num_train_epochs=2)


def half_precision(out: Path) -> Path:
    """The whole model cast to float16 (no loss scaler) with an overflowing head."""
    return train(out, gpt2(cls=HotHalfGPT2).half(), sequences(256))


def forgetting(out: Path) -> Path:
    """Pretrain on one pattern, save, reload with from_pretrained and fine-tune on another,
    evaluating both (eval_dataset as a dict: eval_orig_loss, eval_new_loss)."""
    base = train(out / "pretrain", gpt2(width=32), sequences(512, step=1), learning_rate=1e-2)
    model = GPT2LMHeadModel.from_pretrained(str(base))
    evals = {"orig": Tokens(sequences(64, step=1, seed=8)),
             "new": Tokens(sequences(64, step=3, seed=9))}
    return train(out / "finetune", model, sequences(512, step=3, seed=1), evals=evals)
