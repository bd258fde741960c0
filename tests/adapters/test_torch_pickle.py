"""torch.save files read inertly: plain values out, none of the pickle's code run."""

from __future__ import annotations

import dataclasses
import enum
import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from nndoctor.adapters.readers import _torch_pickle
from nndoctor.adapters.readers._torch_pickle import MAX_PICKLE_BYTES, load_plain


class Optim(enum.Enum):
    ADAMW = "adamw_torch_fused"


@dataclasses.dataclass
class Args:
    learning_rate: float
    optim: Optim
    weight_decay: float = 0.0
    tags: tuple[str, ...] = ("a",)


def _archive(path: Path, payload: bytes, name: str = "training_args/data.pkl") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, payload)
    return path


def test_a_torch_saved_dataclass_comes_back_as_its_fields(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "training_args.bin"
    torch.save(Args(0.1, Optim.ADAMW, 0.01), path)
    assert load_plain(path) == {"learning_rate": 0.1, "optim": "adamw_torch_fused",
                                "weight_decay": 0.01, "tags": ["a"]}


def test_an_optimizer_state_gives_its_param_groups(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    path = tmp_path / "optimizer.pt"
    torch.save(optimizer.state_dict(), path)
    group = load_plain(path)["param_groups"][0]
    assert group["lr"] == 3e-4 and group["betas"] == [0.9, 0.999]


def test_real_training_arguments(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    args = transformers.TrainingArguments(output_dir=str(tmp_path), learning_rate=0.05,
                                          weight_decay=0.1, optim="sgd", fp16=False,
                                          gradient_accumulation_steps=4, report_to=[],
                                          use_cpu=True)
    torch.save(args, tmp_path / "training_args.bin")
    plain = load_plain(tmp_path / "training_args.bin")
    assert plain["learning_rate"] == 0.05 and plain["optim"] == "sgd"
    assert plain["weight_decay"] == 0.1 and plain["gradient_accumulation_steps"] == 4


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(TOUCHED),))


TOUCHED = Path("/tmp/nndoctor-torch-pickle-must-not-exist")


def test_the_pickle_runs_nothing(tmp_path: Path) -> None:
    TOUCHED.unlink(missing_ok=True)
    payload = pickle.dumps({"learning_rate": 0.1, "x": _Exploit()}, protocol=2)
    plain = load_plain(_archive(tmp_path / "a.bin", payload))
    assert plain["learning_rate"] == 0.1
    assert not TOUCHED.exists()  # Path.touch was named, never called


@pytest.mark.parametrize("make", [
    lambda p: p.write_bytes(b"not a zip"),
    lambda p: _archive(p, b"\x80\x02garbage"),
    lambda p: _archive(p, pickle.dumps([1]) + b"\x00" * MAX_PICKLE_BYTES),
    lambda p: _archive(p, pickle.dumps([1]), name="elsewhere.pkl"),
])
def test_what_is_not_a_small_torch_archive_gives_none(tmp_path: Path,
                                                     make: Callable[[Path], object]) -> None:
    path = tmp_path / "f.bin"
    make(path)
    assert load_plain(path) is None


def test_a_legacy_torch_file_gives_none(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    buffer = io.BytesIO()
    torch.save({"lr": 1.0}, buffer, _use_new_zipfile_serialization=False)
    (tmp_path / "old.bin").write_bytes(buffer.getvalue())
    assert load_plain(tmp_path / "old.bin") is None


@pytest.mark.parametrize(("name", "family"), [
    ("adamw_torch_fused", "adam"), ("paged_adamw_8bit", "adam"), ("torch.optim.AdamW", "adam"),
    ("sgd", "sgd"), ("rmsprop_bnb", "rmsprop"), ("adagrad", "adagrad"), ("adafactor", "other"),
    ("lion_32bit", "other"), ("nesterov", "sgd_momentum"),
])
def test_optimizer_names_map_to_their_family(name: str, family: str) -> None:
    from nndoctor.adapters.symptoms.context import optimizer_family

    assert optimizer_family(name) == family


def test_an_archive_over_its_bound_is_not_opened(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _archive(tmp_path / "big.bin", pickle.dumps({"learning_rate": 0.1}, protocol=2))
    assert load_plain(path) == {"learning_rate": 0.1}
    monkeypatch.setattr(_torch_pickle, "MAX_ARCHIVE_BYTES", path.stat().st_size - 1)
    assert load_plain(path) is None
