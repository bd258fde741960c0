"""The indented JSON writer gives json.dumps(indent=2, ensure_ascii=False)'s text, byte for byte."""

from __future__ import annotations

import enum
import json

import numpy as np
import pytest

from nndoctor.report.indented_json import dumps


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
