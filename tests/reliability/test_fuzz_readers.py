"""Fuzzing every text reader: any bytes under a log's file name end in runs or one LogError.

CI runs a short budget; `python benchmarks/fuzz.py` runs the same targets with a large one
(NNDOCTOR_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.adapters.readers import read_path
from nndoctor.adapters.run import LogError
from nndoctor.pipeline import diagnose_run

EXAMPLES = int(os.environ.get("NNDOCTOR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
NAMES = ["metrics.csv", "training.log", "results.csv", "trainer_state.json", "history.json",
         "metrics.jsonl", "log.tsv", "events.out.tfevents.1.host"]
CELLS = st.one_of(
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "Infinity", "NA", "null", "1e999", "-0",
                     "1e-310", "3", "0.5", "  7 ", "x", "\ufeff1", "1,5", '"2"', "True"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**30, 10**30).map(str),
    st.text(max_size=6),
)
HEADERS = st.lists(st.sampled_from(["step", "epoch", "loss", "val_loss", "accuracy", "lr",
                                    "train/box_loss", "grad_norm", "step", "", "loss "]),
                   min_size=1, max_size=6)


def _check(path: Path) -> None:
    try:
        runs = read_path(path)
    except LogError as exc:
        assert str(path.name) in str(exc)
        return
    for run in runs:
        diagnose_run(run, questions=0)


@FUZZ
@given(header=HEADERS, rows=st.lists(st.lists(CELLS, max_size=7), max_size=12),
       name=st.sampled_from([*NAMES[:3], "log.tsv"]), bom=st.booleans())
def test_csv_like_files(tmp_path_factory, header, rows, name, bom):
    sep = "\t" if name.endswith(".tsv") else ","
    text = "\n".join([sep.join(header)] + [sep.join(r) for r in rows])
    path = tmp_path_factory.mktemp("csv") / name
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    _check(path)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(),
              st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.sampled_from(
                                ["loss", "eval_loss", "step", "epoch", "log_history",
                                 "val_loss", "learning_rate", "history", "grad_norm"]),
                                inner, max_size=5)),
    max_leaves=25)


@FUZZ
@given(doc=JSON_VALUES, name=st.sampled_from(["trainer_state.json", "history.json",
                                             "metrics.jsonl"]))
def test_json_like_files(tmp_path_factory, doc, name):
    import json

    path = tmp_path_factory.mktemp("json") / name
    text = json.dumps(doc)
    if name.endswith(".jsonl") and isinstance(doc, list):
        text = "\n".join(json.dumps(x) for x in doc)
    path.write_text(text, encoding="utf-8")
    _check(path)


@FUZZ
@given(data=st.binary(max_size=400), name=st.sampled_from(NAMES))
def test_arbitrary_bytes(tmp_path_factory, data, name):
    path = tmp_path_factory.mktemp("bytes") / name
    path.write_bytes(data)
    _check(path)
