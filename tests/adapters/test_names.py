"""Metric-name normalisation (log-formats.md §2.10) and the --metric override hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.names import (
    apply_overrides,
    canonicalise,
    classify,
    clean_name,
    is_rl_style,
    parse_metric_overrides,
)
from nndoctor.adapters.run import Run, Series

SPELLINGS = {
    "train_loss": ["loss", "train_loss", "train/loss", "train_loss_step", "train_loss_epoch",
                   "train/epoch_loss", "training_loss", "trn_loss", "mean_loss", "batch_loss",
                   "Train Loss", "epoch_loss", "Loss/train", "Train/Loss", "train/loss_step",
                   "train/loss_epoch", "loss/train_step", "Loss/Train", "TrainLoss", "trainLoss",
                   "NLLLoss"],
    "val_loss": ["val_loss", "valid_loss", "eval_loss", "eval/loss", "val/loss", "validation_loss",
                 "validation/epoch_loss", "validation/evaluation_loss_vs_iterations",
                 "eval_squad_loss", "dev_loss", "val_loss_epoch", "loss/val", "Loss/validation",
                 "Loss/Val", "val/loss_epoch", "ValLoss", "valLoss"],
    "train_acc": ["accuracy", "acc", "train_acc", "train_accuracy", "train/acc",
                  "mean_token_accuracy", "train/epoch_accuracy", "Accuracy/train", "train_acc1",
                  "top1", "sparse_categorical_accuracy", "categorical_accuracy", "acc@1",
                  "binary_accuracy", "train/top1", "TrainAcc", "trainAccuracy"],
    "val_acc": ["val_accuracy", "val_acc", "valid_acc", "eval_accuracy", "eval/accuracy",
                "validation/epoch_accuracy", "Accuracy/val", "val/acc", "val_acc1",
                "val_sparse_categorical_accuracy", "eval_top1", "validation/epoch_sparse_"
                "categorical_accuracy", "val_acc@1", "ValAcc"],
    "lr": ["lr", "learning_rate", "train/learning_rate", "lr-Adam", "lr-AdamW/pg1", "lr/pg0",
           "lr/pg2", "x/lr0", "epoch_learning_rate", "train/lr", "lr-AdamW", "lr-SGD",
           "lr-AdamW-1", "LearningRate", "lr-RMSprop"],
    "grad_norm": ["grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "total_norm",
                  "global_norm", "grad_2.0_norm_total", "grad_norm/total"],
}
# Spellings of a *test* set: they stand in for validation only when nothing else does
TEST_SPELLINGS = {"val_loss": ["test_loss", "Loss/test", "test/loss"],
                  "val_acc": ["test_acc", "Accuracy/test", "test/accuracy"]}
NOT_CANONICAL = ["train/box_loss", "val/cls_loss", "lr-SGD-momentum", "epoch",
                 "step", "train/train_loss", "train_runtime", "eval_samples_per_second",
                 "metrics/mAP50(B)", "hp_metric", "kl_loss", "train/value_loss", "lr_scheduler",
                 "total_flos", "train/epoch", "loss_scale", "val_loss_ratio", "train/loss_scale",
                 "grad_scale", "eval/runtime", "eval/steps_per_second", "top5", "val_top5",
                 "grad_2.0_norm/net.0.weight", "grad_inf_norm_total", "lr-AdamW-momentum",
                 "max_grad_norm_clip", "accuracy_gap", "loss_ratio", "loss/train_val_gap",
                 "globalStep", "KLLoss", "lossScale", "valLossRatio"]


@pytest.mark.parametrize(("canonical", "tag"),
                         [(c, t) for c, tags in SPELLINGS.items() for t in tags])
def test_spellings_map_to_canonical(canonical: str, tag: str) -> None:
    cand = classify(tag)
    assert cand is not None and cand.canonical == canonical


@pytest.mark.parametrize(("canonical", "tag"),
                         [(c, t) for c, tags in TEST_SPELLINGS.items() for t in tags])
def test_test_set_spellings_are_a_validation_fallback(canonical: str, tag: str) -> None:
    cand = classify(tag)
    assert cand is not None and cand.canonical == canonical and cand.fallback


@pytest.mark.parametrize("tag", NOT_CANONICAL)
def test_not_canonical(tag: str) -> None:
    assert classify(tag) is None


def test_test_set_stands_in_for_validation_only_without_one() -> None:
    series, ctx = canonicalise({"Loss/train": _s(10), "Loss/test": _s(5),
                                "Accuracy/test": _s(5)})
    assert series["val_loss"].source_tag == "Loss/test"
    assert series["val_acc"].source_tag == "Accuracy/test"
    assert "test set stands in" in ctx["derived"]["val_loss"]
    series, ctx = canonicalise({"loss": _s(10), "test_loss": _s(8), "val_loss": _s(4)})
    assert series["val_loss"].source_tag == "val_loss"
    assert series["test_loss"].source_tag == "test_loss" and "derived" not in ctx


def test_train_prefers_the_series_with_more_points() -> None:
    """Lightning: with log_every_n_steps below the batches per epoch the step series is finer;
    with few batches per epoch the epoch series has more points and is the better curve."""
    series, _ = canonicalise({"train_loss_epoch": _s(20), "train_loss_step": _s(4)})
    assert series["train_loss"].source_tag == "train_loss_epoch"
    assert series["train_loss_step"].source_tag == "train_loss_step"
    series, _ = canonicalise({"train_loss_epoch": _s(5), "train_loss_step": _s(5)})
    assert series["train_loss"].source_tag == "train_loss_step"  # a tie: the per-step one
    series, _ = canonicalise({"val_loss_step": _s(50), "val_loss_epoch": _s(3)})
    assert series["val_loss"].source_tag == "val_loss_epoch"  # validation: the epoch mean
    series, _ = canonicalise({"loss": _s(50), "train_loss_epoch": _s(3)})
    assert series["train_loss"].source_tag == "train_loss_epoch"  # explicit role first


def test_keras_accuracy_spellings_rank_after_plain_accuracy() -> None:
    series, _ = canonicalise({"sparse_categorical_accuracy": _s(5), "accuracy": _s(5),
                              "val_sparse_categorical_accuracy": _s(5)})
    assert series["train_acc"].source_tag == "accuracy"
    assert series["val_acc"].source_tag == "val_sparse_categorical_accuracy"


def test_accuracy_in_percent_is_scaled() -> None:
    percent = Series.from_pairs(np.arange(5), [10.0, 35.0, 60.0, 80.0, 91.5], "top1")
    series, ctx = canonicalise({"top1": percent, "val_acc": _s(5)})
    np.testing.assert_allclose(series["train_acc"].values, percent.values / 100)
    assert ctx["derived"]["train_acc"] == "top1 / 100 (logged in percent)"
    assert series["val_acc"].values.max() <= 1  # a fraction stays as it is


def test_lr_param_groups_and_lightning_monitor() -> None:
    series, _ = canonicalise({"lr-AdamW/pg2": _s(5), "lr-AdamW/pg1": _s(5),
                              "lr-AdamW-momentum": _s(5)})
    assert series["lr"].source_tag == "lr-AdamW/pg1"
    assert {"lr-adamw/pg2", "lr-adamw-momentum"} <= set(series)


def test_unmapped_tags_keep_their_names() -> None:
    series, _ = canonicalise({"batch_loss": _s(50), "epoch_loss": _s(5)},
                             unmapped={"batch_loss"})
    assert series["train_loss"].source_tag == "epoch_loss"
    assert "batch_loss" in series


def test_fastai_unprefixed_accuracy_is_validation() -> None:
    cand = classify("accuracy", default_role="val")
    assert cand is not None and cand.canonical == "val_acc"
    err = classify("error_rate", default_role="val")
    assert err is not None and err.canonical == "val_acc" and err.transform == "1-x"


def _s(n: int, tag: str = "", start: int = 0) -> Series:
    return Series.from_pairs(np.arange(start, start + n), np.linspace(1, 0, n), tag)


def test_prefers_explicit_prefix_then_resolution() -> None:
    series, _ = canonicalise({"loss": _s(5), "train_loss_epoch": _s(3), "train_loss_step": _s(50)})
    assert series["train_loss"].source_tag == "train_loss_step"
    assert series["train_loss_epoch"].source_tag == "train_loss_epoch"
    assert series["loss"].source_tag == "loss"
    series, _ = canonicalise({"val_loss_step": _s(50), "val_loss_epoch": _s(3)})
    assert series["val_loss"].source_tag == "val_loss_epoch"  # coarser for validation
    series, _ = canonicalise({"lr/pg2": _s(5), "lr/pg0": _s(5), "lr/pg1": _s(5)})
    assert series["lr"].source_tag == "lr/pg0"
    series, _ = canonicalise({"eval_b_loss": _s(5), "eval_loss": _s(5), "eval_a_loss": _s(5)})
    assert series["val_loss"].source_tag == "eval_loss"


def test_canonical_names_come_first_and_nothing_is_lost() -> None:
    raw = {"zzz": _s(3), "val_loss": _s(3), "loss": _s(3), "Metrics/mAP50(B)": _s(3),
           "epoch": _s(3)}
    series, _ = canonicalise(raw)
    assert list(series) == ["train_loss", "val_loss", "metrics/map50_b", "zzz"]


def test_error_rate_becomes_accuracy_only_without_accuracy() -> None:
    series, ctx = canonicalise({"error_rate": _s(4)}, default_role="val")
    np.testing.assert_allclose(series["val_acc"].values, 1 - np.linspace(1, 0, 4))
    assert ctx["derived"]["val_acc"] == "1 - error_rate"
    series, ctx = canonicalise({"error_rate": _s(4), "accuracy": _s(4)}, default_role="val")
    assert series["val_acc"].source_tag == "accuracy" and "derived" not in ctx


def test_component_losses_summed_on_common_steps() -> None:
    raw = {"train/box_loss": Series.from_pairs([1, 2, 3], [1.0, 2.0, 3.0]),
           "train/cls_loss": Series.from_pairs([2, 3, 4], [10.0, 20.0, 30.0])}
    series, ctx = canonicalise(raw)
    assert series["train_loss"].steps.tolist() == [2, 3]
    assert series["train_loss"].values.tolist() == [12.0, 23.0]
    assert "train/box_loss" in ctx["derived"]["train_loss"]
    series, ctx = canonicalise({**raw, "train/loss": _s(3)})
    assert series["train_loss"].source_tag == "train/loss" and "derived" not in ctx


def test_rl_detection() -> None:
    assert is_rl_style(["loss", "reward", "kl"])
    assert is_rl_style(["rollout/ep_rew_mean", "train/approx_kl"])
    assert is_rl_style(["objective/kl"])
    assert not is_rl_style(["loss", "kl_loss", "recon_loss"])  # a VAE is not RL
    _, ctx = canonicalise({"loss": _s(3), "rewards/chosen": _s(3)})
    assert ctx["rl_style"] is True


def test_clean_name() -> None:
    assert clean_name(" metrics/mAP50-95(B) ") == "metrics/map50-95_b"
    assert clean_name("Train Loss") == "train_loss"
    assert clean_name("!!!") == "metric"


def _run() -> Run:
    series, ctx = canonicalise({"loss": _s(5), "my_weird_val": _s(5), "val_loss": _s(5)})
    return Run("r", Path("/x"), "jsonl", series, ctx)


def test_override_moves_series_and_keeps_the_displaced_one() -> None:
    run = apply_overrides(_run(), {"val_loss": "my_weird_val"})
    assert run.series["val_loss"].source_tag == "my_weird_val"
    assert run.series["val_loss_2"].source_tag == "val_loss"
    assert "my_weird_val" not in run.series
    assert run.warnings == ()


def test_override_with_unknown_tag_warns() -> None:
    run = apply_overrides(_run(), {"lr": "nope"})
    assert "lr" not in run.series and "nope" in run.warnings[0]


def test_parse_metric_overrides() -> None:
    assert parse_metric_overrides(["val_loss=eval/loss", " lr = lr/pg0 "]) == {
        "val_loss": "eval/loss", "lr": "lr/pg0"}
    with pytest.raises(ValueError, match="CANONICAL=TAG"):
        parse_metric_overrides(["val_loss"])
    with pytest.raises(ValueError, match="not one of"):
        parse_metric_overrides(["loss=x"])
