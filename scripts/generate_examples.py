#!/usr/bin/env python3
"""Train tiny real models on CPU and write the example logs shipped in ``examples/``.

Each example is one real training run with one injected fault (or none), written in the layout
of a real logging tool, plus a three-line README saying what was injected and what a good
diagnosis says. Runs are seeded and deterministic; the whole script takes a few seconds.

Needs ``torch`` and, for the TensorBoard example, the ``tensorboard`` package (used only through
``torch.utils.tensorboard.SummaryWriter``). nndoctor itself depends on neither, so run this with a
scratch interpreter, e.g.::

    python3 -m venv /tmp/genvenv
    /tmp/genvenv/bin/pip install torch==2.13.0 tensorboard numpy pyyaml
    /tmp/genvenv/bin/python scripts/generate_examples.py            # -> examples/
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from _logwriters import Format, write
from _training import History, RunConfig, train

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 200 * 1024


@dataclass(frozen=True)
class Example:
    name: str
    fmt: Format
    config: RunConfig
    log_every: int
    title: str
    injected: str
    diagnosis: str


EXAMPLES: tuple[Example, ...] = (
    Example(
        name="nan_blowup",
        fmt="tensorboard",
        # 3×256 ReLU MLP on a 10-class Gaussian mixture; SGD+momentum trains it well at lr=0.01.
        config=RunConfig(separation=1.0, hidden=(256, 256, 256), optimizer="sgd", momentum=0.9,
                         lr=0.5, epochs=6, seed=1),
        log_every=5,
        title="Learning rate far too high: the loss blows up to NaN (TensorBoard event file)",
        injected="Injected: SGD (momentum 0.9) at lr=0.5, 50× the lr=0.01 that trains this "
        "3×256 ReLU MLP (10-class Gaussian mixture) well; no gradient clipping.",
        diagnosis="Good diagnosis: lr_too_high (loss falls to 0.84 by step 30, then climbs "
        "2.5 → 15 → 57 → 1.9e3 and is NaN from step 110; grad_norm explodes with it); fix: "
        "divide the LR by 10–50.",
    ),
    Example(
        name="overfitting",
        fmt="lightning_csv",
        config=RunConfig(separation=0.9, n_train=200, hidden=(512, 512), batch_size=32,
                         epochs=100, seed=0),
        log_every=5,
        title="Overfitting: train loss → 0 while val loss climbs (Lightning CSVLogger)",
        injected="Injected: only 200 training samples for a 512×512 MLP (10 classes), Adam "
        "lr=1e-3, no dropout/weight decay/early stopping, 100 epochs.",
        diagnosis="Good diagnosis: overfitting (val_loss bottoms out at 1.10 in epoch 6, then "
        "rises steadily to 1.95 while train_loss falls to ~0.001); fix: more data, regularise, "
        "stop early.",
    ),
    Example(
        name="flat_loss",
        fmt="hf_trainer_state",
        config=RunConfig(separation=1.0, bias_init=-5.0, epochs=10, seed=0),
        log_every=10,
        title="Flat loss at ln(10) ≈ 2.303: every ReLU is dead (Hugging Face trainer_state.json)",
        injected="Injected: hidden-layer biases initialised to -5 in a 128×128 ReLU MLP "
        "(10 classes, standardised inputs), so every hidden ReLU outputs 0 from step 1.",
        diagnosis="Good diagnosis: dead_relu (loss pinned at ln C = 2.303, accuracy at chance, "
        "grad_norm small and constant ≈ 0.15: only the output bias learns); fix: default "
        "(Kaiming) init with zero biases, LeakyReLU.",
    ),
    Example(
        name="healthy",
        fmt="keras_csv",
        config=RunConfig(task="images", arch="cnn", hidden=(16, 32), num_classes=8,
                         n_train=2500, n_val=800, data_noise=1.0, lr=3e-3, schedule="step",
                         epochs=16, seed=3),
        log_every=1,
        title="Healthy run: train and val loss fall together and flatten (Keras CSVLogger)",
        injected="Injected: nothing — a small CNN on 8-class synthetic 12×12 images, Adam "
        "lr=3e-3 with step decay (×0.1 at 60 %, ×0.01 at 85 %), 16 epochs.",
        diagnosis="Good diagnosis: healthy (losses fall and converge, small stable train/val "
        "gap, accuracy far above chance 0.125); nothing to fix.",
    ),
    Example(
        name="slow_lr",
        fmt="jsonl",
        config=RunConfig(separation=1.0, optimizer="sgd", momentum=0.9, lr=5e-5, epochs=30,
                         seed=0),
        log_every=10,
        title="Learning rate far too low: slow, almost linear descent from ln C (JSON Lines)",
        injected="Injected: SGD (momentum 0.9) at lr=5e-5, 1000× below the lr=0.05 that trains "
        "this 128×128 ReLU MLP (10 classes) in a few epochs.",
        diagnosis="Good diagnosis: lr_too_low (val_loss creeps down linearly 2.317 → 2.270 over "
        "30 epochs from ln C ≈ 2.303, still falling); fix: raise the LR ×10–×1000, LR finder.",
    ),
    Example(
        name="exploding",
        fmt="mlflow",
        config=RunConfig(separation=1.0, hidden=(64,) * 8, init="normal", init_std=1.5,
                         optimizer="sgd", momentum=0.9, lr=0.14, epochs=10, seed=2),
        log_every=5,
        title="Exploding gradients in a deep unnormalised net (MLflow file store)",
        injected="Injected: 8-layer ReLU MLP without normalisation, init N(0, 1.5²/fan_in), "
        "SGD lr=0.14 momentum 0.9, no gradient clipping (with clip_norm=1.0 it trains fine).",
        diagnosis="Good diagnosis: exploding_gradients (loss falls to ~1.0 by step 150, then "
        "creeps up with spikes as grad_norm drifts up, then 57 → 6.7e3 → NaN from step 258); "
        "fix: clip the grad norm at 1.0, add normalisation layers, smaller init.",
    ),
)


def _describe(h: History) -> str:
    def fmt(x: float) -> str:
        return f"{x:.4g}" if math.isfinite(x) else str(x)

    nonfinite = np.flatnonzero(~np.isfinite(h.step_loss))
    parts = [
        f"train_loss {fmt(h.step_loss[0])} → {fmt(h.step_loss[-1])}",
        f"val_loss {fmt(h.val_loss[0])} → {fmt(h.val_loss[-1])}"
        + (f" (min {fmt(float(np.nanmin(h.val_loss)))})" if np.isfinite(h.val_loss).any() else ""),
        f"val_acc {fmt(h.val_acc[0])} → {fmt(h.val_acc[-1])}",
        f"grad_norm {fmt(h.step_grad_norm[0])} → max {fmt(float(np.nanmax(h.step_grad_norm)))}",
    ]
    if nonfinite.size:
        parts.append(f"first non-finite loss at step {int(nonfinite[0]) + 1}")
    return "; ".join(parts)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def generate(out_root: Path, only: set[str] | None = None) -> None:
    torch.set_num_threads(1)
    if any(ex.fmt == "tensorboard" and (not only or ex.name in only) for ex in EXAMPLES):
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise SystemExit("the TensorBoard example needs the `tensorboard` package: run this "
                             "with a scratch venv (see the module docstring)") from None
    for ex in EXAMPLES:
        if only and ex.name not in only:
            continue
        started = time.perf_counter()
        h = train(ex.config)
        out = out_root / ex.name
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        write(ex.fmt, h, out, log_every=ex.log_every, run_name=ex.name)
        (out / "README.md").write_text(f"# {ex.title}\n{ex.injected}\n{ex.diagnosis}\n")
        size = _size(out)
        if size > MAX_BYTES:
            raise SystemExit(f"{out}: {size} bytes, over the {MAX_BYTES}-byte budget")
        print(f"{ex.name:12s} {ex.fmt:17s} {h.n_steps:5d} steps {size / 1024:6.1f} KB "
              f"{time.perf_counter() - started:5.1f}s  {_describe(h)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples",
                        help="where to write the example folders (default: examples/)")
    parser.add_argument("--only", nargs="*", metavar="NAME",
                        help=f"generate only these ({', '.join(e.name for e in EXAMPLES)})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    generate(args.out, set(args.only) if args.only else None)
    print(f"done in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
