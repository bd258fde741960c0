"""The indented JSON writer gives json.dumps(indent=2, ensure_ascii=False)'s text, byte for byte
(with ``safe``: escape_json of it), with fragments of text made elsewhere in their place; and a
fact's evidence object written straight to text is the one its dict gives."""

from __future__ import annotations

import enum
import json

import numpy as np
import pytest

from nndoctor.engine.facts import Fact
from nndoctor.report.common import evidence_dict, evidence_fragment
from nndoctor.report.indented_json import Fragment, dumps, safe_string
from nndoctor.sanitize import escape_json


class Level(enum.IntEnum):
    HIGH = 3


class Tag(str):
    pass


DOCUMENTS = [
    {}, [], "", 0, -1.5, None, True, False, float("nan"), float("inf"), float("-inf"),
    {"a": [], "b": {}, "c": [[]], "d": [{}], "e": [1, [2, [3, {}]]]},
    {"text": 'quote " backslash \\ newline \n tab \t nul \x00 é → \u2028 \ud800', "n": 10**30},
    {"fact": "lr", "value": 1e-05, "series": ["train_loss"], "range": (0, 15), "step": None},
    [Level.HIGH, Tag("x"), np.float64(0.1), 2.5e300, -0.0, 1.0],
    {"nested": {"deeper": {"deepest": [True, False, None, "s", 3, 4.25]}}},
    {"unsafe": ["del \x7f", "c1 \x85", "bidi \u202e", "bom \ufeff", "sep \u2028", "\udc80"],
     "k\u2066ey": "\x9f", "ok": "é → · ≤ …"},
]


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_same_text_as_json_dumps(doc: object) -> None:
    want = json.dumps(doc, indent=2, ensure_ascii=False)
    assert dumps(doc) == want
    assert dumps(doc, "\n    ") == want.replace("\n", "\n    ")


def test_unusual_values_are_json_dumps_own() -> None:
    assert dumps({1: "int key", None: [2]}) == json.dumps({1: "int key", None: [2]}, indent=2)
    with pytest.raises(TypeError):
        dumps({"x": np.int64(3)})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps(loop)


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_safe_text_is_escape_json_of_the_text(doc: object) -> None:
    want = escape_json(json.dumps(doc, indent=2, ensure_ascii=False))
    assert dumps(doc, safe=True) == want
    assert dumps(doc, "\n    ", safe=True) == want.replace("\n", "\n    ")


def test_safe_string_escapes_what_escape_json_escapes() -> None:
    for code in [*range(0x00, 0x250), *range(0x2000, 0x2080), 0xFEFF, 0xD800, 0xDFFF, 0x1F600]:
        text = f"a{chr(code)}b"
        assert safe_string(text) == escape_json(json.dumps(text, ensure_ascii=False))


@pytest.mark.parametrize("doc", DOCUMENTS, ids=range(len(DOCUMENTS)))
@pytest.mark.parametrize("at", ["\n", "\n      "])
def test_a_fragment_is_written_as_its_value_at_any_depth(doc: object, at: str) -> None:
    fragment = Fragment(dumps(doc, at), at)
    for wrapper, value in (({"x": [fragment, {"y": fragment}], "z": fragment},
                            {"x": [doc, {"y": doc}], "z": doc}), ([fragment], [doc])):
        want = json.dumps(value, indent=2, ensure_ascii=False)
        assert dumps(wrapper) == want
        assert dumps(wrapper, "\n  ") == want.replace("\n", "\n  ")
    # a document the fast walk leaves to json.dumps (a key that is no string) keeps its place
    assert dumps({1: fragment}) == json.dumps({1: doc}, indent=2, ensure_ascii=False)


FACTS = [
    Fact("lr", 1e-05, 0.95, "log", "hparams", "lr = 1e-05"),
    Fact("loss_exploded", True, 0.9, "log", "train_loss, val_loss, steps 40-220",
         "train_loss jumped 40x at step 120 → NaN"),
    Fact("loss_nonfinite", False, 1, "log", "train_loss, step 5", "no NaN · ≤ 1e3"),
    Fact("final_loss", float("inf"), 1.0, "log", "train_loss", "ends at inf"),
    Fact("final_loss", float("nan"), 0.123456789, "log", "", "nan"),
    Fact("optimizer", "adam", 0.5, "answer", "answered by you", "you said so"),
    Fact("grad_norm", np.float64(2.5), 0.8, "log", "grad_norm, steps 0-9", "numpy value"),
    Fact("run_name", "del\x7f c1\x85 \u202e", True, "log", "weird\u2028tag, step 3",
         "bom \ufeff at step 7 \udc80"),
    Fact("zero", 0.0, 0.0, "probe", "probe", ""),
    Fact("neg", -0.0, -0.0, "log", "x", "at step -3"),
]


@pytest.mark.parametrize("fact", FACTS, ids=range(len(FACTS)))
@pytest.mark.parametrize("at", ["\n", "\n        "])
def test_an_evidence_fragment_is_its_dict_written(fact: Fact, at: str) -> None:
    made = evidence_fragment(fact, at)
    want = escape_json(json.dumps(evidence_dict(fact), indent=2, ensure_ascii=False))
    assert made.text == want.replace("\n", at)
    assert made.text == dumps(evidence_dict(fact), at, safe=True)
    assert made.at("\n  ") == want.replace("\n", "\n  ")
