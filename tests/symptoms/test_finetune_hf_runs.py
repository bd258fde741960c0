"""The fine-tune detectors and rules on real Hugging Face Trainer runs (tests/symptoms/hf_runs.py):
each fault is read back from the trainer_state.json and TensorBoard events the Trainer wrote, and
diagnosed through the library path the CLI uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from nndoctor.adapters.symptoms import derive_facts  # noqa: E402
from nndoctor.engine.facts import Fact  # noqa: E402
from nndoctor.knowledge.loader import builtin_knowledge_base  # noqa: E402
from nndoctor.pipeline import diagnose_run, load_runs  # noqa: E402
from tests.symptoms import hf_runs  # noqa: E402

KB = builtin_knowledge_base()


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add contention on a shared CPU
    yield
    torch.set_num_threads(threads)


def _state_run(folder: Path):
    """The run read from the folder (trainer_state.json merged with the TensorBoard events)."""
    runs = load_runs([folder])
    assert len(runs) == 1, [r.format for r in runs]
    return runs[0]


def _made(tmp_path: Path, make: Callable[[Path], Path]) -> tuple[dict[str, Fact], list[str]]:
    run = _state_run(make(tmp_path / make.__name__))
    facts = {f.name: f for f in derive_facts(run, KB)}
    causes = [c.id for c in diagnose_run(run, questions=0).diagnosis.causes]
    return facts, causes


def test_garbage_batches_are_recovering_loss_spikes(tmp_path: Path) -> None:
    facts, causes = _made(tmp_path, hf_runs.loss_spikes)
    assert facts["loss_spikes"].value is True
    assert facts["loss_spike_count"].value == 2 and facts["loss_spikes_recover"].value is True
    assert "step 101" in facts["loss_spikes"].evidence
    assert causes[0] == "loss_spikes"


def test_a_warmup_longer_than_the_run_is_a_misconfigured_schedule(tmp_path: Path) -> None:
    facts, causes = _made(tmp_path, hf_runs.warmup_longer_than_run)
    assert facts["lr_still_rising_at_end"].value is True
    assert facts["stopped_before_planned_end"].value is False
    assert causes[0] == "lr_schedule_misconfigured"


def test_a_schedule_horizon_of_one_epoch_leaves_the_rate_at_zero(tmp_path: Path) -> None:
    facts, causes = _made(tmp_path, hf_runs.schedule_horizon_one_epoch)
    assert facts["lr_schedule_ends_early"].value is True
    assert causes[0] == "lr_schedule_misconfigured"


def test_max_steps_far_below_an_epoch_is_a_run_too_short(tmp_path: Path) -> None:
    facts, causes = _made(tmp_path, hf_runs.max_steps_far_below_an_epoch)
    assert facts["epochs_trained"].value < 0.1  # trainer_state's epoch, not num_train_epochs 1
    assert "trainer_state.json" in facts["epochs_trained"].evidence
    assert causes[0] == "not_trained_long_enough"


def test_a_healthy_finetune_shape_gets_no_finetune_cause(tmp_path: Path) -> None:
    run = _state_run(hf_runs.healthy(tmp_path / "healthy"))
    facts = {f.name: f.value for f in derive_facts(run, KB)}
    for name in ("loss_spikes", "lr_still_rising_at_end", "lr_schedule_ends_early",
                 "lr_never_decays", "train_loss_multiple_of_val", "loss_collapses_to_zero_fast",
                 "grad_norm_nonfinite_loss_finite"):
        assert facts[name] is False, name
    assert 0.05 < facts["warmup_fraction"] < 0.15
    diagnosis = diagnose_run(run, questions=0).diagnosis
    assert diagnosis.verdict == "healthy" and not diagnosis.causes


def test_a_loss_summed_over_accumulation_steps_is_four_times_the_eval_loss(
        tmp_path: Path) -> None:
    run = _state_run(hf_runs.summed_accumulation(tmp_path / "ga"))
    assert run.format == "hf_trainer_state+tensorboard"
    assert run.context["grad_accumulation_steps"] == 4  # TrainingArguments, from the args text
    assert run.context["precision"] == "fp32"
    assert run.context["model_type"] == "gpt2" and run.context["causal_lm"] is True
    facts = {f.name: f for f in derive_facts(run, KB)}
    causes = [c.id for c in diagnose_run(run, questions=0).diagnosis.causes]
    assert facts["train_loss_multiple_of_val"].value is True
    assert facts["loss_ratio_matches_accumulation"].value is True
    assert causes[0] == "grad_accumulation_bug"


def test_unshifted_labels_make_a_causal_lm_loss_collapse(tmp_path: Path) -> None:
    facts, causes = _made(tmp_path, hf_runs.unshifted_labels)
    assert facts["causal_lm"].value is True
    assert facts["loss_collapses_to_zero_fast"].value is True
    assert causes[0] == "label_masking_bug"


def test_a_model_cast_to_float16_overflows(tmp_path: Path) -> None:
    facts, causes = _made(tmp_path, hf_runs.half_precision)
    assert facts["mixed_precision"].value == "fp16"  # the saved config's dtype
    assert facts["loss_nonfinite"].value is True
    assert facts["grad_norm_nonfinite_loss_finite"].value is False  # NaN weights, not skips
    assert causes[0] == "mixed_precision_overflow"


def test_the_original_task_degrading_while_the_new_improves_is_forgetting(
        tmp_path: Path) -> None:
    run = _state_run(hf_runs.forgetting(tmp_path / "forget"))
    facts = {f.name: f for f in derive_facts(run, KB)}
    assert facts["eval_sets_diverge"].value is True
    assert "'orig'" in facts["eval_sets_diverge"].evidence
    diagnosis = diagnose_run(run, questions=0).diagnosis
    assert diagnosis.causes[0].id == "catastrophic_forgetting"
    assert diagnosis.scores["catastrophic_forgetting"] > diagnosis.scores.get("overfitting", 0)
