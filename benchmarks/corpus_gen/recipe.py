"""One corpus run, framework-neutral: task, model, optimisation, logging, and the injected fault.

Every backend (PyTorch, Lightning, Hugging Face Trainer, Keras) trains a :class:`Recipe` with the
framework's own training loop and logger. A fault is a key of ``Recipe.faults`` (see FAULTS); a
backend lists the faults it can inject in its ``SUPPORTED_FAULTS`` and the scenario builder only
gives it those. Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Framework = Literal["torch", "lightning", "hf", "keras"]
Task = Literal["tabular", "image8", "sequence", "transformer_cls", "lm", "regression"]

TASKS: tuple[str, ...] = ("tabular", "image8", "sequence", "transformer_cls", "lm", "regression")
FRAMEWORKS: tuple[str, ...] = ("torch", "lightning", "hf", "keras")

# fault key -> what it does (value type in brackets). Backends implement the subset they support.
FAULTS: dict[str, str] = {
    "label_noise": "[float] fraction of training labels replaced by random classes",
    "labels_shuffled": "[bool] training labels permuted: no relation to the inputs (bad_labels)",
    "sorted_by_label": "[bool] training data sorted by label and never shuffled",
    "imbalance": "[float] the majority class is this share of the training set (e.g. 0.95)",
    "input_scale": "[float] inputs multiplied by this after (or instead of) standardising",
    "input_offset": "[float] constant added to the raw inputs (unnormalised, e.g. 0..255 pixels)",
    "val_shift": "[float] validation inputs from a shifted distribution (train/test mismatch)",
    "val_unnormalized": "[bool] validation inputs not standardised like the training inputs",
    "eval_in_train_mode": "[bool] validation runs with dropout/batch-norm in training mode",
    "freeze_all_but_last": "[bool] every parameter but the output layer has requires_grad=False",
    "train_augment_noise": "[float] std of Gaussian noise added to training inputs only",
    "double_softmax": "[bool] the model outputs softmax probabilities fed to a with-logits loss",
    "sigmoid_with_logits_loss": "[bool] sigmoid outputs fed to BCEWithLogits (binary tasks)",
    "mse_on_classes": "[bool] MSE against one-hot/targets for a classification task",
    "loss_sign_flipped": "[bool] the loss is negated (custom loss bug): it falls below zero",
    "loss_wrong_reduction": "[bool] a custom loss summed over the batch and classes, not meaned",
    "no_zero_grad": "[bool] gradients are never zeroed: they accumulate over steps",
    "detached_hidden": "[bool] the graph is cut (detach) after the first block: lower layers get "
                       "no gradient",
    "log_without_eps": "[bool] hand-written log-softmax/log without epsilon: NaN/inf after a while",
    "output_activation": "[str] relu | sigmoid | tanh on the output of a regression model",
    "logit_temperature": "[float] the loss sees logits / τ (a sharpened softmax, e.g. 0.05)",
    "custom_grad_bug": "[str] hand-written ReLU backward that is wrong: sign | scale | no_mask "
                       "| transposed_mask",
}


@dataclass(frozen=True)
class Model:
    arch: str = "mlp"  # mlp | cnn | rnn | transformer | gpt
    width: int = 64  # hidden units / channels / d_model
    depth: int = 2  # hidden layers / conv blocks / RNN or transformer layers
    activation: str = "relu"  # relu | tanh | sigmoid | gelu
    dropout: float = 0.0
    norm: bool = False  # batch norm (mlp/cnn) / layer norm (transformers always have it)
    init: str = "default"  # default | zero | constant | normal
    init_scale: float = 1.0  # normal: std = init_scale / sqrt(fan_in); constant: the value
    bias_init: float | None = None  # hidden-layer bias value (None = framework default)


@dataclass(frozen=True)
class Optim:
    name: str = "adam"  # sgd | adam | adamw
    lr: float = 1e-3
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | cosine | linear | step | exponential
    schedule_gamma: float = 0.1  # step: factor per step_every epochs; exponential: per epoch
    step_every: int = 10  # epochs between step decays
    warmup_frac: float = 0.0  # share of all steps spent warming up linearly
    clip_norm: float | None = None


@dataclass(frozen=True)
class Logging:
    every_n_steps: int = 10  # train metrics logged every N optimiser steps
    evals_per_epoch: int = 1
    formats: tuple[str, ...] = ()  # backend-specific, e.g. ("csv",) or ("tensorboard",)
    tag_scheme: str = "canonical"  # torch backend: which tutorial tag names to use
    probes: bool = False  # attach nndoctor.probes to the (PyTorch) model
    log_lr: bool = False  # Lightning LearningRateMonitor / log the LR
    log_grad_norm: bool = False  # Lightning grad_norm utility / log the gradient norm


@dataclass(frozen=True)
class Recipe:
    """Everything that defines one corpus run."""

    task: str = "tabular"
    framework: str = "torch"
    num_classes: int = 4  # 0 for regression; the vocabulary size does not count for "lm"
    n_train: int = 2000
    n_val: int = 500
    seq_len: int = 16  # sequence / transformer / lm tasks
    vocab: int = 32  # transformer_cls / lm tasks
    model: Model = field(default_factory=Model)
    optim: Optim = field(default_factory=Optim)
    batch_size: int = 64
    epochs: int = 10
    max_steps: int | None = None  # stop early (the schedule still plans for all epochs)
    log: Logging = field(default_factory=Logging)
    faults: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["log"]["formats"] = list(self.log.formats)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        d = dict(d)
        d["model"] = Model(**d.get("model", {}))
        d["optim"] = Optim(**d.get("optim", {}))
        log = dict(d.get("log", {}))
        log["formats"] = tuple(log.get("formats", ()))
        d["log"] = Logging(**log)
        return cls(**d)

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def steps_per_epoch(self) -> int:
        return max(1, -(-self.n_train // self.batch_size))

    def total_steps(self) -> int:
        planned = self.steps_per_epoch() * self.epochs
        return min(planned, self.max_steps) if self.max_steps else planned
