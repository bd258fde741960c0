"""Meta-tests over the whole catalogue: ids, file names, required sections, seed coverage."""

from __future__ import annotations

import re

from nndoctor.knowledge.lint import lint
from nndoctor.knowledge.loader import builtin_knowledge_base

KB = builtin_knowledge_base()
REQUIRED_CAUSES = (
    "lr_too_high lr_too_low numerical_instability exploding_gradients vanishing_gradients "
    "dead_relu saturated_activations bad_weight_init unnormalized_inputs bad_labels label_noise "
    "data_not_shuffled class_imbalance too_few_samples overfitting model_too_small "
    "too_much_regularization batch_size_too_large wrong_output_activation loss_input_mismatch "
    "frozen_layers train_test_mismatch eval_mode_bug data_pipeline_bug not_trained_long_enough "
    "optimization_difficulty preprocessing_mismatch too_much_augmentation custom_loss_bug "
    "gradient_bug"
).split()


def test_lint_is_clean_and_covers_every_seed_item():
    report = lint()
    assert not report.errors, "\n".join(str(p) for p in report.errors)
    assert report.seed_items == 88
    assert report.seed_covered == report.seed_items


def test_required_causes_exist_with_fixes_and_sources():
    missing = [c for c in REQUIRED_CAUSES if c not in KB.causes]
    assert not missing
    for cause in KB.causes.values():
        assert cause.fixes and cause.sources
        assert len(cause.explanation.split()) >= 8, cause.id


def test_rule_files_are_named_by_id_and_category():
    for rid, rule in KB.rules.items():
        path = KB.files["rule:" + rid]
        assert path.name == f"{rule.id}-{rule.name}.yaml"
        assert path.parent.name == rule.category
        assert re.fullmatch(r"[A-Z]{2,4}\d{3}", rid)


def test_every_askable_fact_has_question_help_and_choices():
    for name, fact in KB.facts.items():
        if fact.askable and fact.kind == "observation":
            assert fact.question and fact.question.endswith("?"), name
            assert fact.help, name
            assert fact.answers(), name


def test_catalogue_size_is_in_the_expected_range():
    assert 80 <= len(KB.rules) <= 400
