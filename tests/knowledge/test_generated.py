"""Generated docs and JSON Schemas must match the knowledge base."""

from __future__ import annotations

from pathlib import Path

from nndoctor.knowledge.docs import REFRESH_COMMAND, stale_files
from nndoctor.knowledge.loader import builtin_knowledge_base

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_are_fresh():
    stale = stale_files(builtin_knowledge_base(), DOCS)
    assert not stale, f"{len(stale)} stale generated files ({stale[:3]}); run `{REFRESH_COMMAND}`"
