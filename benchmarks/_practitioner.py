"""A simulated practitioner for the accuracy benchmark (``--mode ask``).

It answers nndoctor's questions from the run's Recipe (``benchmarks/corpus_gen/recipe.py``,
``Recipe.to_dict()`` as stored in the corpus manifest) with only what a person knows from their
own script and dataset description: architecture, activation, init, optimiser, learning rate and
schedule, batch size, regularisation, the loss and output activation they wrote, whether they
normalise and shuffle the inputs, how the validation set was made. Never what an investigation
would reveal (whether labels are wrong, whether ReLUs are dead, curve shapes, measured
statistics): anything else is "don't know".
"""

from __future__ import annotations

import math
from typing import Any

DONT_KNOW = "dont_know"

_ARCH = {"mlp": "mlp", "cnn": "cnn", "rnn": "rnn", "simple_rnn": "rnn", "vanilla_rnn": "rnn",
         "gru": "rnn", "lstm": "rnn", "transformer": "transformer", "gpt": "transformer"}
_ACTIVATION = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "gelu": "gelu_swish",
               "silu": "gelu_swish", "swish": "gelu_swish", "elu": "leaky_relu_elu",
               "leaky_relu": "leaky_relu_elu", "selu": "leaky_relu_elu"}
_CUSTOM_LOSS = ("loss_sign_flipped", "loss_wrong_reduction", "log_without_eps")


def setup_answers(recipe: dict[str, Any]) -> dict[str, object]:
    """The facts a person can read off their own training script, for one Recipe dict."""
    model: dict[str, Any] = recipe.get("model") or {}
    optim: dict[str, Any] = recipe.get("optim") or {}
    faults: dict[str, Any] = {k: v for k, v in (recipe.get("faults") or {}).items()
                              if not k.startswith("_") and v not in (None, False, 0, 0.0)}
    task = recipe.get("task", "tabular")
    # token tasks always train a transformer, whatever model.arch says
    arch = "transformer" if task in ("transformer_cls", "lm") else str(model.get("arch", "mlp"))
    width = int(model.get("width") or 0)
    dropout = float(model.get("dropout") or 0.0)
    decay = float(optim.get("weight_decay") or 0.0)
    norm = bool(model.get("norm")) or arch in ("transformer", "gpt")
    classes = _num_classes(recipe)
    augment = float(faults.get("train_augment_noise") or 0.0)
    answers: dict[str, object] = {
        "architecture": _ARCH.get(arch, "other"),
        "hidden_activation": _hidden_activation(arch, str(model.get("activation", ""))),
        "network_depth": float(_depth(arch, int(model.get("depth") or 0))),
        "hidden_units": float(width) if width else None,
        "model_capacity": ("tiny" if width <= 4 else "adequate") if width else None,
        "weight_init": _weight_init(str(model.get("init", "default")),
                                    float(model.get("init_scale") or 1.0)),
        "dropout_rate": dropout,
        "weight_decay": decay,
        "batchnorm_or_dropout": dropout > 0 or (bool(model.get("norm")) and arch in ("mlp", "cnn")),
        "normalization_layers": norm,
        "residual_connections": arch in ("transformer", "gpt"),
        "regularization_level": "heavy" if dropout >= 0.5 or decay >= 0.1 else (
            "moderate" if dropout > 0 or decay > 0 else "none"),
        "optimizer": _optimizer(str(optim.get("name", "adam")), float(optim.get("momentum") or 0)),
        "lr": float(optim["lr"]) if optim.get("lr") is not None else None,
        "batch_size": float(recipe["batch_size"]) if recipe.get("batch_size") else None,
        "gradient_clipping": optim.get("clip_norm") is not None,
        "lr_warmup": float(optim.get("warmup_frac") or 0.0) > 0,
        "lr_decays_to_zero_early": _lr_factor_at(optim, _epochs(recipe), 0.6) <= 1e-2
        or faults.get("schedule_bug") == "one_epoch_schedule",
        "epochs_trained": _epochs(recipe),
        # "a handful of epochs"; every corpus run is a few hundred steps, so steps do not count
        "training_short": _epochs(recipe) < 5,
        "task_type": _task_type(task, classes, faults),
        "num_classes": float(classes) if classes else None,
        "output_units": float(_output_units(task, classes, faults)),
        "loss_function": _loss_function(task, faults),
        "output_activation": _output_activation(faults),
        "unsafe_math_in_loss": bool(faults.get("log_without_eps")),
        "composite_loss": False,
        # a hand-written autograd Function is a layer of one's own; a stray detach() is not
        # something the person thinks of as one, nor can they say "no"
        "custom_layers": bool(faults.get("custom_grad_bug")) or (
            DONT_KNOW if faults.get("detached_hidden") else False),
        "hand_written_gradients": bool(faults.get("custom_grad_bug")),
        "gradients_cleared_each_step": not faults.get("no_zero_grad"),
        "mixed_precision": "fp16" if faults.get("fp16") else "fp32",
        "finetuning_pretrained": recipe.get("finetune") is not None,
        "pretrained_model": recipe.get("finetune") is not None,
        "causal_lm": task in ("lm", "rl"),
        "grad_accumulation_steps": float((recipe.get("finetune") or {}).get("grad_accum") or 1),
        # the person wrote the schedule: any but a constant one is a decay they meant
        "lr_decay_intended": str(optim.get("schedule", "constant")) != "constant",
        "freezing_intended": False,
        "rl_style_run": task == "rl",
        "ensemble_considered": False,
        "task_complex": False,
        "inputs_normalized": not (faults.get("input_scale") or faults.get("input_offset")),
        "input_value_range": _input_range(task, faults),
        "inputs_contain_nan": False,
        "inputs_integer_dtype": False,
        "data_cleaned": True,
        "data_shuffled": not faults.get("sorted_by_label"),
        "augmentation_level": "heavy" if augment >= 0.5 else ("moderate" if augment else "none"),
        "class_imbalance_ratio": _imbalance_ratio(task, classes, faults),
        "samples_per_class": _samples_per_class(recipe, classes),
        "eval_mode_switched": not faults.get("eval_in_train_mode"),
        "eval_preprocessing_differs": bool(faults.get("val_unnormalized")),
        "norm_stats_from_train_split": DONT_KNOW if faults.get("val_unnormalized") else True,
        "val_split_from_train": not faults.get("val_shift"),
        "test_distribution_differs": bool(faults.get("val_shift")),
        "validation_set_used": True,
        "targets_unscaled": False if task == "regression" else None,
        "targets_negative": True if task == "regression" else None,
        # regression targets are standardised: negative and beyond ±1
        "targets_outside_output_range": task == "regression" and bool(
            faults.get("output_activation")),
    }
    return {k: v for k, v in answers.items() if v is not None}


def answer(question: str, recipe: dict[str, Any]) -> object:
    """The practitioner's answer to one question (a fact name), or ``"dont_know"``."""
    return setup_answers(recipe).get(question, DONT_KNOW)


def _num_classes(recipe: dict[str, Any]) -> int:
    """Classes the model predicts: the vocabulary for a language model (and an RL policy, one
    more for its end-of-text token), 0 for regression."""
    if recipe.get("task") == "regression":
        return 0
    if recipe.get("task") == "lm":
        return int(recipe.get("vocab") or 0)
    if recipe.get("task") == "rl":
        return int(recipe.get("vocab") or 0) + 1
    return int(recipe.get("num_classes") or 0)


def _hidden_activation(arch: str, activation: str) -> str:
    """What sits between the layers: a GRU/LSTM's cells use tanh (gated by sigmoids) whatever
    ``model.activation`` says (the backends build nothing else into them)."""
    if arch in ("gru", "lstm"):
        return "tanh"
    return _ACTIVATION.get(activation, "other")


def _depth(arch: str, depth: int) -> int:
    """Layers with weights; a transformer block counts as two (the facts' help text)."""
    if arch in ("transformer", "gpt"):
        return 2 * depth + 2  # blocks + embedding + head
    return depth + 1  # hidden layers / conv blocks / recurrent layers + the output layer


def _weight_init(init: str, scale: float) -> str:
    """``normal`` draws std = scale / sqrt(fan_in): 1 is LeCun/Xavier-like, √2 is He."""
    if init == "default":
        return "framework_default"
    if init in ("zero", "constant"):
        return "zeros_or_constant"
    if scale <= 0.5:
        return "small_normal"
    if scale < 1.2:
        return "xavier_glorot"
    return "he_kaiming" if scale <= 1.7 else "large_normal"


def _optimizer(name: str, momentum: float) -> str:
    if name.startswith("adam"):
        return "adam"
    if name == "sgd":
        return "sgd_momentum" if momentum > 0 else "sgd"
    return {"rmsprop": "rmsprop", "adagrad": "adagrad"}.get(name, "other")


def _epochs(recipe: dict[str, Any]) -> float:
    """Epochs actually trained (``max_steps`` can stop a run early)."""
    epochs = float(recipe.get("epochs") or 1)
    max_steps = recipe.get("max_steps")
    if max_steps:
        batch = int(recipe.get("batch_size") or 1)
        per_epoch = max(1, -(-int(recipe.get("n_train") or 1) // batch))
        epochs = min(epochs, int(max_steps) / per_epoch)
    return round(epochs, 3)


def _lr_factor_at(optim: dict[str, Any], epochs: float, at: float) -> float:
    """The schedule's LR multiplier after the share ``at`` of the run (warm-up ignored)."""
    schedule = optim.get("schedule", "constant")
    gamma = float(optim.get("schedule_gamma") or 0.1)
    elapsed = at * epochs
    if schedule == "step":
        return gamma ** int(elapsed // max(int(optim.get("step_every") or 1), 1))
    if schedule == "exponential":
        return gamma ** elapsed
    if schedule == "linear":
        return 1.0 - at
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * at))
    return 1.0


def _output_activation(faults: dict[str, Any]) -> str:
    if faults.get("double_softmax"):
        return "softmax"
    if faults.get("sigmoid_with_logits_loss"):
        return "sigmoid"
    return {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}.get(
        str(faults.get("output_activation") or ""), "none")


def _task_type(task: str, classes: int, faults: dict[str, Any]) -> str:
    if task == "regression":
        return "regression"
    return "binary" if classes == 2 and faults.get("sigmoid_with_logits_loss") else "multiclass"


def _output_units(task: str, classes: int, faults: dict[str, Any]) -> int:
    if task == "regression" or (classes == 2 and faults.get("sigmoid_with_logits_loss")):
        return 1
    return classes


def _loss_function(task: str, faults: dict[str, Any]) -> str:
    if any(faults.get(f) for f in _CUSTOM_LOSS):
        return "custom"
    if faults.get("sigmoid_with_logits_loss"):
        return "bce_with_logits"
    if task == "regression" or faults.get("mse_on_classes"):
        return "mse"
    return "cross_entropy"


def _input_range(task: str, faults: dict[str, Any]) -> str:
    if task in ("transformer_cls", "lm"):
        return DONT_KNOW  # token ids go through an embedding
    offset = float(faults.get("input_offset") or 0.0)
    scale = float(faults.get("input_scale") or 1.0)
    if offset >= 50 or scale >= 10:
        return "raw_large"
    if offset or scale != 1.0:
        return DONT_KNOW
    return "standardized"


def _imbalance_ratio(task: str, classes: int, faults: dict[str, Any]) -> float | None:
    """Largest over smallest class share: the person knows their class counts."""
    if task in ("regression", "lm") or classes < 2:
        return None
    share = float(faults.get("imbalance") or 0.0)
    if not share:
        return 1.0
    return round(share / max((1 - share) / (classes - 1), 1e-9), 2)


def _samples_per_class(recipe: dict[str, Any], classes: int) -> float | None:
    """Training samples per class (per tenth for regression); None for a language model or an
    RL policy, whose "classes" are vocabulary tokens nobody counts samples of."""
    if recipe.get("task") in ("lm", "rl"):
        return None
    n_train = float(recipe.get("n_train") or 0)
    return round(n_train / (classes if classes else 10), 1)
