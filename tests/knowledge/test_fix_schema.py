"""Fix texts with the run's numbers: the template language, the Fix schema, lint and docs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from nndoctor.knowledge.docs import rule_page
from nndoctor.knowledge.lint import lint
from nndoctor.knowledge.loader import BUILTIN_ROOT, builtin_knowledge_base
from nndoctor.knowledge.schema import Fix
from nndoctor.knowledge.templates import TemplateError, format_number, names, parse, render

FIX = {"id": "lower-lr", "action": "Lower the learning rate by 10.", "sources": ["ref:x"]}


def test_a_template_fills_in_scaled_and_formatted_values():
    text = "lr {lr} → {lr / 10} → {lr÷100}; batch {batch_size / 2 | int}; {steps * 2.5 | int}"
    assert render(text, {"lr": 200.0, "batch_size": 32.0, "steps": 1001.0}) == \
        "lr 200 → 20 → 2; batch 16; 2503"
    assert render("{lr * 10} {lr × 3}", {"lr": 3e-4}) == "0.003 0.0009"
    assert names(text) == {"lr", "batch_size", "steps"}


def test_numbers_keep_three_significant_digits_without_exponents_for_counts():
    assert format_number(0.1234567) == "0.123"
    assert format_number(3e-5) == "3e-05"
    assert format_number(24690.0) == "24700"
    assert format_number(4.449, "sig2") == "4.4"
    assert format_number(0.4, "int") == "1"  # a count is never 0
    assert format_number(2.5, "int") == "3"


def test_an_unknown_or_non_number_value_gives_no_text():
    assert render("Lower {lr} to {lr / 10}", {}) is None
    assert render("{lr}", {"lr": True}) is None
    assert render("{lr}", {"lr": "adam"}) is None
    assert render("{lr * 1e308 * 10}", {"lr": 1e10}) is None  # overflow: not a number to show
    assert render("no placeholder at all", {}) == "no placeholder at all"


@pytest.mark.parametrize("template, message", [
    ("{lr", "unmatched brace"),
    ("a } b", "unmatched brace"),
    ("{lr + 1}", "must be {fact}"),
    ("{__import__('os')}", "must be {fact}"),
    ("{lr.real}", "must be {fact}"),
    ("{lr | upper}", "unknown format 'upper'"),
    ("{lr / 0}", "positive"),
    ("{}", "must be {fact}"),
])
def test_anything_but_the_mini_language_is_an_error(template, message):
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("(", r"\(")):
        parse(template)


def test_a_fix_declares_the_values_its_texts_use():
    fix = Fix.model_validate({**FIX, "needs": ["lr"],
                              "action_with_values": "Lower the learning rate {lr} → {lr / 10}.",
                              "not_when": {"fact": "lr", "lt": 1e-6},
                              "first_when": {"any": [{"fact": "loss_nonfinite", "eq": True}]}})
    assert fix.needs == ["lr"] and fix.not_when is not None and fix.first_when is not None


@pytest.mark.parametrize("extra, message", [
    ({"action_with_values": "Lower the learning rate {lr}."}, "list them under 'needs'"),
    ({"needs": ["lr", "batch_size"], "action_with_values": "Lower the learning rate {lr}."},
     "'needs' lists batch_size"),
    ({"needs": ["lr"], "action_with_values": "Lower the learning rate {lr ** 2}."},
     "action_with_values: placeholder"),
    ({"needs": ["lr"], "verify_with_values": "The loss falls at {lr}."}, "generic 'verify'"),
    ({"needs": ["lr"]}, "'needs' lists lr"),
    ({"first_when": {"fact": "lr", "gt": 1, "lt": 2}}, "exactly one operator"),
])
def test_a_fix_whose_texts_and_needs_disagree_is_rejected(extra, message):
    with pytest.raises(ValidationError, match=message):
        Fix.model_validate({**FIX, **extra})


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _edit(root: Path, cause: str, old: str, new: str) -> Path:
    path = root / "causes" / f"{cause}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_lint_names_the_fix_whose_values_or_conditions_are_not_number_facts(kb_copy):
    path = _edit(kb_copy, "lr_too_high", "    needs: [lr]\n    action_with_values: >-\n"
                 "      Divide the learning rate by 10 and retry ({lr} → {lr / 10} → {lr / 100}), "
                 "or step it down\n      gradually ({lr}, {lr * 0.8}, {lr * 0.6}, {lr * 0.5}, ...)",
                 "    needs: [lr_warmup]\n    action_with_values: >-\n"
                 "      Divide the learning rate by 10 and retry ({lr_warmup} → 1)")
    _edit(kb_copy, "overfitting", "first_when: {fact: val_loss_rising, eq: true}",
          "first_when: {fact: val_loss_risen, eq: true}")
    messages = [str(p) for p in lint(kb_copy).errors]
    assert any(str(path) in m and "fixes.0.needs" in m and "'lr_warmup' is bool" in m
               for m in messages), messages
    assert any("overfitting.yaml" in m and "first_when" in m and "'val_loss_risen'" in m
               for m in messages), messages


def test_lint_requires_one_fix_that_every_run_keeps(kb_copy):
    cause = kb_copy / "causes" / "eval_mode_bug.yaml"
    text = cause.read_text(encoding="utf-8").replace(
        "    sources:", "    not_when: {fact: eval_mode_switched, eq: true}\n    sources:")
    cause.write_text(text, encoding="utf-8")
    messages = [str(p) for p in lint(kb_copy).errors]
    assert any(str(cause) in m and "keep at least one fix without them" in m
               for m in messages), messages


def test_every_template_of_the_catalog_renders_and_every_cause_keeps_a_fix():
    kb = builtin_knowledge_base()
    templated = 0
    for cause in kb.causes.values():
        assert any(f.applies_when is None and f.not_when is None for f in cause.fixes), cause.id
        for fix in cause.fixes:
            for text in (fix.action_with_values, fix.verify_with_values):
                if text:
                    templated += 1
                    shown = render(text, dict.fromkeys(fix.needs, 0.25))
                    assert shown and "{" not in shown and "}" not in shown, (cause.id, fix.id)
    assert templated >= 15  # the important causes carry the run's numbers


def test_rule_docs_show_the_templates_and_conditions():
    page = rule_page(builtin_knowledge_base(), "OPT022")  # concludes lr_too_high
    assert "with the run's `lr`: Divide the learning rate by 10 and retry ({lr} → {lr / 10}" in page
    assert "left out when `lr_warmup = true or loss_unmoved = true`" in page
    assert "first when `lr_vs_optimizer_range in {above, far_above} or lr ≥ 0.5`" in page
    assert "only when `loss_fast_drop_then_plateau = true`" in page
