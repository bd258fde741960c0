"""The corpus checks of the fine-tuning causes (issue 17), on synthetic logs: each fault's
symptom passes its check, and a healthy fine-tune (or another fault's shape) does not."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from corpus_gen import checks
from corpus_gen.recipe import Finetune, Recipe, Rl

LN_V = math.log(32)


def _recipe(faults: dict | None = None, task: str = "lm", num_classes: int = 0) -> Recipe:
    return Recipe(task=task, framework="hf", num_classes=num_classes, vocab=32,
                  faults=faults or {}, finetune=Finetune())


def _ctx(series: dict[str, tuple], raw: dict[str, tuple] | None = None,
         context: dict | None = None, **kw) -> checks.Ctx:
    as_arrays = {k: (np.asarray(s, dtype=float), np.asarray(v, dtype=float))
                 for k, (s, v) in series.items()}
    raw_arrays = {k: (np.asarray(s, dtype=float), np.asarray(v, dtype=float))
                  for k, (s, v) in (raw or {}).items()}
    logs = checks.Logs(as_arrays, raw_arrays, context or {})
    recipe = kw.pop("recipe", None) or _recipe(**kw)
    return checks.Ctx(recipe, logs, checks.baseline(recipe), 1 / 32)


def _fine_tune(n: int = 120, seed: int = 0, start: float = 2.8, end: float = 2.05,
               noise: float = 0.03) -> np.ndarray:
    """A healthy fine-tune's loss: an exponential approach to its floor, with batch noise."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return end + (start - end) * np.exp(-t / (n / 6)) + rng.normal(0, noise, n)


def _evals(values: list[float], every: int = 20) -> tuple[list[int], list[float]]:
    return [every * (k + 1) for k in range(len(values))], values


STEPS = np.arange(1, 121)
HEALTHY_EVAL = _evals([2.4, 2.2, 2.12, 2.09, 2.08, 2.075])


def _healthy_series(**extra: tuple) -> dict[str, tuple]:
    return {"train_loss": (STEPS, _fine_tune()), "val_loss": HEALTHY_EVAL, **extra}


# ---------------------------------------------------------------------------- spikes


def test_spikes_found_against_the_running_median_and_not_in_batch_noise():
    loss = _fine_tune()
    spiky = loss.copy()
    spiky[[40, 70, 100]] *= 2.0
    assert checks._loss_spikes(_ctx({"train_loss": (STEPS, spiky)})) is None
    assert checks.spike_points(spiky, LN_V) == [40, 70, 100]
    assert checks._loss_spikes(_ctx({"train_loss": (STEPS, loss)})) is not None
    noisy = _fine_tune(noise=0.15, seed=3)  # small-batch noise: no point 1.5× its median
    assert checks._loss_spikes(_ctx({"train_loss": (STEPS, noisy)})) is not None


def test_oscillation_and_divergence_are_not_spikes():
    zigzag = np.where(STEPS % 2 == 0, 4.0, 1.5)
    assert checks._loss_spikes(_ctx({"train_loss": (STEPS, zigzag)})) is not None
    jumpy = 2.0 + 3.0 * (np.random.default_rng(4).random(120) < 0.2)
    assert "oscillation" in checks._loss_spikes(_ctx({"train_loss": (STEPS, jumpy)}))
    nan = _fine_tune()
    nan[60:] = np.nan
    assert checks._loss_spikes(_ctx({"train_loss": (STEPS, nan)})) == "non-finite loss"


def test_a_spike_near_a_zero_loss_needs_an_absolute_jump():
    tiny = np.full(120, 0.01)
    tiny[50] = 0.03  # ×3, but 0.02 nats: noise of a loss near 0
    assert checks.spike_points(tiny, LN_V) == []


# ------------------------------------------------------------------- mixed precision


def test_overflow_is_a_non_finite_grad_norm_under_a_finite_logged_loss():
    grad = np.full(120, 0.8)
    grad[40:] = np.nan
    filtered = _fine_tune()
    filtered[40:] = 0.0  # Hugging Face's NaN filter logs 0.0
    ok = _ctx({"train_loss": (STEPS, filtered), "grad_norm": (STEPS, grad)})
    assert checks._precision_overflow(ok) is None
    healthy = _ctx(_healthy_series(grad_norm=(STEPS, np.full(120, 0.8))))
    assert checks._precision_overflow(healthy) == "every logged gradient norm is finite"
    loss_nan = filtered.copy()
    loss_nan[40:] = np.nan
    assert checks._precision_overflow(
        _ctx({"train_loss": (STEPS, loss_nan), "grad_norm": (STEPS, grad)})) is not None
    assert checks._precision_overflow(_ctx({"train_loss": (STEPS, filtered)})) is not None


# ------------------------------------------------------------------------ label masking


def test_all_masked_labels_log_exactly_zero():
    zeros = {"train_loss": (STEPS, np.zeros(120))}
    assert checks._label_masking(_ctx(zeros, faults={"labels_all_masked": True})) is None
    assert checks._label_masking(
        _ctx(_healthy_series(), faults={"labels_all_masked": True})) is not None


def test_unshifted_labels_collapse_the_loss_early():
    t = np.arange(120)
    leak = 0.07 + 3.8 * np.exp(-t / 8)
    assert checks._label_masking(
        _ctx({"train_loss": (STEPS, leak)}, faults={"labels_unshifted": True})) is None
    slow = 0.07 + 3.8 * np.exp(-t / 80)  # reaches the floor late: a long healthy descent
    assert checks._label_masking(
        _ctx({"train_loss": (STEPS, slow)}, faults={"labels_unshifted": True})) is not None
    assert checks._label_masking(
        _ctx(_healthy_series(), faults={"labels_unshifted": True})) is not None


def test_unmasked_pads_put_train_far_below_eval_from_the_start():
    pads = _ctx({"train_loss": (STEPS, 0.62 * _fine_tune()), "val_loss": HEALTHY_EVAL},
                faults={"pad_not_masked": True})
    assert checks._label_masking(pads) is None
    assert checks._label_masking(
        _ctx(_healthy_series(), faults={"pad_not_masked": True})) is not None
    assert checks._label_masking(_ctx(_healthy_series())) == "no label-masking fault in the recipe"


# ---------------------------------------------------------------- gradient accumulation


def test_accumulated_loss_is_a_multiple_of_the_eval_loss():
    summed = _ctx({"train_loss": (STEPS, 4 * _fine_tune()), "val_loss": HEALTHY_EVAL})
    assert checks._grad_accumulation(summed) is None
    assert checks.train_over_eval(summed)[0] == pytest.approx(4 * 2.2 / 2.4, rel=0.15)
    assert checks._grad_accumulation(_ctx(_healthy_series())) is not None
    one_eval = _ctx({"train_loss": (STEPS, 4 * _fine_tune()), "val_loss": ([60], [2.1])})
    assert checks._grad_accumulation(one_eval) is not None


def test_train_over_eval_reads_the_new_task_eval_under_its_hf_name():
    ctx = _ctx({"train_loss": (STEPS, 2 * _fine_tune())},
               raw={"eval_new_loss": HEALTHY_EVAL})
    assert len(checks.train_over_eval(ctx)) == 6
    assert checks._grad_accumulation(ctx) is None


# ---------------------------------------------------------------- overfitting, forgetting


def test_finetune_overfitting_needs_an_early_eval_minimum_and_a_falling_train_loss():
    memorise = _ctx({"train_loss": (STEPS, _fine_tune(end=1.2)),
                     "val_loss": _evals([2.3, 2.2, 2.25, 2.35, 2.5, 2.7])})
    assert checks._finetune_overfit(memorise) is None
    assert checks._finetune_overfit(_ctx(_healthy_series())) is not None
    late = _ctx({"train_loss": (STEPS, _fine_tune(end=1.2)),
                 "val_loss": _evals([2.5, 2.4, 2.3, 2.2, 2.1, 2.45])})
    assert "late" in checks._finetune_overfit(late)
    flat_train = np.concatenate([_fine_tune(40), np.full(80, 2.05)])
    stalled = _ctx({"train_loss": (STEPS, flat_train),
                    "val_loss": _evals([2.3, 2.2, 2.25, 2.35, 2.5, 2.7])})
    assert checks._finetune_overfit(stalled) is not None


def test_forgetting_needs_the_original_eval_rising_while_the_new_one_falls():
    forgets = _ctx({"train_loss": (STEPS, _fine_tune())},
                   raw={"eval_original_loss": _evals([2.06, 2.4, 2.7, 2.75]),
                        "eval_new_loss": _evals([2.9, 2.2, 2.0, 1.9])})
    assert checks._forgetting(forgets) is None
    lightning = _ctx({"train_loss": (STEPS, _fine_tune())},
                     raw={"val_loss/dataloader_idx_1": _evals([2.06, 2.4, 2.7, 2.75]),
                          "val_loss/dataloader_idx_0": _evals([2.9, 2.2, 2.0, 1.9])})
    assert checks._forgetting(lightning) is None
    replay = _ctx({"train_loss": (STEPS, _fine_tune())},
                  raw={"eval_original_loss": _evals([2.03, 2.06, 2.07, 2.06]),
                       "eval_new_loss": _evals([2.3, 2.15, 2.1, 2.08])})
    assert "not forgotten" in checks._forgetting(replay)
    assert checks._forgetting(_ctx(_healthy_series())) is not None  # one eval set only


# ----------------------------------------------------------------------------- schedule


def _lr_warmup_linear(n: int = 120, peak: float = 1e-3, warm: int = 8) -> np.ndarray:
    t = np.arange(n)
    return np.where(t < warm, peak * (t + 1) / warm, peak * (1 - (t - warm) / (n - warm)))


@pytest.mark.parametrize("bug", ["warmup_past_end", "one_epoch_schedule", "max_steps_short"])
def test_a_correct_warmup_linear_schedule_fails_every_schedule_check(bug):
    ctx = _ctx(_healthy_series(lr=(STEPS, _lr_warmup_linear())),
               context={"steps_per_epoch": 40}, faults={"schedule_bug": bug})
    assert checks._schedule_misconfigured(ctx) is not None


def test_schedule_bugs_show_in_the_logged_lr():
    rising = np.linspace(1e-5, 4e-4, 120)
    ctx = _ctx(_healthy_series(lr=(STEPS, rising)), faults={"schedule_bug": "warmup_past_end"})
    assert checks._schedule_misconfigured(ctx) is None
    one_epoch = np.concatenate([_lr_warmup_linear(30), np.zeros(90)])
    ctx = _ctx(_healthy_series(lr=(STEPS, one_epoch)),
               faults={"schedule_bug": "one_epoch_schedule"})
    assert checks._schedule_misconfigured(ctx) is None
    short = np.arange(1, 13)
    twelve = {"train_loss": (short, _fine_tune(12)), "lr": (short, _lr_warmup_linear(12, warm=1))}
    ctx = _ctx(twelve, context={"steps_per_epoch": 47}, faults={"schedule_bug": "max_steps_short"})
    assert checks._schedule_misconfigured(ctx) is None
    ctx = _ctx(twelve, context={"steps_per_epoch": 20}, faults={"schedule_bug": "max_steps_short"})
    assert checks._schedule_misconfigured(ctx) is not None  # 12 of 20 steps: most of an epoch


# -------------------------------------------------------------------------- LR range


def test_a_tiny_lr_leaves_the_loss_where_it_started():
    flat = 2.33 + np.random.default_rng(1).normal(0, 0.02, 120)
    lr = np.full(120, 1e-7)
    assert checks._finetune_lr(_ctx({"train_loss": (STEPS, flat), "lr": (STEPS, lr)})) is None
    moving = _ctx({"train_loss": (STEPS, _fine_tune()), "lr": (STEPS, lr)})
    assert checks._finetune_lr(moving) is not None


def test_a_huge_lr_must_do_visible_harm():
    lr = np.full(120, 2e-2)
    chance = np.full(120, math.log(4)) + np.random.default_rng(2).normal(0, 0.02, 120)
    collapsed = _ctx({"train_loss": (STEPS, chance), "lr": (STEPS, lr)},
                     recipe=_recipe(task="transformer_cls", num_classes=4))
    assert checks._finetune_lr(collapsed) is None
    harmless = _ctx(_healthy_series(lr=(STEPS, lr)))
    assert "no visible harm" in checks._finetune_lr(harmless)
    normal = _ctx(_healthy_series(lr=(STEPS, _lr_warmup_linear())))
    assert "within fine-tuning norms" in checks._finetune_lr(normal)
    wrecked = _fine_tune()
    wrecked[2:20] = np.linspace(3.2, 2.9, 18)  # the first updates undo the pre-training
    assert checks.early_rise(wrecked) > 1.1 > checks.early_rise(_fine_tune())
    assert checks._finetune_lr(_ctx({"train_loss": (STEPS, wrecked), "lr": (STEPS, lr)})) is None
    assert "rises" in checks._healthy(_ctx({"train_loss": (STEPS, wrecked),
                                            "val_loss": HEALTHY_EVAL}))


# ------------------------------------------------------------------------------- RL


def _rl_series(entropy: np.ndarray, kl: np.ndarray, reward: np.ndarray) -> dict[str, tuple]:
    steps = np.arange(2, 2 * len(entropy) + 1, 2)
    return {"train_loss": (steps, np.zeros(len(entropy))), "entropy": (steps, entropy),
            "kl": (steps, kl), "reward": (steps, reward)}


def test_rl_collapse_is_an_entropy_collapse_or_a_diverging_kl():
    n = 40
    t = np.arange(n)
    healthy = _rl_series(2.3 - 0.005 * t, 0.004 * t, 0.5 + 0.005 * t)
    collapse = _rl_series(2.2 * np.exp(-t / 3), np.full(n, 3.0), np.ones(n))
    diverge = _rl_series(np.full(n, 2.0), 0.002 * np.exp(t / 6), 0.5 + 0.01 * t)
    jumped = _rl_series(np.full(n, 2.0), np.r_[0.7, np.full(n - 1, 2.5)], np.ones(n))
    rl = Recipe(task="rl", framework="trl", num_classes=0, finetune=Finetune(), rl=Rl())
    assert checks._rl_collapse(_ctx(collapse, recipe=rl)) is None
    assert checks._rl_collapse(_ctx(diverge, recipe=rl)) is None
    assert checks._rl_collapse(_ctx(jumped, recipe=rl)) is None
    assert checks._rl_collapse(_ctx(healthy, recipe=rl)) is not None
    assert checks._healthy(_ctx(healthy, recipe=rl)) is None
    assert checks._healthy(_ctx(collapse, recipe=rl)) is not None
    assert checks._healthy(_ctx(diverge, recipe=rl)) is not None


# --------------------------------------------------------------------- healthy fine-tunes


def test_a_healthy_fine_tune_passes_and_each_fault_shape_fails_it():
    grad = (STEPS, np.full(120, 0.8))
    assert checks._healthy(_ctx(_healthy_series(grad_norm=grad))) is None
    spiky = _fine_tune()
    spiky[[40, 80]] *= 2.0
    assert "spike" in checks._healthy(_ctx({"train_loss": (STEPS, spiky),
                                             "val_loss": HEALTHY_EVAL}))
    nan_grad = (STEPS, np.where(STEPS > 60, np.nan, 0.8))
    assert "gradient norm" in checks._healthy(_ctx(_healthy_series(grad_norm=nan_grad)))
    forgets = _ctx(_healthy_series(), raw={"eval_original_loss": _evals([2.0, 2.2, 2.4])})
    assert "original-task" in checks._healthy(forgets)
    summed = _ctx({"train_loss": (STEPS, 2 * _fine_tune()), "val_loss": HEALTHY_EVAL})
    assert checks._healthy(summed) is not None


# ---------------------------------------------------------------------------- stopped early


def test_a_run_stopped_early_must_still_have_something_to_gain() -> None:
    """"Not trained long enough" needs a loss still falling at the end and room left: a run at
    99 % validation accuracy, or a training loss near 0, had already converged."""
    recipe = _recipe(task="tabular", num_classes=4)
    falling = {"train_loss": (STEPS, np.linspace(1.4, 0.8, STEPS.size)),
               "val_loss": _evals([1.35, 1.2, 1.1, 1.0, 0.93, 0.86]),
               "val_acc": _evals([0.4, 0.5, 0.55, 0.6, 0.64, 0.67])}
    assert checks.CHECKS["not_trained_long_enough"](_ctx(falling, recipe=recipe)) is None
    done = {**falling, "val_acc": _evals([0.9, 0.95, 0.97, 0.98, 0.99, 0.995])}
    problem = checks.CHECKS["not_trained_long_enough"](_ctx(done, recipe=recipe))
    assert problem and problem.startswith("already converged")
