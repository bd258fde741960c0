"""Saved weights as a probe: weight matrices unchanged between the last two saved checkpoints,
and the scale and symmetry of the saved model's matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers._checkpoints import checkpoint_context, saved_context
from nndoctor.adapters.run import Run, Series
from nndoctor.adapters.symptoms import derive_facts
from nndoctor.engine.facts import Fact
from nndoctor.knowledge.loader import builtin_knowledge_base

save_file = pytest.importorskip("safetensors.numpy").save_file


def _save(folder: Path, step: int, tensors: dict[str, np.ndarray]) -> None:
    where = folder / f"checkpoint-{step}"
    where.mkdir(parents=True)
    save_file(tensors, str(where / "model.safetensors"))


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"body.0.weight": rng.normal(0, 0.1, (64, 20)).astype(np.float32),
            "body.0.bias": rng.normal(0, 0.1, 64).astype(np.float32),
            "norm.weight": np.ones(64, np.float32),
            "head.weight": rng.normal(0, 0.1, (4, 64)).astype(np.float32)}


def _run(context: dict[str, object], lr: float = 1e-3) -> Run:
    steps = np.arange(1, 101, dtype=np.int64)
    series = {"train_loss": Series.from_pairs(steps, np.linspace(1.4, 0.4, 100), "loss"),
              "lr": Series.from_pairs(steps, np.full(100, lr), "learning_rate")}
    return Run(name="r", path=Path("r"), format="hf_trainer_state", series=series,
               context=context, warnings=())


def _fact(context: dict[str, object], name: str, lr: float = 1e-3) -> Fact | None:
    facts = {f.name: f for f in derive_facts(_run(context, lr), builtin_knowledge_base())}
    return facts.get(name)


def _frozen_fact(context: dict[str, object], lr: float = 1e-3) -> Fact | None:
    return _fact(context, "frozen_parameters", lr)


def test_a_matrix_that_did_not_change_is_named(tmp_path: Path) -> None:
    first, second = _weights(0), _weights(1)
    second["body.0.weight"] = first["body.0.weight"]  # frozen
    second["norm.weight"] = first["norm.weight"]  # a scale vector: never judged
    _save(tmp_path, 50, first)
    _save(tmp_path, 100, second)
    ctx = checkpoint_context(tmp_path)
    assert ctx["checkpoint_steps"] == (50, 100)
    assert ctx["checkpoint_weights"] == 2  # the two matrices; bias and norm vectors left out
    assert ctx["checkpoint_frozen"] == ("body.0.weight",)
    fact = _frozen_fact(ctx)
    assert fact.value is True and fact.certainty == 1.0
    assert "body.0.weight" in fact.evidence and "checkpoint-50" in fact.evidence


def test_every_matrix_changing_rules_freezing_out(tmp_path: Path) -> None:
    _save(tmp_path, 10, _weights(0))
    _save(tmp_path, 20, _weights(1))
    ctx = checkpoint_context(tmp_path)
    assert ctx["checkpoint_frozen"] == ()
    assert _frozen_fact(ctx).value is False


def test_nothing_changed_is_not_called_frozen(tmp_path: Path) -> None:
    """Every weight as it was is not a freezing mistake by itself (dead units pass no gradient
    either): it is reported as weights_unchanged - unless the rate was too small to move them."""
    _save(tmp_path, 10, _weights(0))
    _save(tmp_path, 20, _weights(0))
    ctx = checkpoint_context(tmp_path)
    assert _frozen_fact(ctx) is None
    unchanged = _fact(ctx, "weights_unchanged")
    assert unchanged is not None and unchanged.value is True
    assert "none of the 2 weight matrices changed" in unchanged.evidence
    assert _fact(ctx, "weights_unchanged", lr=0.0) is None


def test_a_rate_below_the_stored_precision_is_not_evidence(tmp_path: Path) -> None:
    first, second = _weights(0), _weights(1)
    second["body.0.weight"] = first["body.0.weight"]
    _save(tmp_path, 10, first)
    _save(tmp_path, 20, second)
    ctx = checkpoint_context(tmp_path)
    assert _frozen_fact(ctx, lr=1e-3).value is True
    assert _frozen_fact(ctx, lr=1e-8) is None  # an Adam step of 1e-8 rounds away at |w| ~ 0.1


def test_a_fine_tune_holds_it_less_surely(tmp_path: Path) -> None:
    first, second = _weights(0), _weights(1)
    second["head.weight"] = first["head.weight"]
    _save(tmp_path, 10, first)
    _save(tmp_path, 20, second)
    ctx = {**checkpoint_context(tmp_path), "pretrained_model": "bert-base-uncased"}
    assert _frozen_fact(ctx).certainty == pytest.approx(0.6)


def test_bfloat16_weights_are_compared(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    for step, seed in ((10, 0), (20, 1)):
        torch.manual_seed(seed)
        where = tmp_path / f"checkpoint-{step}"
        where.mkdir()
        save_torch({"a.weight": torch.randn(8, 8, dtype=torch.bfloat16),
                    "b.weight": torch.ones(8, 8, dtype=torch.bfloat16)},
                   str(where / "model.safetensors"))
    ctx = checkpoint_context(tmp_path)
    assert ctx["checkpoint_frozen"] == ("b.weight",)
    assert ctx["checkpoint_resolution"] == pytest.approx(7.8e-3)


@pytest.mark.parametrize("content", [b"", b"\x00" * 4, b"\xff" * 8 + b"{}",
                                     (10).to_bytes(8, "little") + b'{"a.weight": [',
                                     (46).to_bytes(8, "little") +
                                     b'{"a.weight": {"dtype": ["F32"], "shape": [2, 2]}}'])
def test_a_broken_checkpoint_tells_nothing(tmp_path: Path, content: bytes) -> None:
    _save(tmp_path, 10, _weights(0))
    (tmp_path / "checkpoint-20").mkdir()
    (tmp_path / "checkpoint-20" / "model.safetensors").write_bytes(content)
    assert checkpoint_context(tmp_path) == {}


def test_a_truncated_tensor_tells_nothing(tmp_path: Path) -> None:
    _save(tmp_path, 10, _weights(0))
    _save(tmp_path, 20, _weights(1))
    path = tmp_path / "checkpoint-20" / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:8 + int.from_bytes(data[:8], "little") + 16])  # header, 16 bytes
    assert checkpoint_context(tmp_path) == {}


def test_one_checkpoint_is_not_enough(tmp_path: Path) -> None:
    _save(tmp_path, 10, _weights(0))
    assert checkpoint_context(tmp_path) == {}
    assert checkpoint_context(tmp_path / "missing") == {}


def test_saved_model_scale_and_symmetric_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    model = {"embed.weight": rng.normal(0, 5.0, (100, 16)).astype(np.float32),  # left out
             "body.0.weight": rng.normal(0, 1 / np.sqrt(16), (32, 16)).astype(np.float32),
             "body.2.weight": np.full((32, 32), 0.25, np.float32),  # every unit the same
             "head.weight": rng.normal(0, 1 / np.sqrt(32), (4, 32)).astype(np.float32),
             "body.2.lora_A.weight": rng.normal(0, 0.1, (2, 32)).astype(np.float32),  # rank 2
             "body.2.lora_B.weight": np.zeros((32, 2), np.float32)}
    save_file(model, str(tmp_path / "model.safetensors"))
    _save(tmp_path, 10, {k: v * 50 for k, v in model.items()})  # the final model wins
    ctx = saved_context(tmp_path)
    scale = dict(ctx["weights_scale"])
    assert {"body.0.weight", "body.2.weight", "head.weight"} <= set(scale)
    assert "embed.weight" not in scale
    assert scale["body.0.weight"] == pytest.approx(1.0, rel=0.15)
    assert "body.2.weight" in ctx["weights_symmetric"]
    assert ctx["weights_widths"] == (32,)  # body.0 and body.2 feed a layer; head feeds none
    facts = {f.name: f for f in derive_facts(_run(ctx), builtin_knowledge_base())}
    symmetric = facts["symmetric_units"]
    assert symmetric.value is True and "body.2.weight" in symmetric.evidence
    assert facts["weights_scale"].value == pytest.approx(1.0, rel=0.15)
    assert facts["narrowest_hidden_layer"].value == 32


def test_saved_model_from_the_last_checkpoint_and_broken_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    _save(tmp_path, 10, {"w.weight": rng.normal(0, 1.0, (8, 8)).astype(np.float32)})
    _save(tmp_path, 20, {"w.weight": rng.normal(0, 3.0, (8, 8)).astype(np.float32)})
    assert dict(saved_context(tmp_path)["weights_scale"])["w.weight"] > 4  # checkpoint-20
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert saved_context(tmp_path) == {}  # a broken saved model tells nothing
    assert saved_context(tmp_path / "nothing") == {}


def test_real_hf_trainer_with_a_frozen_first_layer(tmp_path: Path) -> None:
    """The Trainer's own checkpoints, read back by `nndoctor diagnose`: the frozen first layer
    is named; the same run with every layer training is not; its training_args.bin gives the
    optimizer."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from nndoctor.pipeline import diagnose_run, load_runs
    from tests.probes.helpers import fit_hf_trainer, mlp

    facts = {}
    for name in ("frozen", "trained", "zeros", "huge"):
        torch.manual_seed(0)
        net = mlp()
        if name == "frozen":
            net[0].requires_grad_(False)
        with torch.no_grad():
            for layer in net:
                if name in ("zeros", "huge") and isinstance(layer, torch.nn.Linear):
                    layer.weight.mul_(0.0 if name == "zeros" else 20.0)
                    layer.bias.mul_(0.0 if name == "zeros" else 1.0)
        fit_hf_trainer(tmp_path / name, net, save_strategy="steps", save_steps=8)
        report = diagnose_run(load_runs([tmp_path / name])[0])
        facts[name] = report.diagnosis.facts
    frozen = facts["frozen"]["frozen_parameters"]
    assert frozen.value is True and "net.0.weight" in frozen.evidence
    assert facts["trained"]["frozen_parameters"].value is False
    optimizer = facts["trained"]["optimizer"]  # the Trainer's default, from training_args.bin
    assert optimizer.value == "adam" and "adamw" in optimizer.evidence
    # the saved model: an initialisation's scale, zeros that never broke symmetry, 20x too large
    assert 0.3 <= facts["trained"]["weights_scale"].value <= 2.0
    assert facts["trained"]["symmetric_units"].value is False
    assert facts["zeros"]["symmetric_units"].value is True
    assert facts["huge"]["weights_scale"].value >= 4
