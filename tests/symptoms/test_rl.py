"""RL fine-tunes (adapters/symptoms/rl.py): TRL GRPO and PPO logs as their trainers write them in
trainer_state.json (the keys of TRL's logging docs), read through the Hugging Face reader and
diagnosed by reward, KL and entropy - not by the policy loss, which is no supervised loss."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from nndoctor.pipeline import diagnose_run, load_runs
from nndoctor.report.terminal import TextStyle
from nndoctor.report.text import render_text

STEPS = 200


def _grpo_entry(step: int, reward: float, kl: float | None, entropy: float, zero_std: float,
                rng: np.random.Generator) -> dict:
    """One log_history entry with the keys TRL's GRPOTrainer logs."""
    entry = {"clip_ratio/high_max": 0.0, "clip_ratio/high_mean": 0.0, "clip_ratio/low_mean": 0.0,
             "clip_ratio/low_min": 0.0, "clip_ratio/region_mean": 0.0,
             "completions/clipped_ratio": 0.01,
             "completions/mean_length": 120 + 10 * rng.normal(), "entropy": entropy,
             "epoch": step / STEPS, "frac_reward_zero_std": zero_std,
             "grad_norm": 0.05 + 0.01 * abs(rng.normal()),
             "learning_rate": 1e-6 * (1 - step / STEPS),
             "loss": 0.001 * rng.normal() + (0.04 * kl if kl is not None else 0.0),
             "num_tokens": 8000.0 * step, "reward": reward, "reward_std": 0.3,
             "rewards/accuracy_reward/mean": reward, "rewards/accuracy_reward/std": 0.4,
             "step": step, "step_time": 5.0}
    if kl is not None:
        entry["kl"] = kl
    return entry


def _state(folder: Path, history: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    history = [*history, {"epoch": 1.0, "step": STEPS, "total_flos": 0.0, "train_loss": 0.01,
                          "train_runtime": 1000.0, "train_samples_per_second": 1.0,
                          "train_steps_per_second": 0.2}]
    state = {"best_metric": None, "epoch": 1.0, "global_step": STEPS, "log_history": history,
             "logging_steps": 1, "max_steps": STEPS, "num_train_epochs": 1, "save_steps": 500,
             "train_batch_size": 8}
    (folder / "trainer_state.json").write_text(json.dumps(state))
    return folder


def grpo(folder: Path, collapse: bool = False, beta: bool = True) -> Path:
    rng = np.random.default_rng(0)
    history = []
    for s in range(1, STEPS + 1):
        if collapse:  # reward hacked after step 80: KL runs away, entropy to ~0
            reward = (0.2 if s < 80 else 0.9) + 0.03 * rng.normal()
            kl = 0.001 * s if s < 80 else 0.08 * math.exp((s - 80) / 25)
            entropy = 1.2 * math.exp(-s / 30) + 0.01
        else:
            reward = 0.2 + 0.5 * (1 - math.exp(-s / 60)) + 0.05 * rng.normal()
            kl = 0.002 + 0.03 * s / STEPS + 0.003 * abs(rng.normal())
            entropy = 1.2 - 0.3 * s / STEPS + 0.02 * rng.normal()
        history.append(_grpo_entry(s, reward, kl if beta else None, entropy, 0.1, rng))
    return _state(folder, history)


def grpo_without_signal(folder: Path) -> Path:
    """A reward nobody earns: every group scores the same, frac_reward_zero_std ≈ 1."""
    rng = np.random.default_rng(1)
    history = [_grpo_entry(s, 0.02 * rng.normal(), 0.002, 1.1 + 0.02 * rng.normal(), 0.97, rng)
               for s in range(1, STEPS + 1)]
    return _state(folder, history)


def ppo(folder: Path) -> Path:
    """TRL PPOTrainer's keys: objective/*, policy/*, loss/*, val/* - and no plain loss; the
    KL to the reference grows 25-fold while the score climbs."""
    rng = np.random.default_rng(2)
    history = []
    for s in range(1, STEPS + 1):
        history.append({
            "eps": 3.0, "objective/kl": 0.3 * math.exp(s / 60) + 0.05 * rng.normal(),
            "objective/entropy": 40.0 - 0.05 * s + rng.normal(),
            "objective/non_score_reward": -0.02 * s, "objective/rlhf_reward": 0.5 + 0.01 * s,
            "objective/scores": 0.5 + 0.012 * s + 0.05 * rng.normal(),
            "policy/approxkl_avg": 0.01, "policy/clipfrac_avg": 0.05, "loss/policy_avg": -0.01,
            "loss/value_avg": 0.2, "val/clipfrac_avg": 0.01, "policy/entropy_avg": 2.0,
            "val/ratio": 1.0, "lr": 3e-6, "episode": 64 * s, "epoch": s / STEPS, "step": s})
    return _state(folder, history)


def _run(folder: Path):
    [run] = load_runs([folder])
    return run


def test_a_healthy_grpo_run_is_judged_by_reward_kl_and_entropy(tmp_path: Path) -> None:
    run = _run(grpo(tmp_path / "grpo"))
    report = diagnose_run(run, questions=0)
    d = report.diagnosis
    assert d.facts["rl_reward_trend"].value == "increasing"
    assert d.facts["rl_kl_diverging"].value is False
    assert d.facts["rl_entropy_collapsed"].value is False
    assert "train_loss_trend" not in d.facts  # the policy loss is no supervised loss
    assert "lr_vs_optimizer_range" not in d.facts  # 1e-6 is TRL's default, not "far below"
    assert d.verdict == "healthy" and not d.causes
    assert d.verdict_basis[0].rule_id == "FTN085"
    text = render_text([report])
    assert "Why: An RL fine-tune judged by" in text  # the report says what was checked
    explained = render_text([report], style=TextStyle(width=300, explain=True))
    assert "rl_kl_diverging = no" in explained and "reward went from" in explained


def test_grpo_without_a_kl_term_is_still_judged(tmp_path: Path) -> None:
    d = diagnose_run(_run(grpo(tmp_path / "beta0", beta=False)), questions=0).diagnosis
    assert "rl_kl_diverging" not in d.facts
    assert d.verdict == "healthy"


def test_reward_hacking_and_entropy_collapse_are_an_rl_collapse(tmp_path: Path) -> None:
    d = diagnose_run(_run(grpo(tmp_path / "hacked", collapse=True)), questions=0).diagnosis
    assert d.facts["rl_kl_diverging"].value is True
    assert "still at" in d.facts["rl_kl_diverging"].evidence
    assert d.facts["rl_entropy_collapsed"].value is True
    assert d.causes[0].id == "rl_policy_collapse" and d.causes[0].band == "confirmed"
    assert {t.rule_id for t in d.causes[0].support} >= {"FTN080", "FTN081", "FTN082"}


def test_a_reward_without_variation_is_no_learning_signal(tmp_path: Path) -> None:
    d = diagnose_run(_run(grpo_without_signal(tmp_path / "flat")), questions=0).diagnosis
    assert d.facts["rl_reward_trend"].value == "flat"
    assert d.facts["rl_reward_signal_lost"].value is True
    assert d.causes[0].id == "rl_policy_collapse"


def test_ppo_logs_without_a_loss_are_read_by_their_objective_keys(tmp_path: Path) -> None:
    run = _run(ppo(tmp_path / "ppo"))
    d = diagnose_run(run, questions=0).diagnosis
    assert d.facts["insufficient_data"].value is False  # the reward is the curve
    assert d.facts["rl_reward_trend"].value == "increasing"
    assert "objective/scores" in d.facts["rl_reward_trend"].evidence or \
        "objective/rlhf_reward" in d.facts["rl_reward_trend"].evidence
    assert d.facts["rl_kl_diverging"].value is True  # ~0.4 → ~7, still at its maximum
    assert d.causes and d.causes[0].id == "rl_policy_collapse"


def test_a_preference_trainer_keeps_its_loss(tmp_path: Path) -> None:
    """DPO logs rewards/chosen, rewards/margins … and a real (sigmoid) loss from ln 2."""
    history = [{"loss": 0.693 * math.exp(-s / 80) + 0.2, "rewards/chosen": 0.01 * s,
                "rewards/rejected": -0.01 * s, "rewards/accuracies": 0.5 + 0.002 * s,
                "rewards/margins": 0.02 * s, "learning_rate": 5e-7, "grad_norm": 1.0,
                "epoch": s / STEPS, "step": s} for s in range(1, STEPS + 1)]
    run = _run(_state(tmp_path / "dpo", history))
    d = diagnose_run(run, questions=0).diagnosis
    assert d.facts["train_loss_trend"].value == "decreasing"
    assert "rl_reward_trend" not in d.facts


SB3 = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "sb3"


def test_stable_baselines3_ppo_at_its_default_learning_rate_is_healthy() -> None:
    """progress.csv written by SB3's CSV logger (tests/fixtures/logs/sb3/make_fixtures.py):
    PPO on CartPole, the return climbing 26 → 183, approx_kl about 0.008."""
    d = diagnose_run(_run(SB3 / "ppo_cartpole"), questions=0).diagnosis
    assert d.facts["rl_reward_trend"].value == "increasing"
    assert d.facts["rl_update_kl_large"].value is False
    assert d.verdict == "healthy" and not d.causes


def test_ppo_updates_that_move_the_policy_too_far_point_at_the_learning_rate() -> None:
    """The same run at lr 0.03: the return still climbs on CartPole, but each update's
    approximate KL reaches 1-14 (PPO's clip is meant to hold it near 0.01) and the entropy
    collapses - the step is too large."""
    d = diagnose_run(_run(SB3 / "ppo_lr_too_high"), questions=0).diagnosis
    assert d.facts["rl_update_kl_large"].value is True
    assert "train/approx_kl" in d.facts["rl_update_kl_large"].evidence
    assert d.verdict == "problem"
    leading = [c.id for c in d.causes[:2]]
    assert "lr_too_high" in leading and d.causes[0].band in ("likely", "confirmed")
    assert "FTN087" in [t.rule_id for c in d.causes[:2] for t in c.support]
