"""Weights sampled from torch.save checkpoints (Lightning .ckpt, a saved state_dict) without
torch and without running the pickle's code; the saved-model probe on a real Lightning run."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nndoctor.adapters.readers._checkpoints import saved_context, saved_model
from nndoctor.adapters.readers._torch_weights import _Weights, torch_weights

torch = pytest.importorskip("torch")


def _mlp() -> Any:
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                               torch.nn.ReLU(), torch.nn.Linear(32, 4))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_a_lightning_style_checkpoint_is_sampled_exactly(tmp_path: Path, dtype: str) -> None:
    model = _mlp().to(getattr(torch, dtype))
    path = tmp_path / "epoch=1-step=20.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "epoch": 1, "optimizer_states": []}, path)
    sampled = torch_weights(path)
    assert {k: v.shape for k, v in sampled.items()} == {
        "model.0.weight": (32, 16), "model.2.weight": (32, 32), "model.4.weight": (4, 32)}
    weight = model.state_dict()["2.weight"]
    raw = sampled["model.2.weight"].raw
    expected = weight.view(torch.int16).numpy().view(np.uint16) if dtype == "bfloat16" \
        else weight.numpy()
    assert np.array_equal(raw, expected.ravel())


def test_a_saved_state_dict_and_a_view_that_is_not_contiguous(tmp_path: Path) -> None:
    state = _mlp().state_dict()
    state["extra.weight"] = torch.randn(8, 6).t()  # a transposed view: not sampled
    torch.save(state, tmp_path / "model.pt")
    assert sorted(torch_weights(tmp_path / "model.pt")) == ["0.weight", "2.weight", "4.weight"]
    assert saved_model(tmp_path) == tmp_path / "model.pt"


def test_nothing_in_the_pickle_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps({"state_dict": Path.touch}, protocol=2)  # a callable, never called
    hostile = pickle.dumps(_Touch(marker), protocol=2)
    for name, data in (("a.ckpt", payload), ("b.ckpt", hostile)):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr("archive/data.pkl", data)
        assert torch_weights(tmp_path / name) == {}
    assert not marker.exists()


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x80\x02}q\x00."])
def test_a_foreign_or_broken_file_tells_nothing(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "model.pt").write_bytes(content)
    assert torch_weights(tmp_path / "model.pt") == {}
    assert saved_context(tmp_path) == {}


def test_many_names_or_a_compressed_storage_are_not_read(tmp_path: Path) -> None:
    def globals_(count: int) -> bytes:  # GLOBAL opcodes, each popped, then an empty dict
        return b"\x80\x02" + b"".join(b"c" + f"m{i}\nf{i}\n".encode() + b"0"
                                      for i in range(count)) + b"}."
    assert _Weights(globals_(100)).load() == {}  # each name a stand-in type, kept once
    with pytest.raises(pickle.UnpicklingError):
        _Weights(globals_(5000)).load()
    torch.save(_mlp().state_dict(), tmp_path / "stored.pt")
    with zipfile.ZipFile(tmp_path / "stored.pt") as stored, \
            zipfile.ZipFile(tmp_path / "deflated.pt", "w", zipfile.ZIP_DEFLATED) as deflated:
        for item in stored.infolist():
            deflated.writestr(item.filename, stored.read(item))
    assert torch_weights(tmp_path / "deflated.pt") == {}
    assert len(torch_weights(tmp_path / "stored.pt")) == 3


def test_a_missing_storage_member_tells_nothing(tmp_path: Path) -> None:
    torch.save(_mlp().state_dict(), tmp_path / "full.pt")
    with zipfile.ZipFile(tmp_path / "full.pt") as full, \
            zipfile.ZipFile(tmp_path / "model.pt", "w") as cut:
        for item in full.infolist():
            if not item.filename.endswith("/data/0"):
                cut.writestr(item, full.read(item))
    assert "0.weight" not in torch_weights(tmp_path / "model.pt")


def _lightning_facts(folder: Path, prepare: Callable[[Any], None], lr: float) -> Any:
    """The facts of a real 3-epoch Lightning run (CSVLogger, default ModelCheckpoint) of
    ``tests.probes.helpers.mlp()`` after ``prepare(net)``, Adam over its trainable parameters."""
    pl = pytest.importorskip("lightning.pytorch")
    from nndoctor.pipeline import diagnose_run, load_runs
    from tests.probes.helpers import fit_lightning, mlp

    class Module(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()
            prepare(self.net)

        def training_step(self, batch: Any, index: int) -> Any:
            loss = torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr)

    version = fit_lightning(folder, Module())
    assert any((version / "checkpoints").glob("*.ckpt"))
    return diagnose_run(load_runs([version])[0]).diagnosis.facts


def _linears(net: Any) -> list[Any]:
    return [m for m in net if isinstance(m, torch.nn.Linear)]


def _zero_init(net: Any) -> None:
    for layer in _linears(net):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)


def _freeze_hidden(net: Any) -> None:
    for layer in _linears(net)[:-1]:
        layer.requires_grad_(False)


def test_real_lightning_checkpoints_show_zero_init(tmp_path: Path) -> None:
    """Lightning's ModelCheckpoint writes checkpoints/*.ckpt beside metrics.csv; the hidden
    layers of a zero-initialised MLP stay identical units, a default one does not."""
    facts = {"zeros": _lightning_facts(tmp_path / "zeros", _zero_init, 1e-3),
             "default": _lightning_facts(tmp_path / "default", lambda net: None, 1e-3)}
    assert facts["zeros"]["symmetric_units"].value is True
    assert facts["default"]["symmetric_units"].value is False
    assert 0.3 <= facts["default"]["weights_scale"].value <= 2.0
    assert facts["default"]["narrowest_hidden_layer"].value == 64


def _saved_model_fact(folder: Path, name: str = "frozen_parameters") -> Any:
    from nndoctor.pipeline import diagnose_run, load_runs

    (folder / "metrics.csv").write_text("step,train_loss\n" + "".join(
        f"{s},{2.3 - 0.01 * s}\n" for s in range(0, 200, 10)))
    return diagnose_run(load_runs([folder / "metrics.csv"])[0]).diagnosis.facts.get(name)


def test_a_saved_model_with_layers_still_at_their_default_init(tmp_path: Path) -> None:
    """Matrices exactly at torch's U(-1/√fan_in, 1/√fan_in) beside one that trained away from
    its init were never updated; a model that only moved a little, or that used another
    initialisation, is not judged."""
    torch.manual_seed(0)
    cases = {}
    for name in ("frozen", "nudged", "normal", "rnn", "untouched"):
        model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                    torch.nn.Linear(64, 8))
        if name == "rnn":
            model = torch.nn.ModuleDict({"rnn": torch.nn.GRU(4, 32),
                                         "head": torch.nn.Linear(32, 8)})
        with torch.no_grad():
            head = model["head"] if name == "rnn" else model[4]
            if name == "normal":
                for layer in (model[0], model[2]):
                    torch.nn.init.normal_(layer.weight, std=0.1)
            if name != "untouched":
                head.weight.add_(torch.randn_like(head.weight) * (1e-3 if name == "nudged" else 1))
        folder = tmp_path / name
        folder.mkdir()
        torch.save(model.state_dict(), folder / "model.pt")
        cases[name] = _saved_model_fact(folder)
        if name in ("untouched", "nudged"):
            cases[f"{name} unchanged"] = _saved_model_fact(folder, "weights_unchanged")
    assert cases["frozen"].value is True and cases["frozen"].certainty == 0.8
    assert "2 (0.weight, 2.weight) of 3 weight matrices" in cases["frozen"].evidence
    assert cases["rnn"].value is True and "rnn.weight_hh_l0" in cases["rnn"].evidence
    assert cases["nudged"] is None and cases["normal"] is None and cases["untouched"] is None
    assert cases["untouched unchanged"].value is True  # nothing moved: not called frozen
    assert cases["nudged unchanged"] is None  # the head left its range a little


def test_real_lightning_run_with_a_frozen_body(tmp_path: Path) -> None:
    """A real Lightning run whose hidden layers have requires_grad off, its Adam given only the
    trainable parameters: the checkpoint's optimiser state covers a small share of the model
    (the saved state, not the weights' distance from their init, decides); with every layer
    trainable it covers all of it."""
    facts = {"frozen": _lightning_facts(tmp_path / "frozen", _freeze_hidden, 3e-2),
             "trainable": _lightning_facts(tmp_path / "trainable", lambda net: None, 3e-2)}
    assert facts["frozen"]["frozen_parameters"].value is True
    assert "updates only 3% of the model's values" in facts["frozen"]["frozen_parameters"].evidence
    assert facts["trainable"]["frozen_parameters"].value is False
