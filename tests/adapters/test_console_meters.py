"""Console formats of widely copied training scripts (readers/console.py): PyTorch's CIFAR-10
tutorial (``[epoch, batch] loss: x``, no epoch length), timm's train.py and PyTorch's ImageNet
example (AverageMeter lines ``Loss 6.9 (6.92)``: value, then running average), Megatron-LM,
MMDetection 2, PaddleOCR and CLU (Flax)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndoctor.adapters.readers import read_path

torch = pytest.importorskip("torch")


def test_the_cifar_tutorial_loop_printed_batch_counts_become_global_steps(
        tmp_path: Path) -> None:
    """A real torch loop with the tutorial's own print: the mini-batch count restarts every
    epoch and no epoch length is printed, so the steps run on from the last count seen."""
    torch.manual_seed(0)
    x, y = torch.randn(640, 8), torch.randint(0, 3, (640,))
    net = torch.nn.Linear(8, 3)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    lines = []
    for epoch in range(2):
        running_loss = 0.0
        for i in range(40):  # 40 mini-batches of 16
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x[i * 16:(i + 1) * 16]),
                                                     y[i * 16:(i + 1) * 16])
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 10 == 9:
                lines.append(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 10:.3f}")
                running_loss = 0.0
    lines.append("Finished Training")
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    (run,) = read_path(tmp_path)
    loss = run.series["train_loss"]
    assert loss.steps.tolist() == [10, 20, 30, 40, 50, 60, 70, 80]
    assert loss.values.tolist() == pytest.approx([float(s.split()[-1]) for s in lines[:-1]])


def _timm_log() -> str:
    """timm's train.py / validate() format strings: two epochs of 200 updates, an evaluation
    of 3 batches after each (its last line's running average is the result)."""
    lines = []
    for e in (0, 1):
        lines += [f"Train: {e} [{b:>4d}/200 ({100 * (b + 1) / 200:>3.0f}%)]  Loss: "
                  f"{3.0 - e - b / 400:#.3g} ({3.1 - e - b / 400:#.3g})  Time: 0.321s,  797.23/s  "
                  "(0.330s,  775.12/s)  LR: 1.000e-03  Data: 0.010 (0.012)" for b in (0, 100, 199)]
        lines += [f"Test: [{b:>4d}/2]  Time: 1.000 (1.000)  Loss:  "
                  f"{9.0 if b < 2 else 2.6 - e:>7.3f} "
                  f"({2.7 - e if b < 2 else 2.5 - e:>6.3f})  Acc@1: {5.0:>7.3f} "
                  f"({40.0 + 20 * e:>7.3f})  Acc@5: {90.0:>7.3f} ({95.0:>7.3f})" for b in (0, 2)]
    return "\n".join(lines) + "\n"


def test_timm_lines_give_steps_and_the_evaluation_average(tmp_path: Path) -> None:
    (tmp_path / "train.log").write_text(_timm_log())
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].steps.tolist() == [0, 100, 199, 200, 300, 399]
    assert run.series["train_loss"].values[0] == pytest.approx(3.0)  # the value, not the average
    assert run.context["steps_per_epoch"] == 200
    val = run.series["val_loss"]
    assert val.steps.tolist() == [199, 399]  # after the epoch's last update
    assert val.values.tolist() == pytest.approx([2.5, 1.5])  # the last batch's running average
    assert run.series["val_acc"].values.tolist() == pytest.approx([0.4, 0.6])  # Acc@1, in %
    assert "val_acc" in run.series and np.all(run.series["val_acc"].values < 1)


def test_the_imagenet_example_indexes_epoch_and_batch(tmp_path: Path) -> None:
    text = "".join(
        f"Epoch: [{e}][{b:>4d}/5005]\tTime  0.349 ( 0.606)\tData  0.000 ( 0.224)\t"
        f"Loss {6.9 - e - b / 10000:.4e} ({6.95 - e:.4e})\tAcc@1 {1.0 + e:6.2f} ({0.5 + e:6.2f})\t"
        f"Acc@5 {5.0:6.2f} ({2.5:6.2f})\n" for e in (0, 1) for b in (0, 2500, 5000))
    (tmp_path / "out.log").write_text(text)
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].steps.tolist() == [0, 2500, 5000, 5005, 7505, 10005]
    assert run.series["train_acc"].values[0] == pytest.approx(0.01)  # Acc@1 1.00 %



def test_torchvision_metric_logger_spaces_its_brackets(tmp_path: Path) -> None:
    """torchvision's reference scripts (and DeiT, DETR, MAE after them) print ``Epoch: [0]
    [ 10/50]`` with spaces between the brackets, then a ``Test:`` pass whose last line's
    running average belongs to the epoch's last step."""
    text = "".join(
        f"Epoch: [{e}]  [{b:>3d}/50]  eta: 0:00:08  lr: 0.1  img/s: 100.0  loss: "
        f"{6.9 - e - b / 100:.4f} ({6.95 - e:.4f})  acc1: {1.0 + e:.4f} ({0.5 + e:.4f})  "
        f"time: 0.2  data: 0.1  max mem: 100\n" for e in (0, 1) for b in (0, 20, 40)
        ) + "Test:   [ 0/10]  eta: 0:00:02  loss: 6.1 (6.0)  acc1: 2.0 (2.5)  time: 0.2\n"
    (tmp_path / "out.log").write_text(text)
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].steps.tolist() == [0, 20, 40, 50, 70, 90]
    assert run.context["steps_per_epoch"] == 50
    assert run.series["val_loss"].steps.tolist() == [90]
    assert run.series["val_loss"].values.tolist() == pytest.approx([6.0])

MEGATRON = (
    " iteration      100/  500000 | consumed samples:         3200 | elapsed time per iteration "
    "(ms): 500.1 | learning rate: 1.500E-04 | global batch size:    32 | lm loss: 9.123456E+00 | "
    "loss scale: 65536.0 | grad norm: 2.345 | number of skipped iterations:   0 | number of nan "
    "iterations:   0 |\n"
    " iteration      200/  500000 | consumed samples:         6400 | elapsed time per iteration "
    "(ms): 499.8 | learning rate: 1.500E-04 | global batch size:    32 | lm loss: 8.012345E+00 | "
    "loss scale: 65536.0 | grad norm: 1.987 | number of skipped iterations:   0 | number of nan "
    "iterations:   0 |\n"
    + "-" * 60 + "\n"
    + " validation loss at iteration 200 | lm loss value: 8.100000E+00 | lm loss PPL: "
    "3.294468E+03 | \n" + "-" * 60 + "\n")


def test_megatron_lm_loss_and_its_validation_are_the_losses(tmp_path: Path) -> None:
    """Megatron-LM's training_log / evaluate_and_print_results lines: "lm loss" is the training
    loss, "lm loss value" in the validation line the validation loss."""
    (tmp_path / "train.log").write_text(MEGATRON)
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].source_tag == "lm_loss"
    assert run.series["train_loss"].values.tolist() == pytest.approx([9.123456, 8.012345])
    assert run.series["val_loss"].steps.tolist() == [200]
    assert run.series["val_loss"].values.tolist() == pytest.approx([8.1])
    assert run.series["grad_norm"].values.tolist() == pytest.approx([2.345, 1.987])


def test_a_global_step_inside_an_epoch_line_is_not_counted_twice(tmp_path: Path) -> None:
    """PaddleOCR: "epoch: [2/500], global_step: 30, …": the step already runs on."""
    text = "".join(f"[2023/01/01 00:00:00] ppocr INFO: epoch: [{e}/500], global_step: {g}, lr: "
                   f"0.001000, acc: 0.5, loss: {5.0 - g / 10:.4f}, avg_reader_cost: 0.1 s\n"
                   for e, g in ((1, 10), (1, 20), (2, 30), (2, 40)))
    (tmp_path / "train.log").write_text(text)
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].steps.tolist() == [10, 20, 30, 40]


def test_mmdetection_2_epoch_and_batch_index(tmp_path: Path) -> None:
    text = "".join(f"2023-01-01 00:00:00,000 - mmdet - INFO - Epoch [{e}][{b}/1000]\tlr: "
                   f"1.000e-02, eta: 1:00:00, time: 0.500, data_time: 0.050, memory: 3000, "
                   f"loss_cls: 0.5, loss_bbox: 0.3, loss: {2.0 - e / 10 - b / 10000:.4f}\n"
                   for e in (1, 2) for b in (500, 1000))
    (tmp_path / "20230101_000000.log").write_text(text)
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].steps.tolist() == [500, 1000, 1500, 2000]
    assert run.context["steps_per_epoch"] == 1000


def test_clu_logging_writer_lines_behind_absl_prefixes(tmp_path: Path) -> None:
    """CLU's LoggingWriter (Flax/JAX examples): "[step] key=value, key=value"."""
    prefix = "I0101 00:00:00.000000 140000000000000 logging_writer.py:48] "
    text = "".join(f"{prefix}[{s}] learning_rate=0.1, train_accuracy={0.2 + s / 1e4:.4f}, "
                   f"train_loss={2.0 - s / 1e3:.4f}\n" for s in (100, 200, 300))
    text += f"{prefix}[300] eval_accuracy=0.5, eval_loss=1.9\n"
    (tmp_path / "train.log").write_text(text)
    (run,) = read_path(tmp_path)
    assert run.series["train_loss"].steps.tolist() == [100, 200, 300]
    assert run.series["train_loss"].values.tolist() == pytest.approx([1.9, 1.8, 1.7])
    assert run.series["val_loss"].steps.tolist() == [300]
    assert run.series["val_acc"].values.tolist() == pytest.approx([0.5])
