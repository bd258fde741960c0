"""The durable_rules matcher: the only module that imports durable.

Guards against every pitfall measured in reference/engine-durable-rules.md: no dispatcher
threads (no durable Host at all), one process-wide lock, one fact per stratum plus a sink rule
(no unmatched facts), floats made parseable, explicit fact ids, and one session per matcher and
ruleset, its fact retracted after every match and the session deleted on any failure and when
the matcher goes (the 1024-sid cap is never near; a new session per match cost durable ~1 MB of
zeroed memory each time, ~60 % of an assert). durable's C engine is driven directly: each
ruleset is created from its JSON text (what durable's Host would send it, without the Python
layer and its import of logging), and matching (:func:`_fire`) asserts one JSON text per
stratum, reads each activation for its rule's name and completes it without running a Python
action, so there is no action to fail (or have its exception swallowed) and no per-activation
JSON round trip of the facts.

A ruleset can make durable_rules' compiler spin for ever (a node's table of 512 next tests is full:
``findAlpha`` in rete.c never returns, holding the GIL, so no thread can time it out). Every new
ruleset is therefore first compiled in a child process under a time limit (:func:`trial_compile`);
a stuck or failing compile is retried there rule by rule to name the rule, and raised as a
:class:`RulesetCompileError`. Only a compile that finished in the child is repeated here.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import json
import os
import sys
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nndoctor import cache
from nndoctor.engine.compiler import (
    MAX_IN_ALTERNATIVES,
    SINK_RULE,
    durable_scalar,
    ruleset_fingerprint,
    ruleset_json,
    ruleset_properties,
    split_ruleset,
)
from nndoctor.engine.conditions import test_holds
from nndoctor.knowledge.kb import FactTest

try:  # durable-rules does not import on Python >= 3.13
    import durable_rules_engine as _rete
except ImportError:  # pragma: no cover - exercised only on 3.13+
    _rete = None

AVAILABLE = _rete is not None
_LOCK = _thread.RLock()  # threading.RLock, without importing threading
_HANDLES: dict[str, int] = {}  # ruleset name -> durable's handle, for every ruleset created here
_SIDS = itertools.count()
# json.dumps with these options builds an encoder at every call: one serves every match
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_KEYS = ("sid", "id", "kind")  # the asserted fact's own properties (kind: the sink rule's)


COMPILE_TIMEOUT = 10.0  # seconds for a trial compile (normally 0.1 s); NNDOCTOR_COMPILE_TIMEOUT
SCAN_LIMIT = 120.0  # seconds for the rule-by-rule retry that names the culprit
RULES_PER_RULESET = 100  # a stratum larger than this is matched as several rulesets


class EngineError(RuntimeError):
    """durable_rules failed; the message says where."""


class RulesetCompileError(EngineError):
    """durable_rules could not compile the rules (it hung or refused); ``rule_id`` names the rule
    whose addition made it fail, when the retry found it."""

    def __init__(self, message: str, rule_id: str | None = None) -> None:
        super().__init__(message)
        self.rule_id = rule_id


class DurableMatcher:
    """Matches with durable_rules' Rete network; one ruleset per stratum."""

    name = "durable"

    def __init__(self, definitions: list[dict[str, Any]],
                 memberships: Mapping[str, FactTest] | None = None) -> None:
        parts = [split_ruleset(d, RULES_PER_RULESET) for d in definitions]
        self._create([[ruleset_json(chunk) for chunk in chunks] for chunks in parts],
                     memberships, [[ruleset_properties(chunk) for chunk in chunks]
                                   for chunks in parts])

    @classmethod
    def from_texts(cls, texts: list[list[str]],
                   memberships: Mapping[str, FactTest] | None = None,
                   fingerprint: str | None = None,
                   properties: list[list[frozenset[str]]] | None = None) -> DurableMatcher:
        """The matcher of rulesets already compiled to durable's JSON texts (per stratum, of at
        most RULES_PER_RULESET rules each: nndoctor/engine/compiled.py), whose
        :func:`ruleset_fingerprint` is ``fingerprint`` when known, each testing the
        ``properties`` of the fact (:func:`ruleset_properties`; read off the texts if None)."""
        matcher = cls.__new__(cls)
        if properties is None:
            properties = [[ruleset_properties(json.loads(text)) for text in chunks]
                          for chunks in texts]
        matcher._create(texts, memberships, properties, fingerprint)
        return matcher

    def _create(self, texts: list[list[str]], memberships: Mapping[str, FactTest] | None,
                properties: list[list[frozenset[str]]], fingerprint: str | None = None) -> None:
        if not AVAILABLE:
            raise EngineError("durable_rules is not importable on this Python")
        self._memberships = dict(memberships or {})  # long in: lists, tested here (compiler.py)
        # each ruleset is sent only the properties it tests (and the fact's own keys): durable
        # parses and walks every property it is sent, ~1 µs each
        self._properties = [[frozenset({*tested, *_KEYS}) for tested in chunks]
                            for chunks in properties]
        digest = fingerprint or ruleset_fingerprint(texts)
        self._names = [[f"nndoctor_{digest[:12]}_s{k}_{j}" for j in range(len(chunks))]
                       for k, chunks in enumerate(texts)]
        with _LOCK:
            pending = {
                name: text
                for names, chunks in zip(self._names, texts, strict=True)
                for name, text in zip(names, chunks, strict=True)
                if name not in _HANDLES
            }
            if pending:
                marker = _compiled_marker(digest, pending)
                seen = marker is not None and _marked(*marker)
                if not seen:
                    trial_compile(pending)  # in a child under a time limit: a hang is for ever
                for name, text in pending.items():
                    try:
                        _HANDLES[name] = _rete.create_ruleset(name, text)
                    except Exception as exc:  # durable reports only "error code: N"
                        raise EngineError(
                            f"durable_rules rejected the compiled rules: {exc}") from exc
                if marker is not None and not seen:
                    _remember(*marker)
            self._handles = [[_HANDLES[name] for name in names] for names in self._names]
        # one session per ruleset for every match of this matcher, emptied after each
        self._sid = f"m{next(_SIDS)}"
        self._retract = _ENCODER.encode({"sid": self._sid, "id": "facts"})
        weakref.finalize(self, _forget, self._handles, self._sid)

    def match(self, stratum: int, facts: Mapping[str, object]) -> set[str]:
        if stratum >= len(self._names):
            return set()
        message = {name: v if type(v) is bool or type(v) is str else durable_scalar(v)
                   for name, v in facts.items()}  # (most facts are yes/no: as they are)
        for key, test in self._memberships.items():
            if test.fact in facts:
                message[key] = test_holds(test, facts[test.fact])
        message.update(sid=self._sid, id="facts", kind="facts")
        texts = [_ENCODER.encode({k: v for k, v in message.items() if k in tested})
                 for tested in self._properties[stratum]]  # a NaN raises here, not in C
        fired: set[str] = set()
        with _LOCK:
            for name, handle, text in zip(self._names[stratum], self._handles[stratum], texts,
                                          strict=True):
                fired |= _fire(name, handle, self._sid, text, self._retract)
        return fired


def _forget(handles: list[list[int]], sid: str) -> None:
    """Delete the session ``sid`` of every ruleset (a matcher no longer used)."""
    with _LOCK:
        for handle in itertools.chain.from_iterable(handles):
            with contextlib.suppress(Exception):  # never matched there, or durable is gone
                _rete.delete_state(handle, sid)


def _fire(ruleset: str, handle: int, sid: str, text: str, retract: str) -> set[str]:
    """The rules of one ruleset that the fact ``text`` (of session ``sid``) activates: assert it,
    take each activation's rule name and complete it, retract the fact (``retract``: its sid
    and id). The session stays for the next match, empty: a new one costs durable a megabyte
    of zeroed memory, most of an assert's time. On any failure it is deleted (the next match
    starts a new one). Caller holds _LOCK."""
    kept = False
    try:
        try:
            code, state = _rete.assert_fact(handle, text)
        except Exception as exc:
            raise EngineError(f"durable_rules failed on {ruleset}: {exc}") from exc
        fired: set[str] = set()
        if code in (1, 2):  # not handled / already observed: cannot happen with the sink rule
            raise EngineError(f"durable_rules did not take the facts on {ruleset} (code {code})")
        state = 0 if code == 3 else state  # as durable's own Ruleset._handle_result
        try:
            started = _rete.start_action_for_state(handle, state)
            activation = started[1] if started else None
            while activation:
                fired.add(_rule_name(activation))
                activation = _rete.complete_and_start_action(handle, state)
            _rete.retract_fact(handle, retract)
        except Exception as exc:
            with contextlib.suppress(Exception):  # an action left pending makes delete_state crash
                _rete.abandon_action(handle, state)
            raise EngineError(f"durable_rules failed on {ruleset}: {exc}") from exc
        kept = True
    finally:
        if not kept:
            with contextlib.suppress(Exception):  # no state if the assert failed early
                _rete.delete_state(handle, sid)
    fired.discard(SINK_RULE)
    return fired


def _rule_name(activation: str) -> str:
    """The rule of an activation, ``{"<rule id>":{"m":{...}}}``: read off the front when the id
    holds no JSON escape, else parsed."""
    end = activation.find('"', 2)
    if activation.startswith('{"') and activation.startswith('":', end) \
            and "\\" not in activation[2:end]:
        return activation[2:end]
    return next(iter(json.loads(activation)))


# The child: import durable's C engine (from where this process found it), read the job from
# stdin. "all" creates {name: ruleset JSON text} as the parent will; "prefixes" creates growing
# prefixes of one ruleset's rules, one output line per prefix, so the parent sees where it stops.
_CHILD = r"""
import json, sys
sys.path[:0] = json.loads(sys.argv[2])
import durable_rules_engine as rete
print("ready", flush=True)
job = json.loads(sys.stdin.read())
if sys.argv[1] == "all":
    try:
        for name, text in job.items():
            rete.create_ruleset(name, text)
    except Exception as exc:
        print(json.dumps(["error", str(exc)]), flush=True)
    else:
        print(json.dumps(["ok"]), flush=True)
else:  # "prefixes": {"rules": {...}, "sizes": [k, ...]}: compile the first k rules, each k
    items = list(job["rules"].items())
    for step, size in enumerate(job["sizes"]):
        try:
            rete.create_ruleset("prefix%d" % step, json.dumps(dict(items[:size]),
                                                             ensure_ascii=False))
        except Exception as exc:
            print(json.dumps(["error", size, str(exc)]), flush=True)
            sys.exit(0)
        print(json.dumps(["ok", size]), flush=True)
    print(json.dumps(["done"]), flush=True)
"""


def _compiled_marker(digest: str, rulesets: Mapping[str, str]) -> tuple[Path, bytes] | None:
    """The cache file that says these exact rulesets compiled here before (so the child that
    guards the compile can be skipped: durable compiles the same JSON the same way), and what
    it holds: the rulesets (``digest``, their fingerprint, and the names of those still to
    create), the Python and durable's C engine; None when the cache is off
    (``NNDOCTOR_NO_CACHE``)."""
    if not cache.enabled():
        return None
    text = f"{digest}\n{json.dumps(sorted(rulesets))}\n{sys.version}\n{_rete.__file__}"
    with contextlib.suppress(OSError):
        st = os.stat(_rete.__file__)
        text += f":{st.st_size}:{st.st_mtime_ns}"
    where = cache.cache_dir() / "compiled" / f"{digest[:32]}-{cache.short_name(text)}.ok"
    return where, text.encode(errors="surrogateescape")


def _marked(marker: Path, text: bytes) -> bool:
    try:
        return marker.read_bytes() == text
    except OSError:
        return False


def _remember(marker: Path, text: bytes) -> None:
    with contextlib.suppress(OSError):  # an unwritable cache only costs the child next time
        cache.write_atomic(marker, text)


def compile_timeout() -> float:
    try:
        value = float(os.environ.get("NNDOCTOR_COMPILE_TIMEOUT", COMPILE_TIMEOUT))
    except ValueError:
        return COMPILE_TIMEOUT
    return value if 0 < value < 3600 else COMPILE_TIMEOUT


def _durable_path() -> list[str]:
    return [str(Path(_rete.__file__).resolve().parent)]


class _Child:
    """A compile child whose stdout is read line by line, each line within a deadline
    (subprocess and select are imported here: a start whose rules compiled before needs no
    child)."""

    def __init__(self, mode: str, rulesets: Mapping[str, Any]) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _CHILD, mode, json.dumps(_durable_path())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buffer = b""
        self.eof = False
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write(json.dumps(rulesets).encode())
            self.proc.stdin.close()

    def line(self, timeout: float) -> Any:
        """The next line as JSON ("ready" as a string); None on timeout or end of output."""
        import select

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.eof = True
                    return None
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\n", 1)
            text = raw.decode(errors="replace")
            if text == "ready":
                return text
            with contextlib.suppress(ValueError):  # anything else durable might print: skipped
                return json.loads(text)

    def exit_code(self) -> int | None:
        """The child's exit code once its output ended (it crashed), None while it runs."""
        import subprocess

        if not self.eof:
            return None
        try:
            return self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def trial_compile(rulesets: Mapping[str, str], timeout: float | None = None) -> None:
    """Compile ``rulesets`` ({name: ruleset JSON text}) in a child process; raise
    :class:`RulesetCompileError` if durable hangs (beyond ``timeout`` seconds) or refuses them.
    If no child can run durable at all, this does nothing: the compile then happens unguarded,
    as before."""
    timeout = timeout or compile_timeout()
    try:
        child = _Child("all", rulesets)
    except OSError:
        return
    try:
        if child.line(timeout) != "ready":  # the child cannot import durable: no guard
            return
        result = child.line(timeout)
        crashed = child.exit_code() if result is None else None
    finally:
        child.close()
    if result == ["ok"]:
        return
    if result is not None:
        detail = f"refused them ({result[-1]})"
    elif crashed is not None:
        detail = f"crashed (exit {crashed})"
    else:
        detail = f"did not finish within {timeout:g} s"
    rule_id, why = _culprit(rulesets, timeout)
    if rule_id is None:
        raise RulesetCompileError(f"durable_rules {detail} compiling the rules")
    if why is None:
        raise RulesetCompileError(
            f"rule {rule_id}: durable_rules never finishes compiling its ruleset once this rule "
            "is added: after one test it can index at most 512 different next tests, and each "
            f"alternative of an any: (or of an in: list of up to {MAX_IN_ALTERNATIVES} values) "
            "takes one; split the rule or test fewer alternatives", rule_id)
    raise RulesetCompileError(f"rule {rule_id}: durable_rules refused it ({why})", rule_id)


def _culprit(rulesets: Mapping[str, str], timeout: float) -> tuple[str | None, str | None]:
    """(rule whose addition breaks the compile, durable's error or None for a hang), found by
    compiling growing prefixes of each ruleset: first in steps of 1/16 of its rules, then rule
    by rule inside the step that failed; (None, None) if that does not show it."""
    deadline = time.monotonic() + SCAN_LIMIT
    for text in rulesets.values():
        rules = json.loads(text)
        ids = list(rules)
        step = max(1, -(-len(ids) // 16))
        coarse = [*range(step, len(ids), step), len(ids)]
        failed = _first_failing(rules, coarse, timeout, deadline)
        if failed is None:
            continue
        size = failed[0]
        if size is None:
            return None, None
        if step == 1:  # the coarse pass went rule by rule already
            return ids[size - 1], failed[1]
        fine = list(range(max(size - step + 1, 1), size + 1))
        found = _first_failing(rules, fine, timeout, deadline)
        if found is None or found[0] is None:
            return None, None
        return ids[found[0] - 1], found[1]
    return None, None


def _first_failing(rules: Mapping[str, Any], sizes: list[int], timeout: float,
                   deadline: float) -> tuple[int | None, str | None] | None:
    """The first prefix size that hangs (why None) or fails (why: durable's error) in one child;
    None if every size compiles; (None, None) if the child cannot tell."""
    try:
        child = _Child("prefixes", {"rules": rules, "sizes": sizes})
    except OSError:
        return None, None
    try:
        if child.line(timeout) != "ready":
            return None, None
        slowest = 0.0
        for size in sizes:  # a step takes ~0.01-0.05 s; 20x the slowest one so far is a hang
            start = time.monotonic()
            if start > deadline:
                return None, None
            limit = timeout if not slowest else min(timeout, max(0.5, 20 * slowest))
            result = child.line(limit)
            slowest = max(slowest, time.monotonic() - start)
            if result is None:
                code = child.exit_code()
                return size, None if code is None else f"crash, exit {code}"
            if result[0] == "error":
                return size, str(result[2])
        return None
    finally:
        child.close()
