"""The engine's plain records (knowledge/kb.py) mirror the schema's models, and a start whose
knowledge-base cache matches imports neither pydantic nor the schema."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from nndoctor.knowledge import kb, schema
from nndoctor.knowledge.loader import cached_knowledge_base, load_knowledge_base


def _models() -> list[type[BaseModel]]:
    return [m for m in vars(schema).values() if isinstance(m, type) and
            issubclass(m, schema.Strict) and m is not schema.Strict]


def test_every_model_has_a_record_with_the_same_fields() -> None:
    wrappers = {"Vocabulary"}  # read entry by entry by the loader, never kept whole
    for model in _models():
        if model.__name__ in wrappers:
            continue
        record = getattr(kb, model.__name__)
        assert issubclass(record, kb.Record), model.__name__
        assert list(record.FIELDS) == list(model.model_fields), \
            f"kb.{model.__name__} and schema.{model.__name__} list different fields"


def test_the_loaded_base_holds_records_only() -> None:
    base = load_knowledge_base()

    def walk(value: object) -> None:
        assert not isinstance(value, BaseModel), type(value)
        if isinstance(value, kb.Record):
            for name in value.FIELDS:
                walk(getattr(value, name))
        elif dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(base)
    assert isinstance(base.rules[next(iter(base.rules))].when, kb.AllOf | kb.AnyOf)


def test_records_are_frozen_values() -> None:
    a = kb.Reference(title="A title", url="https://example.org")
    assert a == kb.Reference(title="A title", url="https://example.org") != kb.Reference(
        title="Another", url="https://example.org")
    assert hash(a) == hash(kb.Reference(title="A title", url="https://example.org"))
    assert repr(a) == "Reference(title='A title', url='https://example.org')"
    with pytest.raises(AttributeError, match="frozen"):
        a.title = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing \\['url'\\]"):
        kb.Reference(title="no url")
    assert pickle.loads(pickle.dumps(a)) == a
    assert type(pickle.loads(pickle.dumps(a))) is kb.Reference
    plain = ("A title", "https://example.org")
    assert a != plain and plain != a  # either way round: a tuple compares itself first
    assert a != kb.Choice(value="A title", label="https://example.org")  # same values


def test_a_record_keeps_what_it_works_out_and_pickles_without_it() -> None:
    test = kb.FactTest(fact="lr", eq=None, ne=None, lt=None, le=None, gt=0.01, ge=None, in_=None,
                       present=None, absent=None)
    assert test.operator() == ("gt", 0.01) and test.gt == 0.01 and test.fact == "lr"
    again = pickle.loads(pickle.dumps(test))
    assert again == test and again.operator() == ("gt", 0.01)
    with pytest.raises(AttributeError, match="frozen"):
        del test.fact


def test_a_cache_hit_imports_neither_pydantic_nor_yaml(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NNDOCTOR_NO_CACHE", None)
    code = ("import sys\n"
            "from nndoctor.knowledge.loader import cached_knowledge_base\n"
            "base = cached_knowledge_base()\n"
            "assert base.rules\n"
            "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'pydantic', 'yaml'} or m == 'nndoctor.knowledge.schema')))\n")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "pydantic" in first.stdout  # the first start validates and writes the cache
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == ""


def test_a_cache_hit_equals_a_fresh_load_entry_by_entry(tmp_path: Path) -> None:
    cached_knowledge_base(directory=tmp_path)
    hit, fresh = cached_knowledge_base(directory=tmp_path), load_knowledge_base()
    assert hit == fresh
