"""Load the YAML knowledge base into validated, frozen models.

A file that is not valid YAML or does not match the schema raises :class:`KnowledgeError` naming
the file and field; nothing here prints or exits.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nndoctor.knowledge.schema import (
    Cause,
    Detectors,
    Fact,
    References,
    Rule,
    Settings,
    Vocabulary,
)
from nndoctor.safe_yaml import YAMLBombError, load_yaml

BUILTIN_ROOT = Path(__file__).parent
M = TypeVar("M", bound=BaseModel)
MAX_YAML_BYTES = 1_000_000


class KnowledgeError(Exception):
    """A knowledge-base file that cannot be used; ``str()`` is one actionable line."""

    def __init__(self, path: Path | str, message: str, field: str | None = None) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class KnowledgeBase:
    """The whole rule base, with the file each entry came from."""

    root: Path
    facts: dict[str, Fact]
    causes: dict[str, Cause]
    rules: dict[str, Rule]
    settings: Settings
    detectors: Detectors
    references: References
    files: dict[str, Path] = field(default_factory=dict)  # "rule:ID" / "cause:ID" / "fact:name"

    def askable_facts(self) -> list[str]:
        return [n for n, f in self.facts.items() if f.askable and f.kind == "observation"]

    def detector_params(self, name: str) -> dict[str, Any]:
        return dict(self.detectors.detectors[name].params)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file with the safe loader (alias bombs refused); errors name the file and
    line."""
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise KnowledgeError(path, f"file is larger than {MAX_YAML_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(path, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KnowledgeError(path, "not UTF-8 text") from None
    try:
        return load_yaml(text)  # the safe loader (libyaml when built), expansion bounded
    except YAMLBombError as exc:
        raise KnowledgeError(path, f"refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KnowledgeError(path, f"{line}invalid YAML: {problem}") from None
    except RecursionError:
        raise KnowledgeError(path, "YAML nested too deeply") from None


def parse_model(model: type[M], data: Any, path: Path) -> M:
    """Validate ``data`` against ``model``; the first error becomes one readable line."""
    if not isinstance(data, dict):
        raise KnowledgeError(path, f"expected a mapping at the top level, found {_kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/schema for the allowed keys)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise KnowledgeError(path, msg + more, field=loc) from None
    except RecursionError:
        raise KnowledgeError(path, "document nested too deeply") from None


def _kind(data: Any) -> str:
    return "nothing (empty file)" if data is None else type(data).__name__


def load_knowledge_base(root: Path | None = None) -> KnowledgeBase:
    """Load and validate every file under ``root`` (the built-in knowledge base by default)."""
    root = Path(root) if root else BUILTIN_ROOT
    files: dict[str, Path] = {}
    facts: dict[str, Fact] = {}
    for path in sorted((root / "facts").glob("*.yaml")):
        vocab = parse_model(Vocabulary, read_yaml(path), path)
        for name, fact in vocab.facts.items():
            if name in facts:
                raise KnowledgeError(path, f"fact {name!r} is already declared in "
                                     f"{files['fact:' + name]}", field=f"facts.{name}")
            facts[name] = fact
            files["fact:" + name] = path
    causes: dict[str, Cause] = {}
    for path in sorted((root / "causes").glob("*.yaml")):
        cause = parse_model(Cause, read_yaml(path), path)
        if cause.id in causes:
            raise KnowledgeError(path, f"duplicate cause id {cause.id!r}", field="id")
        causes[cause.id] = cause
        files["cause:" + cause.id] = path
    rules: dict[str, Rule] = {}
    for path in sorted((root / "rules").rglob("*.yaml")):
        rule = parse_model(Rule, read_yaml(path), path)
        if rule.id in rules:
            raise KnowledgeError(path, f"duplicate rule id {rule.id!r} (also in "
                                 f"{files['rule:' + rule.id]})", field="id")
        rules[rule.id] = rule
        files["rule:" + rule.id] = path
    return KnowledgeBase(
        root=root,
        facts=facts,
        causes=causes,
        rules=dict(sorted(rules.items())),
        settings=parse_model(Settings, read_yaml(root / "settings.yaml"), root / "settings.yaml"),
        detectors=parse_model(Detectors, read_yaml(root / "detectors.yaml"),
                              root / "detectors.yaml"),
        references=parse_model(References, read_yaml(root / "references.yaml"),
                               root / "references.yaml"),
        files=files,
    )


_BUILTIN_LOCK = threading.Lock()


def builtin_knowledge_base() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process (once, even when threads ask at
    the same time)."""
    with _BUILTIN_LOCK:
        return _builtin_knowledge_base()


@functools.cache
def _builtin_knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()
