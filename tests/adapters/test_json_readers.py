"""HF trainer_state.json, Keras history JSON, JSON Lines and the MLflow file store."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from nndoctor.adapters.readers import detect_reader, read_path
from nndoctor.adapters.readers.hf_trainer_state import reader as hf
from nndoctor.adapters.readers.jsonl import reader as jsonl
from nndoctor.adapters.readers.keras_history import reader as keras_history
from nndoctor.adapters.readers.mlflow import reader as mlflow
from nndoctor.adapters.run import LogError

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
HF = LOGS / "hf"


# ------------------------------------------------------------------------- Hugging Face

def test_hf_train_eval_and_summary_entries() -> None:
    path = HF / "bert-sst2" / "trainer_state.json"
    assert detect_reader(path) is hf
    (run,) = hf.read(path)
    assert run.name == "bert-sst2" and run.format == "hf_trainer_state"
    train = run.series["train_loss"]
    assert train.source_tag == "loss" and len(train) == 20
    assert 0.3125 not in train.values.tolist()  # the final average is not a curve point
    assert run.series["val_loss"].source_tag == "eval_loss"
    assert run.series["val_loss"].steps.tolist() == [250, 500, 750, 1000]
    assert run.series["val_acc"].source_tag == "eval_accuracy"
    assert run.series["lr"].source_tag == "learning_rate"
    grad = run.series["grad_norm"]
    assert math.isnan(grad.values[grad.steps.tolist().index(350)])  # bare NaN in the JSON
    assert not any(k.endswith(("runtime", "per_second", "flos")) for k in run.series)
    assert run.context["batch_size"] == 16
    assert run.context["max_steps"] == 1000


def test_hf_checkpoint_copies_are_one_run_from_the_latest(tmp_path: Path) -> None:
    runs = read_path(HF / "bert-sst2")
    assert len(runs) == 1
    assert runs[0].path == HF / "bert-sst2" / "trainer_state.json"
    assert runs[0].series["train_loss"].steps[-1] == 1000
    only_ckpt = hf.read(HF / "bert-sst2" / "checkpoint-500" / "trainer_state.json")
    assert only_ckpt[0].series["train_loss"].steps[-1] == 500


def test_hf_num_classes_from_a_classifier_config(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    shutil.copy(HF / "bert-sst2" / "trainer_state.json", folder / "trainer_state.json")
    config = {"architectures": ["BertForSequenceClassification"],
              "id2label": {"0": "neg", "1": "pos", "2": "neutral"}}
    (folder / "config.json").write_text(json.dumps(config))
    (run,) = hf.read(folder / "trainer_state.json")
    assert run.context["num_classes"] == 3
    (folder / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"],
                                                    "id2label": {"0": "a", "1": "b"}}))
    (run,) = hf.read(folder / "trainer_state.json")
    assert "num_classes" not in run.context


@pytest.mark.parametrize("problem_type, num_classes", [
    ("regression", 0),  # transformers saves the head's problem_type in config.json
    ("multi_label_classification", None),  # independent labels: not C classes of one softmax
    ("single_label_classification", 4),
])
def test_hf_problem_type_decides_the_class_count(tmp_path: Path, problem_type: str,
                                                 num_classes: int | None) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    shutil.copy(HF / "bert-sst2" / "trainer_state.json", folder / "trainer_state.json")
    config = {"architectures": ["BertForSequenceClassification"], "problem_type": problem_type,
              "id2label": {str(i): f"l{i}" for i in range(4)}}
    (folder / "config.json").write_text(json.dumps(config))
    (run,) = hf.read(folder / "trainer_state.json")
    assert run.context.get("num_classes") == num_classes


def test_hf_several_eval_sets_and_token_accuracy() -> None:
    (run,) = hf.read(HF / "sft-multi-eval" / "trainer_state.json")
    assert run.series["val_loss"].source_tag == "eval_squad_loss"
    assert "eval_xnli_loss" in run.series
    assert run.series["train_acc"].source_tag == "mean_token_accuracy"
    assert "num_tokens" not in run.series


def test_hf_grpo_is_rl_style() -> None:
    (run,) = hf.read(HF / "grpo" / "trainer_state.json")
    assert run.context.get("rl_style") is True
    assert "reward" in run.series and "kl" in run.series
    (plain,) = hf.read(HF / "bert-sst2" / "trainer_state.json")
    assert "rl_style" not in plain.context


def test_not_hf_trainer_state_is_not_readable() -> None:
    path = HF / "not_hf" / "trainer_state.json"
    assert not hf.can_read(path)
    with pytest.raises(LogError, match="unknown log format"):
        read_path(path)


def test_hf_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text('{\n  "log_history": [\n    {"loss": 1.0, "step": 1},\n    {"loss": \n')
    with pytest.raises(LogError) as err:
        read_path(path)
    assert "invalid JSON at line" in str(err.value) and str(path) in str(err.value)


# ------------------------------------------------------------------------- Keras history

def test_keras_history_json() -> None:
    path = LOGS / "keras_history" / "history.json"
    assert detect_reader(path) is keras_history
    (run,) = keras_history.read(path)
    assert run.series["train_loss"].steps.tolist() == list(range(8))
    assert math.isnan(run.series["val_loss"].values[-1])
    assert set(run.series) == {"train_loss", "val_loss", "train_acc", "val_acc", "lr"}


def test_keras_history_wrapped_with_nulls(tmp_path: Path) -> None:
    path = tmp_path / "hist.json"
    path.write_text(json.dumps({"history": {"loss": [1.0, 0.5, None], "val_loss": [1.1, 0.7, 0.6]},
                                "params": {"epochs": 3}}))
    (run,) = keras_history.read(path)
    assert run.series["train_loss"].steps.tolist() == [0, 1]
    assert run.series["val_loss"].steps.tolist() == [0, 1, 2]


def test_config_json_is_not_a_history(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"architectures": ["BertModel"], "hidden_size": 768}))
    assert detect_reader(path) is None


# ------------------------------------------------------------------------- JSON Lines

def test_jsonl_partial_last_line_and_nested_keys() -> None:
    path = LOGS / "jsonl" / "metrics.jsonl"
    assert detect_reader(path) is jsonl
    (run,) = jsonl.read(path)
    assert any("incomplete" in w for w in run.warnings)
    assert run.series["train_loss"].source_tag == "train/loss"
    assert run.series["train_loss"].steps[-1] == 550
    assert run.series["val_loss"].source_tag == "eval/loss"
    assert run.series["val_acc"].steps.tolist() == [150, 350, 550]
    assert "phase" not in run.series  # strings are not metrics


def test_jsonl_without_step_key_uses_line_order(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"loss": 1.0}\n{"loss": 0.5, "lr": 0.1}\n{"loss": NaN}\n')
    (run,) = jsonl.read(path)
    assert run.series["train_loss"].steps.tolist() == [0, 1, 2]
    assert math.isnan(run.series["train_loss"].values[2])


def test_jsonl_bad_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, loss: 0.5}\n{"step": 3, "loss": 0.4}\n')
    with pytest.raises(LogError, match="line 2: invalid JSON"):
        jsonl.read(path)


def test_jsonl_non_object_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\n[1, 2]\n{"step": 3, "loss": 0.4}\n')
    with pytest.raises(LogError, match="line 2: expected a JSON object"):
        jsonl.read(path)


JSONL_CASES = {  # lines the quick path (jsonl._object, jsonl._items) takes or passes on
    "plain": '{"step": 1, "loss": 1.0, "lr": 0.1}\n{"step": 2, "loss": 0.5}\n',
    "spaces_crlf": '{"step": 1, "loss": 1.0}  \r\n  {"step": 2, "loss": 0.5}\t\r\n\n',
    "nested_and_colliding": '{"step": 1, "a/b": 1, "a": {"b": 2, "c": {"d": 3}}}\n'
                            '{"step": 2, "a": {"b": 4}, "a/b": 5}\n',
    "not_numbers": '{"step": 1, "ok": true, "none": null, "s": "x", "l": [1], "loss": 2}\n'
                   '{"step": 2, "loss": NaN, "lr": Infinity, "m": -Infinity}\n',
    "duplicate_keys": '{"step": 1, "loss": 1.0, "loss": 3.0}\n{"step": 2, "loss": 2}\n',
    "bom": '\ufeff{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5}\n',
    "extra_data": '{"step": 1, "loss": 1.0} x\n{"step": 2, "loss": 0.5}\n',
    "extra_last": '{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.5} {"a": 1}\n',
    "two_lines_one_object": '{"step": 1, "loss": [1,\n2]}\n{"step": 2, "loss": 0.5}\n',
    "cut_short": '{"step": 1, "loss": 1.0}\n{"step": 2, "lo',
    "not_an_object": '{"step": 1, "loss": 1.0}\n[1, 2]\n',
    "huge_integer": '{"step": 1, "loss": 1' + "0" * 400 + '}\n{"step": 2, "loss": 1}\n',
    "deep": '{"step": 1, "loss": 1.0}\n{"a": ' + "[" * 100000 + "]" * 100000 + '}\n',
}


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
def test_jsonl_quick_path_reads_what_json_loads_reads(case: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line parsed by json.loads and flattened by _flatten gives the same run, warnings
    and errors as the quick path (the scanner called directly, flat objects not copied)."""
    import nndoctor.adapters.readers.jsonl as module

    path = tmp_path / "log.jsonl"
    path.write_bytes(JSONL_CASES[case].encode("utf-8"))

    def outcome() -> object:
        try:
            runs = module.reader.read(path)
        except Exception as exc:  # the error itself is part of what must agree
            return (type(exc), str(exc))
        return [(r.name, r.context, r.warnings, {k: (v.steps.tobytes(), v.values.tobytes(),
                 v.source_tag) for k, v in r.series.items()}) for r in runs]

    quick = outcome()
    monkeypatch.setattr(module, "_object", lambda line: None)
    monkeypatch.setattr(module, "_items", lambda obj: module._flatten(obj).items())
    assert quick == outcome()


# ------------------------------------------------------------------------- MLflow

MLRUNS = LOGS / "mlflow" / "mlruns"
RUN = MLRUNS / "1" / "3f9c2a7e5d1b4c8e9a0b1c2d3e4f5a6b"


def test_mlflow_one_run_per_directory() -> None:
    runs = read_path(MLRUNS)
    assert sorted(r.name for r in runs) == ["bright-owl-42", "final-only"]
    run = next(r for r in runs if r.name == "bright-owl-42")
    assert run.format == "mlflow" and run.path == RUN
    assert run.series["train_loss"].values[0] == pytest.approx(3.2727866172790527)
    assert run.series["train_loss"].steps.tolist() == list(range(6))
    assert run.series["grad_norm"].source_tag == "train/grad_norm"  # key with "/" = sub-folder
    assert math.isnan(run.series["grad_norm"].values[3])
    assert run.context["batch_size"] == 128 and run.context["num_classes"] == 10
    assert run.context["lr"] == 0.001 and run.context["optimizer"] == "Adam"
    assert run.context["params"]["epochs"] == "6"


def test_mlflow_reader_claims_meta_and_metric_files_only() -> None:
    assert mlflow.can_read(RUN / "meta.yaml")
    assert mlflow.can_read(RUN / "metrics" / "train" / "grad_norm")
    assert not mlflow.can_read(MLRUNS / "1" / "meta.yaml")  # the experiment's meta
    assert not mlflow.can_read(RUN / "params" / "batch_size")
    (run,) = mlflow.read(RUN / "metrics" / "loss")
    assert run.name == "bright-owl-42"


def test_mlflow_bad_metric_line(tmp_path: Path) -> None:
    run = tmp_path / "0" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_name: x\n")
    (run / "metrics" / "loss").write_text("1664364007310 0.5 0\n1664364007311 abc 1\n")
    with pytest.raises(LogError, match="line 2"):
        read_path(tmp_path)


METRIC_FILES = {  # metric files the whole-file conversion (mlflow._whole) takes or passes on
    "plain": b"1 0.5 0\n2 0.25 1\n3 0.125 2\n",
    "no_last_newline": b"1 0.5 0\n2 0.25 1",
    "blank_lines_and_spaces": b"\n1  0.5\t0 \n\n   \n2 0.25 1\n",
    "bom": b"\xef\xbb\xbf1 0.5 0\n2 0.25 1\n",
    "crlf": b"1 0.5 0\r\n2 0.25 1\r\n",
    "lone_cr": b"1 0.5 0\r2 0.25 1\n",
    "same_step": b"1 0.5 7\n2 0.25 7\n3 1e-3 7\n",
    "nan_inf_underscores": b"1 nan 0\n2 inf 1\n3 1_000.5 2\n",
    "two_fields": b"1 0.5\n2 0.25\n",
    "bad_value": b"1 0.5 0\n2 abc 1\n",
    "bad_step": b"1 0.5 0\n2 0.5 1.5\n",
    "huge_step": b"1 0.5 0\n2 0.5 99999999999999999999\n",
    "four_fields": b"1 0.5 0 9\n",
    "not_utf8": b"1 0.5 0\n2 \xff 1\n",
    "empty": b"",
}


@pytest.mark.parametrize("case", sorted(METRIC_FILES))
def test_mlflow_metric_file_at_once_reads_what_line_by_line_reads(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small plain metric file converted whole gives the series, warnings and errors of the
    line-by-line read; anything else is left to it."""
    import nndoctor.adapters.readers.mlflow as module

    run = tmp_path / "0" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_name: x\n")
    (run / "metrics" / "loss").write_bytes(METRIC_FILES[case])
    (run / "metrics" / "acc").write_bytes(b"1 0.5 0\n2 0.6 1\n")

    def outcome() -> object:
        try:
            runs = module.reader.read(run / "meta.yaml")
        except LogError as exc:
            return str(exc)
        return [(r.warnings, {k: (v.steps.tobytes(), v.values.tobytes())
                              for k, v in r.series.items()}) for r in runs]

    whole = outcome()
    monkeypatch.setattr(module, "_whole", lambda data, cap: None)
    assert whole == outcome()


def test_llama_factory_trainer_log(tmp_path: Path) -> None:
    path = tmp_path / "trainer_log.jsonl"
    path.write_text("".join(json.dumps({
        "current_steps": s, "total_steps": 30, "loss": 2.0 / s, "lr": 1e-4, "epoch": s / 10,
        "percentage": round(100 * s / 30, 2), "elapsed_time": "0:00:05",
        "remaining_time": "0:01:00"}) + "\n" for s in range(1, 31)))
    (run,) = read_path(path)
    assert run.series["train_loss"].steps.tolist() == list(range(1, 31))
    assert set(run.series) == {"train_loss", "lr"}
    assert run.context["steps_per_epoch"] == 10
