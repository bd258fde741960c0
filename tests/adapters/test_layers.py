"""Per-layer signals in the common schemes → the probe's series (layers.py), and the same facts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.layers import _match, layer_series, natural_key
from nndoctor.adapters.names import canonicalise
from nndoctor.adapters.readers import read_path
from nndoctor.adapters.run import Run, Series
from nndoctor.pipeline import diagnose_run

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"

SCHEMES = {
    "grad_norm/fc1.weight": ("grad_norm", "fc1", "weight"),
    "train/grad_norm/fc1.weight": ("grad_norm", "fc1", "weight"),
    "grad_2.0_norm/net.0.bias": ("grad_norm", "net.0", "bias"),  # Lightning grad_norm()
    "grad_2.0_norm/layer.10.weight": ("grad_norm", "layer.10", "weight"),
    "gradients/conv1/norm": ("grad_norm", "conv1", ""),
    "gradients/conv1": ("grad_norm", "conv1", ""),
    "fc1.grad_norm": ("grad_norm", "fc1", ""),
    "encoder.layer.3/grad_norm": ("grad_norm", "encoder.layer.3", ""),
    "grad/fc2": ("grad_norm", "fc2", ""),
    "grads/fc2.weight": ("grad_norm", "fc2", "weight"),
    "weights/fc1": ("weight_norm", "fc1", ""),
    "weight_norm/fc1.weight": ("weight_norm", "fc1", "weight"),
    "fc1.weight_norm": ("weight_norm", "fc1", ""),
    "dead_relu_frac": ("dead_fraction", "model", ""),
    "dead_fraction/relu1": ("dead_fraction", "relu1", ""),
    "activations/relu1/zero_fraction": ("dead_fraction", "relu1", ""),
    "relu2/dead_fraction": ("dead_fraction", "relu2", ""),
    "saturation/tanh1": ("saturated_fraction", "tanh1", ""),
    "tanh1/saturation": ("saturated_fraction", "tanh1", ""),
    # TensorBoard histograms, read as hist/<tag>/norm
    "hist/fc1.weight.grad/norm": ("grad_norm", "fc1", "weight"),
    "hist/gradients/fc1.weight/norm": ("grad_norm", "fc1", "weight"),
    "hist/fc1.weight/norm": ("weight_norm", "fc1", "weight"),
    "hist/weights/fc1/norm": ("weight_norm", "fc1", ""),
    "hist/train/dense/kernel_0/norm": ("weight_norm", "dense", "kernel_0"),  # Keras 2 callback
    "hist/train/sequential/dense/kernel/histogram/norm": ("weight_norm", "sequential/dense",
                                                          "kernel"),  # Keras 3 callback
}
NOT_LAYERS = ["grad_norm", "train/grad_norm", "grad_2.0_norm_total", "grad_norm/total",
              "loss_scale", "val_loss_ratio", "weights/mean", "gradients/fc1/mean",
              "hist/activations/relu1/norm", "hist/fc1/weight/std", "lr-AdamW/pg1",
              "train/loss", "Loss/train", "weight_decay", "max_grad_norm", "global_grad_norm",
              "grads/total_norm", "gradients/global_norm", "grad_norm/pre_clip", "grad/norm"]


@pytest.mark.parametrize(("tag", "expected"), sorted(SCHEMES.items()))
def test_schemes(tag: str, expected: tuple[str, str, str]) -> None:
    assert _match(tag) == expected


@pytest.mark.parametrize("tag", NOT_LAYERS)
def test_not_per_layer(tag: str) -> None:
    assert _match(tag) is None


def _s(values: list[float], tag: str = "", start: int = 0) -> Series:
    return Series.from_pairs(np.arange(start, start + len(values)), values, tag)


def test_natural_order_and_first_mention_of_differently_named_modules() -> None:
    raw = {f"grad_norm/layer.{i}.weight": _s([float(i)]) for i in (10, 2, 1, 0)}
    raw["grad_norm/head.weight"] = _s([99.0])
    raw = {"grad_norm/stem.weight": _s([-1.0]), **raw}  # written first: the stem comes first
    out, hint = layer_series(raw)
    names = sorted(k for k in out if k.startswith("nndoctor/"))
    assert names == ["nndoctor/grad_norm/00-stem", "nndoctor/grad_norm/01-layer.0",
                     "nndoctor/grad_norm/02-layer.1", "nndoctor/grad_norm/03-layer.2",
                     "nndoctor/grad_norm/04-layer.10", "nndoctor/grad_norm/05-head"]
    assert hint == {"layer_signals": {"grad_norm": 6}}
    assert natural_key("layer.10") > natural_key("layer.2")


def test_parameters_combine_into_one_layer_norm() -> None:
    raw = {"grad_norm/fc1.weight": _s([3.0, 3.0, 6.0]), "grad_norm/fc1.bias": _s([4.0, 4.0]),
           "grad_norm/fc2.weight": _s([1.0, 1.0, 1.0])}
    out, _ = layer_series(raw)
    fc1 = out["nndoctor/grad_norm/00-fc1"]
    assert fc1.steps.tolist() == [0, 1] and fc1.values.tolist() == [5.0, 5.0]  # shared steps
    assert fc1.source_tag == "grad_norm/fc1.weight+grad_norm/fc1.bias"
    assert "grad_norm/fc1.bias" not in out


def test_the_probes_own_series_win() -> None:
    raw = {"nndoctor/grad_norm/00-a": _s([1.0]), "grad_norm/fc1.weight": _s([2.0]),
           "dead_fraction/relu1": _s([0.5])}
    out, _ = layer_series(raw)
    assert "grad_norm/fc1.weight" in out  # kept under its own name, not mixed in
    assert "nndoctor/dead_fraction/00-relu1" in out


def test_model_level_dead_fraction_becomes_a_fact() -> None:
    series, _ = canonicalise({"loss": _s([1.0, 0.9]), "dead_relu_frac": _s([0.7, 0.8])})
    run = Run("r", Path("r.csv"), "generic_csv", series)
    fact = diagnose_run(run).diagnosis.facts["dead_unit_fraction"]
    assert fact.value == pytest.approx(0.75)  # median of the last points


def test_frozen_from_norms() -> None:
    grads = {"grad_norm/a.weight": _s([1.0, 0.5, 0.4]), "grad_norm/b.weight": _s([0.0, 0.0, 0.0])}
    series, _ = canonicalise({"loss": _s([1.0, 0.9, 0.8]), **grads})
    facts = diagnose_run(Run("r", Path("r"), "jsonl", series)).diagnosis.facts
    assert facts["frozen_parameters"].value is True
    assert "01-b" in facts["frozen_parameters"].evidence
    weights = {"weights/a": _s([1.0, 1.1, 1.2]), "weights/b": _s([2.0, 2.0, 2.0])}
    series, _ = canonicalise({"loss": _s([1.0, 0.9, 0.8]), **weights})
    facts = diagnose_run(Run("r", Path("r"), "jsonl", series)).diagnosis.facts
    assert facts["frozen_parameters"].value is True and "weights never change" in \
        facts["frozen_parameters"].evidence
    moving = {"weights/a": _s([1.0, 1.1, 1.2]), "weights/b": _s([2.0, 2.1, 2.0])}
    series, _ = canonicalise({"loss": _s([1.0, 0.9, 0.8]), **moving})
    facts = diagnose_run(Run("r", Path("r"), "jsonl", series)).diagnosis.facts
    assert facts["frozen_parameters"].value is False
    alive = {"grad_norm/a.weight": _s([1.0, 0.5, 0.4]), "grad_norm/b.weight": _s([0.1, 0.2, 0.1])}
    series, _ = canonicalise({"loss": _s([1.0, 0.9, 0.8]), **alive})
    facts = diagnose_run(Run("r", Path("r"), "jsonl", series)).diagnosis.facts
    assert "frozen_parameters" not in facts  # a frozen layer has no gradient to log at all


def test_zero_gradients_in_the_first_layers_are_a_blocked_gradient_not_freezing() -> None:
    grads = {"grad_norm/a.weight": _s([0.0, 0.0, 0.0]), "grad_norm/b.weight": _s([0.0, 0.0, 0.0]),
             "grad_norm/c.weight": _s([0.3, 0.2, 0.2])}
    series, _ = canonicalise({"loss": _s([2.3, 2.3, 2.3]), **grads})
    diagnosis = diagnose_run(Run("r", Path("r"), "jsonl", series)).diagnosis
    assert "frozen_parameters" not in diagnosis.facts  # nothing flows below layer b: dead units
    assert diagnosis.facts["grad_ratio_first_last"].value == 0
    assert "GRD014" in diagnosis.fired and "GRD002" not in diagnosis.fired


def test_lightning_grad_norm_utility_real_output() -> None:
    """Lightning's grad_norm(module) through CSVLogger (fixture made by Lightning itself): the
    branch multiplied by 0 has an exactly zero gradient."""
    (run,) = read_path(LOGS / "twice" / "lightning_two_loggers" / "lightning_logs" / "version_0")
    assert run.series["grad_norm"].source_tag == "grad_2.0_norm_total"
    layers = [k for k in run.series if k.startswith("nndoctor/grad_norm/")]
    assert layers == ["nndoctor/grad_norm/00-net.0", "nndoctor/grad_norm/01-net.2",
                      "nndoctor/grad_norm/02-unused"]
    facts = diagnose_run(run).diagnosis.facts
    assert facts["frozen_parameters"].value is True and "02-unused" in \
        facts["frozen_parameters"].evidence
    assert "grad_ratio_first_last" in facts


# --------------------------------------------------------------------------- real torch output

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One small training run logged three ways at once: nndoctor's probe (JSONL), per-parameter
    grad-norm and dead-fraction scalars, and gradient histograms (torch's SummaryWriter)."""
    from torch import nn
    from torch.utils.tensorboard import SummaryWriter

    import nndoctor.probes

    root = tmp_path_factory.mktemp("layers")
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i in range(11):  # 12 Linear layers: names 0 … 22, so 10 sorts before 2 as text
        layers += [nn.Linear(16 if i else 8, 16), nn.Sigmoid() if i < 10 else nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    probe = nndoctor.probes.attach(model, opt, log_dir=root / "probe", every=1)
    dead: dict[str, float] = {}
    model[21].register_forward_hook(
        lambda m, i, o: dead.__setitem__("relu", float((o <= 0).all(0).float().mean())))
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    with SummaryWriter(str(root / "scalars")) as scalars, \
            SummaryWriter(str(root / "hists")) as hists:
        for step in range(6):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            for name, p in model.named_parameters():
                scalars.add_scalar(f"grad_norm/{name}", p.grad.norm().item(), step)
                hists.add_histogram(f"gradients/{name}", p.grad, step)
            scalars.add_scalar("activations/21/zero_fraction", dead["relu"], step)
            scalars.add_scalar("Loss/train", loss.item(), step)
            hists.add_scalar("Loss/train", loss.item(), step)
            opt.step()
            probe.step(loss)
    probe.close()
    return {name: read_path(root / name)[0] for name in ("probe", "scalars", "hists")}


def test_same_gradient_ratio_as_the_probe(logged: dict[str, Run]) -> None:
    facts = {k: diagnose_run(run).diagnosis.facts for k, run in logged.items()}
    want = facts["probe"]["grad_ratio_first_last"].value
    assert want < 0.1  # ten sigmoid layers: the gradient vanishes toward the input
    for scheme in ("scalars", "hists"):
        got = facts[scheme]["grad_ratio_first_last"]
        assert got.value == pytest.approx(want, rel=1e-3), scheme
        assert "layer 00-0 " in got.evidence and "-22 (" in got.evidence  # natural: 0 … 22


def test_same_dead_fraction_as_the_probe(logged: dict[str, Run]) -> None:
    probe = diagnose_run(logged["probe"]).diagnosis.facts["dead_unit_fraction"]
    scalars = diagnose_run(logged["scalars"]).diagnosis.facts["dead_unit_fraction"]
    assert scalars.value == pytest.approx(probe.value)
    assert logged["scalars"].series["train_loss"].source_tag == "Loss/train"


def test_saturation_scheme_becomes_the_probe_fact() -> None:
    series, _ = canonicalise({"loss": _s([1.0, 0.9]), "saturation/tanh1": _s([0.2, 0.3]),
                              "tanh2/saturation": _s([0.9, 0.95])})
    fact = diagnose_run(Run("r", Path("r"), "jsonl", series)).diagnosis.facts[
        "saturated_fraction"]
    assert fact.value == pytest.approx(0.925) and "tanh2" in fact.evidence
