"""Training-time probes and pre-flight checks (PyTorch; Lightning, Hugging Face and Keras extras).

``nndoctor.probes.attach(model, optimizer)`` hooks a live PyTorch run; ``preflight(...)`` checks a
model and one batch before training. Both need torch, imported only when they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nndoctor.probes.preflight import PreflightReport
    from nndoctor.probes.torch_probe import Probe

__all__ = ["attach", "preflight"]


def attach(model: Any, optimizer: Any = None, writer: Any = None, log_dir: Any = None,
           every: int = 50, **options: Any) -> Probe:
    """Attach a live probe to a PyTorch model (see :mod:`nndoctor.probes.torch_probe`)."""
    from nndoctor.probes._extras import require

    require("torch", "torch")
    from nndoctor.probes.torch_probe import attach as _attach

    return _attach(model, optimizer, writer=writer, log_dir=log_dir, every=every, **options)


def preflight(model: Any, batch: Any, loss_fn: Any, num_classes: int | None = None,
              **options: Any) -> PreflightReport:
    """Run the pre-flight checks (see :mod:`nndoctor.probes.preflight`)."""
    from nndoctor.probes._extras import require

    require("torch", "torch")
    from nndoctor.probes.preflight import preflight as _preflight

    return _preflight(model, batch, loss_fn, num_classes=num_classes, **options)
