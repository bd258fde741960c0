"""What an Engine compiles from a knowledge base, once per knowledge base rather than per start.

The strata, durable's ruleset texts, the membership tests and each rule's positive facts are a
pure function of the knowledge base and of the code that compiles them (~7 ms of every start).
The cache entry is named by the content hash of the knowledge base's files (what its own cache
is keyed by: :func:`nndoctor.knowledge.loader.builtin_digest`) and of that code, so a changed
rule or compiler never finds an entry; without a hash (the cache off) it is compiled here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from typing import NamedTuple

from nndoctor import cache
from nndoctor.engine.compiler import (
    compile_strata,
    membership_tests,
    ruleset_json,
    ruleset_properties,
    split_ruleset,
    stratify,
)
from nndoctor.engine.conditions import fact_tests
from nndoctor.knowledge.kb import FactTest, KnowledgeBase

FORMAT = 2
_HERE = os.path.dirname(__file__)
# the code whose output is cached: the compiler, the condition walk, the records, this module
CODE = (os.path.join(_HERE, "compiler.py"), os.path.join(_HERE, "conditions.py"),
        os.path.join(_HERE, "compiled.py"),
        os.path.join(os.path.dirname(_HERE), "knowledge", "kb.py"))


class Compiled(NamedTuple):
    """An Engine's compiled form of a knowledge base."""

    strata: dict[str, int]  # rule id -> stratum
    texts: list[list[str]]  # per stratum, durable's ruleset JSON texts (of at most `size` rules)
    memberships: dict[str, FactTest]  # long in: lists, tested in Python (compiler.py)
    positive_facts: dict[str, frozenset[str]]  # rule id -> the facts it tests un-negated
    properties: list[list[frozenset[str]]]  # per ruleset of ``texts``: the properties it tests


def compile_kb(kb: KnowledgeBase, size: int) -> Compiled:
    """Compile ``kb``: rulesets of at most ``size`` rules (durable_matcher.RULES_PER_RULESET)."""
    findings = {n for n, f in kb.facts.items() if f.kind == "finding"}
    strata = stratify(kb.rules, findings)
    rulesets = [split_ruleset(definition, size)
                for definition in compile_strata(kb.rules, strata)]
    texts = [[ruleset_json(chunk) for chunk in chunks] for chunks in rulesets]
    positive = {rid: frozenset(t.fact for t, negated in fact_tests(rule.when) if not negated)
                for rid, rule in kb.rules.items()}
    properties = [[ruleset_properties(chunk) for chunk in chunks] for chunks in rulesets]
    return Compiled(strata, texts, membership_tests(kb.rules), positive, properties)


def cached_compile(kb: KnowledgeBase, digest: str, size: int) -> Compiled:
    """:func:`compile_kb`, from the per-user cache when ``kb`` (its files' content hash
    ``digest``) was compiled by this code before; compiled and kept otherwise."""
    if not digest or not cache.enabled():
        return compile_kb(kb, size)
    try:
        where = cache.cache_dir() / "engine" / f"{_key(digest, size)}.pickle"
    except OSError:
        return compile_kb(kb, size)
    with contextlib.suppress(Exception):  # missing or corrupt: compiled again
        compiled = pickle.loads(where.read_bytes())
        if isinstance(compiled, Compiled):
            return compiled
    compiled = compile_kb(kb, size)
    with contextlib.suppress(OSError):
        cache.write_atomic(where, pickle.dumps(compiled, protocol=pickle.HIGHEST_PROTOCOL))
    return compiled


def _key(digest: str, size: int) -> str:
    h = hashlib.sha256(f"{FORMAT} {size} {digest}".encode())
    for path in CODE:
        with open(path, "rb") as fh:
            data = fh.read()
        h.update(f"\0{os.path.basename(path)}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()[:32]
