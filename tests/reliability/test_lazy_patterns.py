"""Patterns compiled on first use (nndoctor/lazy_re.py) and the ASCII paths of sanitize.py give
what the compiled patterns give."""

from __future__ import annotations

import re

from nndoctor import sanitize
from nndoctor.lazy_re import LazyPattern


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
