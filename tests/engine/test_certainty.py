"""EMYCIN certainty-factor arithmetic and bands."""

from __future__ import annotations

import itertools
import random

import pytest

from nndoctor.engine.certainty import band, combine, combine_all
from nndoctor.knowledge.schema import Bands


@pytest.mark.parametrize(("a", "b", "expected"), [
    (0.5, 0.6, 0.8), (-0.5, -0.6, -0.8), (0.8, -0.6, 0.5), (0.0, 0.7, 0.7), (1.0, -1.0, 0.0),
])
def test_combine_known_values(a, b, expected):
    assert combine(a, b) == pytest.approx(expected)


def test_combine_is_order_independent():
    rng = random.Random(1)
    for _ in range(500):
        values = [rng.uniform(-0.99, 0.99) for _ in range(4)]
        results = {round(combine_all(p), 9) for p in itertools.permutations(values)}
        assert len(results) == 1
        assert -1 <= next(iter(results)) <= 1


def test_bands():
    bands = Bands().to_kb()
    assert band(0.85, bands) == "confirmed"
    assert band(0.5, bands) == "likely"
    assert band(0.2, bands) == "possible"
    assert band(0.19, bands) is None
