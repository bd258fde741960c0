"""Readers say when a log shows that training ended (``Run.context["ended"]``), from what the
frameworks write at the end: the Hugging Face Trainer's summary or a state at max_steps, MLflow's
run status, Lightning's closing line. `watch --until-done` stops on it. (W&B's exit record, the
MLflow SQLite status and Ray Tune's ``done`` are tested with their writers in
test_formats_2026.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nndoctor.adapters.readers import read_path

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
HF = LOGS / "hf" / "bert-sst2" / "trainer_state.json"


def ended(path: Path) -> str | None:
    (run,) = read_path(path)
    return run.context.get("ended")


def test_hf_summary_entry_ends_the_run():
    assert "train_runtime summary" in (ended(HF) or "")


def test_hf_checkpoint_state_ends_only_at_max_steps(tmp_path):
    """A checkpoint copy has no summary; the one taken at the last step says the run ended."""
    state = json.loads(HF.read_text())
    state["log_history"] = [e for e in state["log_history"] if "train_runtime" not in e]
    assert state["max_steps"] > 0
    out = tmp_path / "out" / f"checkpoint-{state['max_steps']}" / "trainer_state.json"
    out.parent.mkdir(parents=True)
    state["global_step"] = state["max_steps"] - 1
    out.write_text(json.dumps(state))
    assert ended(out) is None
    state["global_step"] = state["max_steps"]
    out.write_text(json.dumps(state))
    assert ended(out) == f"trainer_state.json is at global_step {state['max_steps']:g} = max_steps"


def test_hf_tensorboard_events_end_with_train_runtime():
    [runs] = (LOGS / "twice" / "hf_output_dir" / "runs").iterdir()
    assert "'train/train_runtime'" in (ended(runs) or "")
    assert ended(LOGS / "tensorboard" / "torch_simple") is None  # a plain SummaryWriter log


def test_mlflow_file_store_status(tmp_path):
    store = tmp_path / "mlruns"
    shutil.copytree(LOGS / "mlflow" / "mlruns", store)
    run_dir = next(p for p in (store / "1").iterdir() if p.is_dir())
    assert ended(run_dir) == "MLflow run status FINISHED"  # status: 3
    meta = run_dir / "meta.yaml"
    meta.write_text(meta.read_text().replace("status: 3", "status: 1"))  # RUNNING
    assert ended(run_dir) is None
    meta.write_text(meta.read_text().replace("status: 1", "status: 4"))
    assert ended(run_dir) == "MLflow run status FAILED"


def test_console_logs_end_with_the_frameworks_last_words(tmp_path):
    lightning = ("Epoch 0: 100%|██████████| 50/50 [00:01<00:00, v_num=0, train_loss=0.912]\n"
                 "Epoch 1: 100%|██████████| 50/50 [00:01<00:00, v_num=0, train_loss=0.514]\n")
    log = tmp_path / "train.log"
    log.write_text(lightning)
    assert ended(log) is None
    log.write_text(lightning + "`Trainer.fit` stopped: `max_epochs=2` reached.\n")
    assert ended(log) == "Lightning printed `Trainer.fit` stopped: `max_epochs=2` reached."
    hf = (" 50%|█████     | 10/20 [00:01<00:01,  9.0it/s]\n{'loss': 0.52, 'grad_norm': 1.3, "
          "'learning_rate': 4e-05, 'epoch': 0.5}\n100%|██████████| 20/20 [00:02<00:00,  9.0it/s]"
          "\n{'loss': 0.31, 'grad_norm': 1.1, 'learning_rate': 2e-05, 'epoch': 1.0}\n")
    log.write_text(hf)
    assert ended(log) is None
    log.write_text(hf + "{'train_runtime': 2.1, 'train_samples_per_second': 95.2, "
                        "'train_steps_per_second': 9.5, 'train_loss': 0.41, 'epoch': 1.0}\n")
    assert ended(log) == "the Trainer printed its train_runtime summary"
