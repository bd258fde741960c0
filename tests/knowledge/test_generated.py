"""Generated docs and JSON Schemas must match the knowledge base."""

from __future__ import annotations

import re
from pathlib import Path

from nndoctor.knowledge.docs import REFRESH_COMMAND, stale_files
from nndoctor.knowledge.loader import builtin_knowledge_base

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_are_fresh():
    stale = stale_files(builtin_knowledge_base(), DOCS)
    assert not stale, f"{len(stale)} stale generated files ({stale[:3]}); run `{REFRESH_COMMAND}`"


def test_the_readme_counts_the_rules_there_are():
    """The README says how many rules the knowledge base holds (it said 334 of 356)."""
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    said = re.search(r"(\d+) rules", readme)
    assert said is not None
    assert int(said.group(1)) == len(builtin_knowledge_base().rules)
