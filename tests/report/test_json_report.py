"""The JSON report for CI (issue #16 item 4): real outputs validate against the published JSON
Schemas, evidence comes as objects with source, series, step and range, rule traces stay, and
every run has a stable id relative to the PATH it was found under."""

from __future__ import annotations

import json
import shutil
import typing
from pathlib import Path

import jsonschema
import pytest

from nndoctor.adapters.run import Run, Series
from nndoctor.cli import main
from nndoctor.pipeline import diagnose_run
from nndoctor.report.common import SCHEMA_VERSION, run_dict
from nndoctor.report.ids import base_id, unique_ids
from nndoctor.report.schema import ReportDoc, RunDoc, report_schemas

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schema"
LOGS = ROOT / "tests" / "fixtures" / "logs"
EXAMPLES = ROOT / "examples"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=None)


def diagnose(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["diagnose", *args, "--no-progress"]) in (0, 1)
    return capsys.readouterr().out


def test_published_schemas_are_the_generated_ones() -> None:
    for name, schema in report_schemas().items():
        published = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
        assert published == schema, f"run `nndoctor rules docs` to refresh {name}.schema.json"
    for doc in (ReportDoc, RunDoc):  # the version literal follows the constant
        assert typing.get_args(typing.get_type_hints(doc)["schema_version"]) == (SCHEMA_VERSION,)


@pytest.mark.parametrize(("paths", "questions"), [([LOGS], 0), ([EXAMPLES], 0),
                                                  ([EXAMPLES / "flat_loss"], 3)],
                         ids=["fixtures", "examples", "one-run"])
def test_json_and_every_jsonl_line_validate(paths: list[Path], questions: int,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    answers = ["--answer", "hidden_activation=relu", "--questions", str(questions)]
    document = json.loads(diagnose(capsys, *map(str, paths), "--format", "json", *answers))
    validator("report").validate(document)
    assert document["schema_version"] == SCHEMA_VERSION and document["runs"]
    lines = diagnose(capsys, *map(str, paths), "--format", "jsonl", *answers).splitlines()
    run_schema = validator("report-run")
    for line in lines:
        run_schema.validate(json.loads(line))
    assert [json.loads(line) for line in lines] == document["runs"]
    sources = {e["source"] for run in document["runs"] for e in run["facts"].values()}
    assert {"metric", "answer"} <= sources


def test_the_schema_rejects_what_the_report_never_writes(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The schema is strict, so a field added to the report without the schema fails above."""
    document = json.loads(diagnose(capsys, str(EXAMPLES / "overfitting"), "--format", "json"))
    run = document["runs"][0]
    broken = [
        {**document, "extra": 1},
        {**document, "runs": [{**run, "id": None}]},
        {**document, "runs": [{**run, "causes": [{**run["causes"][0], "band": "maybe"}]}]},
        {**document, "runs": [{**run, "facts": {"x": {**next(iter(run["facts"].values())),
                                                       "source": "log"}}}]},
    ]
    check = validator("report")
    for doc in broken:
        with pytest.raises(jsonschema.ValidationError):
            check.validate(doc)


def test_evidence_objects_carry_source_series_step_and_range(
        capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(diagnose(capsys, str(EXAMPLES / "overfitting"), "--format", "json",
                                   "--answer", "samples_per_class=200"))
    [run] = document["runs"]
    top = run["causes"][0]
    assert top["id"] == "overfitting"
    rising = next(e for e in top["evidence"] if e["fact"] == "val_loss_rising")
    assert rising["source"] == "metric" and rising["series"] == ["val_loss"]
    assert rising["step"] == 48 and "at step 48" in rising["text"]  # the validation minimum
    assert rising["range"] is not None and rising["range"][0] <= 48 <= rising["range"][1]
    assert rising["value"] is True and 0 < rising["certainty"] <= 1
    assert run["facts"]["samples_per_class"]["source"] == "answer"
    used = {name for rule in top["rules"] for name in rule["facts"]}
    assert used == {e["fact"] for e in top["evidence"]}  # each fact a rule used, once
    for rule in top["rules"]:
        assert (rule["direction"] == "for") == (rule["contribution"] > 0) and rule["because"]


def test_config_and_probe_sources(capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(diagnose(capsys, str(LOGS / "mlflow"), "--format", "json"))
    facts = {run["name"]: run["facts"] for run in document["runs"]}
    assert facts["bright-owl-42"]["batch_size"]["source"] == "config"  # MLflow params
    assert facts["bright-owl-42"]["lr"]["source"] == "metric"  # the logged lr curve
    assert facts["final-only"]["lr"]["source"] == "config"
    probed = Run("probed", Path("probed.jsonl"), "jsonl", {
        "nndoctor/grad_norm/00-stem": Series.from_pairs([0, 1], [1e-7, 1e-7]),
        "nndoctor/grad_norm/03-head": Series.from_pairs([0, 1], [1.0, 1.0]),
    })
    fact = run_dict(diagnose_run(probed), 5)["facts"]["grad_ratio_first_last"]
    assert fact["source"] == "probe" and fact["step"] is None and fact["series"] == []


def test_ids_are_paths_relative_to_the_path_given(capsys: pytest.CaptureFixture[str]) -> None:
    runs = json.loads(diagnose(capsys, str(LOGS), "--format", "json"))["runs"]
    ids = [run["id"] for run in runs]
    assert len(set(ids)) == len(ids)
    assert "hf/bert-sst2/trainer_state.json" in ids and "tensorboard/torch_simple" in ids
    for run in runs:
        assert Path(run["path"]) == LOGS / run["id"]
    versions = [run["id"] for run in runs if run["path"].endswith("version_0/metrics.csv")]
    assert len(versions) == len(set(versions)) == 3  # three Lightning version_0 runs, told apart
    [one] = json.loads(diagnose(capsys, str(EXAMPLES / "nan_blowup"), "--format", "json"))["runs"]
    assert one["id"] == str(EXAMPLES / "nan_blowup")  # the run is the PATH itself


def test_ids_stay_unique_across_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two PATHs holding the same layout: the ids fall back to the paths as given."""
    for side in ("a", "b"):
        shutil.copytree(EXAMPLES / "slow_lr", tmp_path / side / "run")
    runs = json.loads(diagnose(capsys, str(tmp_path / "a"), str(tmp_path / "b"),
                               "--format", "json"))["runs"]
    assert [r["id"] for r in runs] == [str(tmp_path / s / "run" / "metrics.jsonl")
                                       for s in ("a", "b")]
    lines = diagnose(capsys, str(tmp_path / "a"), str(tmp_path / "b"), "--format", "jsonl")
    assert [json.loads(x)["id"] for x in lines.splitlines()] == [r["id"] for r in runs]


def test_unique_ids_widen_step_by_step() -> None:
    assert base_id(Path("runs"), Path("runs/a/metrics.csv")) == "a/metrics.csv"
    assert base_id(Path("runs/a"), Path("runs/a")) == "runs/a"
    assert base_id(None, Path("-")) == "-"
    runs = [("x", "p/x", "n1"), ("x", "q/x", "n2"), ("db", "m.db", "r1"), ("db", "m.db", "r2"),
            ("db", "m.db", "r2"), ("solo", "solo", "s")]
    assert unique_ids(runs) == ["p/x", "q/x", "m.db#r1", "m.db#r2", "m.db#r2#2", "solo"]
