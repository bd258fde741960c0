"""The durable_rules matcher: the only module that imports durable.

Guards against every pitfall measured in reference/engine-durable-rules.md: no dispatcher
threads (QuietHost), one process-wide lock, one fact per stratum plus a sink rule (no unmatched
facts), floats made parseable, explicit fact ids, actions that only record, the state checked for
swallowed exceptions, and every session deleted in ``finally`` (the 1024-sid cap is never near).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import threading
from collections.abc import Mapping
from typing import Any

from nndoctor.engine.compiler import SINK_RULE, durable_scalar, ruleset_fingerprint

try:  # durable-rules does not import on Python >= 3.13
    from durable import engine as _durable_engine
except ImportError:  # pragma: no cover - exercised only on 3.13+
    _durable_engine = None

AVAILABLE = _durable_engine is not None
_LOCK = threading.RLock()
_HOST: Any = None
_REGISTERED: set[str] = set()
_FIRED: dict[str, set[str]] = {}  # sid -> rule ids recorded by actions
_SIDS = itertools.count()


class EngineError(RuntimeError):
    """durable_rules failed; the message says where."""


def _record(rule_id: str) -> Any:
    def action(c: Any) -> None:
        _FIRED.setdefault(str(c.s.sid), set()).add(rule_id)

    return action


def _noop(c: Any) -> None:
    return None


def _host() -> Any:
    global _HOST
    if _HOST is None:

        class QuietHost(_durable_engine.Host):  # type: ignore[name-defined,misc]
            def _run(self) -> None:  # no background dispatcher threads
                return None

            def get_action(self, name: str) -> Any:
                return _noop if name == SINK_RULE else _record(name)

        _HOST = QuietHost()
    return _HOST


class DurableMatcher:
    """Matches with durable_rules' Rete network; one ruleset per stratum."""

    name = "durable"

    def __init__(self, definitions: list[dict[str, Any]]) -> None:
        if not AVAILABLE:
            raise EngineError("durable_rules is not importable on this Python")
        version = ruleset_fingerprint(definitions)
        self._names = [f"nndoctor_{version}_s{k}" for k in range(len(definitions))]
        with _LOCK:
            host = _host()
            pending = {
                name: copy.deepcopy(d)  # set_rulesets mutates its argument
                for name, d in zip(self._names, definitions, strict=True)
                if name not in _REGISTERED
            }
            if pending:
                try:
                    host.set_rulesets(pending)
                except Exception as exc:  # durable reports only "error code: N"
                    raise EngineError(f"durable_rules rejected the compiled rules: {exc}") from exc
                _REGISTERED.update(pending)

    def match(self, stratum: int, facts: Mapping[str, object]) -> set[str]:
        if stratum >= len(self._names):
            return set()
        ruleset = self._names[stratum]
        sid = f"s{next(_SIDS)}"
        message = {name: durable_scalar(v) for name, v in facts.items()}
        message.update({"sid": sid, "id": "facts", "kind": "facts"})
        json.dumps(message, allow_nan=False)  # raise here, not inside durable
        host = _host()
        with _LOCK:
            try:
                host.assert_fact(ruleset, message)
                state = host.get_state(ruleset, sid)
                if state.get("exception"):
                    raise EngineError(f"a rule action failed inside durable: {state['exception']}")
            except EngineError:
                raise
            except Exception as exc:
                detail = getattr(exc, "message", None) or str(exc)
                raise EngineError(f"durable_rules failed on {ruleset}: {detail}") from exc
            finally:
                with contextlib.suppress(Exception):  # no state if the assert failed early
                    host.delete_state(ruleset, sid)
                fired = _FIRED.pop(sid, set())
        return fired
