"""A contributed rule must never hang the engine (issue #12, item 2).

durable_rules spins for ever once more than 512 tests follow one node of its network (``findAlpha``
in rete.c), holding the GIL. Long ``in:`` lists are compiled to one Python-tested property, and
every compile runs first in a child process under a time limit. Each check runs in a subprocess
with a timeout, so a regression fails instead of hanging the test run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nndoctor.engine import durable_matcher
from nndoctor.knowledge.loader import BUILTIN_ROOT

pytestmark = pytest.mark.skipif(not durable_matcher.AVAILABLE,
                                reason="durable_rules not importable")


def run_python(code: str, timeout: float = 20.0, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; a hang becomes a test failure, not a stuck run."""
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, **env})
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for more than {timeout} s")


RULE_WITH_IN = """
import json, sys
from nndoctor.engine.inference import Engine
from nndoctor.knowledge.loader import builtin_knowledge_base
from nndoctor.knowledge.schema import Rule

kb = builtin_knowledge_base()
values = [i * 0.5 + 0.25 for i in range(400)]
rule = Rule.model_validate({
    "id": "OPT900", "name": "contributed-long-in-list", "title": "A rule with a long in: list",
    "category": "optimization",
    "when": {"all": [{"fact": "lr", "in": values},
                     {"not": {"fact": "batch_size", "in": list(range(1, 401))}}]},
    "then": [{"cause": "lr_too_high", "cf": 0.3}],
    "because": "A contributed rule whose in: list has four hundred values.",
    "sources": ["seed:000-M2"],
    "tests": [{"name": "fires", "facts": {"lr": 0.75}, "expect": "fires"},
              {"name": "silent", "facts": {"lr": 0.8}, "expect": "silent"}]}).to_kb()
kb = kb._replace(rules={**kb.rules, rule.id: rule})
engine = Engine(kb, backend="durable")
stratum = engine.strata["OPT900"]
out = {}
for name, facts in {"in": {"lr": 0.75}, "not-in": {"lr": 0.8}, "absent": {},
                    "excluded": {"lr": 0.75, "batch_size": 32},
                    "other-batch": {"lr": 0.75, "batch_size": 1000}}.items():
    out[name] = ["OPT900" in m.match(stratum, facts) for m in (engine.matcher, engine.python)]
print(json.dumps(out))
"""


def test_a_rule_with_a_400_value_in_list_compiles_and_matches_like_python():
    done = run_python(RULE_WITH_IN, timeout=30)
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"in": [True, True], "not-in": [False, False], "absent": [False, False],
                      "excluded": [False, False], "other-batch": [True, True]}


def test_a_stuck_compile_becomes_an_error_naming_the_rule():
    code = """
    import time
    from nndoctor.engine.durable_matcher import DurableMatcher, RulesetCompileError
    wide = {"$or": [{"lr": i + 0.5} for i in range(600)]}  # 600 tests after one node: hangs
    definitions = [{"OK001": {"all": [{"m": {"kind": "facts"}}]},
                    "BAD002": {"all": [{"m": wide}]}}]
    start = time.monotonic()
    try:
        DurableMatcher(definitions)
    except RulesetCompileError as exc:
        print(exc.rule_id, round(time.monotonic() - start, 1))
        print(exc)
    else:
        print("compiled?")
    """
    done = run_python(code, timeout=15, NNDOCTOR_COMPILE_TIMEOUT="1")
    assert done.returncode == 0, done.stderr
    first, message = done.stdout.strip().splitlines()[:2]
    assert first.split()[0] == "BAD002"
    assert float(first.split()[1]) < 5
    assert message.startswith("rule BAD002: durable_rules never finishes compiling")
    assert "512" in message


def _kb_with_rule(tmp_path: Path, rule_text: str) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__",
                                                                     "rules"))
    folder = root / "rules" / "optimization"
    folder.mkdir(parents=True)
    (folder / "OPT901-wide-any.yaml").write_text(rule_text, encoding="utf-8")
    return root


def test_lint_reports_the_rule_that_hangs_the_compiler(tmp_path):
    tests = "\n".join(f"      - {{fact: lr, eq: {i}.5}}" for i in range(600))
    rule = (
        "id: OPT901\nname: wide-any\ntitle: A rule with six hundred alternatives\n"
        "category: optimization\nwhen:\n  all:\n    - any:\n" + tests + "\n"
        "then:\n  - {cause: lr_too_high, cf: 0.3}\n"
        "because: >-\n  A contributed rule with an any of six hundred learning rates.\n"
        "sources: [seed:000-M2]\n"
        "tests:\n  - {name: fires, facts: {lr: 0.5}, expect: fires}\n"
        "  - {name: silent, facts: {lr: 0.7}, expect: silent}\n")
    root = _kb_with_rule(tmp_path, rule)
    code = f"""
    from nndoctor.knowledge.lint import lint
    for p in lint({str(root)!r}).errors:
        if p.field == "when":
            print(p)
    """
    done = run_python(code, timeout=20, NNDOCTOR_COMPILE_TIMEOUT="1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    assert "OPT901-wide-any.yaml: when: rule OPT901: durable_rules never finishes" in lines[0]


COMPILE_TWICE = """
from nndoctor.engine import durable_matcher as dm
from nndoctor.knowledge.loader import cache_dir
calls = []
real = dm.trial_compile
dm.trial_compile = lambda rulesets, timeout=None: (calls.append(1), real(rulesets, timeout))
definitions = [{"OK%03d": {"all": [{"m": {"lr": %s}}]}}]
dm.DurableMatcher(definitions)
print(len(calls), len(list((cache_dir() / "compiled").glob("*.ok"))))
"""


def test_a_ruleset_that_compiled_before_skips_the_guarding_child(tmp_path):
    """The child that guards durable's compile costs ~40 ms a start; once these exact rulesets
    compiled here (a marker in the cache, keyed by the rulesets, Python and durable), the next
    process compiles them directly. Other rulesets, or NNDOCTOR_NO_CACHE, still get the child."""
    env = {"XDG_CACHE_HOME": str(tmp_path)}

    def run(rule: int, value: str, **more: str) -> list[int]:
        code = COMPILE_TWICE % (rule, value)
        done = run_python(code, timeout=30, **env, **more)
        assert done.returncode == 0, done.stderr
        return [int(x) for x in done.stdout.split()]

    assert run(1, "0.5") == [1, 1]  # first time: the child, then a marker
    assert run(1, "0.5") == [0, 1]  # same rulesets: no child
    assert run(2, "0.25") == [1, 2]  # other rulesets: the child again
    assert run(1, "0.5", NNDOCTOR_NO_CACHE="1")[0] == 1  # cache off: always the child
