"""The generated "world" of the fine-tuning runs: general text, topics, and their datasets.

A world (seed ``Finetune.world``) is a general Markov chain G over ``vocab`` tokens and one own
chain per topic. Topic k's text follows ``(1 - shift)·G + shift·N_k``: related to the general
text, as a domain is to web text. Base models are pre-trained on G (``pretrained.py``); a run
fine-tunes on a topic (task ``lm``: a causal LM adapting to topic ``seed % TOPICS``) or on telling
topics apart (task ``transformer_cls``: label = the topic that wrote the sequence). The data faults
of the fine-tuning families are applied here (label noise, padding, masked labels).

Token ids: ``0 … vocab-1`` are text; ``vocab`` is the end-of-text id (GPT-2's pad = eos); for
BERT ``vocab + 1`` is ``[MASK]`` and ``vocab + 2`` is ``[CLS]``, which starts every sequence.
Everything is deterministic in the world seed and ``recipe.seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus_gen.data import markov_chain, sample_chain
from corpus_gen.recipe import Finetune, Recipe

TOPICS = 6
IGNORE = -100  # the label PyTorch's cross-entropy (and every HF model) skips


@dataclass(frozen=True)
class World:
    general: np.ndarray  # (V, V) transition matrix of the general text
    topics: np.ndarray  # (TOPICS, V, V) each topic's own chain

    def topic_chain(self, k: int, shift: float) -> np.ndarray:
        return (1.0 - shift) * self.general + shift * self.topics[k]


@dataclass(frozen=True)
class Columns:
    """One dataset as model inputs: ``input_ids``, ``labels`` and maybe ``attention_mask``."""

    input_ids: np.ndarray
    labels: np.ndarray
    attention_mask: np.ndarray | None = None

    def as_dict(self) -> dict[str, np.ndarray]:
        out = {"input_ids": self.input_ids, "labels": self.labels}
        if self.attention_mask is not None:
            out["attention_mask"] = self.attention_mask
        return out

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class FtData:
    train: Columns
    evals: dict[str, Columns]  # "new" (the fine-tuning task), "original" (general text)
    num_classes: int  # 0 for the causal LM


def world(seed: int, vocab: int) -> World:
    """General text: a sparse random chain. A topic's own chain moves to the topic's words (a
    random fifth of the vocabulary) from any token."""
    rng = np.random.default_rng(7_919 * (seed + 1))
    general = markov_chain(rng, vocab)
    topics = np.zeros((TOPICS, vocab, vocab))
    for k in range(TOPICS):
        words = rng.choice(vocab, size=max(2, vocab // 5), replace=False)
        topics[k][:, words] = rng.dirichlet(np.full(len(words), 0.5), size=vocab)
    return World(general, topics)


def chain_entropy(trans: np.ndarray) -> float:
    """Entropy rate (nats per token) of a chain: the best loss a model of it can reach."""
    pi = np.full(len(trans), 1.0 / len(trans))
    for _ in range(500):
        pi = pi @ trans
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(trans > 0, np.log(trans), 0.0)
    return float(-(pi[:, None] * trans * logs).sum())


def mask_id(vocab: int) -> int:
    return vocab + 1


def cls_id(vocab: int) -> int:
    return vocab + 2


def with_cls(x: np.ndarray, vocab: int) -> np.ndarray:
    """``[CLS]`` and the first ``length - 1`` tokens of each sequence (BERT's input layout)."""
    return np.concatenate([np.full((len(x), 1), cls_id(vocab), dtype=x.dtype), x[:, :-1]], 1)


PRETRAIN_TOPIC_SHARE = 0.5  # of the pre-training text written on one of the topics
PRETRAIN_SHIFT = 0.3  # how far the topics' pre-training text leans to the topic words


def original_text(w: World, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Text like the pre-training corpus: general text and every topic, shuffled."""
    n_topic = round(PRETRAIN_TOPIC_SHARE * n)
    parts = [sample_chain(w.general, n - n_topic, length, rng)]
    per = np.bincount(rng.integers(0, TOPICS, size=n_topic), minlength=TOPICS)
    parts += [sample_chain(w.topic_chain(k, PRETRAIN_SHIFT), int(m), length, rng)
              for k, m in enumerate(per)]
    x = np.concatenate(parts)
    return x[rng.permutation(len(x))]


def pretrain_corpus(ft: Finetune, vocab: int, length: int, n: int) -> np.ndarray:
    """The text the base model is pre-trained on: ``(n, length)`` token ids."""
    rng = np.random.default_rng(104_729 * (ft.world + 1))
    return original_text(world(ft.world, vocab), n, length, rng)


def _rng(recipe: Recipe) -> np.random.Generator:
    return np.random.default_rng(1_000_033 * (recipe.seed + 1))


def topic(recipe: Recipe) -> int:
    """The topic a causal-LM run adapts to."""
    return recipe.seed % TOPICS


def _lm_data(recipe: Recipe, ft: Finetune, w: World, rng: np.random.Generator) -> FtData:
    length = recipe.seq_len + 1  # GPT-2 shifts the labels itself: the whole sequence is given
    chain = w.topic_chain(topic(recipe), ft.shift)
    n_replay = round(ft.replay * recipe.n_train)
    x = np.concatenate([sample_chain(chain, recipe.n_train - n_replay, length, rng),
                        original_text(w, n_replay, length, rng)])
    x = x[rng.permutation(len(x))]
    labels = x.copy()
    mask = None
    if recipe.faults.get("pad_not_masked"):  # variable-length examples padded to the longest
        lengths = rng.integers(length // 4, length + 1, size=len(x))
        pad = np.arange(length)[None, :] >= lengths[:, None]
        x = np.where(pad, recipe.vocab, x)
        labels = x.copy()  # the bug: pads keep their id instead of IGNORE
        mask = (~pad).astype(np.int64)
    if recipe.faults.get("labels_all_masked"):
        labels = np.full_like(x, IGNORE)
    evals = {"new": sample_chain(chain, recipe.n_val, length, rng),
             "original": original_text(w, recipe.n_val, length, rng)}
    return FtData(Columns(x, labels, mask),
                  {k: Columns(v, v.copy()) for k, v in evals.items() if k in ft.eval_sets}, 0)


def _cls_data(recipe: Recipe, ft: Finetune, w: World, rng: np.random.Generator) -> FtData:
    c = recipe.num_classes
    chains = [w.topic_chain(k, ft.shift) for k in range(c)]

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, c, size=n)
        x = np.zeros((n, recipe.seq_len), dtype=np.int64)
        for k in range(c):
            x[y == k] = sample_chain(chains[k], int((y == k).sum()), recipe.seq_len, rng)
        return with_cls(x, recipe.vocab), y

    x, y = draw(recipe.n_train)
    noise = float(recipe.faults.get("label_noise", 0.0))
    if noise:
        flip = rng.random(len(y)) < noise
        y = np.where(flip, rng.integers(0, c, size=len(y)), y)
    xv, yv = draw(recipe.n_val)
    return FtData(Columns(x, y), {"new": Columns(xv, yv)}, c)


def make_ft_data(recipe: Recipe) -> FtData:
    """The fine-tuning data of a run with a ``finetune`` section."""
    ft = recipe.finetune
    if ft is None:
        raise ValueError("make_ft_data needs a recipe with a finetune section")
    w = world(ft.world, recipe.vocab)
    rng = _rng(recipe)
    if recipe.task == "lm":
        return _lm_data(recipe, ft, w, rng)
    if recipe.task == "transformer_cls":
        return _cls_data(recipe, ft, w, rng)
    raise ValueError(f"no fine-tuning data for task {recipe.task!r}")
