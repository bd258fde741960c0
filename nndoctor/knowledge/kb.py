"""The knowledge base as the engine reads it: plain frozen records, no validation, no pydantic.

:mod:`nndoctor.knowledge.schema` validates the YAML files and turns each validated model into the
record of the same name here (:func:`nndoctor.knowledge.schema.to_kb`), so a diagnosis that loads
the cached knowledge base never imports pydantic. The fields are those of the schema's models,
in the same order (tests/knowledge/test_kb_types.py checks it); defaults and constraints live
only in the schema.

The records are :class:`Record` subclasses rather than frozen dataclasses: making 21 frozen
dataclasses took ~12 ms of every start (code generated and compiled per class), a third of
what nndoctor's own modules cost to import; a record class costs nothing to make and unpickles
without calling Python code, as a tuple.
"""

from __future__ import annotations

import inspect
import io
import pickle
from collections.abc import Iterator, Mapping
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, TypeAlias, TypeVar

Scalar: TypeAlias = bool | int | float | str
# what answering a question takes, cheapest first (settings.question_effort prices each)
Effort: TypeAlias = Literal["look", "inspect", "curves", "experiment", "measure"]
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "present", "absent")


class Record(tuple):
    """A frozen record whose fields are its class's annotations, all given by keyword; equal to
    a record of the same class with equal fields, hashed by them, shown like a dataclass.

    Its values are held as a tuple (read through one property per field), so unpickling one
    builds a tuple in C (``__reduce__``: ``tuple.__new__``), not a dict of its fields: the
    knowledge base's ~4,700 records unpickle in half the instructions. A record is not meant
    as a sequence: compare, hash and read it by its fields."""

    FIELDS: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.FIELDS = tuple(inspect.get_annotations(cls))
        for index, name in enumerate(cls.FIELDS):
            setattr(cls, name, property(itemgetter(index)))

    def __new__(cls, **values: Any) -> Record:
        if values.keys() != set(cls.FIELDS):
            missing = sorted(set(cls.FIELDS) - values.keys())
            unknown = sorted(values.keys() - set(cls.FIELDS))
            raise TypeError(f"{cls.__name__}: missing {missing}, unknown {unknown}")
        return tuple.__new__(cls, [values[name] for name in cls.FIELDS])

    def __reduce__(self) -> tuple[Any, ...]:
        return tuple.__new__, (type(self), tuple(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def _values(self) -> tuple[Any, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:  # never equal to a plain tuple
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return tuple.__hash__(self)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}"
                          for name, value in zip(self.FIELDS, self, strict=True))
        return f"{type(self).__name__}({shown})"


# --------------------------------------------------------------------------- facts


class Choice(Record):
    value: str
    label: str


class Fact(Record):
    """One entry of the fact vocabulary: what a rule may test and how a person is asked for it."""

    type: Literal["bool", "enum", "number"]
    kind: Literal["observation", "finding"]
    label: str | None
    question: str | None
    help: str | None
    choices: list[Choice] | None
    unit: str | None
    minimum: float | None
    maximum: float | None
    probe_values: list[float] | None
    derived_from_logs: bool
    askable: bool
    opens_interview: bool
    asked_first: str | None
    known_from: list[str]
    effort: Effort
    sources: list[str]

    def answers(self) -> list[Scalar]:
        """The answers a person may give (besides "don't know")."""
        if self.type == "bool":
            return [True, False]
        if self.type == "enum":
            return [c.value for c in self.choices or []]
        return list(self.probe_values or [])


# --------------------------------------------------------------------------- conditions


class FactTest(Record):
    """A test of one fact: exactly one operator is set, e.g. ``{fact: lr, gt: 0.01}``."""

    fact: str
    eq: Scalar | None
    ne: Scalar | None
    lt: float | None
    le: float | None
    gt: float | None
    ge: float | None
    in_: list[Scalar] | None
    present: Literal[True] | None
    absent: Literal[True] | None

    def operators(self) -> list[str]:
        return operators_set(self)

    def operator(self) -> tuple[str, Any]:
        """The one operator and its reference value, worked out once per test."""
        return self._operator

    @cached_property
    def _operator(self) -> tuple[str, Any]:  # kept in __dict__, outside the fields
        for op in OPERATORS:
            value = getattr(self, "in_" if op == "in" else op)
            if value is not None:
                return op, value
        raise ValueError(f"the test of {self.fact!r} has no operator")


def operators_set(test: Any) -> list[str]:
    """The operators a fact test sets (the schema checks there is exactly one)."""
    return [op for op in OPERATORS if getattr(test, "in_" if op == "in" else op) is not None]


class AllOf(Record):
    all: list[Condition]


class AnyOf(Record):
    any: list[Condition]


class NotOf(Record):
    not_: Condition


Condition: TypeAlias = FactTest | AllOf | AnyOf | NotOf


# --------------------------------------------------------------------------- causes


class Fix(Record):
    """One thing to try, with an optional version of its text that uses the run's own numbers
    and conditions that leave it out or put it first (docs/reasoning.md, point 8)."""

    id: str
    action: str
    verify: str | None
    effort: Literal["low", "medium", "high"]
    needs: list[str]
    action_with_values: str | None
    verify_with_values: str | None
    applies_when: Condition | None
    not_when: Condition | None
    first_when: Condition | None
    sources: list[str]


class Manifestation(Record):
    """Something a cause is expected to show; observed absent, it counts against the cause."""

    name: str
    when: AllOf | AnyOf
    frequency: float
    decided_by: list[str]
    because: str
    sources: list[str]


class Cause(Record):
    id: str
    title: str
    category: str
    explanation: str
    fixes: list[Fix]
    expects: list[Manifestation]
    judged_at_end: bool
    common_mistake: list[str]
    sources: list[str]


# --------------------------------------------------------------------------- rules


class Conclusion(Record):
    """A rule's conclusion: a cause or an intermediate finding, with a certainty factor."""

    cause: str | None
    finding: str | None
    cf: float

    @property
    def target(self) -> str:
        return self.cause or self.finding or ""


class Expectation(Record):
    """What a test case expects of one conclusion's certainty (after this rule alone)."""

    min: float | None
    max: float | None


class RuleCase(Record):
    name: str
    facts: dict[str, Scalar]
    expect: Literal["fires", "silent"]
    certainty: dict[str, Expectation] | None


class Rule(Record):
    id: str
    name: str
    title: str
    category: str
    when: AllOf | AnyOf
    then: list[Conclusion]
    because: str
    sources: list[str]
    tests: list[RuleCase]


R = TypeVar("R")


class Records(Mapping[str, R]):
    """Records by name (rules, causes, facts) as a cached knowledge base keeps them: each
    pickled on its own and unpickled when first read. What they share - the strings two of
    them hold (a fact's name, a source) and the classes and functions they are made with - is
    kept once, in a table unpickled with the rest of the knowledge base, so reading a record
    looks nothing up. A small diagnosis reads the 8 rules that fired of ~330 (their conditions
    and test cases), 6 causes of 47 and the facts it derived. Equal to the dict of the same
    records, and shown as it."""

    __slots__ = ("_blobs", "_read", "_shared")

    def __init__(self, blobs: dict[str, bytes], shared: list[Any]) -> None:
        self._blobs = blobs
        self._shared = shared
        self._read: dict[str, R] = {}

    @classmethod
    def of(cls, records: Mapping[str, R]) -> Records[R]:
        """``records`` kept so (see the class)."""
        uses: dict[Any, int] = {}
        for record in records.values():
            for item in _shareable(record):
                uses[item] = uses.get(item, 0) + 1
        shared = [item for item, count in uses.items() if count > 1 or type(item) is not str]
        index = {(type(item), item): i for i, item in enumerate(shared)}
        return cls({name: _pickled(record, lambda obj: index.get((type(obj), obj))
                                   if type(obj) in _SHAREABLE else None)
                    for name, record in records.items()}, shared)

    def __reduce__(self) -> tuple[Any, ...]:
        return Records, (self._blobs, self._shared)

    def __getitem__(self, name: str) -> R:
        record = self._read.get(name)
        if record is None:  # two threads at once just unpickle the same record twice
            unpickler = pickle.Unpickler(io.BytesIO(self._blobs[name]))
            unpickler.persistent_load = self._shared.__getitem__  # type: ignore[assignment]
            record = self._read[name] = unpickler.load()
        return record

    def get(self, name: str, default: Any = None) -> Any:  # Mapping's own goes through two calls
        record = self._read.get(name)
        if record is not None:
            return record
        return self[name] if name in self._blobs else default

    def __contains__(self, name: object) -> bool:
        return name in self._blobs

    def __iter__(self) -> Iterator[str]:
        return iter(self._blobs)

    def __len__(self) -> int:
        return len(self._blobs)

    def __repr__(self) -> str:
        return repr(dict(self.items()))


# what records share: texts, and the classes and functions (tuple.__new__) they are made with
_SHAREABLE = (str, type, type(tuple.__new__))


def _shareable(value: Any) -> set[Any]:
    """The distinct strings, classes and functions that pickling ``value`` writes."""
    seen: set[Any] = set()
    _pickled(value, lambda obj: seen.add(obj) if type(obj) in _SHAREABLE else None)
    return seen


def _pickled(value: Any, persistent_id: Any) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.persistent_id = persistent_id  # type: ignore[method-assign]
    pickler.dump(value)
    return out.getvalue()


# --------------------------------------------------------------------------- settings, detectors


class Bands(Record):
    confirmed: float
    likely: float
    possible: float


class SeparatingStep(Record):
    """A measurement that tells apart causes the logs cannot (a probe, a pre-flight check)."""

    step: str
    causes: list[str]
    sources: list[str]


class Settings(Record):
    """Engine knobs that are knowledge, not mechanism."""

    bands: Bands
    premise_threshold: float
    tie_margin: float
    healthy_finding: str
    insufficient_finding: str
    few_points_fact: str
    problem_findings: list[str]
    count_shared_evidence_once: bool
    observations: dict[str, list[str]]
    contenders: int
    question_prior: float
    common_mistake_weight: float
    question_effort: dict[str, float]
    separating_steps: list[SeparatingStep]
    sources: list[str]


class Detector(Record):
    """Thresholds of one log detector; the parameters are read by name by the detector."""

    description: str
    params: dict[str, float | int | str | bool]
    sources: list[str]


class Detectors(Record):
    detectors: dict[str, Detector]


class Reference(Record):
    title: str
    url: str


class References(Record):
    references: dict[str, Reference]


# --------------------------------------------------------------------------- the whole base


class Files(Mapping[str, Path]):
    """Which file each entry came from ("rule:ID" / "cause:ID" / "fact:name" → its path), kept
    as text: only lint and `rules show` ask, and unpickling ~400 Paths costs every start ~4 ms."""

    def __init__(self, paths: Mapping[str, Path | str] | None = None) -> None:
        self._paths = {key: str(path) for key, path in (paths or {}).items()}

    def __getitem__(self, key: str) -> Path:
        return Path(self._paths[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"Files({self._paths!r})"


class KnowledgeBase(NamedTuple):
    """The whole rule base, with the file each entry came from."""

    root: Path
    facts: Mapping[str, Fact]
    causes: Mapping[str, Cause]
    rules: Mapping[str, Rule]  # each a dict, or Records from the cache
    settings: Settings
    detectors: Detectors
    references: References
    files: Files = Files()  # read-only: one empty instance serves every default

    def askable_facts(self) -> list[str]:
        return [n for n, f in self.facts.items() if f.askable and f.kind == "observation"]

    def detector_params(self, name: str) -> dict[str, Any]:
        return dict(self.detectors.detectors[name].params)
