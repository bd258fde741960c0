"""The knowledge-base cache (issue #13 item 4): never stale, never in the way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nndoctor import cache as cache_module
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
    assert again.files == first.files and again.detectors == first.detectors


def test_a_cache_hit_unpickles_a_rule_only_when_read(kb_copy: Path, tmp_path: Path) -> None:
    from nndoctor.knowledge import kb

    fresh = load_knowledge_base(kb_copy)
    cached_knowledge_base(kb_copy, tmp_path / "cache")
    hit = cached_knowledge_base(kb_copy, tmp_path / "cache")
    assert isinstance(hit.rules, kb.Rules) and hit.rules._read == {}  # none unpickled yet
    rid = next(iter(fresh.rules))
    assert rid in hit.rules and "no such rule" not in hit.rules
    assert len(hit.rules) == len(fresh.rules)
    assert hit.rules[rid] == fresh.rules[rid] and list(hit.rules._read) == [rid]
    assert hit.rules[rid] is hit.rules[rid] and hit.rules.get("no such rule") is None
    with pytest.raises(KeyError):
        hit.rules["no such rule"]
    assert list(hit.rules) == list(fresh.rules)  # in the same (sorted) order
    assert hit.rules == fresh.rules and fresh.rules == hit.rules
    assert repr(hit.rules) == repr(fresh.rules) and hit == fresh
    assert all(hit.rules[r].tests == fresh.rules[r].tests for r in fresh.rules)


def test_the_cache_holds_each_text_once(kb_copy: Path, tmp_path: Path) -> None:
    fresh = load_knowledge_base(kb_copy)
    cached_knowledge_base(kb_copy, tmp_path / "cache")
    hit = cached_knowledge_base(kb_copy, tmp_path / "cache")
    assert hit == fresh
    names = [t.fact for rule in hit.rules.values() for t in _tests(rule.when)]
    assert len({id(n) for n in names}) == len(set(names)) < len(names)


def _tests(cond):
    if hasattr(cond, "fact"):
        yield cond
    for child in getattr(cond, "all", None) or getattr(cond, "any", None) or ():
        yield from _tests(child)
    if getattr(cond, "not_", None) is not None:
        yield from _tests(cond.not_)


NEW_TITLE = "Edited title X"


def _edited(text: str, size: int | None = None) -> str:
    """The rule's text with its title replaced; ``size``: cut or padded to that many bytes."""
    edited = "\n".join(f"title: {NEW_TITLE}" if line.startswith("title:") else line
                       for line in text.splitlines()) + "\n"
    return edited if size is None else edited[:size].ljust(size, "\n")


def _new_title(root: Path, rule: Path, got) -> None:
    fresh = load_knowledge_base(root)
    rid = next(r for r, path in fresh.files.items() if path == rule).split(":", 1)[1]
    assert got.rules[rid].title == fresh.rules[rid].title == NEW_TITLE


@pytest.mark.parametrize("keep_stat", [False, True])
def test_an_edited_rule_rebuilds_the_cache(kb_copy: Path, tmp_path: Path, keep_stat: bool) -> None:
    cache = tmp_path / "cache"
    cached_knowledge_base(kb_copy, cache)
    rule = _a_rule(kb_copy)
    st = rule.stat()
    # same size and mtime: only the content hash can tell
    rule.write_text(_edited(rule.read_text(encoding="utf-8"), st.st_size if keep_stat else None),
                    encoding="utf-8")
    if keep_stat:
        os.utime(rule, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert rule.stat().st_size == st.st_size
    _new_title(kb_copy, rule, cached_knowledge_base(kb_copy, cache))


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


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as changed long ago (the stat key is kept), as a second later."""
    now = cache_module.time.time_ns() + 10 * cache_module.RACY_NS
    monkeypatch.setattr(cache_module.time, "time_ns", lambda: now)


def test_settled_files_are_judged_by_their_stats(kb_copy: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cached_knowledge_base(kb_copy, cache)  # just copied: too recent for the stat key
    _settled(monkeypatch)
    first = cached_knowledge_base(kb_copy, cache)  # the content hash, then the key is kept
    monkeypatch.setattr(cache_module, "content_digest", lambda *a: pytest.fail("files read"))
    monkeypatch.setattr(cache_module, "read_file", lambda *a: pytest.fail("files read"))
    assert cached_knowledge_base(kb_copy, cache).rules == first.rules


def test_an_edit_after_the_stat_key_rebuilds(kb_copy: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    rule = _a_rule(kb_copy)
    st = rule.stat()
    _settled(monkeypatch)  # the edit too is judged some time after it was made
    cached_knowledge_base(kb_copy, cache)
    cached_knowledge_base(kb_copy, cache)  # the stat key is in the cache now
    edited = _edited(rule.read_text(encoding="utf-8"), st.st_size)
    while rule.stat().st_ctime_ns == st.st_ctime_ns:  # a later clock tick than the copy's
        rule.write_text(edited, encoding="utf-8")
    os.utime(rule, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    _new_title(kb_copy, rule, cached_knowledge_base(kb_copy, cache))
