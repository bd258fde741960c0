"""Plain PyTorch training loop logged with ``torch.utils.tensorboard.SummaryWriter``.

The tag names follow ``recipe.log.tag_scheme`` (see :data:`TAG_SCHEMES`): the names people copy
from tutorials (``Loss/train``, ``Loss/test``, ``Accuracy/val``, ``train/loss_step`` …), not only
nndoctor's canonical ones. With ``recipe.log.probes`` nndoctor's probes are attached (into the
same event file, or ``probe.jsonl`` when ``"probe_jsonl"`` is in ``recipe.log.formats``).
Layout: ``out_dir/runs/<run name>/events.out.tfevents…`` (+ ``probe.jsonl``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from corpus_gen import torch_parts as tp
from corpus_gen.data import make_data
from corpus_gen.recipe import Recipe

SUPPORTED_FAULTS: set[str] = set(tp.TORCH_FAULTS)


@dataclass(frozen=True)
class TagScheme:
    """Tag names of one logging convention (empty: not logged)."""

    train_loss: str
    val_loss: str = ""
    train_acc: str = ""
    val_acc: str = ""
    lr: str = "lr"
    grad_norm: str = "grad_norm"
    running: bool = False  # train values are the mean since the last log (tutorial style)
    per_epoch: bool = False  # everything logged once per epoch with global_step = epoch


TAG_SCHEMES: dict[str, TagScheme] = {
    "canonical": TagScheme("train_loss", "val_loss", "train_acc", "val_acc"),
    "tb_docs": TagScheme("Loss/train", "Loss/test", "Accuracy/train", "Accuracy/test",
                         "Learning rate", "Gradients/norm", running=True),
    "tb_docs_val": TagScheme("Loss/train", "Loss/val", "", "Accuracy/val", "LR", "grad_norm"),
    "lower_slash": TagScheme("loss/train", "loss/val", "acc/train", "acc/val", "lr/group0",
                             "grad/norm"),
    "lightning_like": TagScheme("train/loss_step", "val/loss", "train/acc_step", "val/acc",
                                "train/lr", "train/grad_norm"),
    "capitalised": TagScheme("Train/Loss", "Val/Loss", "Train/Accuracy", "Val/Accuracy", "LR",
                             "Train/GradNorm", running=True),
    "words": TagScheme("training loss", "validation loss", "", "validation accuracy",
                       "learning rate", "gradient norm", running=True),
    "flat": TagScheme("train_loss", "valid_loss", "train_acc", "valid_acc", "learning_rate",
                      "total_norm"),
    "per_epoch": TagScheme("Loss/train", "Loss/val", "Accuracy/train", "Accuracy/val", "lr",
                           "grad_norm", per_epoch=True),
    "train_only": TagScheme("train_loss", lr="lr", grad_norm="grad_norm"),
    "train_only_tb": TagScheme("Train/Loss", lr="LR", grad_norm="grad_norm", running=True),
}


def run_name(recipe: Recipe) -> str:
    """A folder name like people give their SummaryWriter runs."""
    m, o = recipe.model, recipe.optim
    return f"{recipe.task}_{m.arch}{m.width}x{m.depth}_{o.name}_lr{o.lr:g}_s{recipe.seed}"


def _eval_points(steps_per_epoch: int, evals: int) -> set[int]:
    """Batch indices (1-based within the epoch) after which validation runs."""
    evals = max(1, min(evals, steps_per_epoch))
    return {round(k * steps_per_epoch / evals) for k in range(1, evals + 1)}


@torch.no_grad()
def evaluate(recipe: Recipe, model: torch.nn.Module, x: torch.Tensor,
             y: torch.Tensor, batch: int = 256) -> tuple[float, float, float]:
    """(loss as the script computes it, accuracy, correct reference loss) over a dataset."""
    tp.validation_mode(recipe, model)
    losses, refs, accs, sizes = [], [], [], []
    for i in range(0, len(x), batch):
        out = model(x[i:i + batch])
        losses.append(float(tp.compute_loss(recipe, out, y[i:i + batch])))
        refs.append(float(tp.reference_loss(recipe, out, y[i:i + batch])))
        accs.append(tp.accuracy(recipe, out, y[i:i + batch]))
        sizes.append(len(out))
    model.train()
    n = sum(sizes)
    mean = [sum(v * s for v, s in zip(vals, sizes, strict=True)) / n
            for vals in (losses, accs, refs)]
    return mean[0], mean[1], mean[2]


class _Log:
    """Writes scalars through the scheme and keeps an in-memory copy for the checks."""

    def __init__(self, writer: Any, scheme: TagScheme) -> None:
        self.writer, self.scheme = writer, scheme
        self.record: dict[str, list[list[float]]] = {}

    def __call__(self, name: str, value: float, step: int) -> None:
        tag = getattr(self.scheme, name)
        self.record.setdefault(name, []).append([step, value])
        if tag:
            self.writer.add_scalar(tag, value, step)


def train(recipe: Recipe, out_dir: Path) -> dict[str, Any]:
    """Train with a plain loop; write ``out_dir/runs/<name>/`` and return what was logged."""
    from torch.utils.tensorboard import SummaryWriter

    started = time.perf_counter()
    tp.seed_everything(recipe)
    data = make_data(recipe)
    xt, yt, xv, yv = tp.tensors(data)
    model = tp.build_model(recipe, data)
    optimizer = tp.make_optimizer(recipe, model.parameters())
    spe = max(1, -(-len(xt) // recipe.batch_size))  # the data may be smaller than n_train
    scheduler = tp.make_scheduler(recipe, optimizer, spe * recipe.epochs)
    log_dir = Path(out_dir) / "runs" / run_name(recipe)
    writer = SummaryWriter(log_dir=str(log_dir))
    scheme = TAG_SCHEMES[recipe.log.tag_scheme]
    log = _Log(writer, scheme)
    probe = None
    if recipe.log.probes:
        import nndoctor.probes

        every = max(5, recipe.log.every_n_steps * 2)
        if "probe_jsonl" in recipe.log.formats:
            probe = nndoctor.probes.attach(model, optimizer, log_dir=log_dir, every=every)
        else:
            probe = nndoctor.probes.attach(model, optimizer, writer=writer, every=every)
    gen = torch.Generator().manual_seed(recipe.seed + 17)
    shuffle = not recipe.faults.get("sorted_by_label")
    evals = _eval_points(spe, recipe.log.evals_per_epoch)
    every = max(1, recipe.log.every_n_steps)
    total = min(spe * recipe.epochs, recipe.max_steps or spe * recipe.epochs)
    step, bad_steps = 0, 0
    window: list[tuple[float, float, float]] = []
    epoch_losses: list[float] = []
    ref_val: list[list[float]] = []
    model.train()
    for epoch in range(recipe.epochs):
        order = torch.randperm(len(xt), generator=gen) if shuffle else torch.arange(len(xt))
        epoch_losses.clear()
        for b in range(spe):
            idx = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            xb, yb = tp.augment(recipe, xt[idx], gen), yt[idx]
            tp.zero_grad(recipe, optimizer)
            out = model(xb)
            loss = tp.compute_loss(recipe, out, yb)
            loss.backward()
            gnorm = tp.apply_grad_faults(recipe, model)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            step += 1
            value = float(loss.detach())
            bad_steps += not math.isfinite(value)
            window.append((value, tp.accuracy(recipe, out.detach(), yb), gnorm))
            epoch_losses.append(value)
            if not scheme.per_epoch and step % every == 0:
                vals = window if scheme.running else window[-1:]
                log("train_loss", sum(v[0] for v in vals) / len(vals), step)
                if recipe.is_classification:
                    log("train_acc", sum(v[1] for v in vals) / len(vals), step)
                if recipe.log.log_lr:
                    log("lr", lr, step)
                if recipe.log.log_grad_norm:
                    log("grad_norm", gnorm, step)
                window.clear()
            last = step >= total or bad_steps > 30
            if ((b + 1) in evals or last) and (not scheme.per_epoch or b + 1 == spe or last):
                at = epoch + 1 if scheme.per_epoch else step
                vl, va, ref = evaluate(recipe, model, xv, yv)
                if scheme.per_epoch:
                    log("train_loss", sum(epoch_losses) / len(epoch_losses), at)
                    if recipe.log.log_lr:
                        log("lr", lr, at)
                log("val_loss", vl, at)
                if recipe.is_classification:
                    log("val_acc", va, at)
                ref_val.append([at, ref])
            if last:
                break
        if step >= total or bad_steps > 30:
            break
    if probe is not None:
        probe.close()
    writer.flush()
    writer.close()
    record = log.record
    record["reference_val_loss"] = ref_val
    return {"log_dir": str(log_dir.relative_to(out_dir)), "scheme": recipe.log.tag_scheme,
            "steps": step, "steps_per_epoch": spe, "seconds": time.perf_counter() - started,
            "series": record}
