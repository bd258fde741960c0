"""YAML alias bombs are refused wherever nndoctor reads YAML (issue #12, item 3).

A safe loader shares aliased objects, so loading a "billion laughs" document is cheap; whatever
walks the result afterwards (pydantic, ``str()``) expands it to gigabytes. The hostile files are
read in a subprocess capped at 1 GiB of address space with a timeout, so a regression fails (a
MemoryError or a timeout) instead of exhausting the machine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from nndoctor.knowledge.loader import BUILTIN_ROOT, KnowledgeError, read_yaml
from nndoctor.safe_yaml import MAX_YAML_NODES, YAMLBombError, load_yaml
from tests.reliability._measure import run_capped

ROOT = Path(__file__).resolve().parents[2]


def laughs(depth: int = 9, width: int = 9, leaf: str = '"lol"') -> str:
    """A document of ``width ** depth`` leaves in about 40 × depth bytes."""
    lines = [f"l0: &l0 [{', '.join([leaf] * width)}]"]
    for i in range(1, depth):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_loader_refuses_expansion_beyond_the_budget_and_recursion():
    with pytest.raises(YAMLBombError, match="aliases are expanded"):
        load_yaml(laughs())
    with pytest.raises(YAMLBombError, match="refers to itself"):
        load_yaml("a: &x [1, *x]\n")
    merges = "m1: &m1 {k0: 0, k1: 1}\n" + "".join(
        f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}\n" for i in range(2, 40))
    with pytest.raises(YAMLBombError):  # merge keys double the entries at every level
        load_yaml(merges)
    assert issubclass(YAMLBombError, yaml.YAMLError)  # callers' `except yaml.YAMLError` holds


def test_loader_keeps_ordinary_aliases_as_pyyaml_writes_them():
    text = "a: &id001 [1, 2]\nb: *id001\nbase: &b {lr: 0.1}\nrun: {<<: *b, seed: 3}\n"
    assert load_yaml(text) == {"a": [1, 2], "b": [1, 2], "base": {"lr": 0.1},
                               "run": {"lr": 0.1, "seed": 3}}
    assert load_yaml(laughs(depth=3, width=10)) is not None  # 1,000 values: fine
    assert load_yaml("") is None


def test_every_builtin_knowledge_file_is_far_below_the_budget():
    for path in BUILTIN_ROOT.rglob("*.yaml"):
        assert read_yaml(path) is not None or path.stat().st_size == 0
    assert MAX_YAML_NODES >= 100 * 600  # the largest built-in file has ~600 nodes


def test_a_1kb_rule_of_nested_anchors_is_refused_naming_the_file(tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    # `when:` nests anchors 7 deep x 10 wide: 10 million fact tests once pydantic expands them
    anchors = ["x0: &a0 {fact: lr, gt: 0.1}"]
    for i in range(1, 7):
        anchors.append(f"x{i}: &a{i} {{all: [{', '.join([f'*a{i - 1}'] * 10)}]}}")
    text = ("id: NUM001\nname: nan-in-first-iterations\ntitle: Bomb\ncategory: numerics\n"
            "anchors:\n" + "".join(f"  {a}\n" for a in anchors) + "when: *a6\n")
    assert len(text) < 1200
    rule = root / "rules" / "numerics" / "NUM001-nan-in-first-iterations.yaml"
    rule.write_text(text, encoding="utf-8")
    done = run_capped(f"""
    from nndoctor.knowledge.loader import KnowledgeError, load_knowledge_base
    try:
        load_knowledge_base({str(root)!r})
    except KnowledgeError as exc:
        print(exc)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{rule}: refused: more than 200,000 values"), done.stdout


def test_read_yaml_turns_a_bomb_into_a_knowledge_error(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(), encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"bomb\.yaml: refused: .*alias bomb"):
        read_yaml(path)


def _mlflow_run(tmp_path: Path) -> Path:
    tree = tmp_path / "exploding"
    shutil.copytree(ROOT / "examples" / "exploding", tree)
    return tree


def test_mlflow_run_name_billion_laughs_is_ignored(tmp_path):
    tree = _mlflow_run(tmp_path)
    run_dir = next(p for p in (tree / "mlruns" / "0").iterdir() if p.is_dir())
    meta = run_dir / "meta.yaml"
    (run_dir / "tags" / "mlflow.runName").unlink(missing_ok=True)  # the name comes from meta
    original = meta.read_text(encoding="utf-8")
    bomb = laughs(depth=10, width=10)  # 10^10 "lol"s: 30 GB as one string
    meta.write_text(bomb + "".join(line + "\n" for line in original.splitlines()
                                   if not line.startswith("run_name"))
                    + "run_name: *l9\n", encoding="utf-8")
    assert meta.stat().st_size < 2000
    done = run_capped(f"""
    from nndoctor.cli import main
    raise SystemExit(main(["diagnose", {str(tree)!r}, "--format", "json", "--no-progress"]))
    """)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    names = [run["name"] for run in json.loads(done.stdout)["runs"]]
    assert names and all(len(name) < 200 for name in names)


def test_hparams_yaml_bomb_beside_metrics_csv_is_a_warning(tmp_path):
    tree = tmp_path / "overfitting"
    shutil.copytree(ROOT / "examples" / "overfitting", tree)
    (tree / "hparams.yaml").write_text(laughs(depth=10, width=10) + "lr: *l9\n", encoding="utf-8")
    done = run_capped(f"""
    from nndoctor.cli import main
    raise SystemExit(main(["diagnose", {str(tree)!r}, "--format", "json", "--no-progress"]))
    """)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    warnings = json.loads(done.stdout)["runs"][0]["warnings"]
    assert any("hparams.yaml: not plain YAML, hyper-parameters ignored" in w and "alias" in w
               for w in warnings), warnings


def test_a_document_without_aliases_is_sized_by_counting_its_nodes():
    """tree_size (for text without a ``*``, so without aliases) gives expanded_size's answer:
    the built-in knowledge files, files beside logs, and documents around the budget."""
    from nndoctor.safe_yaml import SAFE_LOADER, expanded_size, tree_size

    texts = [p.read_text(encoding="utf-8") for p in sorted(BUILTIN_ROOT.rglob("*.yaml"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").rglob("*.yaml"))]
    texts += ["[" + ", ".join(["1"] * n) + "]" for n in (0, 1, 98, 99, 100, 101)]
    texts += ["a: {b: [1, {c: 2}], d: x}\n", "- 1\n- - 2\n  - 3\n", "plain\n", "{}\n"]
    for text in texts:
        loader = SAFE_LOADER(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is None or "*" in text:
            continue
        for limit in (5, 99, 100, MAX_YAML_NODES):
            assert tree_size(node, limit) == expanded_size(node, limit), (text[:60], limit)
    assert load_yaml("[" + ", ".join(["1"] * 99) + "]", max_nodes=100) == [1] * 99
    with pytest.raises(YAMLBombError):
        load_yaml("[" + ", ".join(["1"] * 101) + "]", max_nodes=100)
