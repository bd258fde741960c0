"""Load the YAML knowledge base: validated by the schema, kept as the plain records of
:mod:`nndoctor.knowledge.kb`, and cached (validated) per user, keyed by the files' hashes.

A file that is not valid YAML or does not match the schema raises :class:`KnowledgeError` naming
the file and field; nothing here prints or exits. pydantic and PyYAML are imported only to
validate: a start whose cache matches the files imports neither.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nndoctor import __version__, cache
from nndoctor.cache import cache_dir
from nndoctor.knowledge import kb
from nndoctor.knowledge.kb import KnowledgeBase

if TYPE_CHECKING:
    from pydantic import BaseModel

    M = TypeVar("M", bound=BaseModel)

BUILTIN_ROOT = Path(__file__).parent
MAX_YAML_BYTES = 1_000_000


class KnowledgeError(Exception):
    """A knowledge-base file that cannot be used; ``str()`` is one actionable line."""

    def __init__(self, path: Path | str, message: str, field: str | None = None) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + message)


def read_yaml(path: Path) -> Any:
    """Parse one YAML file with the safe loader (alias bombs refused); errors name the file and
    line."""
    import yaml

    from nndoctor.safe_yaml import YAMLBombError, load_yaml

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
    from pydantic import ValidationError

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
    from nndoctor.knowledge.schema import Cause, Detectors, References, Rule, Settings, Vocabulary

    root = Path(root) if root else BUILTIN_ROOT
    files: dict[str, Path] = {}
    facts: dict[str, kb.Fact] = {}
    for path in _yaml_files(root, "facts"):
        vocab = parse_model(Vocabulary, read_yaml(path), path)
        for name, fact in vocab.facts.items():
            if name in facts:
                raise KnowledgeError(path, f"fact {name!r} is already declared in "
                                     f"{files['fact:' + name]}", field=f"facts.{name}")
            facts[name] = fact.to_kb()
            files["fact:" + name] = path
    causes: dict[str, kb.Cause] = {}
    for path in _yaml_files(root, "causes"):
        cause = parse_model(Cause, read_yaml(path), path)
        if cause.id in causes:
            raise KnowledgeError(path, f"duplicate cause id {cause.id!r}", field="id")
        causes[cause.id] = cause.to_kb()
        files["cause:" + cause.id] = path
    rules: dict[str, kb.Rule] = {}
    for path in _yaml_files(root, "rules", recursive=True):
        rule = parse_model(Rule, read_yaml(path), path)
        if rule.id in rules:
            raise KnowledgeError(path, f"duplicate rule id {rule.id!r} (also in "
                                 f"{files['rule:' + rule.id]})", field="id")
        rules[rule.id] = rule.to_kb()
        files["rule:" + rule.id] = path
    return KnowledgeBase(
        root=root,
        facts=facts,
        causes=causes,
        rules=dict(sorted(rules.items())),
        settings=parse_model(Settings, read_yaml(root / "settings.yaml"),
                             root / "settings.yaml").to_kb(),
        detectors=parse_model(Detectors, read_yaml(root / "detectors.yaml"),
                              root / "detectors.yaml").to_kb(),
        references=parse_model(References, read_yaml(root / "references.yaml"),
                               root / "references.yaml").to_kb(),
        files=kb.Files(files),
    )


def _yaml_files(root: Path, folder: str, recursive: bool = False) -> list[Path]:
    return [Path(p) for p in _yaml_names(os.path.join(root, folder), recursive)]


def _yaml_names(folder: str, recursive: bool) -> list[str]:
    """The ``*.yaml`` files in ``folder`` (and in every folder below it, symlinked folders
    excepted, when ``recursive``), sorted part by part as ``sorted(Path.glob(…))`` sorts them;
    text, not Paths: the cache check lists them on every start."""
    found: list[str] = []
    stack = [folder]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".yaml") and entry.is_file():
                    found.append(entry.path)
                elif recursive and entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return sorted(found, key=lambda p: p.split(os.sep))


_BUILTIN_LOCK = _thread.allocate_lock()  # threading.Lock, without importing threading


def builtin_knowledge_base() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process (once, even when threads ask at
    the same time)."""
    with _BUILTIN_LOCK:
        return _builtin()[0]


def builtin_digest() -> str:
    """The content hash of the files :func:`builtin_knowledge_base` was loaded from, as its
    cache keeps it ("" when it was loaded without the cache): a key for what is derived from
    it (nndoctor/engine/compiled.py)."""
    with _BUILTIN_LOCK:
        return _builtin()[1]


@functools.cache
def _builtin() -> tuple[KnowledgeBase, str]:
    return _cached(BUILTIN_ROOT, None)


# ------------------------------------------------------------------ the validated cache
SINGLE_FILES = ("settings.yaml", "detectors.yaml", "references.yaml")
CACHE_FORMAT = 7  # 2: kb.py records, not pydantic models; 3: kb.Files; 4: the digest as a header;
# 5: the stat key as a second header line; 6: a stamped file (nndoctor/cache.py); 7: each rule
# pickled apart (kb.Rules)


def _kb_files(root: Path) -> list[str]:
    """Every file :func:`load_knowledge_base` reads, in the order it reads them."""
    return [*_yaml_names(os.path.join(root, "facts"), False),
            *_yaml_names(os.path.join(root, "causes"), False),
            *_yaml_names(os.path.join(root, "rules"), True),
            *(os.path.join(root, name) for name in SINGLE_FILES)]


def _inputs(root: Path) -> list[str]:
    """The KB files and the code that validates and keeps them (schema, records, this loader):
    a change to either invalidates the cache."""
    here = os.path.dirname(__file__)
    return [*_kb_files(root), *(os.path.join(here, name)
                                for name in ("schema.py", "kb.py", "loader.py"))]


_SALT = f"{CACHE_FORMAT} {__version__}"


def _digest(files: list[str]) -> str:
    """The content hash of ``files`` (:func:`_inputs`)."""
    return cache.content_digest(files, _SALT)


def cached_knowledge_base(root: Path | None = None, directory: Path | None = None
                          ) -> KnowledgeBase:
    """:func:`load_knowledge_base`, from a cache of the validated records when it was made from
    these exact files: a stamped file (nndoctor/cache.py) of the files and of the code that
    validates them, so a changed file always rebuilds it, whatever its size and mtime, and
    while their stats match, the files are not read at all. A missing, corrupt or unwritable
    cache falls back to a normal load; ``NNDOCTOR_NO_CACHE=1`` turns it off."""
    return _cached(Path(root) if root else BUILTIN_ROOT, directory)[0]


def _cached(root: Path, directory: Path | None) -> tuple[KnowledgeBase, str]:
    """:func:`cached_knowledge_base` and the content hash of the files it was made from ("" when
    the cache was not used)."""
    if not cache.enabled():
        return load_knowledge_base(root), ""
    try:
        files = _inputs(root)
        where = (directory or cache_dir()) / f"kb-{cache.short_name(str(root.resolve()))}.pickle"
        hit = cache.load_stamped(where, files, _SALT)
    except OSError:
        return load_knowledge_base(root), ""
    if hit is not None:
        with contextlib.suppress(Exception):  # corrupt: loaded again
            kb = pickle.loads(hit.payload)
            if isinstance(kb, KnowledgeBase):
                return kb, hit.digest
    try:
        key, digest = cache.stat_key(files), _digest(files)
    except OSError:
        return load_knowledge_base(root), ""
    kb = load_knowledge_base(root)
    with contextlib.suppress(Exception):
        data = pickle.dumps(_rules_apart(_one_of_each(kb, {})), protocol=pickle.HIGHEST_PROTOCOL)
        if cache.store_stamped(where, files, _SALT, digest, key, data):
            return kb, digest
    return kb, ""


def _rules_apart(base: KnowledgeBase) -> KnowledgeBase:
    """``base`` with its rules in a :class:`kb.Rules`, each unpickled only when read."""
    return base._replace(rules=kb.Rules.of(base.rules))


def _one_of_each(value: Any, seen: dict[str, str]) -> Any:
    """``value`` (records, containers) with every string equal to an earlier one replaced by
    that one: the pickle then writes each of the ~5,400 texts once and unpickling makes ~7,400
    fewer strings (~0.7 ms of every start). Equal to ``value``."""
    if isinstance(value, str):
        return seen.setdefault(value, value)
    if isinstance(value, kb.Record):
        return type(value)(**{name: _one_of_each(getattr(value, name), seen)
                              for name in value.FIELDS})
    if isinstance(value, kb.Files):
        return kb.Files({_one_of_each(k, seen): path for k, path in value.items()})
    if isinstance(value, list):
        return [_one_of_each(v, seen) for v in value]
    if isinstance(value, tuple):
        items = [_one_of_each(v, seen) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {_one_of_each(k, seen): _one_of_each(v, seen) for k, v in value.items()}
    return value
