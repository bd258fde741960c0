#!/usr/bin/env python3
"""Generate a labelled evaluation corpus of real training runs with injected faults.

Every run is a real (tiny, CPU) PyTorch training run from ``scripts/_training.py`` with one fault
injected through its configuration — or none, for the ``healthy`` runs — written in one of six log
layouts (TensorBoard, Lightning CSV, Keras CSV, HF ``trainer_state.json``, JSON Lines, MLflow file
store). Run directories are named opaquely (``run_000`` …, shuffled) so nothing but
``labels.json`` tells the cause::

    {"run_000": {"cause": "lr_too_high", "fault": "lr ×100: 0.001 → 0.1 (Adam)",
                 "format": "hf_trainer_state", "num_classes": 10, "task": "blobs", ...}, ...}

After training, each run is checked for the symptom its fault should produce (e.g. a bad-labels
run must end at chance accuracy, a healthy run must converge without overfitting); the result is
stored as ``"check"`` in the labels and a failed check is reported (``--strict`` makes it fatal).

Usage (needs torch, and tensorboard for the TensorBoard runs — use a scratch venv, see
``scripts/generate_examples.py``)::

    /tmp/genvenv/bin/python benchmarks/make_corpus.py [OUT_DIR] [--jobs 2] [--seed 0]

The default OUT_DIR is ``benchmarks/corpus/`` (git-ignored). Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from _logwriters import FORMATS, Format, write  # noqa: E402
from _training import History, RunConfig, train  # noqa: E402

CAUSES: tuple[str, ...] = (
    "lr_too_high",
    "lr_too_low",
    "overfitting",
    "dead_relu",
    "bad_weight_init",
    "vanishing_gradients",
    "exploding_gradients",
    "not_trained_long_enough",
    "too_much_regularization",
    "bad_labels",
    "model_too_small",
)
RUNS_PER_CAUSE = 5
HEALTHY_RUNS = 18


@dataclass(frozen=True)
class Spec:
    """One corpus run: what to train, how to log it, and its ground truth."""

    cause: str
    fault: str
    config: RunConfig
    fmt: Format
    log_every: int


Rng = np.random.Generator


def _pick(rng: Rng, options: list[Any] | tuple[Any, ...]) -> Any:
    return options[int(rng.integers(len(options)))]


# --------------------------------------------------------------------- healthy baselines


def healthy_base(rng: Rng, i: int) -> tuple[RunConfig, str]:
    """A well-tuned run (three task families, varied sizes, seeds, optimisers, schedules)."""
    seed = int(rng.integers(1, 10_000))
    family = ("blobs", "spiral", "images")[i % 3]
    if family == "blobs":
        c = int(_pick(rng, [4, 6, 8, 10]))
        sgd = bool(rng.random() < 0.4)
        cfg = RunConfig(
            task="blobs", num_classes=c, separation=float(_pick(rng, [1.0, 1.2, 1.4])),
            n_train=int(_pick(rng, [3000, 4000])), hidden=_pick(rng, [(128, 128), (64, 64),
                                                                       (256,)]),
            optimizer="sgd" if sgd else "adamw",
            lr=float(_pick(rng, [0.02, 0.05])) if sgd else float(_pick(rng, [1e-3, 2e-3])),
            weight_decay=1e-4 if sgd else 1e-2, dropout=0.1, schedule="cosine",
            epochs=int(_pick(rng, [12, 15, 18])), seed=seed,
        )
        desc = f"{c}-class Gaussian mixture, MLP {list(cfg.hidden)}"
    elif family == "spiral":
        c = int(_pick(rng, [3, 4, 5, 6]))
        cfg = RunConfig(
            task="spiral", num_classes=c, input_dim=2, data_noise=float(_pick(rng, [0.1, 0.15,
                                                                                    0.2])),
            hidden=_pick(rng, [(64, 64), (128, 128)]), optimizer="adam",
            lr=float(_pick(rng, [3e-3, 5e-3])), schedule="cosine",
            epochs=int(_pick(rng, [30, 40])), seed=seed,
        )
        desc = f"{c}-arm spiral, MLP {list(cfg.hidden)}"
    else:
        c = int(_pick(rng, [4, 6, 8]))
        cfg = RunConfig(
            task="images", arch="cnn", num_classes=c, n_train=int(_pick(rng, [2000, 2500])),
            n_val=800, data_noise=float(_pick(rng, [0.8, 1.0, 1.2])),
            hidden=_pick(rng, [(8, 16), (16, 32)]), optimizer="adam",
            lr=float(_pick(rng, [2e-3, 3e-3, 5e-3])), schedule=_pick(rng, ["cosine", "step"]),
            epochs=int(_pick(rng, [12, 14, 16])), seed=seed,
        )
        desc = f"{c}-class 12×12 synthetic images, CNN {list(cfg.hidden)}"
    return cfg, desc


def healthy(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, desc = healthy_base(rng, i)
    variant = i % 6
    if variant == 4:  # small batches → noisy but fine
        bs = int(_pick(rng, [8, 16]))
        lr = cfg.lr * bs / 64 if cfg.optimizer == "sgd" else cfg.lr / 2
        epochs = max(6, cfg.epochs // 3) if cfg.task != "spiral" else 12
        cfg = replace(cfg, batch_size=bs, lr=lr, epochs=epochs)
        desc += f", batch size {bs} (noisy step losses)"
    elif variant == 5:  # noisier data, lower ceiling, still healthy
        if cfg.task == "blobs":
            cfg = replace(cfg, separation=0.8)
        elif cfg.task == "spiral":
            cfg = replace(cfg, data_noise=0.3)
        else:
            cfg = replace(cfg, data_noise=1.6)
        desc += ", harder (noisier) data"
    return cfg, f"none — {desc}, {_opt(cfg)}"


def _opt(cfg: RunConfig) -> str:
    name = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[cfg.optimizer]
    return f"{name} lr={cfg.lr:g} {cfg.schedule}, {cfg.epochs} epochs"


# ------------------------------------------------------------------------ fault injection


def lr_too_high(rng: Rng, i: int) -> tuple[RunConfig, str]:
    if i % 3 == 0:  # SGD+momentum trains this MLP well at 0.1; at 10 it diverges to NaN
        seed = int(rng.integers(1, 10_000))
        cfg = RunConfig(separation=1.0, num_classes=int(_pick(rng, [6, 10])),
                        optimizer="sgd", momentum=0.9, lr=10.0, epochs=8, seed=seed)
        return cfg, "lr ×100: 0.1 → 10 (SGD momentum 0.9, 2×128 ReLU MLP)"
    cfg, _ = healthy_base(rng, i)
    cfg = replace(cfg, lr=cfg.lr * 100, schedule="constant")
    return cfg, f"lr ×100: {cfg.lr / 100:g} → {cfg.lr:g} ({cfg.optimizer}, {cfg.task})"


def lr_too_low(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, _ = healthy_base(rng, i)
    factor = 1000 if i % 2 == 0 else 300
    cfg = replace(cfg, lr=cfg.lr / factor)
    return cfg, f"lr ÷{factor}: {cfg.lr * factor:g} → {cfg.lr:g} ({cfg.optimizer}, {cfg.task})"


def overfitting(rng: Rng, i: int) -> tuple[RunConfig, str]:
    seed = int(rng.integers(1, 10_000))
    n = int(_pick(rng, [100, 150, 200, 300]))
    if i % 3 == 2:  # an MLP on flattened images (a GAP CNN is too constrained to overfit)
        cfg = RunConfig(task="images", num_classes=int(_pick(rng, [6, 8])), n_train=n,
                        n_val=800, data_noise=1.4, hidden=(512, 512), batch_size=32,
                        lr=1e-3, epochs=80, seed=seed)
    else:
        hidden = (512, 512) if i % 3 == 0 else (256, 256, 256)
        cfg = RunConfig(num_classes=int(_pick(rng, [8, 10])), separation=float(
            _pick(rng, [0.8, 0.9, 1.0])), n_train=n, hidden=hidden, batch_size=32, lr=1e-3,
                        epochs=int(_pick(rng, [100, 150])), seed=seed)
    return cfg, (f"only {n} training samples, {cfg.arch.upper()} {list(cfg.hidden)}, "
                 f"no regularisation, {cfg.epochs} epochs")


def dead_relu(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, _ = healthy_base(rng, i)
    if i % 5 == 4:  # LR warm-up to a far too high value kills the ReLUs
        cfg = RunConfig(separation=1.0, num_classes=int(_pick(rng, [8, 10])), optimizer="sgd",
                        momentum=0.9, lr=3.0, warmup_steps=200, epochs=15,
                        seed=int(rng.integers(1, 10_000)))
        return cfg, "SGD lr warmed up to 3.0 (×60): ReLUs die after a few spikes"
    bias = float(_pick(rng, [-2.0, -3.0, -5.0, -10.0]))
    cfg = replace(cfg, bias_init=bias, activation="relu")
    return cfg, f"hidden-layer biases initialised to {bias:g}: every ReLU is dead ({cfg.task})"


def bad_weight_init(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, _ = healthy_base(rng, i)
    cfg = replace(cfg, dropout=0.0)  # dropout would break the symmetry by itself
    if i % 2 == 0:
        return replace(cfg, init="zero"), f"all weights and biases initialised to 0 ({cfg.task})"
    value = float(_pick(rng, [0.02, 0.05]))
    return (replace(cfg, init="constant", init_std=value),
            f"all weights initialised to the constant {value:g}: symmetric units ({cfg.task})")


def vanishing_gradients(rng: Rng, i: int) -> tuple[RunConfig, str]:
    seed = int(rng.integers(1, 10_000))
    depth = int(_pick(rng, [8, 10, 12]))
    std = float(_pick(rng, [0.5, 1.0]))
    adam = i % 3 == 2
    cfg = RunConfig(task=_pick(rng, ["blobs", "spiral"]), num_classes=int(_pick(rng, [4, 6, 10])),
                    separation=1.2, data_noise=1.0, hidden=(64,) * depth, activation="sigmoid",
                    init="normal", init_std=std, optimizer="adam" if adam else "sgd",
                    lr=1e-3 if adam else 0.05, epochs=15, seed=seed)
    if cfg.task == "spiral":
        cfg = replace(cfg, input_dim=2, data_noise=0.15)
    return cfg, (f"{depth}-layer sigmoid MLP, init N(0, {std:g}²/fan_in), "
                 f"{'Adam 1e-3' if adam else 'SGD 0.05'} ({cfg.task})")


def exploding_gradients(rng: Rng, i: int) -> tuple[RunConfig, str]:
    seed = int(rng.integers(1, 10_000))
    depth = int(_pick(rng, [8, 10]))
    variant = i % 3
    std, lr = ((2.5, 0.01), (2.0, 0.01), (1.5, 0.14))[variant]
    if variant == 0:
        std = float(_pick(rng, [2.5, 3.0]))
    cfg = RunConfig(num_classes=int(_pick(rng, [6, 10])), separation=1.0, hidden=(64,) * depth,
                    init="normal", init_std=std, optimizer="sgd", momentum=0.9, lr=lr,
                    epochs=10, seed=seed)
    return cfg, (f"{depth}-layer ReLU MLP, no normalisation, init N(0, {std:g}²/fan_in), "
                 f"SGD lr={lr:g}, no gradient clipping")


def not_trained_long_enough(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, _ = healthy_base(rng, i)
    spe = math.ceil(cfg.n_train / cfg.batch_size)
    planned = spe * cfg.epochs
    frac = float(_pick(rng, [0.05, 0.08, 0.12]))
    # the image CNNs sit on a short plateau first: give them at least 3 epochs
    steps = max(3 * spe if cfg.task == "images" else 60, int(frac * planned))
    evals = min(spe, math.ceil(8 * spe / steps))  # ≈ 8 validation passes before the stop
    cfg = replace(cfg, max_steps=steps, evals_per_epoch=evals)
    return cfg, (f"stopped after {steps} of {planned} planned steps ({frac:.0%}) while the loss "
                 f"still falls ({cfg.task}, {_opt(cfg)})")


def too_much_regularization(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, _ = healthy_base(rng, i)
    dropout = float(_pick(rng, [0.8, 0.9]))
    if i % 2 == 0:
        wd = float(_pick(rng, [0.5, 1.0]))
        cfg = replace(cfg, dropout=dropout, optimizer="adamw", weight_decay=wd, lr=2e-3)
        return cfg, f"dropout {dropout:g} + AdamW weight decay {wd:g} ({cfg.task})"
    wd = float(_pick(rng, [0.01, 0.03]))
    cfg = replace(cfg, dropout=dropout, optimizer="adam", weight_decay=wd, lr=2e-3)
    return cfg, f"dropout {dropout:g} + L2 weight decay {wd:g} in Adam ({cfg.task})"


def bad_labels(rng: Rng, i: int) -> tuple[RunConfig, str]:
    cfg, _ = healthy_base(rng, i)
    return replace(cfg, label_shuffle=1.0), f"training labels randomly permuted ({cfg.task})"


def model_too_small(rng: Rng, i: int) -> tuple[RunConfig, str]:
    seed = int(rng.integers(1, 10_000))
    if i % 3 == 2:
        cfg = RunConfig(task="images", arch="cnn", num_classes=8, n_train=2000, n_val=800,
                        hidden=(1, 1), lr=3e-3, epochs=12, seed=seed)
        return cfg, "CNN with 1 channel per conv layer on 8-class images"
    width = int(_pick(rng, [1, 2])) if i % 3 == 1 else 1
    if i % 3 == 0:
        cfg = RunConfig(task="spiral", num_classes=int(_pick(rng, [5, 6])), input_dim=2,
                        data_noise=0.1, hidden=(width,), lr=5e-3, epochs=30, seed=seed)
    else:
        cfg = RunConfig(num_classes=10, separation=1.2, hidden=(width,), lr=3e-3, epochs=20,
                        seed=seed)
    return cfg, f"MLP with {width} hidden unit(s) on a {cfg.num_classes}-class {cfg.task} task"


MAKERS: dict[str, Callable[[Rng, int], tuple[RunConfig, str]]] = {
    "healthy": healthy,
    "lr_too_high": lr_too_high,
    "lr_too_low": lr_too_low,
    "overfitting": overfitting,
    "dead_relu": dead_relu,
    "bad_weight_init": bad_weight_init,
    "vanishing_gradients": vanishing_gradients,
    "exploding_gradients": exploding_gradients,
    "not_trained_long_enough": not_trained_long_enough,
    "too_much_regularization": too_much_regularization,
    "bad_labels": bad_labels,
    "model_too_small": model_too_small,
}


# ------------------------------------------------------------------------ symptom checks


def _ln_c(h: History) -> float:
    return math.log(h.config.num_classes)


def _nonfinite(h: History) -> bool:
    return bool((~np.isfinite(h.step_loss)).any())


def _smooth(h: History, width: int = 20) -> np.ndarray:
    loss = h.step_loss
    n = len(loss) // width
    return loss[: n * width].reshape(n, width).mean(axis=1) if n else loss


def check(cause: str, h: History, full: History | None = None) -> str | None:
    """None when the run shows the symptom its fault should cause, else what is missing.

    ``full`` is the same run trained for its whole planned length (not_trained_long_enough).
    """
    ln_c = _ln_c(h)
    tl_end = float(h.train_loss_epoch[-1])
    vl = h.val_loss
    finite_vl = vl[np.isfinite(vl)]
    vl_min = float(finite_vl.min()) if finite_vl.size else math.nan
    vl_end = float(vl[-1])
    va_end = float(h.val_acc[-1])
    chance = 1.0 / h.config.num_classes
    sm = _smooth(h)
    if cause == "healthy":
        if _nonfinite(h):
            return "non-finite loss"
        if vl_end > 1.1 * vl_min:
            return f"val_loss ends {vl_end:.3f} > 1.1 × min {vl_min:.3f} (overfits)"
        if tl_end > 0.6 * ln_c or va_end < 2.5 * chance:
            return f"did not learn (train {tl_end:.3f}, val acc {va_end:.3f})"
        tail = vl[int(len(vl) * 0.75):]
        if len(tail) >= 2 and tail[-1] < 0.9 * tail[0]:
            return f"still falling at the end ({tail[0]:.3f} → {tail[-1]:.3f})"
        return None
    if cause in ("lr_too_high", "exploding_gradients"):
        gn = h.step_grad_norm
        if _nonfinite(h):
            return None
        if cause == "exploding_gradients":
            ok = float(np.nanmax(gn)) > 50 * max(float(np.nanmedian(gn)), 1e-3) or sm[0] > 3 * ln_c
            return None if ok else f"no gradient explosion (max {np.nanmax(gn):.3g})"
        if sm.max() > 1.2 * sm[0] or vl_end > 1.15 * vl_min or tl_end > 0.9 * ln_c:
            return None
        return f"no divergence/oscillation (train {sm[0]:.3f} → {tl_end:.3f}, val {vl_end:.3f})"
    if _nonfinite(h):
        return "non-finite loss"
    if cause == "lr_too_low":
        first = float(h.train_loss_epoch[0])
        if tl_end < first and tl_end > 0.7 * first:
            return None
        return f"loss {first:.3f} → {tl_end:.3f} is not a slow descent"
    if cause == "overfitting":
        rising = vl_end > 1.3 * vl_min or (vl_end > 1.1 * vl_min and tl_end < 0.1 * vl_end)
        if rising and tl_end < 0.5 * vl_end:
            return None
        return f"no overfitting (val {vl_min:.3f} → {vl_end:.3f}, train {tl_end:.3f})"
    if cause in ("dead_relu", "bad_weight_init", "vanishing_gradients"):
        half = h.train_loss_epoch[: max(1, len(h.train_loss_epoch) // 2)]
        limit = {"dead_relu": 0.93, "bad_weight_init": 0.5, "vanishing_gradients": 0.85}[cause]
        measured = tl_end if cause != "vanishing_gradients" else float(np.mean(half))
        if measured > limit * ln_c:
            return None
        return f"loss {measured:.3f} is not stuck near ln C = {ln_c:.3f}"
    if cause == "not_trained_long_enough":
        tail = vl[int(len(vl) * 0.75):]
        falling = len(tail) >= 2 and tail[-1] < 0.95 * tail[0] and vl_end <= vl_min + 1e-9
        full_end = float(full.val_loss[-1]) if full is not None else 0.0
        if falling and vl_end > 1.5 * full_end:
            return None
        return (f"val_loss {tail[0]:.3f} → {vl_end:.3f} at the stop, "
                f"{full_end:.3f} after the full run")
    if cause == "too_much_regularization":
        if tl_end > 0.5 * ln_c:
            return None
        return f"train loss {tl_end:.3f} is not underfit"
    if cause == "bad_labels":
        if va_end < 1.6 * chance:
            return None
        return f"val acc {va_end:.3f} above chance {chance:.3f}"
    if cause == "model_too_small":
        if tl_end > 0.5 * ln_c and va_end < 0.6:
            return None
        return f"train loss {tl_end:.3f}, val acc {va_end:.3f}: not underfit"
    raise ValueError(f"unknown cause {cause!r}")


# ---------------------------------------------------------------------------- the corpus


def _epochs_run(cfg: RunConfig) -> int:
    spe = math.ceil(cfg.n_train / cfg.batch_size)
    steps = spe * cfg.epochs if cfg.max_steps is None else min(spe * cfg.epochs, cfg.max_steps)
    return math.ceil(steps / spe)


def build_specs(seed: int, formats: tuple[Format, ...]) -> list[Spec]:
    rng = np.random.default_rng(seed)
    specs: list[Spec] = []
    plan = [("healthy", HEALTHY_RUNS)] + [(c, RUNS_PER_CAUSE) for c in CAUSES]
    for ci, (cause, count) in enumerate(plan):
        for i in range(count):
            cfg, fault = MAKERS[cause](rng, i)
            fmt = formats[(ci + i) % len(formats)]
            if fmt == "keras_csv" and _epochs_run(cfg) < 8:  # per-epoch rows would be too few
                fmt = formats[(ci + i + 1) % len(formats)]
            log_every = int(_pick(rng, [5, 10])) if cfg.n_train >= 1000 else 5
            specs.append(Spec(cause, fault, cfg, fmt, log_every))
    order = rng.permutation(len(specs))
    return [specs[k] for k in order]


def _run_one(job: tuple[str, Spec, str]) -> tuple[str, dict[str, Any], float]:
    import torch

    torch.set_num_threads(1)
    name, spec, out_root = job
    h = train(spec.config)
    out = Path(out_root) / name
    write(spec.fmt, h, out, log_every=spec.log_every, run_name=name)
    full = None
    if spec.config.max_steps is not None:  # what the run would have reached (not written)
        full = train(replace(spec.config, max_steps=None, evals_per_epoch=1))
    problem = check(spec.cause, h, full)
    label: dict[str, Any] = {
        "cause": spec.cause,
        "fault": spec.fault,
        "format": spec.fmt,
        "num_classes": spec.config.num_classes,
        "task": spec.config.task,
        "seed": spec.config.seed,
        "steps": h.n_steps,
        "epochs": len(h.epoch_step),
        "check": problem or "ok",
        "summary": {k: (round(v, 5) if math.isfinite(v) else str(v))
                    for k, v in h.summary().items() if k != "seconds"},
        "config": spec.config.to_dict(),
    }
    if full is not None:
        label["full_run_val_loss"] = round(float(full.val_loss[-1]), 5)
    return name, label, h.seconds


def make_corpus(out: Path, seed: int, jobs: int, formats: tuple[Format, ...]) -> dict[str, Any]:
    if out.exists() and any(out.iterdir()):
        if not (out / "labels.json").exists():
            raise SystemExit(f"{out} is not empty and holds no labels.json; not overwriting it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = build_specs(seed, formats)
    work = [(f"run_{k:03d}", spec, str(out)) for k, spec in enumerate(specs)]
    labels: dict[str, Any] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for name, label, secs in pool.map(_run_one, work):
            labels[name] = label
            flag = "" if label["check"] == "ok" else f"  CHECK FAILED: {label['check']}"
            print(f"{name} {label['cause']:24s} {label['format']:17s} {label['steps']:5d} steps "
                  f"{secs:5.1f}s{flag}", flush=True)
    (out / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "benchmarks" / "corpus",
                        help="output directory (default: benchmarks/corpus/)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel worker processes")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS),
                        help="log formats to rotate through (default: all six)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a run does not show its fault's symptom")
    args = parser.parse_args(argv)
    formats = tuple(args.formats)
    if "tensorboard" in formats:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            parser.error("TensorBoard runs need the `tensorboard` package; install it in a "
                         "scratch venv or pass --formats without tensorboard")
    started = time.perf_counter()
    labels = make_corpus(args.out, args.seed, args.jobs, formats)
    elapsed = time.perf_counter() - started
    causes = Counter(v["cause"] for v in labels.values())
    fmts = Counter(v["format"] for v in labels.values())
    failed = [k for k, v in labels.items() if v["check"] != "ok"]
    print(f"\n{len(labels)} runs in {elapsed:.1f}s with {args.jobs} worker(s) → {args.out}")
    print("causes: " + ", ".join(f"{c}={n}" for c, n in sorted(causes.items())))
    print("formats: " + ", ".join(f"{f}={n}" for f, n in sorted(fmts.items())))
    if failed:
        print(f"{len(failed)} run(s) without the expected symptom: {', '.join(failed)}")
        return 1 if args.strict else 0
    print("every run shows the symptom of its label")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
