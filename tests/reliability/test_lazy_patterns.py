"""Patterns compiled on first use and once per user (nndoctor/lazy_re.py), and the ASCII paths of
sanitize.py, give what the compiled patterns give."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nndoctor import lazy_re, sanitize
from nndoctor.lazy_re import LazyPattern

ROOT = Path(__file__).resolve().parents[2]


def test_a_lazy_pattern_compiles_on_first_use_and_acts_as_the_pattern() -> None:
    lazy = LazyPattern(r"(\w+)=(\d+)", re.IGNORECASE)
    assert "_compiled" not in vars(lazy)
    compiled = re.compile(r"(\w+)=(\d+)", re.IGNORECASE)
    text = "a=1, B=22 c=x"
    assert lazy.findall(text) == compiled.findall(text)
    assert lazy.sub(r"\2", text) == compiled.sub(r"\2", text)
    assert lazy.match(text).groups() == compiled.match(text).groups()
    assert lazy.fullmatch("x=3") is not None and lazy.search("--") is None
    assert lazy.pattern == compiled.pattern and lazy.flags == compiled.flags
    assert lazy.compiled is vars(lazy)["_compiled"]


def test_ascii_text_is_cleaned_and_escaped_as_the_patterns_do() -> None:
    unsafe = re.compile(sanitize.UNSAFE.pattern)
    json_unsafe = re.compile(sanitize.JSON_UNSAFE.pattern)
    every = "".join(map(chr, range(128)))
    for text in (every, "plain run name", "", "tab\there", "del\x7fend", every[32:]):
        assert sanitize.clean(text) == unsafe.sub(sanitize._escape, text)
        assert sanitize.escape_json(text) == json_unsafe.sub(
            lambda m: f"\\u{ord(m.group()):04x}", text)
    for text in ("caf\u00e9 \u202e\x85", "\ud800x\u2028"):  # past ASCII: the patterns' path
        assert sanitize.clean(text) == unsafe.sub(sanitize._escape, text)
        assert sanitize.escape_json(text) == json_unsafe.sub(
            lambda m: f"\\u{ord(m.group()):04x}", text)


PATTERNS = [(r"(\w+)=(\d+)", re.IGNORECASE), (r"(?P<layer>.+?)[./](?:grad_norm|weight)", 0),
            (r"^\s*Epoch\s+(\d+)\s*/\s*(\d+)\s*$", re.MULTILINE), (r"(?<=\r)(?!\n)", 0),
            ("[\x7f-\x9f\u2028\u2029\ud800-\udfff]", 0), (r"(?x) a  b # spaced", 0)]


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty pattern cache, read again from disk by the next regex()."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("NNDOCTOR_NO_CACHE", raising=False)
    monkeypatch.setattr(lazy_re, "_table", None)
    monkeypatch.setattr(lazy_re, "_added", False)
    monkeypatch.setattr("atexit.register", lambda fn: None)  # saved by the test, not at exit
    return tmp_path / "nndoctor" / "patterns"


def test_a_cached_pattern_is_the_pattern_re_compiles(fresh_cache: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = [lazy_re.regex(p, f) for p, f in PATTERNS]  # compiled by re, kept
    lazy_re._save()
    assert len(list(fresh_cache.glob("*.marshal"))) == 1
    monkeypatch.setattr(lazy_re, "_table", None)  # another process: read from the file
    compiled = []
    real = re.compile
    monkeypatch.setattr(lazy_re.re, "compile", lambda *a: compiled.append(a) or real(*a))
    again = [lazy_re.regex(p, f) for p, f in PATTERNS]
    assert compiled == []  # every one rebuilt from the cache
    for (p, f), a, b in zip(PATTERNS, first, again, strict=True):
        assert a == b == re.compile(p, f), p  # equal: same flags and SRE code
        assert b.groupindex == re.compile(p, f).groupindex and b.groups == re.compile(p, f).groups
    assert again[0].findall("a=1, B=22") == [("a", "1"), ("B", "22")]
    assert again[1].fullmatch("fc1.grad_norm").group("layer") == "fc1"


def test_a_damaged_or_foreign_cache_is_compiled_again(fresh_cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import marshal

    lazy_re.regex(*PATTERNS[0])
    lazy_re._save()
    [file] = fresh_cache.glob("*.marshal")
    build, table = marshal.loads(file.read_bytes())
    wrong = {key: (entry[0], entry[1], [999999], *entry[3:]) for key, entry in table.items()}
    for content in (b"not marshal", marshal.dumps(("another build", table)),
                    marshal.dumps((build, wrong))):
        file.write_bytes(content)
        monkeypatch.setattr(lazy_re, "_table", None)
        assert lazy_re.regex(*PATTERNS[0]) == re.compile(*PATTERNS[0])


def test_without_the_cache_patterns_are_compiled(fresh_cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNDOCTOR_NO_CACHE", "1")
    assert lazy_re.regex(*PATTERNS[1]) == re.compile(*PATTERNS[1])
    lazy_re._save()
    assert not fresh_cache.exists()


def test_a_warm_start_compiles_none_of_nndoctors_patterns(tmp_path: Path) -> None:
    code = ("import json, os, sys, re._compiler as c\n"
            "calls = []\n"
            "real = c.compile\n"
            "def counted(p, flags=0):\n"
            "    frame = sys._getframe(1)\n"
            "    while any(s in frame.f_code.co_filename for s in ('/re/', 'lazy_re')):\n"
            "        frame = frame.f_back\n"
            "    calls.append(frame.f_code.co_filename)\n"
            "    return real(p, flags)\n"
            "c.compile = counted\n"
            "from nndoctor.cli import main\n"
            "sys.stdout = open(os.devnull, 'w')\n"
            f"main(['diagnose', {str(ROOT / 'examples' / 'healthy')!r}, '--format', 'json'])\n"
            "sys.stdout = sys.__stdout__\n"
            "print(json.dumps([f for f in calls if 'nndoctor' in f]))\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NNDOCTOR_NO_CACHE", None)
    first, again = [json.loads(subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=120, check=True).stdout) for _ in range(2)]
    assert len(first) > 10 and again == [], again
