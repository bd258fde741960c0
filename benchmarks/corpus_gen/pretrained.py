"""Tiny base models really pre-trained on a world's general text, cached on disk.

``load(recipe)`` returns the model a fine-tuning run starts from: a ``GPT2LMHeadModel`` (task
``lm`` and the RL policy) pre-trained as a causal LM, or a ``BertForSequenceClassification``
whose encoder was pre-trained by masked-language modelling (the classifier head is new, as
``from_pretrained`` makes it). Pre-training is a plain PyTorch loop of ``Finetune.pretrain_steps``
steps, deterministic in the world seed; the weights are saved with ``save_pretrained`` under
``$NNDOCTOR_CORPUS_CACHE`` (``make_corpus.py`` points it to ``OUT_DIR/.cache``), keyed by the
configuration, so a cached and a fresh base are the same tensors.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from corpus_gen import ft_data
from corpus_gen.recipe import Finetune, Recipe

CACHE_ENV = "NNDOCTOR_CORPUS_CACHE"
PRETRAIN_VERSION = 1  # bump when the pre-training below changes
POSITIONS = 32  # GPT-2 context: the LM's sequences and the RL prompt + completion fit
BATCH = 64
LR = 3e-3
MASK_SHARE = 0.15


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "nndoctor-corpus")


def kind(recipe: Recipe) -> str:
    return "bert_mlm" if recipe.task == "transformer_cls" else "gpt2"


def _config(recipe: Recipe) -> Any:
    from transformers import BertConfig, GPT2Config

    m, v = recipe.model, recipe.vocab
    heads = 2 if m.width % 2 == 0 else 1
    if kind(recipe) == "gpt2":
        return GPT2Config(n_embd=m.width, n_layer=m.depth, n_head=heads, vocab_size=v + 1,
                          n_positions=POSITIONS, bos_token_id=v, eos_token_id=v, pad_token_id=v,
                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return BertConfig(hidden_size=m.width, num_hidden_layers=m.depth, num_attention_heads=heads,
                      intermediate_size=2 * m.width, vocab_size=v + 3,
                      max_position_embeddings=recipe.seq_len, type_vocab_size=1,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=v)


def _key(recipe: Recipe, ft: Finetune) -> str:
    cfg = _config(recipe).to_dict()
    cfg.pop("transformers_version", None)
    blob = json.dumps([PRETRAIN_VERSION, kind(recipe), ft.world, ft.pretrain_steps,
                       recipe.seq_len, cfg], sort_keys=True, default=str)
    return f"{kind(recipe)}-{hashlib.sha1(blob.encode()).hexdigest()[:12]}"


def _pretrain(recipe: Recipe, ft: Finetune) -> torch.nn.Module:
    from transformers import BertForMaskedLM, GPT2LMHeadModel

    torch.manual_seed(ft.world)
    gen = torch.Generator().manual_seed(ft.world + 1)
    causal = kind(recipe) == "gpt2"
    length = recipe.seq_len + 1 if causal else recipe.seq_len
    corpus = ft_data.pretrain_corpus(ft, recipe.vocab, length, 8000)
    corpus = torch.from_numpy(corpus if causal else ft_data.with_cls(corpus, recipe.vocab))
    model = (GPT2LMHeadModel if causal else BertForMaskedLM)(_config(recipe))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * max(0.1, 1 - s / ft.pretrain_steps))
    for _ in range(ft.pretrain_steps):
        batch = corpus[torch.randint(0, len(corpus), (BATCH,), generator=gen)]
        if causal:
            loss = model(input_ids=batch, labels=batch).loss
        else:
            masked = torch.rand(batch.shape, generator=gen) < MASK_SHARE
            masked[:, 0] = False  # [CLS]
            labels = torch.where(masked, batch, torch.full_like(batch, ft_data.IGNORE))
            inputs = torch.where(masked, torch.full_like(batch, ft_data.mask_id(recipe.vocab)),
                                 batch)
            loss = model(input_ids=inputs, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
    return model


def base_path(recipe: Recipe) -> Path:
    """The directory of the pre-trained base (pre-trained now when not cached yet)."""
    ft = recipe.finetune
    if ft is None:
        raise ValueError("a pre-trained base needs a recipe with a finetune section")
    path = cache_dir() / _key(recipe, ft)
    if (path / "config.json").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    state = torch.random.get_rng_state(), np.random.get_state()
    model = _pretrain(recipe, ft)
    torch.random.set_rng_state(state[0])
    np.random.set_state(state[1])
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=path.parent))
    model.save_pretrained(tmp)
    try:
        os.rename(tmp, path)
    except OSError:  # another worker saved the same base first: the tensors are identical
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def load(recipe: Recipe) -> torch.nn.Module:
    """The model a fine-tuning run starts from, with the recipe's dropout (call it after
    ``seed_everything``: the new head's init draws from the global RNG)."""
    from transformers import BertForSequenceClassification, GPT2LMHeadModel

    path = base_path(recipe)
    p = recipe.model.dropout
    if kind(recipe) == "gpt2":
        return GPT2LMHeadModel.from_pretrained(path, resid_pdrop=p, embd_pdrop=p, attn_pdrop=p)
    return BertForSequenceClassification.from_pretrained(
        path, num_labels=recipe.num_classes, hidden_dropout_prob=p,
        attention_probs_dropout_prob=p, classifier_dropout=p)
