"""One corpus run, framework-neutral: task, model, optimisation, logging, and the injected fault.

Every backend (PyTorch, Lightning, Hugging Face Trainer, Keras) trains a :class:`Recipe` with the
framework's own training loop and logger. A fault is a key of ``Recipe.faults`` (see FAULTS); a
backend lists the faults it can inject in its ``SUPPORTED_FAULTS`` and the scenario builder only
gives it those. Everything is deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Framework = Literal["torch", "lightning", "hf", "keras", "trl"]
Task = Literal["tabular", "image8", "sequence", "transformer_cls", "lm", "regression", "rl"]

TASKS: tuple[str, ...] = ("tabular", "image8", "sequence", "transformer_cls", "lm", "regression",
                          "rl")
FRAMEWORKS: tuple[str, ...] = ("torch", "lightning", "hf", "keras", "trl")

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
    # fine-tuning faults (runs with a ``Recipe.finetune``; issue 17)
    "bad_batches": "[int] that many training batches replaced by garbage (random tokens or "
                   "shuffled labels), in clusters after the first quarter of the run",
    "fp16": "[str] training in float16 without a working loss scaler: half (model.half(), "
            "fp16 AdamW states) | static_scale (fp16 autocast, a loss scale that only grows)",
    "labels_unshifted": "[bool] causal-LM loss against the unshifted input ids: the label at "
                        "position t is the input at t, which the model sees",
    "pad_not_masked": "[bool] padded training sequences whose pad labels are not -100 (the "
                      "packed evaluation set has no padding)",
    "labels_all_masked": "[bool] every training label is -100: a completion-only mask whose "
                         "response template matched nothing",
    "ga_loss_not_scaled": "[bool] a custom compute_loss returns the micro-batch mean, which the "
                          "Trainer does not divide by gradient_accumulation_steps",
    "schedule_bug": "[str] warmup_past_end (warm-up longer than the run) | one_epoch_schedule "
                    "(the scheduler planned for one epoch of many) | max_steps_short (max_steps "
                    "set far below one epoch)",
    "reward_hackable": "[bool] RL: the reward counts one token, so emitting only it maximises it",
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
class Finetune:
    """A run that starts from a tiny model pre-trained on a generated "world" (``ft_data``).

    The world (seed ``world``) is a general Markov chain of text and topic chains that mix it
    with a topic's own chain. The base model is pre-trained on the general text for
    ``pretrain_steps`` (cached, deterministic); the run fine-tunes it on a topic (causal LM) or
    on telling topics apart (sequence classification).
    """

    world: int = 1
    pretrain_steps: int = 300
    shift: float = 0.3  # weight of the topic's own chain in the fine-tune text
    eval_sets: tuple[str, ...] = ("new",)  # ("original", "new"): HF eval_dataset as a dict
    replay: float = 0.0  # share of general (pre-training) text mixed into the fine-tune data
    grad_accum: int = 1
    warmup_steps: int | None = None  # absolute warm-up steps (TrainingArguments.warmup_steps)
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8


@dataclass(frozen=True)
class Rl:
    """A GRPO run (TRL) of a pre-trained policy with a toy reward (``n_train`` prompts)."""

    beta: float = 0.04  # KL coefficient
    num_generations: int = 4
    completion_len: int = 12
    reward: str = "topic_share"  # topic_share | topic_words | one_token (see backend_trl)


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
    finetune: Finetune | None = None
    rl: Rl | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``finetune``/``rl`` only when set, so older runs keep their fingerprint."""
        d = asdict(self)
        d["log"]["formats"] = list(self.log.formats)
        for key in ("finetune", "rl"):
            if d[key] is None:
                del d[key]
        if self.finetune is not None:
            d["finetune"]["eval_sets"] = list(self.finetune.eval_sets)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        d = dict(d)
        d["model"] = Model(**d.get("model", {}))
        d["optim"] = Optim(**d.get("optim", {}))
        log = dict(d.get("log", {}))
        log["formats"] = tuple(log.get("formats", ()))
        d["log"] = Logging(**log)
        if d.get("finetune") is not None:
            ft = dict(d["finetune"])
            ft["eval_sets"] = tuple(ft.get("eval_sets", ("new",)))
            d["finetune"] = Finetune(**ft)
        if d.get("rl") is not None:
            d["rl"] = Rl(**d["rl"])
        return cls(**d)

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    def steps_per_epoch(self) -> int:
        return max(1, -(-self.n_train // self.batch_size))

    def total_steps(self) -> int:
        planned = self.steps_per_epoch() * self.epochs
        return min(planned, self.max_steps) if self.max_steps else planned
