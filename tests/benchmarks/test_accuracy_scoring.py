"""The pure scoring functions of benchmarks/accuracy.py, on hand-made results, and the
simulated practitioner's answers against the fact vocabulary."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import _practitioner  # noqa: E402
import accuracy as acc  # noqa: E402
from accuracy import Ranked, Result  # noqa: E402


def res(rid: str, cause: str, top: list[tuple[str, float, str]] = (), *, alts: tuple = (),
        split: str = "dev", verdict: str = "problem", error: str | None = None,
        framework: str = "torch", family: str = "f") -> Result:
    return Result(id=rid, cause=cause, split=split, alternatives=tuple(alts),
                  framework=framework, family=family,
                  top=tuple(Ranked(c, conf, band) for c, conf, band in top),
                  verdict=verdict, error=error)


def test_top_k_accepts_alternatives_but_strict_does_not():
    r = res("a", "dead_relu", [("lr_too_high", 0.9, "confirmed"), ("x", 0.3, "possible")],
            alts=("lr_too_high",))
    assert acc.hit(r, 1) and not acc.hit(r, 1, strict=True)
    late = res("b", "dead_relu", [("x", 0.9, "confirmed"), ("y", 0.5, "likely"),
                                  ("dead_relu", 0.3, "possible")])
    assert not acc.hit(late, 1) and acc.hit(late, 3) and acc.hit(late, 3, strict=True)
    assert not acc.hit(res("c", "dead_relu", []), 3)  # nothing reported is a miss


def test_healthy_runs_never_hit_and_false_alarm_needs_likely():
    quiet = res("h1", "healthy", [("overfitting", 0.45, "possible")], verdict="problem")
    loud = res("h2", "healthy", [("overfitting", 0.55, "likely")])
    assert not acc.hit(quiet, 3) and not acc.false_alarm(quiet) and acc.is_ok(quiet)
    assert acc.false_alarm(loud) and not acc.is_ok(loud)
    assert not acc.false_alarm(res("f", "dead_relu", [("x", 0.9, "confirmed")]))


def test_summarize_counts_each_split_population_separately():
    results = [
        res("1", "lr_too_high", [("lr_too_high", 0.9, "confirmed")]),
        res("2", "lr_too_low", [("x", 0.6, "likely"), ("lr_too_low", 0.4, "possible")]),
        res("3", "dead_relu", [], verdict="insufficient-data"),
        res("4", "dead_relu", error="read: gone", verdict="error"),
        res("5", "healthy", [], verdict="healthy"),
        res("6", "healthy", [("x", 0.8, "confirmed")]),
    ]
    results[1] = Result(**{**results[1].__dict__, "tied": ("x", "lr_too_low")})
    s = acc.summarize(results)
    assert s["tied_top"] == acc.ratio(1, 4) and s["tied_right"] == acc.ratio(1, 4)
    assert (s["runs"], s["faulty"], s["healthy"], s["errors"]) == (6, 4, 2, 1)
    assert (s["top1"]["k"], s["top1"]["n"]) == (1, 4)
    assert s["top3"]["k"] == 2 and s["strict_top1"]["k"] == 1
    assert s["false_alarms"]["k"] == 1 and s["false_alarms"]["rate"] == 0.5
    assert s["insufficient_faulty"]["k"] == 1 and s["insufficient_healthy"]["k"] == 0
    assert s["healthy_verdict"]["k"] == 1
    assert acc.summarize([])["top1"]["rate"] is None


def test_breakdown_groups_faulty_runs_only():
    results = [res("1", "a", [("a", 0.9, "confirmed")], framework="keras"),
               res("2", "b", [("c", 0.9, "confirmed"), ("b", 0.5, "likely")], framework="keras"),
               res("3", "a", [], framework="hf"),
               res("4", "healthy", [], framework="lightning")]
    by = acc.breakdown(results, lambda r: r.framework)
    assert list(by) == ["hf", "keras"]
    assert by["keras"]["n"] == 2 and by["keras"]["top1"]["k"] == 1
    assert by["keras"]["top3"]["k"] == 2 and by["hf"]["top3"]["k"] == 0


def test_healthy_breakdown_counts_alarms_and_verdicts():
    results = [res("1", "healthy", [("x", 0.6, "likely")], framework="hf"),
               res("2", "healthy", [], verdict="healthy", framework="hf"),
               res("3", "healthy", [("x", 0.3, "possible")], verdict="healthy", framework="keras"),
               res("4", "a", [("x", 0.9, "confirmed")], framework="torch")]
    by = acc.healthy_breakdown(results, lambda r: r.framework)
    assert list(by) == ["hf", "keras"]
    assert by["hf"]["false_alarms"] == acc.ratio(1, 2)
    assert by["hf"]["healthy_verdict"] == acc.ratio(1, 2)
    assert by["keras"]["false_alarms"] == acc.ratio(0, 1)


def test_constant_baselines():
    results = [res("1", "b", alts=("lr_too_high",)), res("2", "b"), res("3", "a"),
               res("4", "c"), res("5", "a"), res("6", "healthy")]
    assert acc.most_frequent(results) == ["a", "b", "c"]  # a and b tie: by id
    ranking = acc.constant_ranking(results, "lr_too_high")
    assert ranking == ["lr_too_high", "a", "b"]
    base = acc.baselines(results)
    assert base["most_frequent"]["top1"] == acc.ratio(2, 5)
    assert base["most_frequent"]["top3"] == acc.ratio(5, 5)
    assert base["lr_too_high"]["top1"] == acc.ratio(1, 5)  # only the alternative
    assert base["lr_too_high"]["top3"]["k"] == 4  # lr_too_high, a, b; c is missed


def test_calibration_per_band_counts_healthy_tops_as_wrong():
    results = [
        res("1", "a", [("a", 0.9, "confirmed")]),
        res("2", "a", [("b", 0.85, "confirmed")], alts=("b",)),
        res("3", "healthy", [("a", 0.81, "confirmed")]),
        res("4", "a", [("c", 0.6, "likely")]),
        res("5", "healthy", [("c", 0.3, "possible")]),
        res("6", "a", []),
    ]
    cal = acc.calibration(results)
    assert cal["confirmed"]["n"] == 3
    assert cal["confirmed"]["right"] == acc.ratio(2, 3)
    assert cal["confirmed"]["strict_right"] == acc.ratio(1, 3)
    assert cal["confirmed"]["mean_confidence"] == pytest.approx((0.9 + 0.85 + 0.81) / 3, abs=1e-4)
    assert cal["likely"]["right"] == acc.ratio(0, 1)
    assert cal["possible"]["right"] == acc.ratio(0, 1)


def test_confusion_counts_misses_and_false_alarms():
    results = [res("1", "a", [("b", 0.9, "confirmed")]), res("2", "a", [("b", 0.5, "likely")]),
               res("3", "a", [("a", 0.5, "likely")]), res("4", "a", error="read: x"),
               res("5", "healthy", [("c", 0.6, "likely")]),
               res("6", "healthy", [("c", 0.3, "possible")])]
    assert acc.confusion(results) == [("a", "b", 2), ("a", "(error)", 1), ("healthy", "c", 1)]


def test_split_groups_and_figures_columns():
    results = [res("1", "a", [("a", 0.9, "confirmed")], split="dev"),
               res("2", "a", [], split="test")]
    assert list(acc.figures(results)) == ["dev", "test", "all"]
    figs = acc.figures(results)
    assert figs["dev"]["top1"]["k"] == 1 and figs["test"]["top1"]["k"] == 0
    assert figs["all"]["top1"] == acc.ratio(1, 2)
    assert list(acc.figures(results, "test")) == ["test"]


def test_compare_finds_fixed_broken_and_moved_runs():
    old = [res("1", "a", [("b", 0.9, "confirmed")]), res("2", "a", [("a", 0.9, "confirmed")]),
           res("3", "a", [("b", 0.9, "confirmed")]), res("4", "healthy", [("x", 0.9, "likely")]),
           res("9", "a", [])]
    new = [res("1", "a", [("a", 0.9, "confirmed")]), res("2", "a", [("c", 0.9, "confirmed")]),
           res("3", "a", [("c", 0.9, "confirmed")]), res("4", "healthy", [])]

    def dump(rs: list[Result]) -> dict:
        return {"figures": acc.figures(rs), "runs": [r.to_dict() for r in rs]}

    diff = acc.compare(dump(old), dump(new))
    assert [x["id"] for x in diff["fixed"]] == ["1", "4"]
    assert [x["id"] for x in diff["broken"]] == ["2"]
    assert [(x["id"], x["old"], x["new"]) for x in diff["moved"]] == [("3", "b", "c")]
    assert diff["only_old"] == ["9"] and diff["only_new"] == []
    assert diff["deltas"]["all"]["top1"] == {"old": 1 / 4, "new": 1 / 3}


def test_result_round_trips_through_json_dict():
    r = res("1", "a", [("a", 0.9, "confirmed")], alts=("b",))
    r = Result(**{**r.__dict__, "asked": (("lr", "0.1"),)})
    assert Result.from_dict(r.to_dict()) == r


def test_select_skips_unchecked_runs_by_reason():
    entries = [{"id": "r2", "split": "dev", "check": "ok"},
               {"id": "r1", "split": "dev", "check": "ok"},
               {"id": "r3", "split": "test", "check": "ok"},
               {"id": "r4", "split": "dev", "check": "missing"},
               {"id": "r5", "split": "dev", "check": "no NaN"},
               {"id": "r6", "split": "dev", "check": "missing"}]
    entries.append({"id": "r7", "split": "dev", "check": "val loss 0.71 not ≫ train 4.4e-05"})
    entries.append({"id": "r8", "split": "dev", "check": "val loss 12 not ≫ train 0.5"})
    chosen, skipped = acc.select(entries, "dev")
    assert [e["id"] for e in chosen] == ["r1", "r2"]
    assert skipped == {"missing": ["r4", "r6"], "val loss # not ≫ train #": ["r7", "r8"],
                       "no NaN": ["r5"]}
    assert len(acc.select(entries, "all")[0]) == 3


def test_pick_run_prefers_most_loss_points_then_the_first():
    def run(train: int, val: int, acc_points: int = 0) -> SimpleNamespace:
        series = {"train_loss": [0] * train, "val_loss": [0] * val, "train_acc": [0] * acc_points}
        return SimpleNamespace(series=series)

    assert acc.pick_run([run(5, 0, 100), run(3, 3)]) == 1
    assert acc.pick_run([run(3, 3), run(6, 0), run(1, 1)]) == 0


def _recipes() -> list[dict]:
    from corpus_gen.recipe import Model, Optim, Recipe

    return [
        Recipe().to_dict(),
        Recipe(task="image8", framework="keras", num_classes=10,
               model=Model(arch="cnn", activation="sigmoid", init="normal", init_scale=5.0,
                           dropout=0.6),
               optim=Optim(name="sgd", lr=0.5, schedule="step", step_every=1),
               faults={"sorted_by_label": True, "input_offset": 128.0}).to_dict(),
        Recipe(task="lm", framework="hf", num_classes=0, vocab=50,
               model=Model(arch="gpt", activation="gelu"), max_steps=30,
               faults={"log_without_eps": True, "_dataset": "x"}).to_dict(),
        Recipe(task="regression", num_classes=0, optim=Optim(clip_norm=1.0, warmup_frac=0.1),
               faults={"val_shift": 2.0}).to_dict(),
        Recipe(num_classes=2, faults={"sigmoid_with_logits_loss": True, "imbalance": 0.9,
                                      "detached_hidden": True}).to_dict(),
        Recipe(task="regression", num_classes=0, model=Model(arch="lstm"),
               faults={"output_activation": "relu", "custom_grad_bug": "sign"}).to_dict(),
    ]


def test_practitioner_answers_are_valid_facts_and_never_investigations():
    from nndoctor.engine.facts import Fact, validate_fact
    from nndoctor.engine.inference import default_engine

    vocabulary = default_engine().kb.facts
    investigated = {"label_noise_high", "labels_misaligned", "dead_unit_fraction",
                    "saturated_fraction", "weak_input_output_relation", "labels_verified",
                    "frozen_parameters", "loss_oscillating", "accuracy_at_chance"}
    for recipe in _recipes():
        answers = _practitioner.setup_answers(recipe)
        assert not investigated & answers.keys()
        for name, value in answers.items():
            if value != _practitioner.DONT_KNOW:
                validate_fact(Fact(name, value), vocabulary)  # raises when not allowed


def test_practitioner_reads_the_recipe():
    base, image, lm, regression, binary, relu_out = (
        _practitioner.setup_answers(r) for r in _recipes())
    assert base["architecture"] == "mlp" and base["weight_init"] == "framework_default"
    assert base["inputs_normalized"] and base["data_shuffled"]
    assert base["class_imbalance_ratio"] == 1
    assert image["weight_init"] == "large_normal" and image["regularization_level"] == "heavy"
    assert not image["inputs_normalized"] and not image["data_shuffled"]
    assert image["optimizer"] == "sgd_momentum" and image["lr_decays_to_zero_early"]
    assert lm["architecture"] == "transformer" and lm["num_classes"] == 50
    assert lm["loss_function"] == "custom" and lm["unsafe_math_in_loss"]
    assert lm["training_short"] and lm["epochs_trained"] < 1
    assert regression["task_type"] == "regression" and "num_classes" not in regression
    assert regression["gradient_clipping"] and regression["lr_warmup"]
    assert not regression["val_split_from_train"]
    assert binary["task_type"] == "binary" and binary["output_activation"] == "sigmoid"
    assert binary["class_imbalance_ratio"] == pytest.approx(9.0)
    assert relu_out["output_activation"] == "relu" and relu_out["targets_outside_output_range"]
    assert relu_out["architecture"] == "rnn" and relu_out["hand_written_gradients"]
    assert not regression["targets_outside_output_range"]
    assert _practitioner.answer("custom_layers", _recipes()[4]) == _practitioner.DONT_KNOW
    assert _practitioner.answer("label_noise_high", _recipes()[0]) == _practitioner.DONT_KNOW
