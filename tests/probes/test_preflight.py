"""Pre-flight checks on real small models: each injected bug shows up as the right fact/cause."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from nndoctor.pipeline import diagnose_run, load_runs  # noqa: E402
from nndoctor.probes import preflight  # noqa: E402
from nndoctor.probes.checks import (  # noqa: E402
    gradient_check,
    label_stats,
    loss_kind,
    output_kind,
)
from nndoctor.probes.preflight import grade_gradient_error, main  # noqa: E402
from tests.probes.helpers import blobs, mlp  # noqa: E402

CE = nn.CrossEntropyLoss()


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = blobs(256)
    return x[:64], y[:64]


class Doubler(torch.autograd.Function):
    """y = 2x with a wrong backward (3x): what a hand-written gradient bug looks like."""

    @staticmethod
    def forward(ctx: object, a: torch.Tensor) -> torch.Tensor:
        return a * 2

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad * 3


class Wrapped(nn.Module):
    def __init__(self, head: str) -> None:
        super().__init__()
        self.net, self.head = mlp(depth=3), head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out.softmax(1) if self.head == "softmax" else Doubler.apply(out)


def facts(report: object) -> dict[str, object]:
    return {f.name: f.value for f in report.facts}  # type: ignore[attr-defined]


def top(report: object) -> str:
    return report.diagnosis.causes[0].id  # type: ignore[attr-defined]


def test_healthy_model_passes(batch: tuple) -> None:
    torch.manual_seed(0)
    report = preflight(mlp(), batch, CE, num_classes=4)
    f = facts(report)
    assert f["initial_loss_vs_expected"] == "about_expected"
    assert f["can_overfit_tiny_batch"] is True
    assert f["gradient_check_error"] < 1e-7
    assert f["inputs_normalized"] is True and f["inputs_contain_nan"] is False
    assert f["random_input_same_behaviour"] is False
    assert (f["loss_function"], f["output_activation"]) == ("cross_entropy", "none")
    assert report.diagnosis.verdict == "healthy"
    assert report.expected_loss[0] == pytest.approx(math.log(4))  # type: ignore[index]
    text = report.text()
    assert "Pre-flight checks" in text and "every pre-flight check passed" in text


@pytest.mark.parametrize(("case", "cause"), [
    ("softmax_into_cross_entropy", "loss_input_mismatch"),
    ("wrong_backward", "gradient_bug"),
    ("dead_at_init", "dead_relu"),
    ("zero_init", "bad_weight_init"),
    ("frozen", "frozen_layers"),
    ("raw_pixel_scale", "unnormalized_inputs"),
    ("nan_in_inputs", "dirty_data"),
])
def test_injected_bug_ranks_first(case: str, cause: str, batch: tuple) -> None:
    torch.manual_seed(0)
    x, y = batch
    model: nn.Module = mlp()
    if case == "softmax_into_cross_entropy":
        model = Wrapped("softmax")
    elif case == "wrong_backward":
        model = Wrapped("doubler")
    elif case == "dead_at_init":
        for layer in list(model)[:-1]:
            if isinstance(layer, nn.Linear):
                nn.init.constant_(layer.bias, -10.0)
    elif case == "zero_init":
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
    elif case == "frozen":
        model[0].requires_grad_(False)
        model[2].requires_grad_(False)
    elif case == "raw_pixel_scale":
        x = x * 255 + 100
    elif case == "nan_in_inputs":
        x = x.clone()
        x[3, 2] = math.nan
    report = preflight(model, (x, y), CE, num_classes=4)
    assert top(report) == cause, [(c.id, round(c.confidence, 2))
                                  for c in report.diagnosis.causes[:3]]


def test_unshuffled_batches(batch: tuple) -> None:
    torch.manual_seed(0)
    x, y = blobs(256)
    order = y.argsort()
    x, y = x[order], y[order]
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    report = preflight(mlp(), batches[0], CE, num_classes=4, batches=batches[1:])
    assert facts(report)["batches_single_label"] is True
    assert top(report) == "data_not_shuffled"


def test_label_statistics() -> None:
    y = torch.tensor([0] * 90 + [1] * 6 + [2] * 4)
    stats = label_stats([y], num_classes=3, min_per_class=20)
    assert stats is not None and stats.imbalance_ratio == pytest.approx(22.5)
    assert stats.single_label_batches == 0
    assert label_stats([y[:10]], num_classes=3) .imbalance_ratio is None  # too few to judge
    one_hot = nn.functional.one_hot(torch.tensor([1, 1, 1]), 3).float()
    assert label_stats([one_hot], num_classes=3).single_label_batches == 1  # type: ignore[union-attr]
    assert label_stats([torch.randn(8)], None) is None  # regression target


def test_loss_and_output_kinds() -> None:
    assert loss_kind(nn.NLLLoss()) == "nll" and loss_kind(nn.functional.mse_loss) == "mse"
    assert loss_kind(lambda out, y: out.sum()) is None
    logits = torch.randn(16, 5)
    assert output_kind(logits) == "none"
    assert output_kind(logits.softmax(1)) == "softmax"
    assert output_kind(logits.log_softmax(1)) == "log_softmax"
    assert output_kind(logits.sigmoid()) == "sigmoid"
    assert output_kind(torch.zeros(16, 5)) is None


def test_gradient_check_grades() -> None:
    torch.manual_seed(0)
    x, y = blobs(16)
    good = gradient_check(mlp(depth=2), x, y, CE)
    assert good.checked >= 10 and good.max_rel_error < 1e-7
    assert gradient_check(Wrapped("doubler"), x, y, CE).max_rel_error > 1e-2
    assert grade_gradient_error(0.3).startswith("probably wrong")
    assert grade_gradient_error(1e-3).startswith("uncomfortable")
    assert grade_gradient_error(1e-5).startswith("ok")
    assert grade_gradient_error(1e-9).startswith("good")


def test_callers_model_is_untouched(batch: tuple) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    preflight(model, batch, CE, num_classes=4)
    assert not model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_tags_round_trip_through_the_jsonl_reader(batch: tuple, tmp_path: Path) -> None:
    torch.manual_seed(0)
    report = preflight(Wrapped("doubler"), batch, CE, num_classes=4)
    log = tmp_path / "preflight.jsonl"
    report.write(path=log)
    row = json.loads(log.read_text())
    assert row["nndoctor/preflight/gradcheck_rel_error"] > 1e-2
    derived = diagnose_run(load_runs([log])[0]).diagnosis
    assert derived.facts["gradient_check_error"].value > 1e-2
    assert derived.facts["initial_loss_vs_expected"].value == "about_expected"
    assert derived.causes[0].id == "gradient_bug"


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "setup_model.py"
    script.write_text(
        "import torch\nfrom torch import nn\n"
        "torch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))\n"
        "x = torch.randn(64, 20)\n"
        "batch = (x, (x @ torch.randn(20, 4)).argmax(1))\n"
        "loss_fn = nn.CrossEntropyLoss()\n"
        "num_classes = 4\n"
        "if __name__ == '__main__':\n    raise SystemExit('training must not run')\n")
    log = tmp_path / "pre.jsonl"
    assert main([str(script), "--log", str(log)]) == 0
    out = capsys.readouterr().out
    assert "Pre-flight checks" in out and "tiny-batch fit" in out
    assert "nndoctor/preflight/overfit_tiny_batch" in log.read_text()
    assert main([str(script), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["verdict"] == "healthy"
    broken = tmp_path / "broken.py"
    broken.write_text("model = 1\n")
    assert main([str(broken)]) == 2
    assert "define batch, loss_fn" in capsys.readouterr().err


SETUP = ("import torch\nfrom torch import nn\n"
         "torch.manual_seed(0)\n"
         "model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4){head})\n"
         "x = torch.randn(64, 20)\n"
         "batch = (x, (x @ torch.randn(20, 4)).argmax(1))\n"
         "loss_fn = nn.CrossEntropyLoss()\n"
         "num_classes = 4\n")


def test_command_line_exit_code_follows_fail_on(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A likely problem (softmax fed to CrossEntropyLoss) exits 1 by default, so a CI step or a
    `&&` before the training command stops; --fail-on moves or disables the bar."""
    script = tmp_path / "softmax_head.py"
    script.write_text(SETUP.format(head=", nn.Softmax(dim=1)"))
    assert main([str(script)]) == 1
    out = capsys.readouterr().out
    assert "loss_input_mismatch" in out or "softmax" in out.lower()
    assert main([str(script), "--fail-on", "never"]) == 0
    capsys.readouterr()
    assert main([str(script), "--fail-on", "possible", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    bands = {c["band"] for c in doc["runs"][0]["causes"]}
    assert bands & {"likely", "confirmed"}
    healthy = tmp_path / "healthy.py"
    healthy.write_text(SETUP.format(head=""))
    assert main([str(healthy), "--fail-on", "possible"]) == 0


def test_tiny_batch_adam_matches_torch_optim_step_for_step() -> None:
    """The pre-flight's own Adam (it spares the torch._dynamo import) is torch's Adam."""
    from nndoctor.probes.checks import Adam

    x, y = blobs(64)
    runs = []
    for make in (lambda ps: Adam(ps, 1e-3), lambda ps: torch.optim.Adam(ps, 1e-3)):
        torch.manual_seed(0)
        model = mlp()
        params = list(model.parameters())
        optimizer = make(params)
        losses = []
        for _ in range(25):
            optimizer.zero_grad()
            loss = CE(model(x), y)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        runs.append((losses, [p.detach().clone() for p in params]))
    (ours, our_params), (theirs, their_params) = runs
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-7)
    for a, b in zip(our_params, their_params, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_preflight_of_a_small_mlp_takes_under_3_seconds() -> None:
    """Measured in a fresh process, first call included (where one-time imports land)."""
    import subprocess
    import sys

    code = ("import time, sys, torch\n"
            "torch.set_num_threads(1)\n"
            "from torch import nn\n"
            "from tests.probes.helpers import blobs, mlp\n"
            "from nndoctor.probes import preflight\n"
            "x, y = blobs(256)\n"
            "torch.manual_seed(0)\n"
            "start = time.perf_counter()\n"
            "report = preflight(mlp(), (x[:64], y[:64]), nn.CrossEntropyLoss(), num_classes=4)\n"
            "print(time.perf_counter() - start, 'torch._dynamo' in sys.modules,"
            " report.diagnosis.verdict)\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    seconds, dynamo, verdict = float(out[0]), out[1], out[2]
    assert verdict == "healthy"
    assert dynamo == "False"  # torch.optim's first optimizer would import it (~2.5 s)
    assert seconds <= 3.0, f"pre-flight took {seconds:.2f} s"


def test_command_line_on_a_closed_pipe_is_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    """`... | head -0`: the report cannot be written; the checks' verdict still sets the code."""
    import os
    import sys

    script = tmp_path / "softmax_head.py"
    script.write_text(SETUP.format(head=", nn.Softmax(dim=1)"))
    read, write = os.pipe()
    os.close(read)  # nobody reads: every write fails with EPIPE
    pipe = os.fdopen(write, "w")
    monkeypatch.setattr(sys, "stdout", pipe)
    try:
        assert main([str(script)]) == 1
    finally:
        monkeypatch.undo()
        pipe.close()
    assert capfd.readouterr().err == ""
