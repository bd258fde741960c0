"""PyTorch pieces shared by the fine-tuning backends (``hf_finetune``, ``lightning_finetune``):
the datasets of ``ft_data`` as torch datasets, and the corrupt batches of the ``bad_batches``
fault."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from corpus_gen import ft_data
from corpus_gen.recipe import Recipe

# where the corrupt batches fall (share of the run): irregular, so that in no run of a few epochs
# they recur at one position of the epoch, as a bad sample of unshuffled data would
BAD_STARTS = (0.31, 0.47, 0.78)


class ColumnsDataset(torch.utils.data.Dataset):
    """Rows of a ``ft_data.Columns`` as the dicts the model's ``forward`` takes."""

    def __init__(self, columns: ft_data.Columns) -> None:
        self.cols = {k: torch.from_numpy(np.ascontiguousarray(v))
                     for k, v in columns.as_dict().items()}

    def __len__(self) -> int:
        return len(self.cols["input_ids"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.cols.items()}


def optimizer_steps(recipe: Recipe, n_train: int) -> int:
    """Optimiser steps of the whole run as the Trainer plans them."""
    ft = recipe.finetune
    accum = ft.grad_accum if ft else 1
    per_epoch = max(1, -(-n_train // recipe.batch_size) // accum)
    if recipe.faults.get("schedule_bug") == "max_steps_short" and recipe.max_steps:
        return recipe.max_steps
    return per_epoch * recipe.epochs


def bad_steps(recipe: Recipe, total: int) -> set[int]:
    """The optimiser steps (0-based) whose batch is corrupt: ``bad_batches`` in up to three
    clusters after the first quarter of the run."""
    n = int(recipe.faults.get("bad_batches", 0))
    if not n:
        return set()
    clusters = BAD_STARTS[:min(n, len(BAD_STARTS))]
    sizes = [n // len(clusters) + (k < n % len(clusters)) for k in range(len(clusters))]
    return {int(at * total) + j
            for at, size in zip(clusters, sizes, strict=True) for j in range(size)}


def corrupt(recipe: Recipe, inputs: dict[str, Any], step: int) -> dict[str, Any]:
    """A corrupt batch: token ids through a permuted vocabulary (LM), labels shuffled (cls)."""
    gen = torch.Generator().manual_seed(recipe.seed * 1_009 + step)
    if recipe.task == "lm":
        perm = torch.randperm(recipe.vocab, generator=gen)
        ids = inputs["input_ids"]
        ids = torch.where(ids < recipe.vocab, perm[ids.clamp(max=recipe.vocab - 1)], ids)
        return {**inputs, "input_ids": ids, "labels": ids.clone()}
    labels = inputs["labels"]
    return {**inputs, "labels": labels[torch.randperm(len(labels), generator=gen)]}
