"""The fine-tuning setup read from a run's configuration (readers/_setup.py): Hugging Face
TrainingArguments and configs, PEFT adapters, Lightning and Accelerate spellings, and the JSON text
summaries Hugging Face's TensorBoard callback writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nndoctor.adapters.readers import read_path
from nndoctor.adapters.readers._runs import context_from_params
from nndoctor.adapters.readers._setup import setup_from_params


@pytest.mark.parametrize(("params", "expected"), [
    ({"fp16": True, "bf16": False}, "fp16"),
    ({"fp16": False, "bf16": True}, "bf16"),
    ({"fp16": False, "bf16": False}, "fp32"),
    ({"fp16": "False", "bf16": "True"}, "bf16"),  # MLflow keeps every param as text
    ({"precision": "16-mixed"}, "fp16"),  # Lightning
    ({"precision": "bf16-mixed"}, "bf16"),
    ({"precision": 32}, "fp32"),
    ({"mixed_precision": "no"}, "fp32"),  # Accelerate
    ({"fp16": False, "bf16": False, "torch_dtype": "float16"}, "fp16"),  # model.half()-style
    ({"dtype": "float32"}, None),  # a float32 model may still train with autocast
])
def test_the_precision_in_its_spellings(params: dict, expected: str | None) -> None:
    assert setup_from_params(params).get("precision") == expected


def test_hugging_face_arguments_and_config_give_the_fine_tune_setup() -> None:
    args = {"learning_rate": 2e-5, "gradient_accumulation_steps": "4", "fp16": False,
            "bf16": False, "model_name_or_path": "bert-base-uncased"}
    config = {"_name_or_path": "", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
              "vocab_size": 50257}
    setup = setup_from_params({**args, **config})
    assert setup == {"pretrained_model": "bert-base-uncased", "precision": "fp32",
                     "grad_accumulation_steps": 4, "model_type": "gpt2", "causal_lm": True,
                     "vocab_size": 50257}
    assert "vocab_size" not in setup_from_params({"vocab_size": "50257"})  # only a count
    assert setup_from_params({"architectures": ["BertForSequenceClassification"]})[
        "causal_lm"] is False
    assert "pretrained_model" not in setup_from_params({"_name_or_path": ""})  # built from config
    assert setup_from_params({"accumulate_grad_batches": 8})["grad_accumulation_steps"] == 8
    assert "grad_accumulation_steps" not in setup_from_params({"gradient_accumulation_steps": 0})


def test_every_reader_gets_the_setup_from_its_parameters() -> None:
    context = context_from_params({"trainer": {"precision": "bf16-mixed",
                                               "accumulate_grad_batches": 2},
                                   "model": {"num_classes": 10}})
    assert context["precision"] == "bf16" and context["grad_accumulation_steps"] == 2
    assert context["num_classes"] == 10


def _state(folder: Path) -> None:
    folder.mkdir(parents=True)
    history = [{"loss": 2.0 - 0.01 * s, "learning_rate": 2e-5, "epoch": s / 100, "step": s}
               for s in range(1, 101)]
    (folder / "trainer_state.json").write_text(json.dumps(
        {"log_history": history, "global_step": 100, "max_steps": 100, "num_train_epochs": 1}))


def test_the_config_and_adapter_beside_trainer_state_are_read(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _state(out)
    (out / "config.json").write_text(json.dumps(
        {"_name_or_path": "meta-llama/Llama-3.2-1B", "architectures": ["LlamaForCausalLM"],
         "model_type": "llama", "torch_dtype": "bfloat16"}))
    (out / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "meta-llama/Llama-3.2-1B", "peft_type": "LORA", "r": 16}))
    [run] = read_path(out)
    assert run.context["pretrained_model"] == "meta-llama/Llama-3.2-1B"
    assert run.context["causal_lm"] is True and run.context["model_type"] == "llama"
    assert run.context["precision"] == "bf16"


def test_a_peft_adapter_alone_names_the_base_model(tmp_path: Path) -> None:
    out = tmp_path / "lora"
    _state(out)
    (out / "adapter_config.json").write_text(json.dumps(
        {"base_model_name_or_path": "Qwen/Qwen2.5-0.5B", "peft_type": "LORA"}))
    [run] = read_path(out)
    assert run.context["pretrained_model"] == "Qwen/Qwen2.5-0.5B"


def test_tensorboard_text_summaries_give_the_setup_and_bad_text_is_ignored(
        tmp_path: Path) -> None:
    tensorboard = pytest.importorskip("torch.utils.tensorboard")
    good, bad = tmp_path / "good", tmp_path / "bad"
    with tensorboard.SummaryWriter(str(good)) as writer:
        writer.add_text("args", json.dumps({"fp16": True, "gradient_accumulation_steps": 8}))
        writer.add_text("model_config", json.dumps({"model_type": "bert",
                                                    "architectures": ["BertForMaskedLM"]}))
        for step in range(10):
            writer.add_scalar("train/loss", 2.0 - 0.1 * step, step)
    with tensorboard.SummaryWriter(str(bad)) as writer:
        writer.add_text("args", "not json {")
        for step in range(10):
            writer.add_scalar("train/loss", 2.0 - 0.1 * step, step)
    [run] = read_path(good)
    assert run.context["precision"] == "fp16" and run.context["grad_accumulation_steps"] == 8
    assert run.context["model_type"] == "bert" and run.context["causal_lm"] is False
    assert "args/text_summary" not in run.series  # a text is no metric
    [plain] = read_path(bad)
    assert "precision" not in plain.context and len(plain.series["train_loss"]) == 10
