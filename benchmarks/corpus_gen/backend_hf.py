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

from corpus_gen.data import Data, make_data
from corpus_gen.recipe import Recipe

DATA_FAULTS = {"label_noise", "labels_shuffled", "sorted_by_label", "imbalance", "input_scale",
               "input_offset", "val_shift", "val_unnormalized"}
SUPPORTED_FAULTS: set[str] = DATA_FAULTS | {
    "eval_in_train_mode", "freeze_all_but_last", "train_augment_noise", "double_softmax",
    "sigmoid_with_logits_loss", "mse_on_classes", "loss_sign_flipped", "loss_wrong_reduction",
    "detached_hidden", "log_without_eps"}
LOSS_FAULTS = ("double_softmax", "sigmoid_with_logits_loss", "mse_on_classes", "loss_sign_flipped",
               "loss_wrong_reduction", "log_without_eps")
_ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


# ---------------------------------------------------------------- losses (custom-loss bugs)

def task_loss(recipe: Recipe, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The recipe's training loss on raw logits, with its loss fault (if any) applied."""
    f = recipe.faults
    if recipe.task == "regression":
        pred = logits.reshape(-1)
        loss = F.mse_loss(pred, labels.float(), reduction="sum" if f.get(
            "loss_wrong_reduction") else "mean")
        return -loss if f.get("loss_sign_flipped") else loss
    logits = logits.reshape(-1, logits.shape[-1])
    labels = labels.reshape(-1)
    n_cls = logits.shape[-1]
    if f.get("double_softmax"):  # probabilities fed to a with-logits loss
        loss = F.cross_entropy(torch.softmax(logits, dim=-1), labels)
    elif f.get("sigmoid_with_logits_loss"):
        onehot = F.one_hot(labels, n_cls).float()
        loss = F.binary_cross_entropy_with_logits(torch.sigmoid(logits), onehot)
    elif f.get("mse_on_classes"):
        loss = F.mse_loss(torch.softmax(logits, dim=-1), F.one_hot(labels, n_cls).float())
    elif f.get("log_without_eps"):  # hand-written cross-entropy: log(softmax) without epsilon
        probs = torch.exp(logits) / torch.exp(logits).sum(dim=-1, keepdim=True)
        loss = -torch.log(probs.gather(1, labels[:, None])).mean()
    elif f.get("loss_wrong_reduction"):
        onehot = F.one_hot(labels, n_cls).float()
        loss = -(onehot * torch.log_softmax(logits, dim=-1)).sum()
    else:
        loss = F.cross_entropy(logits, labels)
    return -loss if f.get("loss_sign_flipped") else loss


# ---------------------------------------------------------------- custom models (non-HF tasks)

def _act(name: str) -> nn.Module:
    return _ACT.get(name, nn.ReLU)()


def _rnn_cls(arch: str) -> type[nn.Module]:
    return {"lstm": nn.LSTM, "simple_rnn": nn.RNN, "vanilla_rnn": nn.RNN}.get(arch, nn.GRU)


class TaskNet(nn.Module):
    """MLP (tabular/regression), CNN (image8) or RNN (sequence) in the Trainer's model contract."""

    def __init__(self, recipe: Recipe, data: Data) -> None:
        super().__init__()
        m, self.recipe = recipe.model, recipe
        self.noise = float(recipe.faults.get("train_augment_noise", 0.0))
        self.detach = bool(recipe.faults.get("detached_hidden"))
        dropout = m.dropout if m.dropout > 0 or not recipe.faults.get(
            "eval_in_train_mode") else 0.3
        out = data.num_classes if recipe.is_classification else 1
        self.blocks = nn.ModuleList()
        self.kind = "mlp"
        shape = data.input_shape
        if recipe.task == "image8" and m.arch != "mlp":
            self.kind, c, side = "cnn", shape[0], shape[1]
            for i in range(max(1, m.depth)):
                layers: list[nn.Module] = [nn.Conv2d(c, m.width, 3, padding=1)]
                layers += [nn.BatchNorm2d(m.width)] if m.norm else []
                layers.append(_act(m.activation))
                if i < 2 and side >= 2:
                    layers.append(nn.MaxPool2d(2))
                    side //= 2
                layers += [nn.Dropout(dropout)] if dropout > 0 else []
                self.blocks.append(nn.Sequential(*layers))
                c = m.width
            feat = c * side * side
        elif recipe.task == "sequence" and m.arch != "mlp":
            self.kind, feat = "rnn", shape[-1]
            cls = _rnn_cls(m.arch)
            kw = {"nonlinearity": "relu" if m.activation == "relu" else "tanh"} if cls is nn.RNN \
                else {}
            for _ in range(max(1, m.depth)):
                self.blocks.append(cls(feat, m.width, batch_first=True, **kw))
                feat = m.width
            self.rnn_dropout = nn.Dropout(dropout)
        else:
            feat = int(np.prod(shape))
            for _ in range(max(1, m.depth)):
                layers = [nn.Linear(feat, m.width)]
                layers += [nn.BatchNorm1d(m.width)] if m.norm else []
                layers.append(_act(m.activation))
                layers += [nn.Dropout(dropout)] if dropout > 0 else []
                self.blocks.append(nn.Sequential(*layers))
                feat = m.width
        self.head = nn.Linear(feat, out)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, Any]:
        if self.noise and self.training:
            x = x + self.noise * torch.randn_like(x)
        h = x if self.kind != "mlp" else x.flatten(1)
        for i, block in enumerate(self.blocks):
            h = block(h)[0] if self.kind == "rnn" else block(h)
            if self.kind == "rnn" and i < len(self.blocks) - 1:
                h = self.rnn_dropout(h)
            if self.detach and i == 0:
                h = h.detach()
        if self.kind == "rnn":
            h = self.rnn_dropout(h[:, -1])
        logits = self.head(h.flatten(1))
        if not self.recipe.is_classification:
            logits = logits.squeeze(-1)
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
    """Model-level faults: frozen body, eval in train mode, detached / noisy HF hidden states."""
    f = recipe.faults
    if f.get("freeze_all_but_last"):
        keep = {id(p) for p in _head(model).parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in keep)
    if f.get("eval_in_train_mode"):  # model.eval() is a no-op: dropout/batch norm stay on
        cls = type(model)
        model.__class__ = type(cls.__name__, (cls,), {
            "train": lambda self, mode=True: nn.Module.train(self, True)})
    if isinstance(model, TaskNet):
        return
    layers = model.bert.encoder.layer if hasattr(model, "bert") else model.transformer.h
    embed = model.bert.embeddings if hasattr(model, "bert") else model.transformer.wte
    if f.get("detached_hidden"):
        layers[0].register_forward_hook(lambda _m, _i, out: (
            (out[0].detach(), *out[1:]) if isinstance(out, tuple) else out.detach()))
    noise = float(f.get("train_augment_noise", 0.0))
    if noise:  # noise on the token embeddings, training only
        embed.register_forward_hook(
            lambda mod, _i, out: out + noise * torch.randn_like(out) if mod.training else out)


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


def _argmax_logits(logits: Any, labels: torch.Tensor) -> torch.Tensor:
    logits = logits[0] if isinstance(logits, tuple) else logits
    return logits.argmax(dim=-1)


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

    o = recipe.optim
    sched, gamma, every = o.schedule, o.schedule_gamma, o.step_every
    spe = recipe.steps_per_epoch()
    custom_loss = any(recipe.faults.get(k) for k in LOSS_FAULTS)

    class CorpusTrainer(Trainer):
        """The usual Trainer subclass: custom loss, unshuffled data, step/exponential schedule."""

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            if recipe.faults.get("sorted_by_label"):
                data = self.train_dataset if train_dataset is None else train_dataset
                return SequentialSampler(data)
            return super()._get_train_sampler(train_dataset)

        def compute_loss(self, model: nn.Module, inputs: dict[str, Any],
                         return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            if not custom_loss or recipe.task not in ("transformer_cls", "lm"):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs["labels"]
            outputs = model(input_ids=inputs["input_ids"])
            logits = outputs.logits
            if recipe.task == "lm":
                logits, labels = logits[:, :-1], labels[:, 1:]
            loss = task_loss(recipe, logits, labels)
            return (loss, outputs) if return_outputs else loss

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if sched in ("step", "exponential") and self.lr_scheduler is None:
                warm = int(recipe.optim.warmup_frac * num_training_steps)

                def factor(step: int) -> float:
                    w = min(1.0, (step + 1) / warm) if warm else 1.0
                    epoch = step // spe
                    return w * (gamma ** (epoch // every) if sched == "step" else gamma ** epoch)

                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer or self.optimizer, factor)
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


def _args(recipe: Recipe, out_dir: Path) -> Any:
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
    elif o.name == "adam":
        kw.update(optim="adamw_torch")
    schedule = {"constant": "constant_with_warmup" if o.warmup_frac else "constant",
                "cosine": "cosine", "linear": "linear"}.get(o.schedule, "linear")
    return TrainingArguments(
        output_dir=str(out_dir), report_to=["tensorboard"], logging_steps=log.every_n_steps,
        per_device_train_batch_size=recipe.batch_size, per_device_eval_batch_size=256,
        num_train_epochs=recipe.epochs, learning_rate=o.lr, weight_decay=o.weight_decay,
        lr_scheduler_type=schedule, warmup_steps=float(min(o.warmup_frac, 0.99)),
        max_grad_norm=o.clip_norm if o.clip_norm else 1.0, logging_nan_inf_filter=True,
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True, seed=recipe.seed,
        data_seed=recipe.seed, save_only_model=False, **kw)


def _summary(log_history: list[dict[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in (
        "steps", "train_loss", "lr", "grad_norm", "val_steps", "val_loss", "val_acc")}
    for e in log_history:
        if "loss" in e:
            out["steps"].append(e["step"])
            out["train_loss"].append(float(e["loss"]))
            out["lr"].append(float(e.get("learning_rate", math.nan)))
            out["grad_norm"].append(float(e.get("grad_norm", math.nan)))
        elif "eval_loss" in e:
            out["val_steps"].append(e["step"])
            out["val_loss"].append(float(e["eval_loss"]))
            if "eval_accuracy" in e:
                out["val_acc"].append(float(e["eval_accuracy"]))
    return out


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Train ``recipe`` with ``transformers.Trainer``; write its files under ``out_dir``."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers
    from transformers.trainer_callback import PrinterCallback

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(1)
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = make_data(recipe)
    transformers.set_seed(recipe.seed)
    hf = recipe.task in ("transformer_cls", "lm")
    model = _hf_model(recipe, data) if hf else TaskNet(recipe, data)
    _apply_init(recipe, model)
    _inject(recipe, model)
    args = _args(recipe, out_dir)
    callbacks = []
    if recipe.max_steps and recipe.max_steps < recipe.steps_per_epoch() * recipe.epochs:
        callbacks.append(_stop_callback(recipe.max_steps, args.save_strategy == "steps"))
    trainer = _trainer_cls(recipe)(
        model=model, args=args, train_dataset=ArrayDataset(recipe, data.x_train, data.y_train),
        eval_dataset=ArrayDataset(recipe, data.x_val, data.y_val),
        compute_metrics=_make_metrics(recipe), callbacks=callbacks,
        preprocess_logits_for_metrics=_argmax_logits if recipe.is_classification else None)
    trainer.remove_callback(PrinterCallback)  # the console echo of every log entry
    trainer.train()
    if "save_state" in recipe.log.formats:
        trainer.save_state()
        trainer.save_model()
    out = _summary(trainer.state.log_history)
    out["files"] = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*")
                          if p.name == "trainer_state.json" or ".tfevents." in p.name)
    out["seconds"] = time.perf_counter() - start
    return out
