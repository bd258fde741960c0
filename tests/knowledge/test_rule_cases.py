"""Every rule's embedded test cases, one pytest case each: `pytest -k NUM001` runs one rule."""

from __future__ import annotations

import pytest

from nndoctor.engine.inference import default_engine
from nndoctor.knowledge.cases import check_case
from nndoctor.knowledge.loader import builtin_knowledge_base

KB = builtin_knowledge_base()
CASES = [(rule, case) for rule in KB.rules.values() for case in rule.tests]


@pytest.mark.parametrize(
    ("rule", "case"), CASES, ids=[f"{r.id}::{c.name}" for r, c in CASES]
)
def test_rule_case(rule, case):
    result = check_case(default_engine(), rule, case)
    assert result.passed, f"{rule.id} {case.name}: {result.message}"
