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


@detector("run_context", produces=("num_classes", "batch_size", "dropout_rate",
                                   "epochs_trained", "optimizer", "rl_style_run"))
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
    yield log_fact("rl_style_run", bool(ctx.get("rl_style")),
                   "reward/KL metrics found" if ctx.get("rl_style") else "no reward/KL metrics")
