"""Facts read directly from a run's context (hparams and run metadata)."""

from __future__ import annotations

from collections.abc import Iterator

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact
from nndoctor.engine.facts import Fact
from nndoctor.lazy_re import regex

OPTIMIZERS = {"sgd": "sgd", "adam": "adam", "adamw": "adam", "rmsprop": "rmsprop",
              "adagrad": "adagrad", "nesterov": "sgd_momentum"}
# Hugging Face's `optim` names a family and an implementation: adamw_torch_fused, paged_adamw_8bit
_IMPLEMENTATION = regex(r"^(paged_)?(adamw|adam|sgd|rmsprop|adagrad)(_|$)")


def optimizer_family(name: str) -> str:
    """The optimizer value for a logged name (``torch.optim.AdamW``, ``adamw_torch_fused``):
    adam, sgd, rmsprop, adagrad, sgd_momentum, or other."""
    name = name.lower().split(".")[-1]
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    match = _IMPLEMENTATION.match(name)
    return OPTIMIZERS[match.group(2)] if match else "other"


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


# weight decay applied to the weights directly (not through the gradient): AdamW and its kin,
# and every Keras 3 optimizer's weight_decay
_DECOUPLED = regex(r"(?i)adamw|lion|lamb|adafactor|sophia")
_COUPLED = {"sgd", "sgd_momentum", "adam", "rmsprop", "adagrad"}


def decay_strength(decay: float, optimizer: str, fmt: str, p: Params) -> tuple[str, str, float]:
    """(none | usual | heavy, how it was judged, certainty) of a weight decay: as L2 in the
    gradient (torch's SGD/Adam/RMSprop ``weight_decay``) it is heavy from ``coupled_heavy``;
    decoupled (AdamW, Keras 3) from ``decoupled_heavy``; an unnamed optimizer is held to the
    decoupled bound, less surely."""
    if decay == 0:
        return "none", "no weight decay", 1.0
    if _DECOUPLED.search(optimizer) or fmt.startswith("keras"):
        bound, how, sure = p["decoupled_heavy"], "decoupled (AdamW-style)", 1.0
    elif optimizer and optimizer_family(optimizer) in _COUPLED:
        bound, how, sure = p["coupled_heavy"], "an L2 term in the gradient", 1.0
    else:
        bound, how, sure = p["decoupled_heavy"], "optimizer unknown", 0.8
    level = "heavy" if decay >= bound else "usual"
    return level, f"{how}: heavy from {bound:g}", sure


# logs only a framework's own training loop writes, and that loop clears the gradients before
# every optimizer step (the Trainer's inner loop calls model.zero_grad(); fit() takes each
# step's gradient afresh)
_CLEARING_LOOPS = {"hf_trainer_state": "the Hugging Face Trainer's training loop",
                   "keras_history": "Keras' fit()", "keras_csv": "Keras' fit() (CSVLogger)",
                   "skorch_history": "skorch's NeuralNet.fit()"}


@detector("run_context", produces=("num_classes", "batch_size", "dropout_rate",
                                   "epochs_trained", "optimizer", "rl_style_run",
                                   "weight_decay", "weight_decay_strength",
                                   "gradients_cleared_each_step"))
def run_context(run: Run, p: Params) -> Iterator[Fact]:
    ctx = run.context
    reached = _number(ctx.get("epochs_reached"))
    if reached is not None and reached >= 0:  # the epoch training got to, not the plan
        yield log_fact("epochs_trained", reached, f"training reached epoch {reached:.3g} "
                       "(the epoch trainer_state.json records)", "trainer state")
    for key, fact in (("num_classes", "num_classes"), ("batch_size", "batch_size"),
                      ("dropout", "dropout_rate"), ("epochs", "epochs_trained")):
        if fact == "epochs_trained" and reached is not None:
            continue
        value = _number(ctx.get(key))
        if value is not None and value >= 0:
            yield log_fact(fact, value, f"{key} = {value:g} in the run's hyper-parameters",
                           "hparams")
    optimizer = str(ctx.get("optimizer", "")).lower()
    if optimizer:
        momentum = _number(ctx.get("momentum")) or 0.0
        value = optimizer_family(optimizer)
        if value == "sgd" and momentum > 0:
            value = "sgd_momentum"
        yield log_fact("optimizer", value, f"optimizer = {ctx['optimizer']} in hyper-parameters",
                       "hparams")
    decay = _number(ctx.get("weight_decay"))
    if decay is not None and decay >= 0:
        yield log_fact("weight_decay", decay, f"weight_decay = {decay:g} in hyper-parameters",
                       "hparams")
        level, how, sure = decay_strength(decay, optimizer, run.format, p)
        yield log_fact("weight_decay_strength", level, f"weight_decay = {decay:g} is {level} "
                       f"({how})", "hparams", sure)
    loop = next((_CLEARING_LOOPS[f] for f in run.format.split("+") if f in _CLEARING_LOOPS), None)
    if loop is not None:
        yield log_fact("gradients_cleared_each_step", True,
                       f"the log is written by {loop}, which clears the gradients before every "
                       "optimizer step", "framework", p["framework_loop_certainty"])
    yield log_fact("rl_style_run", bool(ctx.get("rl_style")),
                   "reward/KL metrics found" if ctx.get("rl_style") else "no reward/KL metrics")
