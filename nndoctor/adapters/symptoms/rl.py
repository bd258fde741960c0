"""Reinforcement-learning fine-tunes (TRL GRPO/PPO/RLOO, Stable-Baselines3, RLlib, CleanRL): reward,
KL to the reference policy, PPO's per-update KL and entropy.

A policy-gradient run's ``loss`` is a surrogate (advantage-weighted log-ratio plus a KL penalty),
near 0 and meaningless as a supervised loss, so :func:`annotate` moves it out of ``train_loss``:
the loss-curve detectors then say nothing about it, and the run is judged by what TRL's docs
tell practitioners to watch - the reward rising, the KL staying bounded, the entropy not
collapsing. Preference trainers (DPO: ``rewards/chosen`` …) keep their loss, a real
classification loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms.base import (
    Curve,
    Params,
    detector,
    graded,
    log_fact,
    median,
    num,
    pct,
    quantile,
)
from nndoctor.engine.facts import Fact

# series names (without a leading "train/") by role, most specific first
REWARD_NAMES = ("reward", "rewards/mean", "objective/rlhf_reward", "objective/scores",
                "env/reward_mean", "ppo/mean_scores", "rollout/ep_rew_mean", "reward_mean",
                "rewards_mean", "ep_rew_mean", "episode_reward_mean",
                "env_runners/episode_return_mean", "charts/episodic_return")
KL_NAMES = ("kl", "objective/kl", "kl_ref", "ref_kl")  # to the reference policy
# PPO's approximate KL between the policy before and after one update (SB3, CleanRL, TRL PPO)
UPDATE_KL_NAMES = ("approx_kl", "losses/approx_kl", "policy/approxkl_avg", "ppo/policy/approxkl")
# Stable-Baselines3 logs -entropy as entropy_loss
ENTROPY_NAMES = ("entropy", "objective/entropy", "policy/entropy_avg", "ppo/policy/entropy",
                 "losses/entropy", "entropy_loss")
ZERO_STD_NAMES = ("frac_reward_zero_std",)
REWARD_STD_NAMES = ("reward_std", "env/reward_std", "ppo/std_scores")
PREFERENCE_PREFIXES = ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen")


def _plain(name: str) -> str:
    return name[len("train/"):] if name.startswith("train/") else name


def _find(run: Run, names: tuple[str, ...]) -> tuple[str, Series] | None:
    return _first(_by_plain(run), names)


def _by_plain(run: Run) -> dict[str, tuple[str, Series]]:
    """The run's series that hold points, by their names without a leading ``train/``."""
    return {_plain(n): (n, s) for n, s in run.series.items() if len(s)}


def _first(by_plain: dict[str, tuple[str, Series]], names: tuple[str, ...]
           ) -> tuple[str, Series] | None:
    for wanted in names:
        if wanted in by_plain:
            return by_plain[wanted]
    return None


def roles(run: Run) -> dict[str, str]:
    """Series names of the reward, KL and entropy of a policy-gradient RL run; empty for any
    other run (a preference trainer such as DPO included)."""
    plain = {_plain(n) for n in run.series}
    if any(n.startswith(PREFERENCE_PREFIXES) for n in plain):
        return {}
    by_plain = _by_plain(run)  # (made once for all the roles)
    found = {role: hit[0] for role, names in (("reward", REWARD_NAMES), ("kl", KL_NAMES),
                                              ("update_kl", UPDATE_KL_NAMES),
                                              ("entropy", ENTROPY_NAMES))
             if (hit := _first(by_plain, names)) is not None}
    return found if "reward" in found and found.keys() & {"kl", "update_kl", "entropy"} else {}


def annotate(run: Run) -> Run:
    """A policy-gradient run with its surrogate loss moved to ``policy_loss`` and its roles in
    context["_rl"] (the reward's point count in context["_rl_points"]); other runs unchanged."""
    found = roles(run)
    if not found:
        return run
    series = dict(run.series)
    if "train_loss" in series:
        series["policy_loss"] = series.pop("train_loss")
    points = int(np.isfinite(run.series[found["reward"]].values).sum())
    return dataclasses.replace(run, series=series,
                               context={**run.context, "_rl": found, "_rl_points": points})


def _curve(run: Run, role: str, p: Params) -> Curve | None:
    name = run.context.get("_rl", {}).get(role)
    curve = Curve.of(run.get(name), name) if name else None
    if curve is None or len(curve) < p["min_points"]:
        return None
    if _plain(name).endswith("entropy_loss"):
        return Curve(curve.tag, curve.steps, -curve.values)
    return curve


def _edges(curve: Curve, share: float) -> tuple[np.ndarray, np.ndarray]:
    k = max(2, int(len(curve) * share))
    return curve.values[:k], curve.values[-k:]


def _edge_medians(curve: Curve, share: float) -> tuple[float, float]:
    """Median of the first and of the last ``share`` of the curve."""
    head, tail = _edges(curve, share)
    return median(head), median(tail)


def _robust_sd(x: np.ndarray) -> float:
    return 1.4826 * median(np.abs(x - median(x)))


@detector("rl_reward", produces=("rl_reward_trend", "rl_reward_signal_lost"))
def rl_reward(run: Run, p: Params) -> Iterator[Fact]:
    """The reward's trend from its first to its last ``edge_share`` (a shift of ≥ ``t_min``
    standard errors and ≥ ``min_change`` of the reward's scale), and whether the group reward
    stopped varying (GRPO's frac_reward_zero_std ≥ ``zero_std_share`` at the end, or the reward
    std collapsing to ≤ ``std_collapse`` of its start): no advantage, no learning signal."""
    curve = _curve(run, "reward", p)
    if curve is None:
        return
    head, tail = _edges(curve, p["edge_share"])
    a, b = median(head), median(tail)
    se = np.hypot(_robust_sd(head) / np.sqrt(head.size), _robust_sd(tail) / np.sqrt(tail.size))
    spread = quantile(curve.values, 0.9) - quantile(curve.values, 0.1)
    scale = max(abs(a), abs(b), spread, 1e-12)
    shift = (b - a) / max(se, 1e-12)
    trend = "flat"
    if abs(b - a) >= p["min_change"] * scale and abs(shift) >= p["t_min"]:
        trend = "increasing" if b > a else "decreasing"
    yield log_fact("rl_reward_trend", trend,
                   f"{curve.tag} went from {num(a)} to {num(b)} (median of the first and last "
                   f"{head.size} of {len(curve)} logged steps; {shift:+.1f} standard errors)",
                   f"{curve.tag}, {curve.span()}")
    yield from _signal_lost(run, p)


def _signal_lost(run: Run, p: Params) -> Iterator[Fact]:
    hit = _find(run, ZERO_STD_NAMES)
    if hit is not None and (curve := Curve.of(hit[1], hit[0])) is not None and len(curve) >= 2:
        _, tail = _edges(curve, p["edge_share"])
        share = median(tail)
        lost = share >= p["zero_std_share"]
        yield log_fact("rl_reward_signal_lost", bool(lost),
                       f"{hit[0]} is {pct(share)} at the end: in that share of the groups every "
                       "completion got the same reward, so the advantage is 0"
                       + (" and the policy gets no learning signal" if lost else ""),
                       f"{hit[0]}, {curve.span()}")
        return
    hit = _find(run, REWARD_STD_NAMES)
    if hit is not None and (curve := Curve.of(hit[1], hit[0])) is not None and len(curve) >= 2:
        a, b = _edge_medians(curve, p["edge_share"])
        if a <= 0:
            return
        lost = b <= p["std_collapse"] * a
        yield log_fact("rl_reward_signal_lost", bool(lost),
                       f"{hit[0]} fell from {num(a)} to {num(b)} ({pct(b / a)})"
                       + (": the rewards no longer differ, the advantage is ~0" if lost else ""),
                       f"{hit[0]}, {curve.span()}")


@detector("rl_kl", produces=("rl_kl_diverging",))
def rl_kl(run: Run, p: Params) -> Iterator[Fact]:
    """The KL to the reference policy ending ≥ ``growth``× its start (floored at ``floor``) and
    ≥ ``kl_min``, and still near its maximum at the end: the policy drifts away."""
    curve = _curve(run, "kl", p)
    if curve is None:
        return
    a, b = _edge_medians(curve, p["edge_share"])
    top = float(curve.values.max())
    diverging = b >= p["growth"] * max(a, p["floor"]) and b >= p["kl_min"] and \
        b >= p["near_max"] * top
    yield log_fact("rl_kl_diverging", bool(diverging),
                   f"{curve.tag} grew from {num(a)} to {num(b)} ({b / max(a, p['floor']):.0f}× "
                   f"the start) and is still at {pct(b / top)} of its maximum at the end"
                   if diverging else f"{curve.tag} went from {num(a)} to {num(b)} (max "
                   f"{num(top)})", f"{curve.tag}, {curve.span()}",
                   certainty=graded(b / max(a, p["floor"]), p["growth"], p["growth_strong"])
                   if diverging else 1.0)


@detector("rl_update_kl", produces=("rl_update_kl_large",))
def rl_update_kl(run: Run, p: Params) -> Iterator[Fact]:
    """PPO's approximate KL between the policy before and after an update, over the last
    ``edge_share`` of the run, at a median ≥ ``large``: each update moves the policy further than
    the clipped objective is meant to allow (Spinning Up's target is 0.01-0.05)."""
    curve = _curve(run, "update_kl", p)
    if curve is None:
        return
    _head, end = _edge_medians(curve, p["edge_share"])
    large = end >= p["large"]
    yield log_fact("rl_update_kl_large", bool(large),
                   f"{curve.tag} is at a median {num(end)} over the last {pct(p['edge_share'])} "
                   f"of the run ({'above' if large else 'within'} the {num(p['large'])} a PPO "
                   "update usually stays below)", f"{curve.tag}, {curve.span()}",
                   certainty=graded(end, p["large"], p["strong"]) if large else 1.0)


@detector("rl_entropy", produces=("rl_entropy_collapsed",))
def rl_entropy(run: Run, p: Params) -> Iterator[Fact]:
    """The policy's entropy falling to ≤ ``collapse_share`` of its start: the policy has become
    (almost) deterministic and stops exploring."""
    curve = _curve(run, "entropy", p)
    if curve is None:
        return
    a, b = _edge_medians(curve, p["edge_share"])
    if a <= 0:
        return
    collapsed = b <= p["collapse_share"] * a
    yield log_fact("rl_entropy_collapsed", bool(collapsed),
                   f"the policy entropy ({curve.tag}) fell from {num(a)} to {num(b)} "
                   f"({pct(b / a)} of its start)", f"{curve.tag}, {curve.span()}",
                   certainty=graded(1 - b / a, 1 - p["collapse_share"], 0.99)
                   if collapsed else 1.0)
