"""The saved optimiser state as a probe: real Lightning and Hugging Face runs whose parameters
never received a gradient (frozen, cut off by detach(), behind dead units), a healthy run, and
files that tell nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nndoctor.adapters.readers import _optimizer_state
from nndoctor.adapters.readers._checkpoints import saved_context

torch = pytest.importorskip("torch")


def _lightning_facts(folder: Path, kind: str) -> Any:
    """The facts of a real 3-epoch Lightning run (CSVLogger, default ModelCheckpoint) whose
    Adam is handed every parameter (``self.parameters()``, the usual configure_optimizers)."""
    pl = pytest.importorskip("lightning.pytorch")
    from nndoctor.pipeline import diagnose_run, load_runs
    from tests.probes.helpers import fit_lightning, mlp

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()
            linears = [m for m in self.net if isinstance(m, torch.nn.Linear)]
            if kind == "frozen":
                for layer in linears[:-1]:
                    layer.requires_grad_(False)
            if kind == "dead":  # every ReLU off for every input: no gradient below the head
                with torch.no_grad():
                    for layer in linears[:-1]:
                        layer.bias.fill_(-100.0)

        def forward(self, x: Any) -> Any:
            if kind != "detached":
                return self.net(x)
            hidden = self.net[:-1](x).detach()  # the gradient stops here
            return self.net[-1](hidden)

        def training_step(self, batch: Any, index: int) -> Any:
            loss = torch.nn.functional.cross_entropy(self(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), 3e-3)

    version = fit_lightning(folder, Module())
    assert "optimizer_file" in saved_context(version)
    return diagnose_run(load_runs([version])[0]).diagnosis.facts


def test_real_lightning_runs(tmp_path: Path) -> None:
    """Frozen hidden layers and a detach() leave those parameters without optimiser state;
    dead ReLUs leave every weight matrix a zero second moment; a healthy run has state for all,
    with a first/last gradient ratio of order 1."""
    facts = {kind: _lightning_facts(tmp_path / kind, kind)
             for kind in ("frozen", "detached", "dead", "healthy")}
    for kind in ("frozen", "detached"):
        frozen = facts[kind]["frozen_parameters"]
        assert frozen.value is True and frozen.certainty == 1.0
        assert "6 of the 8 parameter tensors" in frozen.evidence
        assert "never received a gradient" in frozen.evidence
    assert facts["dead"]["weights_unchanged"].value is True
    assert "grad_ratio_first_last" not in facts["dead"]
    assert facts["healthy"]["frozen_parameters"].value is False
    assert "weights_unchanged" not in facts["healthy"]
    assert 0.01 < facts["healthy"]["grad_ratio_first_last"].value < 100


def test_real_hf_trainer_hands_the_optimiser_only_trainable_parameters(tmp_path: Path) -> None:
    """With one checkpoint (no two to compare) the Trainer's optimizer.pt, which holds only the
    parameters with requires_grad, against the model.safetensors beside it shows the freezing."""
    pytest.importorskip("transformers")
    from nndoctor.pipeline import diagnose_run, load_runs
    from tests.probes.helpers import fit_hf_trainer, mlp

    facts = {}
    for name in ("frozen", "trained"):
        torch.manual_seed(0)
        net = mlp()
        if name == "frozen":
            for layer in list(net)[:-1]:
                layer.requires_grad_(False)
        fit_hf_trainer(tmp_path / name, net, save_strategy="epoch", save_total_limit=1)
        assert len(list((tmp_path / name).glob("checkpoint-*"))) == 1
        facts[name] = diagnose_run(load_runs([tmp_path / name])[0]).diagnosis.facts
    frozen = facts["frozen"]["frozen_parameters"]
    assert frozen.value is True and "updates only" in frozen.evidence
    assert facts["trained"]["frozen_parameters"].value is False
    assert 0.01 < facts["trained"]["grad_ratio_first_last"].value < 100


def test_plain_sgd_keeps_no_state_and_says_nothing(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), 0.1)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    torch.save(optimizer.state_dict(), tmp_path / "optimizer.pt")
    assert saved_context(tmp_path) == {}


def test_a_large_state_is_sampled_over_its_whole_length(tmp_path: Path) -> None:
    """A second moment too large to read whole is read in pieces spread over it: its mean is
    estimated from both ends, not from the first rows only."""
    big = torch.nn.Linear(512, 512)
    head = torch.nn.Linear(512, 2)
    optimizer = torch.optim.Adam([*big.parameters(), *head.parameters()])
    head(big(torch.randn(8, 512))).sum().backward()
    optimizer.step()
    with torch.no_grad():
        moment = optimizer.state[big.weight]["exp_avg_sq"]
        moment.zero_()
        moment[256:] = 1.0  # the first half zero, the second half one
    torch.save({"optimizer": optimizer.state_dict()}, tmp_path / "checkpoint.pt")
    moments = saved_context(tmp_path)["optimizer_second_moments"]
    assert [shape for _, shape, _ in moments] == [(512, 512), (2, 512)]
    assert moments[0][1] == (512, 512) and 0.4 < moments[0][2] < 0.6


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x80\x02}q\x00."])
def test_a_foreign_or_broken_file_tells_nothing(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "optimizer.pt").write_bytes(content)
    assert saved_context(tmp_path) == {}


def test_a_compressed_or_truncated_state_is_not_read(tmp_path: Path) -> None:
    layer = torch.nn.Linear(16, 16)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.randn(2, 16)).sum().backward()
    optimizer.step()
    torch.save(optimizer.state_dict(), tmp_path / "saved.pt")
    with zipfile.ZipFile(tmp_path / "saved.pt") as source, \
            zipfile.ZipFile(tmp_path / "optimizer.pt", "w", zipfile.ZIP_DEFLATED) as packed:
        for info in source.infolist():
            packed.writestr(info.filename, source.read(info))
    context = saved_context(tmp_path)
    assert context["optimizer_params"] == 2 and context["optimizer_second_moments"] == ()


def test_spread_sample_reads_whole_small_tensors(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(_optimizer_state, "STATE_SAMPLE_BYTES", 1 << 20)
    layer = torch.nn.Linear(64, 32)
    optimizer = torch.optim.Adam(layer.parameters())
    (layer(torch.randn(4, 64)) ** 2).sum().backward()
    optimizer.step()
    torch.save(optimizer.state_dict(), tmp_path / "optimizer.pt")
    moments = saved_context(tmp_path)["optimizer_second_moments"]
    exact = optimizer.state[layer.weight]["exp_avg_sq"].double().mean().item()
    assert len(moments) == 1 and np.isclose(moments[0][2], exact)


def _saved_adam(folder: Path, names: dict[str, tuple[int, int]],
                second: dict[str, float]) -> Any:
    """A Lightning-style checkpoint (state_dict + optimizer_states) of Adam over ``names``,
    each parameter's second moment set to ``second[name]``; the facts nndoctor derives."""
    from nndoctor.adapters.symptoms import derive_facts
    from nndoctor.pipeline import load_runs
    from tests.symptoms.synth import KB

    params = {n: torch.nn.Parameter(torch.randn(*shape)) for n, shape in names.items()}
    optimizer = torch.optim.Adam(params.values())
    sum((p ** 2).sum() for p in params.values()).backward()
    optimizer.step()
    with torch.no_grad():
        for name, value in second.items():
            optimizer.state[params[name]]["exp_avg_sq"].fill_(value)
    (folder / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": {n: p.detach() for n, p in params.items()},
                "optimizer_states": [optimizer.state_dict()]},
               folder / "checkpoints" / "last.ckpt")
    (folder / "metrics.csv").write_text("step,train_loss\n" + "".join(
        f"{s},{2.3 - 0.01 * s}\n" for s in range(0, 200, 10)))
    (run,) = load_runs([folder / "metrics.csv"])
    return {f.name: f for f in derive_facts(run, KB)}


def test_the_gradient_ratio_leaves_out_lookup_tables_roles_and_the_head(tmp_path: Path) -> None:
    """An embedding's rows are tokens, attention's query/key projections get little gradient
    by their role, and a fine-tune's fresh head takes most of it: none of them makes the
    gradient look faded. A deep net whose first layers get 1e-8 of the last hidden ones does."""
    block = {f"layer{i}.{p}": (16, 16) for i in range(3) for p in ("query", "key", "value",
                                                                    "dense")}
    names = {"embeddings.word.weight": (50, 16), **block, "head.weight": (3, 16)}
    second = {n: (1e-12 if n.endswith(("query", "key")) else 1e-4) for n in block}
    second.update({"embeddings.word.weight": 1e-14, "head.weight": 10.0})
    ratio = _saved_adam(tmp_path / "bert", names, second)["grad_ratio_first_last"]
    assert 0.1 < ratio.value < 10 and "output layer left out" in ratio.evidence
    deep = {f"body.{i}.weight": (16, 16) for i in range(6)} | {"head.weight": (3, 16)}
    fading = {n: 10.0 ** (-3 * (5 - i)) for i, n in enumerate(list(deep)[:-1])}
    fading["head.weight"] = 1.0
    assert _saved_adam(tmp_path / "deep", deep, fading)["grad_ratio_first_last"].value < 1e-3
