"""A contributor's mistakes produce lint messages naming file and field, never a crash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nndoctor.cli import main
from nndoctor.knowledge.lint import lint
from nndoctor.knowledge.loader import BUILTIN_ROOT

GOOD_RULE = (BUILTIN_ROOT / "rules/numerics/NUM001-nan-in-first-iterations.yaml").read_text()


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _write_rule(root: Path, text: str, name: str = "NUM999-broken-rule.yaml") -> Path:
    path = root / "rules" / "numerics" / name
    path.write_text(text, encoding="utf-8")
    return path


def _messages(root: Path) -> list[str]:
    return [str(p) for p in lint(root).errors]


def test_invalid_yaml_names_file_and_line(kb_copy):
    path = _write_rule(kb_copy, "id: NUM999\nwhen: {all: [\n")
    [msg] = _messages(kb_copy)
    assert str(path) in msg and "invalid YAML" in msg and "line" in msg


def test_unknown_key_names_the_field(kb_copy):
    text = GOOD_RULE.replace("id: NUM001", "id: NUM999").replace(
        "name: nan-in-first-iterations", "name: broken-rule\nseverity: high")
    path = _write_rule(kb_copy, text)
    [msg] = _messages(kb_copy)
    assert str(path) in msg and "severity" in msg and "unknown key" in msg


def test_unknown_fact_and_cause_are_reported(kb_copy):
    text = (GOOD_RULE.replace("id: NUM001", "id: NUM999")
            .replace("name: nan-in-first-iterations", "name: broken-rule")
            .replace("fact: nonfinite_early", "fact: nonfinite_erly")
            .replace("cause: lr_too_high", "cause: lr_too_hihg"))
    _write_rule(kb_copy, text)
    msgs = "\n".join(_messages(kb_copy))
    assert "unknown fact 'nonfinite_erly'" in msgs
    assert "unknown cause 'lr_too_hihg'" in msgs


def test_duplicate_id_and_wrong_file_name(kb_copy):
    _write_rule(kb_copy, GOOD_RULE, name="NUM001-copy.yaml")
    [msg] = _messages(kb_copy)
    assert "duplicate rule id 'NUM001'" in msg


def test_uncovered_seed_item_is_reported(kb_copy):
    items = kb_copy / "seed_items.yaml"
    items.write_text(items.read_text() + '  "009-Z9": "an item nobody cites"\n')
    msgs = "\n".join(_messages(kb_copy))
    assert "seed item 009-Z9 is cited by no" in msgs


def test_failing_embedded_case_is_reported(kb_copy):
    text = (GOOD_RULE.replace("id: NUM001", "id: NUM999")
            .replace("name: nan-in-first-iterations", "name: broken-rule")
            .replace("expect: silent\n  - name: silent-without-nan", "expect: fires\n  - name: x"))
    _write_rule(kb_copy, text)
    msgs = "\n".join(_messages(kb_copy))
    assert "NUM999-broken-rule.yaml: tests.silent-on-late-nan: expected the rule to fire" in msgs


def test_cli_lint_exit_codes(capsys):
    assert main(["rules", "lint"]) == 0
    out = capsys.readouterr().out
    assert "seed coverage 100 %" in out
