"""The live probe's mechanics: cadence, tag scheme, each measured quantity, writers, readers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import nndoctor.probes  # noqa: E402
from nndoctor.pipeline import diagnose_run, load_runs  # noqa: E402
from nndoctor.probes.sink import MemoryWriter, clean_layer, layer_names  # noqa: E402
from nndoctor.probes.torch_probe import Probe, _activation_stats  # noqa: E402
from tests.adapters import eventfile  # noqa: E402
from tests.probes.helpers import blobs, mlp, train  # noqa: E402


def hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
         y: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def values(writer: MemoryWriter, prefix: str) -> dict[str, list[float]]:
    return {t[len(prefix):]: [v for _, v in p] for t, p in writer.points.items()
            if t.startswith(prefix)}


def test_layer_names_sort_in_forward_order() -> None:
    names = layer_names(["fc", "Block.Conv1", ""] + [f"x{i}" for i in range(9)])
    assert names["fc"] == "00-fc" and names["Block.Conv1"] == "01-block.conv1"
    assert names[""] == "02-model"
    assert sorted(names.values()) == list(names.values())
    assert clean_layer("Head/Out Proj") == "head_out_proj"


def test_hooks_exist_only_on_probe_steps() -> None:
    torch.manual_seed(0)
    model, (x, y) = mlp(), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    probe = Probe(model, optimizer, writer=MemoryWriter(), every=4)
    armed = []
    for _ in range(9):
        armed.append(hooks(model) > 0)
        step(model, optimizer, x, y)
    assert armed == [True, False, False, False, True, False, False, False, True]
    probe.close()
    assert hooks(model) == 0
    assert not optimizer._optimizer_step_post_hooks


def test_jsonl_rows_and_forward_order(tmp_path: Path) -> None:
    torch.manual_seed(0)
    log = train(mlp(), torch.optim.Adam(mlp().parameters(), 1e-3), tmp_path, blobs(), steps=12,
                every=5)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert all("step" in r for r in rows)
    assert [r["step"] for r in rows if "nndoctor/grad_norm/00-0" in r] == [0, 5, 10]
    first = rows[0]
    assert {"nndoctor/act_kind/01-1", "nndoctor/dead_fraction/01-1", "nndoctor/act_std/00-0",
            "nndoctor/update_ratio/06-6", "nndoctor/frozen/00-0", "lr", "train_loss"} <= set(first)


def test_update_ratio_matches_the_weight_change() -> None:
    torch.manual_seed(0)
    model, (x, y) = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 4)), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.5)
    writer = MemoryWriter()
    probe = Probe(model, optimizer, writer=writer, every=100)
    before = [p.detach().clone() for p in model[0].parameters()]
    step(model, optimizer, x, y)
    after = list(model[0].parameters())
    delta = math.sqrt(sum(float((a.detach() - b).pow(2).sum())
                          for a, b in zip(after, before, strict=True)))
    norm = math.sqrt(sum(float(b.pow(2).sum()) for b in before))
    assert values(writer, "nndoctor/update_ratio/")["00-0"][0] == pytest.approx(delta / norm)
    grad = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model[0].parameters()))  # type: ignore[union-attr]
    assert values(writer, "nndoctor/grad_norm/")["00-0"][0] == pytest.approx(grad, rel=1e-5)
    probe.close()


def test_activation_statistics() -> None:
    y = torch.tensor([[1.0, 0.0, 0.0], [2.0, 0.0, -1.0]])
    stats = _activation_stats(y, kind=1)
    assert float(stats["dead"]) == pytest.approx(2 / 3)  # units 2 and 3 never fire
    assert float(stats["mean"]) == pytest.approx(float(y.mean()))
    assert float(stats["std"]) == pytest.approx(float(y.std(unbiased=False)))
    sig = torch.tensor([[0.005, 0.5], [0.995, 0.6]])
    assert float(_activation_stats(sig, kind=3)["sat"]) == pytest.approx(0.5)
    tanh = torch.tensor([[0.999, 0.2], [-0.995, -0.5]])
    assert float(_activation_stats(tanh, kind=4)["sat"]) == pytest.approx(0.5)
    assert float(_activation_stats(torch.tensor([1.0, math.nan]), 1)["nonfinite"]) == 1.0


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c, self.unused = (nn.Linear(20, 8), nn.Linear(8, 8),
                                               nn.Linear(8, 4), nn.Linear(3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(self.b(self.a(x).detach()).relu())  # gradient cut before a


def test_frozen_by_mistake_reasons() -> None:
    torch.manual_seed(0)
    model, (x, y) = Branchy(), blobs(64)
    model.b.weight.requires_grad_(False)  # requires_grad off on a Linear
    optimizer = torch.optim.SGD([model.a.weight, model.a.bias, model.b.bias], 0.1)  # c missing
    writer = MemoryWriter()
    probe = Probe(model, optimizer, writer=writer, every=1)
    step(model, optimizer, x, y)
    flags = {k: v[-1] for k, v in values(writer, "nndoctor/frozen/").items()}
    assert flags == {"00-a": 1.0, "01-b": 1.0, "02-c": 1.0, "03-unused": 0.0}
    probe.close()


def test_weights_that_never_move_are_frozen_without_optimizer() -> None:
    torch.manual_seed(0)
    model, (x, y) = mlp(depth=2), blobs(64)
    optimizer = torch.optim.SGD(model[0].parameters(), 0.1)  # the probe cannot see it
    writer = MemoryWriter()
    probe = Probe(model, None, writer=writer, every=2, frozen_after=4)
    for _ in range(6):
        probe.step(step(model, optimizer, x, y))
    flags = values(writer, "nndoctor/frozen/")
    assert flags == {"00-0": [0.0, 0.0, 0.0], "02-2": [0.0, 0.0, 1.0]}
    probe.close()


def test_symmetric_units_and_nonfinite_flags() -> None:
    model, (x, y) = mlp(depth=2), blobs(64)
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    writer = MemoryWriter()
    probe = Probe(model, torch.optim.SGD(model.parameters(), 0.1), writer=writer, every=1)
    step(model, probe.optimizer, x, y)
    assert values(writer, "nndoctor/symmetric_units/") == {"00-0": [1.0], "02-2": [0.0]}
    with torch.no_grad():
        model[2].weight[0, 0] = math.nan
    step(model, probe.optimizer, x, y)
    flags = values(writer, "nndoctor/weights_nonfinite/")
    assert flags["02-2"] == [0.0, 1.0]
    assert values(writer, "nndoctor/act_nonfinite/")["02-2"] == [0.0, 1.0]
    probe.close()


def test_manual_mode_without_optimizer() -> None:
    torch.manual_seed(0)
    model, (x, y) = mlp(depth=2), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    writer = MemoryWriter()
    probe = nndoctor.probes.attach(model, writer=writer, every=2)
    for _ in range(4):
        loss = step(model, optimizer, x, y)
        probe.step(loss)
    assert [s for s, _ in writer.points["nndoctor/update_ratio/00-0"]] == [0, 2]
    assert writer.points["nndoctor/update_ratio/00-0"][0][1] > 0
    assert [s for s, _ in writer.points["train_loss"]] == [0, 1, 2, 3]
    probe.close()


def test_nan_loss_forces_a_probe_on_the_next_step() -> None:
    model, (x, y) = mlp(depth=2), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    writer = MemoryWriter()
    probe = Probe(model, optimizer, writer=writer, every=50)
    step(model, optimizer, x, y)
    probe.step(torch.tensor(math.nan))
    step(model, optimizer, x, y)
    assert [s for s, _ in writer.points["nndoctor/grad_norm/00-0"]] == [0, 1]
    probe.close()


def test_tensorboard_and_jsonl_readers_keep_probe_tags(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = mlp()
    writer = MemoryWriter()
    with Probe(model, torch.optim.Adam(model.parameters(), 1e-3), writer=writer, every=1) as p:
        x, y = blobs(64)
        for _ in range(3):
            p.step(step(model, p.optimizer, x, y))
    events = {}
    for tag, points in writer.points.items():
        for s, v in points:
            events.setdefault(s, []).append(eventfile.simple(tag, v))
    tb = eventfile.write(tmp_path / "tb" / "events.out.tfevents.1.host",
                         [eventfile.event(s, *vals) for s, vals in sorted(events.items())])
    jsonl = tmp_path / "probe.jsonl"
    jsonl.write_text("".join(json.dumps({"step": s, **{t: v for t, pts in writer.points.items()
                                                      for st, v in pts if st == s}}) + "\n"
                             for s in sorted(events)))
    for path in (tb.parent, jsonl):
        run = load_runs([path])[0]
        probe_tags = {t for t in writer.points if t.startswith("nndoctor/")}
        assert probe_tags <= set(run.series), f"{run.format} renamed probe tags"
        assert {"train_loss", "lr", "grad_norm"} <= set(run.series)


class NoGradStem(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem, self.head = nn.Linear(20, 8), nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # the stem never gets a gradient, by mistake
            h = self.stem(x).relu()
        return self.head(h)


def test_gradient_cut_by_no_grad_is_frozen() -> None:
    model, (x, y) = NoGradStem(), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    writer = MemoryWriter()
    probe = Probe(model, optimizer, writer=writer, every=1)
    step(model, optimizer, x, y)
    assert {k: v[-1] for k, v in values(writer, "nndoctor/frozen/").items()} == \
        {"00-stem": 1.0, "01-head": 0.0}
    assert "00-stem" not in values(writer, "nndoctor/act_std/")  # no stats from no_grad passes
    probe.close()


def clipped_amp_steps(probe_options: dict, steps: int = 4) -> tuple[MemoryWriter, list[float]]:
    """A loop as the HF Trainer runs it under fp16: scaled backward, unscale, clip to 0.01,
    scaler step. Returns the probe's writer and the pre-clip norms clip_grad_norm_ reported."""
    torch.manual_seed(0)
    model, (x, y) = mlp(), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    options = dict(probe_options)
    if options.pop("scaled", False):
        options["grad_scale"] = scaler.get_scale
    writer = MemoryWriter()
    probe = Probe(model, optimizer, writer=writer, every=1, **options)
    reported = []
    for _ in range(steps):
        optimizer.zero_grad()
        scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
        scaler.unscale_(optimizer)
        reported.append(float(nn.utils.clip_grad_norm_(model.parameters(), 0.01)))
        scaler.step(optimizer)
        scaler.update()
    probe.close()
    return writer, reported


def test_pre_clip_gradient_norms_are_the_ones_clipping_saw() -> None:
    """Read at the optimizer step, a clipped norm never exceeds max_norm (an explosion looks
    flat); read after backward and divided by the loss scale, it is the norm clip_grad_norm_
    measured before clipping."""
    at_step, reported = clipped_amp_steps({})
    assert max(v for _, v in at_step.points["grad_norm"]) <= 0.01 + 1e-6
    pre_clip, reported = clipped_amp_steps({"pre_clip": True, "scaled": True})
    assert min(reported) > 0.1  # clipping really cut them
    assert [v for _, v in pre_clip.points["grad_norm"]] == pytest.approx(reported, rel=1e-5)
    layers = values(pre_clip, "nndoctor/grad_norm/")
    total = [math.sqrt(sum(v[i] ** 2 for v in layers.values())) for i in range(len(reported))]
    assert total == pytest.approx(reported, rel=1e-5)  # per layer too, not just the total
    unscaled, _ = clipped_amp_steps({"pre_clip": True})  # scale not given: 1024× too large
    assert unscaled.points["grad_norm"][0][1] == pytest.approx(1024 * reported[0], rel=1e-4)


def test_pre_clip_hooks_exist_only_on_probe_steps() -> None:
    torch.manual_seed(0)
    model, (x, y) = mlp(), blobs(64)
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    probe = Probe(model, optimizer, writer=MemoryWriter(), every=3, pre_clip=True)
    armed = []
    for _ in range(4):
        armed.append(sum(len(p._post_accumulate_grad_hooks or {}) for p in model.parameters()))
        step(model, optimizer, x, y)
    probe.close()
    assert armed[0] == armed[3] == len(list(model.parameters())) and armed[1] == armed[2] == 0
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())


class GatedMLP(nn.Module):
    """Two wide ReLU layers and three 2-unit tanh gates: more tanh modules, far fewer tanh
    activations."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
        self.gates = nn.ModuleList(nn.Sequential(nn.Linear(256, 2), nn.Tanh()) for _ in range(3))
        self.head = nn.Linear(256 + 6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return self.head(torch.cat([h, *(g(h) for g in self.gates)], dim=1))


def test_hidden_activation_weighs_modules_by_their_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GatedMLP()
    log = train(model, torch.optim.SGD(model.parameters(), 0.01), tmp_path, blobs(), steps=2,
                every=1)
    row = json.loads(log.read_text().splitlines()[0])
    units = {k: v for k, v in row.items() if k.startswith("nndoctor/act_units/")}
    assert sorted(units.values()) == [2.0, 2.0, 2.0, 256.0, 256.0]
    [run] = load_runs([log])
    fact = diagnose_run(run).diagnosis.facts["hidden_activation"]
    assert fact.value == "relu", fact.evidence  # by module count it would be tanh (3 of 5)
    assert "99% of the activation outputs (2 of 5 activation modules)" in fact.evidence


def test_a_tanh_pooler_does_not_make_bert_a_tanh_network(tmp_path: Path) -> None:
    """A small BERT from the real transformers classes: GELU in every layer (Hugging Face's
    GELUActivation, not an nn.GELU), one tanh in the pooler."""
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, num_labels=3)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    ids = torch.randint(0, 50, (8, 12))
    with nndoctor.probes.attach(model, optimizer, log_dir=tmp_path, every=1) as probe:
        for _ in range(2):
            optimizer.zero_grad()
            loss = model(input_ids=ids, labels=torch.randint(0, 3, (8,))).loss
            loss.backward()
            optimizer.step()
            probe.step(loss)
    [run] = load_runs([tmp_path / "probe.jsonl"])
    fact = diagnose_run(run).diagnosis.facts["hidden_activation"]
    assert fact.value == "gelu_swish", fact.evidence
    assert "(2 of 3 activation modules)" in fact.evidence
