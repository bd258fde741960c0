"""The kind of network: from the Hugging Face config's ``model_type`` when the log has one, else
from the names of the layers a log records.

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
from nndoctor.lazy_re import regex

KINDS = ("rnn", "transformer", "cnn")  # the first that matches wins: a CRNN is recurrent
# Hugging Face model types that are not transformers (every other model_type is one)
NOT_TRANSFORMERS = {**dict.fromkeys(("resnet", "convnext", "convnextv2", "regnet", "efficientnet",
                                     "mobilenet_v1", "mobilenet_v2", "bit", "van"), "cnn"),
                    **dict.fromkeys(("mamba", "mamba2", "falcon_mamba", "rwkv"), "other")}


@detector("architecture", produces=("architecture",))
def architecture(run: Run, p: Params) -> Iterator[Fact]:
    model_type = run.context.get("model_type")
    if isinstance(model_type, str):
        family = NOT_TRANSFORMERS.get(model_type.lower(), "transformer")
        yield log_fact("architecture", family,
                       f"model_type = {model_type} in the Hugging Face config", "config")
        return
    names = [n for n in run.series if "/" in n or "." in n]
    for kind in KINDS:
        pattern = regex(p[f"{kind}_names"], re.IGNORECASE)
        tags = [n for n in names if pattern.search(n)]
        if tags:
            yield log_fact("architecture", kind,
                           f"the log names {len(tags)} series after {kind} modules "
                           f"(e.g. {tags[0]!r})", "layer names", certainty=p["certainty"])
            return
