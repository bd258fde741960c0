"""The fine-tuning scenario families of the corpus (issue 17): they leave every earlier run as
it was, cover each cause on both sides of the split, and inject their faults into the data and
into a real Hugging Face Trainer run."""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import _practitioner  # noqa: E402
from corpus_gen import ft_data, ft_parts  # noqa: E402
from corpus_gen.ft_scenarios import FT_FAMILIES  # noqa: E402
from corpus_gen.recipe import Finetune, Logging, Model, Optim, Recipe, Rl  # noqa: E402
from corpus_gen.scenarios import COVERAGE_FAMILIES, FAMILIES, build_specs  # noqa: E402

FT_CAUSES = ("loss_spikes", "mixed_precision_overflow", "label_masking_bug",
             "grad_accumulation_bug", "finetune_overfitting", "catastrophic_forgetting",
             "lr_schedule_misconfigured", "finetune_lr_out_of_range", "rl_policy_collapse")


@pytest.fixture(scope="module")
def specs() -> list[dict]:
    return build_specs(0)


def test_every_run_of_the_committed_manifest_is_built_unchanged(specs):
    manifest = json.loads((BENCH / "corpus.json").read_text())
    by_id = {s["id"]: s for s in specs}
    for run in manifest["runs"]:
        spec = by_id[run["id"]]
        assert (spec["family"], spec["split"], spec["cause"]) == (
            run["family"], run["split"], run["cause"]), run["id"]
        assert spec["recipe"].to_dict() == run["recipe"], run["id"]


def test_fine_tuning_runs_follow_the_earlier_ones_with_each_cause_on_both_sides(specs):
    names = {f.name for f in FT_FAMILIES}
    ft = [s for s in specs if s["family"] in names]
    first, last = (f(int(s["id"][1:]) for s in ft) for f in (min, max))
    earlier, later = ({f.name for f in group} for group in (FAMILIES, COVERAGE_FAMILIES))
    assert all(int(s["id"][1:]) < first for s in specs if s["family"] in earlier)
    assert all(int(s["id"][1:]) > last for s in specs if s["family"] in later)
    assert all(s["family"] in names | earlier | later for s in specs)
    assert len({s["id"] for s in specs}) == len(specs)
    splits: dict[str, set[str]] = defaultdict(set)
    for s in ft:
        splits[s["cause"]].add(s["split"])
    runs = Counter(s["cause"] for s in ft)
    for cause in (*FT_CAUSES, "healthy"):
        assert splits[cause] == {"dev", "test"}, cause
        assert runs[cause] >= 6, cause
    assert {s["framework"] for s in ft} == {"hf", "lightning", "trl"}


def test_recipe_sections_round_trip_and_are_absent_when_unset():
    plain = Recipe()
    assert "finetune" not in plain.to_dict() and "rl" not in plain.to_dict()
    ft = Recipe(task="rl", finetune=Finetune(world=2, eval_sets=("original", "new")),
                rl=Rl(beta=0.0, reward="one_token"))
    d = json.loads(json.dumps(ft.to_dict()))
    assert Recipe.from_dict(d) == ft


def test_the_practitioner_knows_a_fine_tune_and_its_precision(specs):
    from nndoctor.engine.facts import Fact, validate_fact
    from nndoctor.engine.inference import default_engine

    vocabulary = default_engine().kb.facts
    names = {f.name for f in FT_FAMILIES}
    for spec in (s for s in specs if s["family"] in names):
        recipe = spec["recipe"].to_dict()
        answers = _practitioner.setup_answers(recipe)
        for name, value in answers.items():
            if value != _practitioner.DONT_KNOW:
                validate_fact(Fact(name, value), vocabulary)
        assert answers["finetuning_pretrained"] is True
        assert answers["mixed_precision"] == ("fp16" if "fp16" in recipe["faults"] else "fp32")
        assert answers["rl_style_run"] is (recipe["task"] == "rl")
    assert _practitioner.setup_answers(Recipe().to_dict())["finetuning_pretrained"] is False


def _lm(faults: dict | None = None, **ft) -> Recipe:
    return Recipe(task="lm", framework="hf", num_classes=0, vocab=32, seq_len=16, n_train=64,
                  n_val=32, model=Model("gpt", 16, 1, activation="gelu"),
                  optim=Optim("adamw", 1e-3, schedule="linear", warmup_frac=0.1, clip_norm=1.0),
                  batch_size=16, epochs=1, log=Logging(1, 2, (), "canonical", False, True, True),
                  finetune=Finetune(pretrain_steps=3, **ft), faults=faults or {}, seed=5)


def test_fine_tuning_data_carries_its_masking_faults_and_eval_sets():
    clean = ft_data.make_ft_data(_lm(eval_sets=("original", "new")))
    assert set(clean.evals) == {"original", "new"}
    assert (clean.train.labels == clean.train.input_ids).all()
    assert clean.evals["original"].input_ids.shape == clean.evals["new"].input_ids.shape
    pads = ft_data.make_ft_data(_lm({"pad_not_masked": True}))
    is_pad = pads.train.input_ids == 32
    assert is_pad.any() and (pads.train.labels[is_pad] == 32).all()  # not -100
    assert (pads.train.attention_mask == ~is_pad).all()
    masked = ft_data.make_ft_data(_lm({"labels_all_masked": True}))
    assert (masked.train.labels == ft_data.IGNORE).all()
    again = ft_data.make_ft_data(_lm({"labels_all_masked": True}))
    assert (again.train.input_ids == masked.train.input_ids).all()


def test_bad_batches_fall_in_clusters_after_the_first_quarter():
    recipe = _lm({"bad_batches": 5})
    steps = ft_parts.bad_steps(recipe, 200)
    assert len(steps) == 5 and min(steps) >= 50
    assert ft_parts.bad_steps(_lm(), 200) == set()
    batch = {"input_ids": np.arange(32).reshape(2, 16)}
    import torch

    batch = {k: torch.from_numpy(v) for k, v in batch.items()}
    bad = ft_parts.corrupt(recipe, batch, 60)
    assert not torch.equal(bad["input_ids"], batch["input_ids"])
    assert torch.equal(bad["labels"], bad["input_ids"])
    assert torch.equal(torch.sort(bad["input_ids"].flatten()).values, torch.arange(32))


def test_a_real_trainer_run_with_every_label_masked_logs_a_zero_loss(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from corpus_gen import backend_hf, checks, pretrained

    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "cache"))
    recipe = _lm({"labels_all_masked": True})
    backend_hf.train(recipe, tmp_path / "run")
    assert list((tmp_path / "run").glob("checkpoint-*/trainer_state.json"))
    spec = {"cause": "label_masking_bug", "recipe": recipe}
    assert checks.check(spec, tmp_path / "run") == "ok"
    assert checks.check({**spec, "cause": "healthy"}, tmp_path / "run") != "ok"
