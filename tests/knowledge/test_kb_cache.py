"""The knowledge-base cache (issue #13 item 4): never stale, never in the way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nndoctor.knowledge import loader
from nndoctor.knowledge.loader import cached_knowledge_base, load_knowledge_base


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    shutil.copytree(loader.BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def _a_rule(root: Path) -> Path:
    return sorted((root / "rules").rglob("*.yaml"))[0]


def test_cache_hit_equals_a_fresh_load(kb_copy: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    first = cached_knowledge_base(kb_copy, cache)
    assert list(cache.glob("kb-*.pickle"))
    monkeypatch.setattr(loader, "load_knowledge_base", lambda root=None: pytest.fail("reloaded"))
    again = cached_knowledge_base(kb_copy, cache)
    assert again.rules == first.rules and again.facts == first.facts
    assert again.settings == first.settings and again.causes == first.causes


@pytest.mark.parametrize("keep_stat", [False, True])
def test_an_edited_rule_rebuilds_the_cache(kb_copy: Path, tmp_path: Path, keep_stat: bool) -> None:
    cache = tmp_path / "cache"
    cached_knowledge_base(kb_copy, cache)
    rule = _a_rule(kb_copy)
    st = rule.stat()
    text = rule.read_text(encoding="utf-8")
    new_title = "Edited title X"
    edited = "\n".join(f"title: {new_title}" if line.startswith("title:") else line
                       for line in text.splitlines()) + "\n"
    if keep_stat:  # same size and mtime: only the content hash can tell
        edited = edited[: st.st_size].ljust(st.st_size, "\n") if len(edited) > st.st_size \
            else edited.ljust(st.st_size, "\n")
    rule.write_text(edited, encoding="utf-8")
    if keep_stat:
        os.utime(rule, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert rule.stat().st_size == st.st_size
    fresh = load_knowledge_base(kb_copy)
    got = cached_knowledge_base(kb_copy, cache)
    rid = next(r for r, path in fresh.files.items() if path == rule).split(":", 1)[1]
    assert got.rules[rid].title == fresh.rules[rid].title == new_title


def test_corrupt_or_unwritable_cache_falls_back(kb_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached_knowledge_base(kb_copy, cache)
    for f in cache.glob("kb-*.pickle"):
        f.write_bytes(b"not a pickle")
    assert cached_knowledge_base(kb_copy, cache).rules == load_knowledge_base(kb_copy).rules
    blocked = tmp_path / "file"
    blocked.write_text("x")  # the cache directory cannot be created under a file
    assert cached_knowledge_base(kb_copy, blocked / "sub").rules
    assert not (blocked / "sub").exists()


def test_cache_lives_in_the_user_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert loader.cache_dir() == tmp_path / "xdg" / "nndoctor"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert loader.cache_dir() == tmp_path / "home" / ".cache" / "nndoctor"
