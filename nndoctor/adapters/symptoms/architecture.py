"""The kind of network, read from the names of the layers a log records.

Per-layer series (nndoctor's probes: ``nndoctor/<quantity>/<layer>``; framework histograms and
gradient tags such as ``gradients/lstm/kernel`` or ``grad/encoder.layer.0.attention``) name the
modules. A recurrent module anywhere makes the network recurrent (gradients then vanish through
time, not only through depth); attention makes it a transformer; convolutions a CNN. Plain
linear layers tell nothing: an MLP is never concluded from names alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import Params, detector, log_fact
from nndoctor.engine.facts import Fact

KINDS = ("rnn", "transformer", "cnn")  # the first that matches wins: a CRNN is recurrent


@detector("architecture", produces=("architecture",))
def architecture(run: Run, p: Params) -> Iterator[Fact]:
    names = [n for n in run.series if "/" in n or "." in n]
    for kind in KINDS:
        pattern = re.compile(p[f"{kind}_names"], re.IGNORECASE)
        tags = [n for n in names if pattern.search(n)]
        if tags:
            yield log_fact("architecture", kind,
                           f"the log names {len(tags)} series after {kind} modules "
                           f"(e.g. {tags[0]!r})", "layer names", certainty=p["certainty"])
            return
