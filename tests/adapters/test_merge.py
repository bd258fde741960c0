"""One run logged by two loggers is one run (readers/_merge.py); two runs are never one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import read_path
from tests.adapters import eventfile as ef

TWICE = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "twice"


def test_lightning_two_loggers_in_version_0_and_version_1() -> None:
    """Real Lightning output: CSVLogger took version_0, TensorBoardLogger the next free
    version_1 — one run."""
    (run,) = read_path(TWICE / "lightning_two_loggers")
    assert run.format == "lightning_csv+tensorboard"
    assert run.name == "version_0"
    assert [s.split(":")[0] for s in run.context["sources"]] == ["lightning_csv", "tensorboard"]
    assert run.series["train_loss"].source_tag == "train_loss_step"
    assert run.series["lr"].source_tag == "lr-AdamW/pg1"
    assert "hp_metric" in run.series  # only the TensorBoard logger writes it: the union
    assert not any(k.endswith("_2") for k in run.series)  # shared series kept once


def test_lightning_separate_save_dirs_pair_by_numbers() -> None:
    """csv_logs/…/version_N beside tb_logs/…/version_N, two runs (seeds 0 and 1): each CSV
    joins the event file of its own run, never the other one."""
    runs = read_path(TWICE / "lightning_save_dirs")
    assert len(runs) == 2
    for run in runs:
        assert run.format == "lightning_csv+tensorboard"
        csv, tb = run.context["sources"]
        assert csv.split("/")[-2] == tb.split("/")[-1]  # version_0 with version_0 …
    assert runs[0].series["train_loss"].values[0] != runs[1].series["train_loss"].values[0]


def test_identical_runs_in_unrelated_folders_stay_apart() -> None:
    """lightning_two_loggers and lightning_save_dirs/…/version_0 hold the same numbers (same
    seed), but are not a logger pair: three runs, each of two logs."""
    runs = read_path(TWICE)
    lightning = [r for r in runs if r.format.startswith("lightning_csv")]
    assert len(lightning) == 3
    assert all(r.format == "lightning_csv+tensorboard" for r in lightning)


def test_hf_output_dir_with_checkpoints_and_tensorboard() -> None:
    (run,) = read_path(TWICE / "hf_output_dir")
    assert run.format == "hf_trainer_state+tensorboard"
    assert run.path == TWICE / "hf_output_dir" and run.name == "hf_output_dir"
    assert run.series["train_loss"].source_tag == "loss"  # trainer_state first, TB agrees
    assert len(run.series["train_loss"]) == 7
    assert not any(k in run.series for k in ("train/loss", "train_loss_2"))
    assert run.context["steps_per_epoch"] == 5 and run.context["num_train_epochs"] == 3


def test_two_version_folders_of_one_format_are_two_runs(tmp_path: Path) -> None:
    root = tmp_path / "lightning_logs"
    src = TWICE / "lightning_two_loggers" / "lightning_logs" / "version_0"
    for v in ("version_0", "version_1"):
        shutil.copytree(src, root / v)  # even with identical numbers
    assert len(read_path(root)) == 2


def test_csv_and_events_of_different_runs_stay_apart(tmp_path: Path) -> None:
    root = tmp_path / "lightning_logs"
    shutil.copytree(TWICE / "lightning_two_loggers" / "lightning_logs" / "version_0",
                    root / "version_0")
    ef.write(root / "version_1" / "events.out.tfevents.1.host.1.0",
             [ef.event(s, ef.simple("train_loss_step", 2.0 - s / 10)) for s in range(1, 12, 2)])
    (root / "version_1" / "hparams.yaml").write_text("lr: 0.05\n")
    runs = read_path(root)
    assert sorted(r.format for r in runs) == ["lightning_csv", "tensorboard"]


def _probe_jsonl(path: Path, steps: range) -> None:
    path.write_text("".join(json.dumps({"step": s, "nndoctor/grad_norm/00-fc1": 0.1,
                                        "nndoctor/grad_norm/01-fc2": 1.0}) + "\n"
                            for s in steps))


def test_tensorboard_and_probe_jsonl_in_one_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "exp1"
    ef.write(run_dir / "events.out.tfevents.1.host.1.0",
             [ef.event(s, ef.simple("train/loss", 1.0 / (s + 1))) for s in range(20)])
    _probe_jsonl(run_dir / "probe.jsonl", range(0, 20, 5))
    (run,) = read_path(tmp_path / "runs")
    assert run.format == "tensorboard+jsonl" and run.name == "exp1" and run.path == run_dir
    assert run.series["train_loss"].source_tag == "train/loss"
    assert "nndoctor/grad_norm/00-fc1" in run.series
    assert not any("no series maps" in w for w in run.warnings)  # the probe alone has no loss


def test_same_folder_rule_needs_one_log_per_format(tmp_path: Path) -> None:
    """Two experiments' CSVs beside one event file: which CSV belongs is unknown."""
    ef.write(tmp_path / "events.out.tfevents.1.host.1.0",
             [ef.event(s, ef.simple("loss", 1.0)) for s in range(5)])
    for name in ("exp1.csv", "exp2.csv"):
        (tmp_path / name).write_text("step,loss\n" + "".join(f"{s},{s}\n" for s in range(5)))
    assert len(read_path(tmp_path)) == 3


def test_shared_series_that_disagree_keep_both(tmp_path: Path) -> None:
    """A probe's train_loss (its own steps) and the logger's: the longer keeps the name."""
    ef.write(tmp_path / "events.out.tfevents.1.host.1.0",
             [ef.event(s, ef.simple("train_loss", 1.0 / (s + 1))) for s in range(20)])
    (tmp_path / "probe.jsonl").write_text("".join(
        json.dumps({"step": s, "train_loss": 5.0}) + "\n" for s in range(0, 20, 5)))
    (run,) = read_path(tmp_path)
    assert len(run.series["train_loss"]) == 20
    np.testing.assert_array_equal(run.series["train_loss_2"].values, [5.0] * 4)


def _hf_losses() -> dict[int, float]:
    state = json.loads((TWICE / "hf_output_dir" / "trainer_state.json").read_text())
    return {e["step"]: e["loss"] for e in state["log_history"] if "loss" in e}


@pytest.mark.parametrize("resumed", [False, True])
def test_hf_second_tensorboard_folder(tmp_path: Path, resumed: bool) -> None:
    """A second runs/<date> folder joins the output_dir's run when its numbers agree (a job
    resumed from a checkpoint logs the rest of the same history), not when they differ (an
    earlier run into the same output_dir)."""
    out = tmp_path / "out"
    shutil.copytree(TWICE / "hf_output_dir", out)
    losses = {s: v for s, v in _hf_losses().items() if s >= 8}
    if not resumed:
        losses = {s: v + 1.0 for s, v in losses.items()}
    ef.write(out / "runs" / "Feb02_00-00-00_elsewhere" / "events.out.tfevents.2.host.1.0",
             [ef.event(s, ef.simple("train/loss", v)) for s, v in losses.items()])
    runs = read_path(out)
    assert len(runs) == (1 if resumed else 2)
    assert len(runs[0].context["sources"]) == (3 if resumed else 2)
    assert not any(k.startswith("train/loss") for k in runs[0].series)  # covered: kept once


def test_real_probe_jsonl_beside_a_real_summarywriter(tmp_path: Path) -> None:
    """nndoctor's probe and torch's SummaryWriter logging one training loop into one folder."""
    torch = pytest.importorskip("torch")
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    import nndoctor.probes

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = nndoctor.probes.attach(model, opt, log_dir=tmp_path / "exp", every=2)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    with SummaryWriter(str(tmp_path / "exp")) as writer:
        for step in range(8):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            writer.add_scalar("Loss/train", loss.item(), step)
    probe.close()  # no probe.step(loss): the probe file alone has no loss
    (run,) = read_path(tmp_path)
    assert run.format == "tensorboard+jsonl" and run.name == "exp"
    assert run.series["train_loss"].source_tag == "Loss/train"
    assert any(k.startswith("nndoctor/grad_norm/") for k in run.series)
    assert not any("no series maps" in w for w in run.warnings)
