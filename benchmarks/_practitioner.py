"""A simulated practitioner for the accuracy benchmark: answers nndoctor's questions about the
training setup from the run's configuration - only what a person knows from their own script
(architecture, activation, init, optimizer, regularisation …), never what an investigation would
reveal (whether labels are wrong, whether ReLUs are dead). Anything else is "don't know"."""

from __future__ import annotations

from typing import Any

DONT_KNOW = "dont_know"


def setup_answers(config: dict[str, Any]) -> dict[str, object]:
    """The facts a person can read off their own training configuration."""
    hidden = config.get("hidden") or []
    dropout = float(config.get("dropout") or 0.0)
    decay = float(config.get("weight_decay") or 0.0)
    init = config.get("init")
    std = float(config.get("init_std") or 0.0)
    optimizer = config.get("optimizer", "")
    momentum = float(config.get("momentum") or 0.0)
    answers: dict[str, object] = {
        "architecture": {"mlp": "mlp", "cnn": "cnn"}.get(config.get("arch", ""), "other"),
        "hidden_activation": {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}.get(
            config.get("activation", ""), "other"),
        "network_depth": float(len(hidden) + 1),
        "hidden_units": float(max(hidden)) if hidden else None,
        "model_capacity": ("tiny" if max(hidden) <= 4 else "adequate") if hidden else None,
        "weight_init": {"default": "framework_default", "zero": "zeros_or_constant",
                        "constant": "zeros_or_constant"}.get(init, _scaled_normal(std)),
        "dropout_rate": dropout,
        "regularization_level": "heavy" if dropout >= 0.5 or decay >= 0.1 else (
            "moderate" if dropout > 0 or decay > 0 else "none"),
        "optimizer": "adam" if optimizer.startswith("adam") else (
            "sgd_momentum" if momentum > 0 else "sgd"),
        "lr": float(config["lr"]),
        "batch_size": float(config["batch_size"]),
        "gradient_clipping": config.get("clip_norm") is not None,
        "residual_connections": False,
        "normalization_layers": False,
        "task_type": "multiclass",
        "loss_function": "cross_entropy",
        "output_activation": "none",
        "inputs_normalized": float(config.get("input_scale") or 1.0) == 1.0,
        "data_shuffled": True,
        "samples_per_class": float(config["n_train"]) / max(int(config["num_classes"]), 1),
        "custom_layers": False,
        "hand_written_gradients": False,
        "mixed_precision": "fp32",
    }
    return {k: v for k, v in answers.items() if v is not None}


def _scaled_normal(std: float) -> str:
    """``init_std`` multiplies 1/sqrt(fan_in): about 1 is LeCun/Xavier-like, far off is not."""
    if std >= 1.4:
        return "large_normal"
    return "small_normal" if std <= 0.6 else "xavier_glorot"


def answer(question: str, config: dict[str, Any]) -> object:
    return setup_answers(config).get(question, DONT_KNOW)
