"""MYCIN/EMYCIN certainty factors and confidence bands."""

from __future__ import annotations

from collections.abc import Iterable

from nndoctor.knowledge.kb import Bands


def combine(a: float, b: float) -> float:
    """Combine two certainty factors for the same conclusion (commutative and associative)."""
    if a >= 0 and b >= 0:
        return a + b * (1 - a)
    if a < 0 and b < 0:
        return a + b * (1 + a)
    if abs(a) == 1 and abs(b) == 1:  # total evidence for and against: no belief either way
        return 0.0
    return (a + b) / (1 - min(abs(a), abs(b)))


def combine_all(values: Iterable[float]) -> float:
    result = 0.0
    for v in values:
        result = combine(result, v)
    return result


def band(confidence: float, bands: Bands) -> str | None:
    """The band name of a confidence, or None below 'possible'."""
    if confidence >= bands.confirmed:
        return "confirmed"
    if confidence >= bands.likely:
        return "likely"
    if confidence >= bands.possible:
        return "possible"
    return None


BAND_ORDER = ("possible", "likely", "confirmed")
