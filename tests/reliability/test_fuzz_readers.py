"""Fuzzing every text reader: any bytes under a log's file name end in runs or one LogError.

CI runs a short budget; `python benchmarks/fuzz.py` runs the same targets with a large one
(NNDOCTOR_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nndoctor.adapters.readers import read_path
from nndoctor.adapters.run import LogError
from nndoctor.pipeline import diagnose_run
from tests.adapters import eventfile as ev

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


_TIMINGS = os.environ.get("NNDOCTOR_FUZZ_TIMINGS")  # benchmarks/fuzz.py: slowest input


def _check(path: Path) -> None:
    started = time.perf_counter()
    try:
        runs = read_path(path)
    except LogError as exc:
        assert str(path.name) in str(exc)
        runs = []
    for run in runs:
        diagnose_run(run, questions=0)
    if _TIMINGS:
        took = time.perf_counter() - started
        size = sum(f.stat().st_size for f in ([path] if path.is_file() else path.rglob("*"))
                   if f.is_file())
        with open(_TIMINGS, "a") as fh:
            fh.write(f"{took:.4f}\t{size}\t{path.name}\n")


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


# --------------------------------------------------------------------------- framing, folders

def _tf_record(data: bytes, length: int | None, good_crc: bool) -> bytes:
    head = struct.pack("<Q", len(data) if length is None else length)
    crc = ev.masked_crc(head) if good_crc else 0
    return head + struct.pack("<I", crc) + data + struct.pack("<I", ev.masked_crc(data))


@FUZZ
@given(parts=st.lists(st.tuples(
    st.one_of(st.binary(max_size=40), st.sampled_from(["loss", "val/loss", "grad_norm/fc1.weight",
                                                        "layer.0/dead_fraction"]).map(
        lambda tag: ev.event(3, ev.simple(tag, 0.5)))),
    st.one_of(st.none(), st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 64 << 20, 2**40])),
    st.booleans()), max_size=8), cut=st.integers(0, 40))
def test_tfrecord_framing(tmp_path_factory, parts, cut):
    """Records with any declared length (up to 2^64), sound or broken header CRCs, cut short."""
    data = b"".join(_tf_record(d, n, ok) for d, n, ok in parts)
    path = tmp_path_factory.mktemp("tf") / "events.out.tfevents.1.host"
    path.write_bytes(data[:max(len(data) - cut, 0)] if cut < 20 else data)
    _check(path)


LAYER_NAMES = st.sampled_from([
    "grad_norm/fc1.weight", "grad_norm/fc1.bias", "grad_2.0_norm/layer.10.weight",
    "gradients/conv1/norm", "fc2.grad_norm", "grad/layer.2", "weights/fc1", "weight_norm/fc1",
    "dead_relu_frac", "activations/relu1/zero_fraction", "layer.1/dead_fraction",
    "saturation/tanh1", "nndoctor/grad_norm/00-fc1", "train_loss", "val_loss", "step"])


@FUZZ
@given(names=st.lists(LAYER_NAMES, min_size=1, max_size=8, unique=True),
       rows=st.lists(st.lists(CELLS, min_size=8, max_size=8), max_size=10),
       twin=st.sampled_from(["", "metrics.jsonl", "events.out.tfevents.1.host"]))
def test_per_layer_names_and_merged_runs(tmp_path_factory, names, rows, twin):
    """Per-layer name schemes (layers.py) in a CSV, with a second log in the same folder that
    the merge (_merge.py) may join to it."""
    import json

    folder = tmp_path_factory.mktemp("layers")
    lines = [",".join(names)] + [",".join(r[:len(names)]) for r in rows]
    (folder / "metrics.csv").write_text("\n".join(lines), encoding="utf-8")
    if twin == "metrics.jsonl":
        (folder / twin).write_text("\n".join(json.dumps({"step": i, "loss": 1 / (i + 1)})
                                             for i in range(len(rows))), encoding="utf-8")
    elif twin:
        ev.write(folder / twin, [ev.event(i + 1, ev.simple(n, 0.5)) for i, n in
                                 enumerate(names)])
    _check(folder)


@FUZZ
@given(lines=st.lists(st.one_of(
    st.tuples(st.integers(0, 2**41), CELLS, st.integers(-2**63, 2**63)).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"), st.text(max_size=12)), max_size=8),
    param=st.one_of(st.text(max_size=10), st.sampled_from(["0.1", "adam", "1e999", ""])),
    meta=st.sampled_from(["run_name: x\n", "", "a: &x [*x]\n", "lifecycle_stage: deleted\n",
                          "[unclosed\n"]))
def test_mlflow_run_folders(tmp_path_factory, lines, param, meta):
    run = tmp_path_factory.mktemp("mlruns") / "0" / "abc"
    (run / "metrics" / "train").mkdir(parents=True)
    (run / "params").mkdir()
    (run / "metrics" / "train" / "loss").write_text("\n".join(lines), encoding="utf-8",
                                                   errors="surrogatepass")
    (run / "params" / "lr").write_text(param, encoding="utf-8", errors="surrogatepass")
    (run / "meta.yaml").write_text(meta, encoding="utf-8")
    _check(run.parent.parent)
