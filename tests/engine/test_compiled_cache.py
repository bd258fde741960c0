"""The engine's compiled rules cached per knowledge base (nndoctor/engine/compiled.py): equal to a
fresh compile, and never found again once the knowledge base or the compiling code changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nndoctor import cache
from nndoctor.engine import compiled as cc
from nndoctor.engine.durable_matcher import RULES_PER_RULESET
from nndoctor.knowledge import loader

SIZE = RULES_PER_RULESET


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NNDOCTOR_NO_CACHE", raising=False)
    return tmp_path / "cache" / "nndoctor" / "engine"


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle"))


def test_a_cached_compile_equals_a_fresh_one(cache_home: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    kb, digest = loader.builtin_knowledge_base(), loader.builtin_digest()
    assert digest
    first = cc.cached_compile(kb, digest, SIZE)
    assert len(_entries(cache_home)) == 1
    monkeypatch.setattr(cc, "compile_kb", lambda *a: pytest.fail("compiled again"))
    again = cc.cached_compile(kb, digest, SIZE)
    monkeypatch.undo()
    assert again == first == cc.compile_kb(kb, SIZE)


def test_another_knowledge_base_or_size_is_compiled_again(cache_home: Path) -> None:
    kb = loader.builtin_knowledge_base()
    cc.cached_compile(kb, "a" * 64, SIZE)
    cc.cached_compile(kb, "b" * 64, SIZE)
    cc.cached_compile(kb, "b" * 64, SIZE // 2)
    assert len(_entries(cache_home)) == 3


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = cc.compile_kb
    monkeypatch.setattr(cc, "compile_kb", lambda *a: calls.append(1) or real(*a))
    return calls


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as changed long ago (its stats are stamped), as a second later."""
    now = cache.time.time_ns() + 10 * cache.RACY_NS
    monkeypatch.setattr(cache.time, "time_ns", lambda: now)


@pytest.mark.parametrize("keep_stat", [False, True])
def test_edited_compiler_code_is_compiled_again(cache_home: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                keep_stat: bool) -> None:
    code = tmp_path / "compiler.py"
    shutil.copy(cc.CODE[0], code)
    monkeypatch.setattr(cc, "CODE", (str(code), *cc.CODE[1:]))
    _settled(monkeypatch)
    kb = loader.builtin_knowledge_base()
    calls = _compiles(monkeypatch)
    cc.cached_compile(kb, "c" * 64, SIZE)
    cc.cached_compile(kb, "c" * 64, SIZE)
    assert calls == [1]
    st = code.stat()
    text = code.read_text(encoding="utf-8")
    code.write_text(text[:-12] + "# edited\n" + text[-3:] if keep_stat else text + "# edited\n",
                    encoding="utf-8")
    if keep_stat:  # same size, same mtime: only the content hash can tell
        os.utime(code, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert code.stat().st_size == st.st_size
    cc.cached_compile(kb, "c" * 64, SIZE)
    assert calls == [1, 1]


def test_settled_code_is_judged_by_its_stats(cache_home: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    kb = loader.builtin_knowledge_base()
    _settled(monkeypatch)
    first = cc.cached_compile(kb, "e" * 64, SIZE)
    monkeypatch.setattr(cache, "read_file", lambda *a: pytest.fail("code read"))
    monkeypatch.setattr(cc, "compile_kb", lambda *a: pytest.fail("compiled again"))
    assert cc.cached_compile(kb, "e" * 64, SIZE) == first


def test_a_corrupt_entry_or_no_digest_compiles(cache_home: Path) -> None:
    kb = loader.builtin_knowledge_base()
    fresh = cc.compile_kb(kb, SIZE)
    cc.cached_compile(kb, "d" * 64, SIZE)
    [entry] = _entries(cache_home)
    entry.write_bytes(b"not a pickle")
    assert cc.cached_compile(kb, "d" * 64, SIZE) == fresh
    assert cc.cached_compile(kb, "", SIZE) == fresh  # loaded without its cache: no key
    assert len(_entries(cache_home)) == 1


def test_the_digest_is_that_of_the_knowledge_base_files(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    shutil.copytree(loader.BUILTIN_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    built = loader._cached(root, tmp_path / "kbcache")[1]
    hit = loader._cached(root, tmp_path / "kbcache")[1]
    assert built == hit == loader._digest(loader._inputs(root))
