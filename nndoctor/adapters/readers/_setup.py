"""The fine-tuning setup a run's configuration tells: pretrained checkpoint, numeric precision,
gradient accumulation, model family.

Hugging Face ``TrainingArguments`` (logged by its MLflow / W&B / TensorBoard callbacks), the
model's ``config.json``, PEFT's ``adapter_config.json``, Lightning and Accelerate spell these
differently; :func:`setup_from_params` maps the spellings to plain context keys. Values are only
read: a path in the mapping is never opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# context key → spellings, first match wins (HF TrainingArguments, HF/PEFT configs, TRL, Lightning)
PRETRAINED_KEYS = ("model_name_or_path", "base_model_name_or_path", "_name_or_path",
                   "pretrained_model_name_or_path", "sft_model_path", "model_id")
ACCUMULATION_KEYS = ("gradient_accumulation_steps", "accumulate_grad_batches",
                     "grad_accum_steps", "gradient_accumulation_iters")
PRECISION_KEYS = ("precision", "mixed_precision")  # Lightning "16-mixed", Accelerate "fp16"
# model_type values of the Hugging Face configs that are decoder-only (causal) language models
CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
_PRECISIONS = {"16": "fp16", "16-mixed": "fp16", "fp16": "fp16", "float16": "fp16",
               "half": "fp16", "bf16": "bf16", "bf16-mixed": "bf16", "bfloat16": "bf16",
               "32": "fp32", "32-true": "fp32", "fp32": "fp32", "float32": "fp32", "no": "fp32",
               "64": "fp32", "64-true": "fp32"}


def setup_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``pretrained_model`` (the checkpoint name or path), ``precision`` (fp16 | bf16 | fp32),
    ``grad_accumulation_steps`` (int), ``model_type``, ``causal_lm`` (from a HF config's
    ``architectures``) and ``vocab_size`` (int ≥ 2), from a (possibly one level nested)
    parameter mapping."""
    levels: list[Mapping[str, Any]] = [params]
    levels += [v for v in params.values() if isinstance(v, Mapping)]
    out: dict[str, Any] = {}
    for level in levels:
        lowered = {str(k).lower(): v for k, v in level.items()}
        _setdefault(out, "pretrained_model", _checkpoint(lowered))
        _setdefault(out, "precision", _precision(lowered))
        _setdefault(out, "grad_accumulation_steps", _accumulation(lowered))
        _setdefault(out, "model_type", _text(lowered.get("model_type")))
        _setdefault(out, "causal_lm", _causal(lowered.get("architectures")))
        _setdefault(out, "vocab_size", _count(lowered.get("vocab_size")))
    return out


def _setdefault(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and key not in out:
        out[key] = value


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip() and value.strip().lower() not in ("none", "null"):
        return value.strip()
    return None


def _checkpoint(params: Mapping[str, Any]) -> str | None:
    for key in PRETRAINED_KEYS:
        name = _text(params.get(key))
        if name is not None:
            return name
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 2:
        return value
    return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _precision(params: Mapping[str, Any]) -> str | None:
    """HF's ``fp16``/``bf16`` flags (one true); else a model loaded in half precision (its
    config's ``torch_dtype``/``dtype``: trained in float16 without autocast); else Lightning's
    ``precision`` or Accelerate's ``mixed_precision``; fp32 when both HF flags are off."""
    for key, name in (("fp16", "fp16"), ("bf16", "bf16")):
        if _flag(params.get(key)) is True:
            return name
    for key in ("torch_dtype", "dtype"):
        value = _text(params.get(key))
        if value is not None and _PRECISIONS.get(value.lower().removeprefix("torch.")) in (
                "fp16", "bf16"):
            return _PRECISIONS[value.lower().removeprefix("torch.")]
    for key in PRECISION_KEYS:
        value = params.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and float(value).is_integer():
            value = str(int(value))
        if isinstance(value, str) and value.strip().lower() in _PRECISIONS:
            return _PRECISIONS[value.strip().lower()]
    if _flag(params.get("fp16")) is False and _flag(params.get("bf16")) is False:
        return "fp32"
    return None


def _accumulation(params: Mapping[str, Any]) -> int | None:
    for key in ACCUMULATION_KEYS:
        value = params.get(key)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if float(value).is_integer() and value >= 1:
            return int(value)
    return None


def _causal(architectures: Any) -> bool | None:
    """True for a HF causal LM (``GPT2LMHeadModel``, ``LlamaForCausalLM``), False for another
    named architecture (``BertForSequenceClassification``), None when none is named."""
    if isinstance(architectures, str):
        architectures = [architectures]
    names = [a for a in architectures or () if isinstance(a, str)] if isinstance(
        architectures, list | tuple) else []
    if not names:
        return None
    return any(name.endswith(CAUSAL_SUFFIXES) for name in names)
