"""Fine-tune detectors (adapters/symptoms/finetune.py) on synthetic series: each signature is
found with its numbers, its near-misses are not, and no healthy family trips any of them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.symptoms.synth import HEALTHY, facts, make_run, value, warmup_cosine

STEPS = np.arange(1, 2001)
SIGNATURES = ("loss_spikes", "grad_norm_nonfinite_loss_finite", "loss_scale_collapsed",
              "lr_still_rising_at_end", "lr_schedule_ends_early", "loss_collapses_to_zero_fast",
              "loss_zero_from_start", "train_loss_multiple_of_val", "epoch_step_drops",
              "val_min_at_first_epoch", "eval_sets_diverge")


def _smooth(seed: int = 0, noise: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2.5 * np.exp(-STEPS / 400) + 0.6) * np.exp(rng.normal(0, noise, STEPS.size))


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_families_show_no_finetune_signature(name: str) -> None:
    found = facts(HEALTHY[name]())
    for signature in SIGNATURES:
        assert signature not in found or found[signature].value is not True, (name, signature)


# ------------------------------------------------------------------------------ spikes


def test_isolated_jumps_that_come_back_are_recovering_spikes() -> None:
    loss = _smooth()
    loss[[700, 1400]] *= 3.0
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_spikes"].value is True
    assert found["loss_spike_count"].value == 2
    assert found["loss_spikes_recover"].value is True
    assert "step 701" in found["loss_spikes"].evidence or "step 1401" in found[
        "loss_spikes"].evidence
    assert found["loss_spikes"].certainty >= 0.6  # 3× lies between the 1.5× and 4× bars


def test_spikes_at_six_percent_of_the_points_do_not_hide_in_their_own_noise() -> None:
    """Corrupt batches: 3 episodes of 2 points each at 2× in 100 points (6 %), as a GPT-2
    fine-tune logs them. A two-sided 95th percentile of the swings would land on the spikes."""
    steps = np.arange(1, 101)
    rng = np.random.default_rng(3)
    loss = (0.5 * np.exp(-steps / 15) + 2.1) * np.exp(rng.normal(0, 0.015, steps.size))
    for at in (30, 46, 75):
        loss[at:at + 2] *= 2.0
    found = facts(make_run(train_loss=(steps, loss)))
    assert found["loss_spikes"].value is True
    assert found["loss_spike_count"].value == 3 and found["loss_spikes_recover"].value is True


def test_a_jump_that_never_comes_back_before_the_loss_turns_nan_starts_the_blow_up() -> None:
    loss = _smooth()
    loss[1200:1210] *= 2.5
    loss[1210:] = np.nan  # NaN 10 points after the jump: the divergence, not a spike
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_spikes"].value is False
    assert "starts that blow-up" in found["loss_spikes"].evidence
    recovered = _smooth()
    recovered[[700]] *= 3.0
    recovered[1210:] = np.nan  # a spike that came back long before the NaN stays a spike
    assert value(make_run(train_loss=(STEPS, recovered)), "loss_spikes") is True


def test_a_jump_that_stays_up_does_not_recover() -> None:
    loss = _smooth()
    loss[1200:] *= 2.0
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_spikes"].value is True
    assert found["loss_spikes_recover"].value is False


def test_a_jump_below_one_and_a_half_times_is_no_spike() -> None:
    loss = _smooth()
    loss[[700, 1400]] *= 1.3
    assert value(make_run(train_loss=(STEPS, loss)), "loss_spikes") is False


def test_heavy_tailed_batch_noise_is_no_spike_or_a_weak_one() -> None:
    """Student-t noise (4 dof, ±35 %) throws a rare 20-40× batch loss now and then: at most a
    weak spike (certainty ≤ 0.5, so its rules conclude no more than 'possible')."""
    for seed in range(6):
        rng = np.random.default_rng(seed)
        loss = (2.0 * np.exp(-STEPS / 500) + 0.5) * np.exp(0.35 * rng.standard_t(4, STEPS.size))
        fact = facts(make_run(train_loss=(STEPS, loss)))["loss_spikes"]
        assert fact.value is False or fact.certainty <= 0.5, (seed, fact.evidence)


def test_a_loss_near_zero_makes_no_spike_of_noise() -> None:
    rng = np.random.default_rng(4)
    loss = np.concatenate([np.linspace(2.0, 0.001, 200), 0.001 + rng.exponential(0.002, 1800)])
    assert value(make_run(train_loss=(STEPS, loss)), "loss_spikes") is not True


# ------------------------------------------------------------------------------ precision


def test_recurring_inf_gradients_while_the_loss_trains_on_are_skipped_steps() -> None:
    grad = np.full(STEPS.size, 1.2)
    grad[100::50] = np.inf
    found = facts(make_run(train_loss=(STEPS, _smooth()), grad_norm=(STEPS, grad)))
    fact = found["grad_norm_nonfinite_loss_finite"]
    assert fact.value is True and "skips" in fact.evidence
    assert found["grad_overflow_share"].value == pytest.approx(38 / 2000)


def test_a_few_overflows_at_the_start_are_the_scaler_calibrating() -> None:
    grad = np.full(STEPS.size, 1.2)
    grad[:2] = np.inf
    run = make_run(train_loss=(STEPS, _smooth()), grad_norm=(STEPS, grad))
    assert value(run, "grad_norm_nonfinite_loss_finite") is False


def test_nan_gradients_behind_a_zero_loss_are_dead_weights_not_skips() -> None:
    loss, grad = _smooth(), np.full(STEPS.size, 1.2)
    loss[500:], grad[500:] = 0.0, np.nan  # Hugging Face's NaN filter logs 0.0
    found = facts(make_run(train_loss=(STEPS, loss), grad_norm=(STEPS, grad)))
    assert found["grad_norm_nonfinite_loss_finite"].value is False
    assert found["loss_nonfinite"].value is True


def test_a_collapsing_loss_scale_is_found_under_its_logged_names() -> None:
    scale = 65536.0 / 2.0 ** np.minimum(STEPS // 100, 16)
    for tag in ("loss_scale", "train/loss_scale", "scaler/scale"):
        run = make_run(train_loss=(STEPS, _smooth()), scale=(STEPS, scale), tags={"scale": tag})
        assert value(run, "loss_scale_collapsed") is True, tag
    steady = make_run(train_loss=(STEPS, _smooth()), scale=(STEPS, np.full(STEPS.size, 2.0 ** 15)),
                      tags={"scale": "loss_scale"})
    assert value(steady, "loss_scale_collapsed") is False


# ------------------------------------------------------------------------------ LR schedule


def _lr_run(lr: np.ndarray, **context) -> object:
    return make_run(context, train_loss=(STEPS, _smooth()), lr=(STEPS, lr))


def test_a_warmup_that_never_ends_is_still_rising() -> None:
    found = facts(_lr_run(3e-4 * STEPS / 5000))
    assert found["lr_still_rising_at_end"].value is True
    assert found["warmup_fraction"].value == pytest.approx(1.0, abs=0.01)


def test_a_rate_held_at_exactly_zero_ends_the_schedule_early() -> None:
    lr = np.maximum(3e-4 * (1 - STEPS / 700), 0.0)
    found = facts(_lr_run(lr))
    assert found["lr_schedule_ends_early"].value is True
    assert "65%" in found["lr_schedule_ends_early"].evidence


def test_a_geometric_decay_to_tiny_rates_does_not_end_the_schedule() -> None:
    lr = 3e-4 * 0.05 ** (STEPS // 100)  # never exactly 0: a too-aggressive decay, not a horizon
    assert value(_lr_run(lr), "lr_schedule_ends_early") is False


def test_a_constant_rate_never_decays_and_a_warmup_cosine_does() -> None:
    assert value(_lr_run(np.full(STEPS.size, 2e-5)), "lr_never_decays") is True
    found = facts(warmup_cosine())
    assert found["lr_never_decays"].value is False
    assert found["lr_still_rising_at_end"].value is False
    assert found["warmup_fraction"].value == pytest.approx(0.05, abs=0.01)


def test_a_peak_held_for_most_of_the_run_never_decays() -> None:
    lr = 3e-4 * np.minimum(STEPS / 200, 1.0)  # warm-up for 10 % of the run, then flat
    assert value(_lr_run(lr), "lr_never_decays") is True


def test_a_peak_reached_late_is_too_late_to_tell_whether_the_rate_decays() -> None:
    # a warm-up of 8 % of a planned schedule, cut at a tenth of it: the peak comes at 80 %
    lr = 3e-4 * np.minimum(STEPS / 1600, 1.0)
    found = facts(_lr_run(lr))
    assert found["lr_never_decays"].value is False
    assert "too little of it left" in found["lr_never_decays"].evidence


def test_a_run_stopped_before_its_planned_end_says_so() -> None:
    run = make_run({"max_steps": 1776.0, "global_step": 168.0}, train_loss=(STEPS, _smooth()))
    found = facts(run)
    assert found["stopped_before_planned_end"].value is True
    assert "168 of the 1776" in found["stopped_before_planned_end"].evidence
    done = make_run({"max_steps": 2000.0, "global_step": 2000.0}, train_loss=(STEPS, _smooth()))
    assert value(done, "stopped_before_planned_end") is False


# ------------------------------------------------------------------------------ labels


def test_a_loss_that_reaches_zero_in_a_few_percent_of_the_run_collapses() -> None:
    loss = np.maximum(3.5 * np.exp(-STEPS / 20), 1e-4)
    found = facts(make_run(train_loss=(STEPS, loss)))
    assert found["loss_collapses_to_zero_fast"].value is True
    assert "stayed near 0" in found["loss_collapses_to_zero_fast"].evidence


def test_a_loss_that_falls_to_its_floor_over_the_run_does_not_collapse() -> None:
    loss = 3.5 * np.exp(-STEPS / 300) + 0.01
    assert value(make_run(train_loss=(STEPS, loss)), "loss_collapses_to_zero_fast") is False
    high = 300.0 * np.exp(-STEPS / 10) + 2.3  # a huge first loss falling to ln C is no leak
    assert value(make_run(train_loss=(STEPS, high)), "loss_collapses_to_zero_fast") is False


def test_an_exact_zero_from_the_first_step_is_found() -> None:
    assert value(make_run(train_loss=(STEPS, np.zeros(STEPS.size))), "loss_zero_from_start")
    assert value(make_run(train_loss=(STEPS, _smooth())), "loss_zero_from_start") is False


# ------------------------------------------------------------------------------ accumulation


def _accumulated(factor: float, context=None, late: bool = False) -> object:
    val_steps = np.arange(100, 2001, 100)
    val = 2.5 * np.exp(-val_steps / 400) + 0.6
    train = _smooth(noise=0.01)
    scale = np.where(STEPS > 1000, factor, 1.0) if late else factor
    return make_run(context or {}, train_loss=(STEPS, train * scale), val_loss=(val_steps, val))


def test_a_training_loss_at_four_times_the_eval_loss_is_a_whole_multiple() -> None:
    found = facts(_accumulated(4.0, {"grad_accumulation_steps": 4}))
    assert found["train_loss_multiple_of_val"].value is True
    assert "≈ 4×" in found["train_loss_multiple_of_val"].evidence
    assert found["loss_ratio_matches_accumulation"].value is True


def test_an_accumulation_setting_the_ratio_does_not_match_is_not_confirmed() -> None:
    assert value(_accumulated(4.0, {"grad_accumulation_steps": "8"}),
                 "loss_ratio_matches_accumulation") is False  # an --answer arrives as text


def test_a_first_loss_at_accumulation_steps_times_chance() -> None:
    """A fresh 4-class head starts at ln 4; summed over 2 micro-batches the log starts at 2 ln 4."""
    steps = np.arange(2, 400, 2)
    loss = (np.log(4) - 0.3) * np.exp(-steps / 150) + 0.3
    for first, k, expected in ((2.0, 2, True), (1.0, 2, False), (2.0, 3, False)):
        run = make_run({"num_classes": 4, "grad_accumulation_steps": k},
                       train_loss=(steps, first * loss))
        assert value(run, "initial_loss_matches_accumulation") is expected, (first, k)
    assert value(make_run({"num_classes": 4}, train_loss=(steps, 2 * loss)),
                 "initial_loss_matches_accumulation") is None  # no accumulation configured


def test_an_ordinary_or_late_ratio_is_no_multiple() -> None:
    assert value(_accumulated(1.2), "train_loss_multiple_of_val") is False
    assert value(_accumulated(2.0, late=True), "train_loss_multiple_of_val") is False


# ------------------------------------------------------------------------------ epochs


def _epochs(staircase: bool, rising_within: bool = False) -> object:
    spe, epochs = 100, 8
    steps = np.arange(1, spe * epochs + 1)
    epoch = (steps - 1) // spe
    train = 2.0 * 0.6 ** epoch if staircase else 2.0 * np.exp(-steps / 300) + 0.2
    if rising_within:
        train = train * (1 + 0.4 * ((steps - 1) % spe) / spe)
    val_steps = np.arange(50, spe * epochs + 1, 50)
    val = np.where(val_steps <= 100, 1.9 - val_steps / 1000, 1.8 + 0.1 * (val_steps - 100) / 100)
    return make_run({"steps_per_epoch": spe}, train_loss=(steps, train), val_loss=(val_steps, val))


def test_a_staircase_training_loss_with_an_early_eval_minimum_is_memorisation() -> None:
    found = facts(_epochs(staircase=True))
    assert found["epoch_step_drops"].value is True
    assert "7 of 7 epoch boundaries" in found["epoch_step_drops"].evidence
    assert found["val_min_at_first_epoch"].value is True


def test_a_smooth_or_sawtooth_training_loss_is_no_staircase() -> None:
    assert value(_epochs(staircase=False), "epoch_step_drops") is False
    assert value(_epochs(staircase=True, rising_within=True), "epoch_step_drops") is False


# ------------------------------------------------------------------------------ eval sets


def _two_sets(orig_rises: bool) -> object:
    val_steps = np.arange(100, 2001, 100)
    new = 2.0 * np.exp(-val_steps / 500) + 0.3
    orig = 1.0 + (0.8 * val_steps / 2000 if orig_rises else -0.3 * val_steps / 2000)
    return make_run(train_loss=(STEPS, _smooth()), val_loss=(val_steps, orig),
                    eval_new_loss=(val_steps, new),
                    tags={"val_loss": "eval_orig_loss", "eval_new_loss": "eval_new_loss"})


def test_an_eval_set_rising_while_another_falls_diverges() -> None:
    fact = facts(_two_sets(orig_rises=True))["eval_sets_diverge"]
    assert fact.value is True
    assert "'orig'" in fact.evidence and "'new'" in fact.evidence


def test_eval_sets_that_both_improve_do_not_diverge() -> None:
    assert value(_two_sets(orig_rises=False), "eval_sets_diverge") is False
    one = make_run(train_loss=(STEPS, _smooth()), val_loss=(np.arange(100, 2001, 100),
                                                             np.linspace(2, 1, 20)))
    assert value(one, "eval_sets_diverge") is None  # one set: nothing to compare


# ------------------------------------------------------------------------------ setup


def test_the_configured_setup_becomes_facts() -> None:
    run = make_run({"pretrained_model": "bert-base-uncased", "precision": "bf16",
                    "grad_accumulation_steps": 8, "model_type": "bert", "causal_lm": False},
                   train_loss=(STEPS, _smooth()))
    found = facts(run)
    assert found["pretrained_model"].value is True
    assert "'bert-base-uncased'" in found["pretrained_model"].evidence
    assert found["mixed_precision"].value == "bf16"
    assert found["grad_accumulation_steps"].value == 8
    assert found["architecture"].value == "transformer"
    assert found["causal_lm"].value is False
    cnn = make_run({"model_type": "resnet"}, train_loss=(STEPS, _smooth()))
    assert value(cnn, "architecture") == "cnn"


LM = {"causal_lm": True, "vocab_size": 50257, "model_type": "gpt2"}  # ln V = 10.825


def _lm_loss(first: float, end: float, start_step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(start_step, start_step + 200)
    return steps, first + (end - first) * (1 - np.exp(-(steps - start_step) / 40))


def test_a_causal_lm_starting_far_below_ln_v_is_pretrained() -> None:
    found = facts(make_run(LM, train_loss=_lm_loss(3.4, 3.1)))  # 0.31 × ln V
    assert found["pretrained_model"].value is True
    assert "0.31 × ln V = 10.825" in found["pretrained_model"].evidence
    # it fell only 9 %, which is what a good start allows: not "high" (it is far below ln V)
    assert found["train_loss_high"].value is False
    assert "pretrained" in found["train_loss_high"].evidence


def test_no_pretrained_start_from_ln_v_a_zero_loss_a_late_first_point_or_no_vocab() -> None:
    for context, loss in ((LM, _lm_loss(10.9, 6.0)),               # untrained: starts at ln V
                          (LM, _lm_loss(0.0, 0.0)),                # a label bug, not a start
                          (LM, _lm_loss(3.4, 3.1, start_step=500)),  # averaged over 500 steps
                          ({"causal_lm": True}, _lm_loss(3.4, 3.1)),   # vocabulary unknown
                          ({**LM, "causal_lm": False}, _lm_loss(3.4, 3.1)),  # not an LM
                          ({**LM, "step_unit": "epoch"}, _lm_loss(3.4, 3.1))):  # epoch means
        assert value(make_run(context, train_loss=loss), "pretrained_model") is None, context
    scratch = facts(make_run(LM, train_loss=_lm_loss(10.9, 10.0)))
    assert scratch["train_loss_high"].value is True  # 92 % of its start: judged by the ratio


def test_a_finetune_that_drops_fast_and_levels_off_has_no_plateau_too_high() -> None:
    """The usual fine-tune: a fast fall from a good start, then level. Only far from chance is
    that normal; the same shape from an untrained start stalled far above where it began."""
    steps = np.arange(1, 201)
    quick = 3.4 - 1.0 * (1 - np.exp(-steps / 10))  # 0.31 × ln V → 0.22 × ln V
    assert value(make_run(LM, train_loss=(steps, quick)), "loss_fast_drop_then_plateau") is False
    scratch = 10.9 - 3.0 * (1 - np.exp(-steps / 10))  # from ln V, stalled at 72 % of its start
    assert value(make_run(LM, train_loss=(steps, scratch)), "loss_fast_drop_then_plateau") is True


def test_a_pretrained_run_whose_loss_stays_near_chance_is_high() -> None:
    run = make_run({"pretrained_model": "gpt2", **LM}, train_loss=_lm_loss(10.5, 10.2))
    assert value(run, "train_loss_high") is True
    named = make_run({"pretrained_model": "my-ckpt"}, train_loss=_lm_loss(3.4, 3.1))
    assert value(named, "train_loss_high") is None  # no chance level to judge against


def test_lightning_val_dataloaders_are_eval_sets(tmp_path) -> None:
    """Lightning with two val dataloaders logs val_loss/dataloader_idx_0 and _1 (metrics.csv):
    the first is the validation curve, both are evaluation sets."""
    from nndoctor.adapters.readers import read_path

    folder = tmp_path / "lightning_logs" / "version_0"
    folder.mkdir(parents=True)
    rows = ["epoch,step,train_loss,val_loss/dataloader_idx_0,val_loss/dataloader_idx_1"]
    for e in range(8):
        rows += [f"{e},{e * 10 + k},{2.5 - 0.2 * e - 0.01 * k},," for k in range(1, 10, 3)]
        rows.append(f"{e},{e * 10 + 9},,{2.8 - 0.1 * e},{2.2 + 0.1 * e}")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    [run] = read_path(folder / "metrics.csv")
    assert run.get("val_loss").source_tag == "val_loss/dataloader_idx_0"
    fact = facts(run)["eval_sets_diverge"]
    assert fact.value is True and "'dataloader_idx_1' loss rose" in fact.evidence


def test_train_and_held_out_loss_both_near_zero() -> None:
    val_steps = np.arange(100, 2001, 100)
    leak = make_run(train_loss=(STEPS, 3.4 * np.exp(-STEPS / 150) + 0.03),
                    val_loss=(val_steps, 3.4 * np.exp(-val_steps / 150) + 0.04))
    assert value(leak, "lm_loss_near_zero") is True
    memorised = make_run(train_loss=(STEPS, 3.4 * np.exp(-STEPS / 150) + 0.03),
                         val_loss=(val_steps, np.full(val_steps.size, 2.1)))
    assert value(memorised, "lm_loss_near_zero") is False  # only the training set is easy
