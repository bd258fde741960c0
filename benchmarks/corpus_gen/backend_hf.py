"""Hugging Face ``transformers.Trainer`` backend: a Recipe trained by the Trainer's own loop.

Models: a tiny ``BertForSequenceClassification`` (task ``transformer_cls``), a tiny
``GPT2LMHeadModel`` (``lm``), and for the other tasks a plain ``nn.Module`` whose ``forward(x,
labels)`` returns ``{"loss", "logits"}`` — the Trainer's documented contract for custom models.

Files written under ``out_dir`` (the Trainer's own layout): ``checkpoint-N/``
(``trainer_state.json``, weights, optimizer, scheduler, RNG state; the last one saved at the
final step so it holds every train/eval entry of ``log_history``),
``runs/<date>_<host>/events.out.tfevents.*`` (TensorBoard callback), and with ``"save_state"`` in
``recipe.log.formats`` also the final ``trainer_state.json`` / ``config.json`` in ``out_dir``
(``trainer.save_state()``, ``trainer.save_model()``), as most fine-tuning scripts do at the end.

Trainer defaults are kept as practitioners keep them: ``logging_nan_inf_filter=True`` (a NaN/inf
step loss is logged as the running mean), ``max_grad_norm=1.0`` (unless ``optim.clip_norm``),
linear decay (``optim.schedule``: constant / cosine / linear through ``lr_scheduler_type``; step /
exponential through an overridden ``create_scheduler``), warmup as a ratio of all steps.
``max_steps`` stops early through a callback while the schedule still plans for all epochs.
Optimisers: adamw → the Trainer's default AdamW (decoupled decay, none on biases/LayerNorm), sgd
→ ``optim="sgd"`` (momentum through ``optim_args``), rmsprop → ``optim="rmsprop"``, adam → a
``torch.optim.Adam`` passed as ``optimizers=`` (its weight decay is L2 in the gradient).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from corpus_gen import torch_parts as tp
from corpus_gen.data import Data, make_data
from corpus_gen.recipe import Recipe

# Every torch_parts fault but no_zero_grad (the Trainer zeroes the gradients itself); listed, not
# derived, so a fault added to torch_parts is not claimed before it works for BERT/GPT-2 too.
SUPPORTED_FAULTS: set[str] = set(tp.DATA_FAULTS) | {
    "double_softmax", "sigmoid_with_logits_loss", "mse_on_classes", "loss_sign_flipped",
    "loss_wrong_reduction", "log_without_eps", "logit_temperature", "detached_hidden",
    "freeze_all_but_last", "eval_in_train_mode", "train_augment_noise", "output_activation",
    "custom_grad_bug"} | {
    # the fine-tuning runs' faults (recipes with a finetune section: hf_finetune.py)
    "bad_batches", "fp16", "labels_unshifted", "pad_not_masked", "labels_all_masked",
    "ga_loss_not_scaled", "schedule_bug"}
HF_TASKS = ("transformer_cls", "lm")
LOSS_FAULTS = ("double_softmax", "sigmoid_with_logits_loss", "mse_on_classes", "loss_sign_flipped",
               "loss_wrong_reduction", "log_without_eps", "logit_temperature")


def task_loss(recipe: Recipe, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The loss as the (possibly buggy) training script computes it (``torch_parts``), plus the
    sign / reduction bugs for regression."""
    f = recipe.faults
    if recipe.task != "regression":
        return tp.compute_loss(recipe, outputs, labels)
    loss = F.mse_loss(outputs, labels, reduction="sum" if f.get("loss_wrong_reduction") else "mean")
    return -loss if f.get("loss_sign_flipped") else loss


class TaskNet(nn.Module):
    """``torch_parts.build_model`` (MLP / CNN / RNN …) in the Trainer's custom-model contract:
    ``forward(x, labels)`` returns ``{"loss", "logits"}``."""

    def __init__(self, recipe: Recipe, data: Data) -> None:
        super().__init__()
        self.recipe = recipe
        self.net = tp.build_model(recipe, data)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, Any]:
        logits = self.net(x)
        out: dict[str, Any] = {"logits": logits}
        if labels is not None:
            out["loss"] = task_loss(self.recipe, logits, labels)
        return out


# ---------------------------------------------------------------- HF models

def _hf_model(recipe: Recipe, data: Data) -> nn.Module:
    from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

    m = recipe.model
    width = max(4, m.width)
    heads = 2 if width % 2 == 0 else 1
    dropout = m.dropout if m.dropout > 0 or not recipe.faults.get("eval_in_train_mode") else 0.1
    act = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}.get(m.activation, "gelu")
    if recipe.task == "lm":
        cfg = GPT2Config(n_embd=width, n_layer=max(1, m.depth), n_head=heads,
                         vocab_size=recipe.vocab, n_positions=recipe.seq_len + 1,
                         resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                         activation_function="gelu_new" if act == "gelu" else act,
                         bos_token_id=0, eos_token_id=0)
        return GPT2LMHeadModel(cfg)
    cfg = BertConfig(hidden_size=width, num_hidden_layers=max(1, m.depth),
                     num_attention_heads=heads, intermediate_size=2 * width,
                     vocab_size=recipe.vocab + 1,
                     max_position_embeddings=recipe.seq_len, type_vocab_size=1,
                     hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                     hidden_act=act, num_labels=data.num_classes, pad_token_id=0)
    return BertForSequenceClassification(cfg)


def _head(model: nn.Module) -> nn.Module:
    for name in ("head", "classifier", "lm_head"):
        if hasattr(model, name):
            return getattr(model, name)
    raise ValueError(f"no output layer in {type(model).__name__}")


def _apply_init(recipe: Recipe, model: nn.Module) -> None:
    """The recipe's weight/bias init on every Linear/Conv layer (``model.apply`` style)."""
    m = recipe.model
    head = _head(model)
    head_ids = {id(p) for p in head.parameters()}
    with torch.no_grad():
        for mod in model.modules():
            if not isinstance(mod, (nn.Linear, nn.Conv2d)) and type(mod).__name__ != "Conv1D":
                continue
            w = mod.weight
            fan_in = w.shape[0] if type(mod).__name__ == "Conv1D" else int(np.prod(w.shape[1:]))
            if m.init == "zero":
                w.zero_()
            elif m.init == "constant":
                w.fill_(m.init_scale)
            elif m.init == "normal":
                w.normal_(0.0, m.init_scale / math.sqrt(fan_in))
            if m.bias_init is not None and mod.bias is not None and id(w) not in head_ids:
                mod.bias.fill_(m.bias_init)


def _inject(recipe: Recipe, model: nn.Module) -> None:
    """Model-level faults (``TaskNet`` has its own from ``torch_parts``): frozen body, buggy
    activation backward, detached first block; eval in train mode for every model."""
    f = recipe.faults
    if f.get("eval_in_train_mode"):  # model.eval() is a no-op: dropout/batch norm stay on
        cls = type(model)
        model.__class__ = type(cls.__name__, (cls,), {
            "train": lambda self, mode=True: nn.Module.train(self, True)})
    if isinstance(model, TaskNet):
        return
    if f.get("freeze_all_but_last"):
        keep = {id(p) for p in _head(model).parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in keep)
    layers = model.bert.encoder.layer if hasattr(model, "bert") else model.transformer.h
    if f.get("custom_grad_bug"):  # the feed-forward activation swapped for a buggy ReLU
        for layer in layers:
            if hasattr(layer, "intermediate"):
                layer.intermediate.intermediate_act_fn = tp.BuggyReLU(str(f["custom_grad_bug"]))
            else:
                layer.mlp.act = tp.BuggyReLU(str(f["custom_grad_bug"]))
    if f.get("detached_hidden"):
        layers[0].register_forward_hook(lambda _m, _i, out: (
            (out[0].detach(), *out[1:]) if isinstance(out, tuple) else out.detach()))


def script_outputs(recipe: Recipe, model: nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
    """The outputs the training script feeds its loss (HF models: logits, then the buggy
    softmax/sigmoid; the LM's logits aligned with its shifted labels)."""
    if isinstance(model, TaskNet):
        return model(inputs["x"])["logits"]
    logits = model(input_ids=inputs["input_ids"]).logits
    if recipe.task == "lm":
        logits = logits[:, :-1]
    if recipe.faults.get("double_softmax"):
        return torch.softmax(logits, dim=-1)
    if recipe.faults.get("sigmoid_with_logits_loss"):
        return torch.sigmoid(logits)
    return logits


def script_targets(recipe: Recipe, inputs: dict[str, Any]) -> torch.Tensor:
    return inputs["labels"][:, 1:] if recipe.task == "lm" else inputs["labels"]


# ---------------------------------------------------------------- datasets / metrics

class ArrayDataset(torch.utils.data.Dataset):
    """Rows of numpy arrays as the dicts the model's ``forward`` takes."""

    def __init__(self, recipe: Recipe, x: np.ndarray, y: np.ndarray) -> None:
        if recipe.task == "lm":  # the model shifts labels itself: give it the whole sequence
            full = torch.from_numpy(np.concatenate([x, y[:, -1:]], axis=1))
            self.cols = {"input_ids": full, "labels": full}
        elif recipe.task == "transformer_cls":
            self.cols = {"input_ids": torch.from_numpy(x), "labels": torch.from_numpy(y)}
        else:
            self.cols = {"x": torch.from_numpy(x), "labels": torch.from_numpy(y)}

    def __len__(self) -> int:
        return len(self.cols["labels"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[i] for k, v in self.cols.items()}


def _predictions(recipe: Recipe) -> Any:
    def preprocess_logits_for_metrics(logits: Any, labels: torch.Tensor) -> torch.Tensor:
        logits = logits[0] if isinstance(logits, tuple) else logits
        return tp.predictions(recipe, logits)

    return preprocess_logits_for_metrics if recipe.is_classification else None


def _make_metrics(recipe: Recipe) -> Any:
    def compute_metrics(pred: Any) -> dict[str, float]:
        p, y = np.asarray(pred.predictions), np.asarray(pred.label_ids)
        if recipe.task == "lm":
            p, y = p[:, :-1], y[:, 1:]
        return {"accuracy": float((p == y).mean())}

    return compute_metrics if recipe.is_classification else None


# ---------------------------------------------------------------- trainer

def _trainer_cls(recipe: Recipe) -> type:
    from torch.utils.data import SequentialSampler
    from transformers import Trainer

    hf_model = recipe.task in HF_TASKS
    custom_loss = hf_model and any(recipe.faults.get(k) for k in LOSS_FAULTS)
    augment = bool(recipe.faults.get("train_augment_noise"))

    class CorpusTrainer(Trainer):
        """The usual Trainer subclass: custom loss, unshuffled data, step/exponential schedule."""

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            if recipe.faults.get("sorted_by_label"):
                data = self.train_dataset if train_dataset is None else train_dataset
                return SequentialSampler(data)
            return super()._get_train_sampler(train_dataset)

        def training_step(self, model: nn.Module, inputs: dict[str, Any],
                          num_items_in_batch: Any = None) -> torch.Tensor:
            if augment:  # noisy training inputs (random tokens for token ids)
                key = "x" if "x" in inputs else "input_ids"
                inputs = {**inputs, key: tp.augment(recipe, inputs[key])}
            return super().training_step(model, inputs, num_items_in_batch)

        def compute_loss(self, model: nn.Module, inputs: dict[str, Any],
                         return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            if not custom_loss:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            outputs = script_outputs(recipe, model, inputs)
            loss = task_loss(recipe, outputs, script_targets(recipe, inputs))
            return (loss, {"logits": outputs}) if return_outputs else loss

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if recipe.optim.schedule in ("step", "exponential") and self.lr_scheduler is None:
                self.lr_scheduler = tp.make_scheduler(recipe, optimizer or self.optimizer,
                                                      num_training_steps)
                return self.lr_scheduler
            return super().create_scheduler(num_training_steps, optimizer)

    return CorpusTrainer


def _stop_callback(max_steps: int, save_at_stop: bool) -> Any:
    from transformers import TrainerCallback

    class StopAtStep(TrainerCallback):
        """Stop after ``max_steps`` (the schedule still spans every epoch); save there."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if state.global_step >= max_steps:
                control.should_training_stop = True
                control.should_save = save_at_stop or control.should_save
                if args.eval_strategy == "steps":
                    control.should_evaluate = True
            return control

    return StopAtStep()


def _args(recipe: Recipe, out_dir: Path, extra: dict[str, Any] | None = None) -> Any:
    """The run's ``TrainingArguments``; ``extra`` overrides (the fine-tuning runs' settings)."""
    from transformers import TrainingArguments

    o, log = recipe.optim, recipe.log
    spe = recipe.steps_per_epoch()
    per_epoch = max(1, log.evals_per_epoch)
    kw: dict[str, Any] = {}
    if per_epoch == 1:
        kw.update(eval_strategy="epoch", save_strategy="epoch", save_total_limit=2)
    else:
        eval_steps = max(1, spe // per_epoch)
        kw.update(eval_strategy="steps", eval_steps=eval_steps, save_strategy="steps",
                  save_steps=eval_steps * per_epoch * max(1, recipe.epochs // 2))
    if o.name == "sgd":
        kw.update(optim="sgd", optim_args=f"momentum={o.momentum}")
    elif o.name == "rmsprop":
        kw.update(optim="rmsprop")
    schedule = {"constant": "constant_with_warmup" if o.warmup_frac else "constant",
                "cosine": "cosine", "linear": "linear"}.get(o.schedule, "linear")
    params: dict[str, Any] = dict(
        output_dir=str(out_dir), report_to=["tensorboard"], logging_steps=log.every_n_steps,
        per_device_train_batch_size=recipe.batch_size, per_device_eval_batch_size=256,
        num_train_epochs=recipe.epochs, learning_rate=o.lr, weight_decay=o.weight_decay,
        lr_scheduler_type=schedule, warmup_steps=float(min(o.warmup_frac, 0.99)),
        max_grad_norm=o.clip_norm if o.clip_norm else 1.0, logging_nan_inf_filter=True,
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=recipe.seed,
        data_seed=recipe.seed, save_only_model=False, **kw)
    params.update(extra or {})
    return TrainingArguments(**params)


def _reference_callback(recipe: Recipe, dataset: ArrayDataset, record: list[list[float]]) -> Any:
    from transformers import TrainerCallback

    class ReferenceLoss(TrainerCallback):
        """After each evaluation: the correct validation loss of the same model (for checks)."""

        def on_evaluate(self, args: Any, state: Any, control: Any, model: Any = None,
                        **kwargs: Any) -> None:
            model.eval()
            with torch.no_grad():
                out = script_outputs(recipe, model, dataset.cols)
                ref = tp.reference_loss(recipe, out, script_targets(recipe, dataset.cols))
            model.train()
            record.append([state.global_step, float(ref)])

    return ReferenceLoss()


def _series(log_history: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """``{name: [[step, value], ...]}`` of what the Trainer logged (canonical names)."""
    names = {"loss": "train_loss", "learning_rate": "lr", "grad_norm": "grad_norm",
             "eval_loss": "val_loss", "eval_accuracy": "val_acc"}
    out: dict[str, list[list[float]]] = {}
    for e in log_history:
        for key, name in names.items():
            if key in e:
                out.setdefault(name, []).append([e["step"], float(e[key])])
    return out


def quiet_transformers() -> None:
    """Offline, no console echo, no progress bars (save_pretrained's "Writing model shards")."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Train ``recipe`` with ``transformers.Trainer``; write its files under ``out_dir``.

    A recipe with a ``finetune`` section fine-tunes a pre-trained base (``hf_finetune``)."""
    if recipe.finetune is not None:
        from corpus_gen import hf_finetune

        return hf_finetune.train(recipe, out_dir)
    quiet_transformers()
    import transformers
    from transformers.trainer_callback import PrinterCallback

    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tp.seed_everything(recipe)
    data = make_data(recipe)
    transformers.set_seed(recipe.seed)
    if recipe.task in HF_TASKS:
        model = _hf_model(recipe, data)
        _apply_init(recipe, model)
    else:
        model = TaskNet(recipe, data)
    _inject(recipe, model)
    args = _args(recipe, out_dir)
    val = ArrayDataset(recipe, data.x_val, data.y_val)
    reference: list[list[float]] = []
    callbacks = [_reference_callback(recipe, val, reference)]
    if recipe.max_steps and recipe.max_steps < recipe.steps_per_epoch() * recipe.epochs:
        callbacks.append(_stop_callback(recipe.max_steps, args.save_strategy == "steps"))
    optimizers: tuple[Any, Any] = (None, None)
    if recipe.optim.name == "adam":  # torch Adam passed in: weight decay is L2, not decoupled
        params = [p for p in model.parameters() if p.requires_grad]
        optimizers = (torch.optim.Adam(params, lr=recipe.optim.lr,
                                       weight_decay=recipe.optim.weight_decay), None)
    trainer = _trainer_cls(recipe)(
        model=model, args=args, optimizers=optimizers,
        train_dataset=ArrayDataset(recipe, data.x_train, data.y_train), eval_dataset=val,
        compute_metrics=_make_metrics(recipe), callbacks=callbacks,
        preprocess_logits_for_metrics=_predictions(recipe))
    trainer.remove_callback(PrinterCallback)  # the console echo of every log entry
    trainer.train()
    if "save_state" in recipe.log.formats:
        trainer.save_state()
        trainer.save_model()
    series = _series(trainer.state.log_history)
    series["reference_val_loss"] = reference
    logs = sorted(out_dir.glob("runs/*"))
    saved = sorted((p.parent for p in out_dir.glob("checkpoint-*/trainer_state.json")),
                   key=lambda d: int(d.name.split("-")[1]))
    return {"log_dir": str(logs[-1].relative_to(out_dir)) if logs else "",
            "checkpoints": [d.name for d in saved],
            "steps": int(trainer.state.global_step), "steps_per_epoch": recipe.steps_per_epoch(),
            "seconds": time.perf_counter() - started, "series": series}
