"""Property-based fuzzing of the knowledge-base loader and the engine's fact intake.

Every input ends in a loaded knowledge base or a KnowledgeError/FactError — never another
exception. The long run is benchmarks/fuzz.py; this is the short version CI runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.engine.facts import Fact, FactError
from nndoctor.engine.session import Session
from nndoctor.knowledge.lint import lint
from nndoctor.knowledge.loader import BUILTIN_ROOT, KnowledgeError, load_knowledge_base

FIXTURE = HealthCheck.function_scoped_fixture
RULE = (BUILTIN_ROOT / "rules/numerics/NUM001-nan-in-first-iterations.yaml").read_text()
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20))
yaml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


def _kb_with_rule(tmp: Path, text: str) -> Path:
    root = tmp / "kb"
    if not root.exists():
        shutil.copytree(BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__",
                                                                         "rules"))
        (root / "rules" / "numerics").mkdir(parents=True)
    (root / "rules" / "numerics" / "NUM001-nan-in-first-iterations.yaml").write_text(
        text, encoding="utf-8", errors="surrogatepass")
    return root


def _load(root: Path) -> None:
    try:
        load_knowledge_base(root)
    except KnowledgeError as exc:
        assert str(exc).startswith(str(root)), str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(cut=st.integers(0, len(RULE)), junk=st.text(max_size=30))
def test_truncated_or_garbled_rule_files(tmp_path, cut, junk):
    _load(_kb_with_rule(tmp_path, RULE[:cut] + junk))


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE])
@given(key=st.sampled_from(["id", "name", "when", "then", "tests", "sources", "because",
                            "category", "title"]), value=yaml_values)
def test_wrong_types_in_every_field(tmp_path, key, value):
    data = yaml.safe_load(RULE)
    data[key] = value
    _load(_kb_with_rule(tmp_path, yaml.safe_dump(data, allow_unicode=True)))


def test_yaml_tags_anchors_and_deep_nesting_are_rejected_cleanly(tmp_path):
    for text in ["!!python/object/apply:os.system ['echo pwned']\n",
                 "a: &x [*x]\n",
                 "id: " + "[" * 5000 + "]" * 5000 + "\n",
                 "base: &b {cf: 0.5}\nthen: [*b]\n"]:
        root = _kb_with_rule(tmp_path, text)
        report = lint(root)
        assert report.errors, text[:30]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["lr", "loss_nonfinite", "hidden_activation", "batch_size",
                             "no_such_fact", "dead_unit_fraction"]), value=scalars)
def test_any_fact_value_is_accepted_or_rejected_cleanly(name, value):
    try:
        Session(facts=[Fact(name, value)]).diagnose(questions=1)  # type: ignore[arg-type]
    except FactError as exc:
        assert name in str(exc)
