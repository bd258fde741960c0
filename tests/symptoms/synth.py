"""Small synthetic runs for the detector tests: healthy families that must stay silent, and
helpers to build faulty ones. Every generator is seeded and returns a :class:`Run`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms import derive_facts
from nndoctor.knowledge.loader import builtin_knowledge_base

KB = builtin_knowledge_base()
STEPS = np.arange(0, 5000, 10)
VAL_STEPS = np.arange(250, 5001, 250)


def make_run(context=None, tags=None, **series) -> Run:
    """``name=(steps, values)`` series; ``tags`` gives log names (default: the canonical name)."""
    tags = tags or {}
    built = {name: Series.from_pairs(steps, values, tags.get(name, name))
             for name, (steps, values) in series.items()}
    return Run("synthetic", Path("synthetic"), "test", built, context or {})


def facts(run: Run) -> dict:
    return {f.name: f for f in derive_facts(run, KB)}


def value(run: Run, name: str):
    found = facts(run).get(name)
    return None if found is None else found.value


def classifier(seed: int = 0, classes: int = 10, noise: float = 0.03, tau: float = 900.0,
               floor: float = 0.15, give_classes: bool = True, gap: float = 0.05,
               acc: bool = True) -> Run:
    """A healthy classifier: loss from ln C towards a floor, accuracy from 1/C towards ~0.95."""
    rng = np.random.default_rng(seed)
    chance = math.log(classes)
    shape = np.exp(-STEPS / tau)
    train = (chance - floor) * shape + floor
    train = train * np.exp(rng.normal(0, noise, STEPS.size))
    vshape = np.exp(-VAL_STEPS / tau)
    val = (chance - floor) * vshape + floor + gap + rng.normal(0, noise / 3, VAL_STEPS.size)
    series = {"train_loss": (STEPS, train), "val_loss": (VAL_STEPS, val)}
    if acc:
        top = 0.96
        train_acc = 1 / classes + (top - 1 / classes) * (1 - shape)
        train_acc = np.clip(train_acc + rng.normal(0, 0.01, STEPS.size), 0, 1)
        val_acc = 1 / classes + (top - 0.03 - 1 / classes) * (1 - vshape)
        val_acc = np.clip(val_acc + rng.normal(0, 0.008, VAL_STEPS.size), 0, 1)
        series |= {"train_acc": (STEPS, train_acc), "val_acc": (VAL_STEPS, val_acc)}
    return make_run({"num_classes": classes} if give_classes else {}, **series)


def small_batch_sgd(seed: int = 0) -> Run:
    """Batch-size-8 SGD with momentum: heavy-tailed step noise on loss and gradient norm, a
    gradient norm that drifts up 3x as the loss falls. Healthy."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, 20000, 5)
    trend = 2.2 * np.exp(-steps / 4000) + 0.25
    noise = np.exp(0.35 * rng.standard_t(4, steps.size))
    train = trend * noise
    hard = rng.random(steps.size) < 0.01  # 1 % of batches are hard: 3x the gradient
    grad = (1.0 + 2.0 * steps / steps[-1]) * np.exp(rng.normal(0, 0.4, steps.size)) \
        * np.where(hard, 3.0, 1.0)
    val_steps = np.arange(1000, 20001, 1000)
    val = 2.2 * np.exp(-val_steps / 4000) + 0.3 + rng.normal(0, 0.02, val_steps.size)
    return make_run({"optimizer": "SGD", "momentum": 0.9, "lr": 0.05, "batch_size": 8},
                    train_loss=(steps, train), val_loss=(val_steps, val),
                    grad_norm=(steps, grad), lr=(steps, np.full(steps.size, 0.05)))


def warmup_cosine(seed: int = 0) -> Run:
    """AdamW, 500 warmup steps to 3e-4 then cosine to 0 at the last step: the loss keeps
    falling while the rate anneals; the gradient norm is high for the first steps. Healthy."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, 10000, 10)
    warm = 500
    lr = np.where(steps < warm, 3e-4 * steps / warm,
                  3e-4 * 0.5 * (1 + np.cos(np.pi * (steps - warm) / (steps[-1] - warm))))
    train = (2.0 * np.exp(-steps / 1500) + 0.3) * np.exp(rng.normal(0, 0.04, steps.size))
    grad = (0.5 + 4.0 * np.exp(-steps / 200)) * np.exp(rng.normal(0, 0.15, steps.size))
    val_steps = np.arange(500, 10001, 500)
    val = 2.0 * np.exp(-val_steps / 1500) + 0.33 + rng.normal(0, 0.01, val_steps.size)
    return make_run({"optimizer": "AdamW", "lr": 3e-4, "batch_size": 64},
                    train_loss=(steps, train), val_loss=(val_steps, val), lr=(steps, lr),
                    grad_norm=(steps, grad))


def language_model(seed: int = 0, with_accuracy: bool = True) -> Run:
    """A causal LM (vocabulary 50257) logged like HF's Trainer: the loss falls from ln V ≈ 10.8
    along a power law to ~3.2 and never nears 0; token accuracy to ~0.4. Healthy."""
    rng = np.random.default_rng(seed)
    steps = np.arange(10, 20001, 10)
    train = 3.0 + 7.8 * (1 + steps / 150) ** -0.7
    train = train * np.exp(rng.normal(0, 0.02, steps.size))
    val_steps = np.arange(500, 20001, 500)
    val = 3.05 + 7.8 * (1 + val_steps / 150) ** -0.7 + rng.normal(0, 0.01, val_steps.size)
    grad = 1.0 + 0.3 * np.exp(rng.normal(0, 0.3, steps.size))
    series = {"train_loss": (steps, train), "val_loss": (val_steps, val),
              "grad_norm": (steps, grad),
              "lr": (steps, np.where(steps < 1000, 6e-4 * steps / 1000, 6e-4))}
    if with_accuracy:
        acc = 0.42 * (1 - (1 + steps / 150) ** -0.7) + rng.normal(0, 0.005, steps.size)
        series["train_acc"] = (steps, np.clip(acc, 0, 1))
    context = {"optimizer": "adamw", "lr": 6e-4, "max_steps": 20000, "num_train_epochs": 1}
    return make_run(context, tags={"train_loss": "loss", "val_loss": "eval_loss"}, **series)


def tiny_language_model(seed: int = 0, vocab: int = 40) -> Run:
    """A character-level LM over a 40-symbol vocabulary: loss from ln 40 ≈ 3.7 to a converged
    ~1.85 nats (half of ln V: the text's own entropy, not underfitting), token accuracy from
    1/40 to ~0.45, validation right beside training. Healthy."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, 6000, 10)
    shape = np.exp(-steps / 600)
    train = (1.85 + (math.log(vocab) - 1.85) * shape) * np.exp(rng.normal(0, 0.01, steps.size))
    acc = 1 / vocab + (0.45 - 1 / vocab) * (1 - shape) + rng.normal(0, 0.003, steps.size)
    val_steps = np.arange(300, 6001, 300)
    val = 1.88 + (math.log(vocab) - 1.88) * np.exp(-val_steps / 600) \
        + rng.normal(0, 0.005, val_steps.size)
    return make_run({"optimizer": "adamw", "lr": 1e-3}, train_loss=(steps, train),
                    train_acc=(steps, np.clip(acc, 0, 1)), val_loss=(val_steps, val))


def regression(seed: int = 0, floor: float = 0.35) -> Run:
    """Standardised-target regression: MSE from 1.0 to its noise floor, MAE logged. Healthy."""
    rng = np.random.default_rng(seed)
    steps = np.arange(0, 3000, 10)
    train = (1.0 - floor) * np.exp(-steps / 400) + floor
    train = train * np.exp(rng.normal(0, 0.05, steps.size))
    val_steps = np.arange(100, 3001, 100)
    val = (1.0 - floor) * np.exp(-val_steps / 400) + floor * 1.05 + rng.normal(0, 0.01,
                                                                               val_steps.size)
    mae = np.sqrt(val) * 0.8
    return make_run({}, tags={"train_loss": "loss", "val_loss": "val_loss"},
                    train_loss=(steps, train), val_loss=(val_steps, val),
                    val_mae=(val_steps, mae))


def keras_epochs(seed: int = 0, epochs: int = 30) -> Run:
    """A Keras CSVLogger run with dropout: per-epoch averages, val accuracy a little above the
    (dropout-lowered) train accuracy in the first epochs. Healthy."""
    rng = np.random.default_rng(seed)
    e = np.arange(epochs)
    train = 1.6 * np.exp(-e / 6) + 0.25 + rng.normal(0, 0.01, epochs)
    val = 1.4 * np.exp(-e / 6) + 0.3 + rng.normal(0, 0.01, epochs)
    train_acc = 0.93 - 0.6 * np.exp(-e / 6) + rng.normal(0, 0.005, epochs)
    val_acc = 0.92 - 0.5 * np.exp(-e / 6) + rng.normal(0, 0.005, epochs)
    return make_run({"step_unit": "epoch", "num_classes": 10}, train_loss=(e, train),
                    val_loss=(e, val), train_acc=(e, train_acc), val_acc=(e, val_acc))


HEALTHY = {
    **{f"classifier-{s}": (lambda s=s: classifier(s, noise=0.02 + 0.01 * s)) for s in range(4)},
    **{f"classifier-no-classes-{s}": (lambda s=s: classifier(s, give_classes=False))
       for s in range(3)},
    "binary": lambda: classifier(5, classes=2, floor=0.1),
    "no-accuracy": lambda: classifier(6, acc=False, give_classes=False),
    **{f"small-batch-sgd-{s}": (lambda s=s: small_batch_sgd(s)) for s in range(3)},
    **{f"warmup-cosine-{s}": (lambda s=s: warmup_cosine(s)) for s in range(2)},
    "language-model": lambda: language_model(0),
    "language-model-no-acc": lambda: language_model(1, with_accuracy=False),
    **{f"tiny-language-model-{s}": (lambda s=s: tiny_language_model(s)) for s in range(2)},
    **{f"regression-{s}": (lambda s=s: regression(s)) for s in range(2)},
    "regression-high-floor": lambda: regression(3, floor=0.7),
    "keras-epochs": lambda: keras_epochs(0),
}
