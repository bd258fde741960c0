"""What an Engine compiles from a knowledge base, once per knowledge base rather than per start.

The strata, durable's ruleset texts, the membership tests and each rule's positive facts are a
pure function of the knowledge base and of the code that compiles them (~7 ms of every start).
The cache entry is named by the content hash of the knowledge base's files (what its own cache
is keyed by: :func:`nndoctor.knowledge.loader.builtin_digest`) and of that code, so a changed
rule or compiler never finds an entry; without a hash (the cache off) it is compiled here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from typing import NamedTuple

from nndoctor import cache
from nndoctor.engine.compiler import (
    compile_strata,
    membership_tests,
    ruleset_fingerprint,
    ruleset_json,
    ruleset_properties,
    split_ruleset,
    stratify,
)
from nndoctor.engine.conditions import fact_tests
from nndoctor.knowledge.kb import FactTest, KnowledgeBase

FORMAT = 4  # 2: the rulesets' fingerprint; 3: the properties each ruleset tests; 4: the findings
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
    fingerprint: str  # compiler.ruleset_fingerprint of the texts: what names their rulesets
    properties: list[list[frozenset[str]]]  # per ruleset of ``texts``: the properties it tests
    findings: frozenset[str]  # the facts of kind "finding" (the rules' intermediate conclusions)


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
    return Compiled(strata, texts, membership_tests(kb.rules), positive,
                    ruleset_fingerprint(texts), properties, frozenset(findings))


def cached_compile(kb: KnowledgeBase, digest: str, size: int) -> Compiled:
    """:func:`compile_kb`, from the per-user cache when ``kb`` (its files' content hash
    ``digest``) was compiled by this code before; compiled and kept otherwise. The entry is
    a stamped file of the code (nndoctor/cache.py): while its stats hold, it is not read."""
    if not digest or not cache.enabled():
        return compile_kb(kb, size)
    salt = f"{FORMAT} {size} {digest}"
    try:  # named by the knowledge base, the size and where the code is (two checkouts)
        where = cache.cache_dir() / "engine" / (
            f"{digest[:32]}-{size}-{cache.short_name(repr(CODE))}.pickle")
        hit = cache.load_stamped(where, CODE, salt)
    except OSError:
        return compile_kb(kb, size)
    if hit is not None:
        with contextlib.suppress(Exception):  # corrupt: compiled again
            compiled = pickle.loads(hit.payload)
            if isinstance(compiled, Compiled):
                return compiled
    try:
        key, code = cache.stat_key(CODE), cache.content_digest(CODE, salt)
    except OSError:
        return compile_kb(kb, size)
    compiled = compile_kb(kb, size)
    cache.store_stamped(where, CODE, salt, code, key,
                        pickle.dumps(compiled, protocol=pickle.HIGHEST_PROTOCOL))
    return compiled
