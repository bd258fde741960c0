"""Pre-flight checks before training: one batch in, facts and a diagnosis out.

    report = preflight(model, (x, y), nn.CrossEntropyLoss(), num_classes=10)
    print(report.text())

or ``python -m nndoctor.probes.preflight SCRIPT`` where SCRIPT defines ``model``, ``batch`` and
``loss_fn`` (optionally ``num_classes``, ``expected_loss``, ``batches``), or a function
``preflight_setup()`` returning them in a dict; it exits 1 when a cause reaches ``--fail-on``
(default: likely), 2 when SCRIPT cannot be used, else 0. Checks (seeds 001-17, 001-27, 004-1, 004-2,
004-6, 001-2): initial loss vs ln C, overfitting a tiny batch with Adam 1e-3/3e-4, a float64
gradient check, per-layer activation statistics at init, input and label statistics, and
whether random inputs give the same loss as real ones.
"""

from __future__ import annotations

import argparse
import json
import math
import runpy
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from nndoctor.adapters.run import Run
from nndoctor.adapters.symptoms.base import DETECTORS
from nndoctor.engine.diagnosis import Diagnosis
from nndoctor.engine.facts import Fact
from nndoctor.engine.inference import Engine, default_engine
from nndoctor.engine.session import Session
from nndoctor.probes import checks
from nndoctor.probes.checks import GradCheck, InputStats, LabelStats, LossFn, OverfitResult
from nndoctor.probes.sink import JsonlWriter, ScalarWriter, tag

RANDOM_SAME = 0.05  # relative loss difference below which random inputs "behave the same"


def grade_gradient_error(error: float) -> str:
    """CS231n's reading of a gradient-check relative error (seed 004-1)."""
    if error > 1e-2:
        return "probably wrong (> 1e-2)"
    if error > 1e-4:
        return "uncomfortable (1e-2 … 1e-4)"
    if error > 1e-7:
        return "ok (< 1e-4; fine with kinks)"
    return "good (< 1e-7)"


@dataclass(frozen=True)
class PreflightReport:
    """What each check measured, the facts they became and the engine's diagnosis."""

    initial_loss: float
    expected_loss: tuple[float, str] | None
    overfit: OverfitResult | None
    gradcheck: GradCheck | None
    activation_std: dict[str, float]
    inputs: InputStats
    labels: LabelStats | None
    random_input: tuple[float, float] | None
    facts: tuple[Fact, ...]
    diagnosis: Diagnosis
    notes: tuple[str, ...] = ()
    name: str = "preflight"
    loss_function: str | None = None
    output_activation: str | None = None

    def summary(self) -> list[str]:
        """One line per check, with the numbers."""
        lines = ["Pre-flight checks"]
        expected = (f" vs expected {self.expected_loss[1]} = {self.expected_loss[0]:.4g}"
                    if self.expected_loss else " (no expected value: pass num_classes=)")
        lines.append(f"  initial loss     {self.initial_loss:.4g}{expected}")
        if self.overfit:
            o = self.overfit
            lines.append(f"  tiny-batch fit   {o.samples} samples, Adam {o.lr:g}: "
                         f"{o.start_loss:.4g} → {o.final_loss:.4g} in {o.steps} steps: "
                         + ("reached ~0" if o.reached else "did NOT approach 0"))
        if self.gradcheck and math.isnan(self.gradcheck.max_rel_error):
            lines.append("  gradient check   not computable: the loss or a gradient is NaN/Inf")
        elif self.gradcheck:
            g = self.gradcheck
            lines.append(f"  gradient check   max relative error {g.max_rel_error:.2g} over "
                         f"{g.checked} coordinates (float64): "
                         f"{grade_gradient_error(g.max_rel_error)}")
        if self.output_activation or self.loss_function:
            lines.append(f"  output / loss    outputs look like {self.output_activation or '?'}"
                         f", loss {self.loss_function or '?'}")
        if self.activation_std:
            shown = ", ".join(f"{k} {v:.3g}" for k, v in list(self.activation_std.items())[:8])
            more = " …" if len(self.activation_std) > 8 else ""
            lines.append(f"  activation std   {shown}{more}")
        i = self.inputs
        lines.append(f"  inputs           mean {i.mean:.3g}, std {i.std:.3g}, |max| {i.abs_max:.3g}"
                     + (", contains NaN/Inf" if i.nonfinite else "")
                     + (", integer dtype" if i.integer_dtype else "")
                     + (": normalised" if i.normalized else ": NOT normalised"))
        if self.labels:
            lab = self.labels
            ratio = f"{lab.imbalance_ratio:.3g}" if lab.imbalance_ratio is not None else \
                "n/a (too few samples)"
            lines.append(f"  labels           {lab.num_classes} classes over {lab.batches} "
                         f"batch(es); largest/smallest class {ratio}; single-label batches "
                         f"{lab.single_label_batches}/{lab.batches}")
        if self.random_input:
            real, noise = self.random_input
            lines.append(f"  random inputs    loss {noise:.4g} on noise vs {real:.4g} on the "
                         "fitted batch")
        lines += [f"  note: {n}" for n in self.notes]
        return lines

    def run(self) -> Run:
        return Run(self.name, Path(self.name), "preflight")

    def text(self, fmt: str = "text", top: int = 5) -> str:
        """The check summary followed by the engine's report (text, markdown or json)."""
        from nndoctor.pipeline import RunReport
        from nndoctor.report import render
        from nndoctor.report.text import VERDICT_LINE

        rendered = render([RunReport(self.run(), self.diagnosis)], fmt, top)
        rendered = rendered.replace(VERDICT_LINE["healthy"],
                                    "HEALTHY - every pre-flight check passed")
        if fmt == "json":
            doc = json.loads(rendered)
            doc["preflight"] = self.summary()[1:]
            return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        summary = "\n".join(self.summary())
        if fmt == "markdown":
            summary = f"```text\n{summary}\n```"
        return summary + "\n\n" + rendered

    def scalars(self) -> dict[str, float]:
        """The ``nndoctor/preflight/*`` values the log readers turn back into facts."""
        out: dict[str, float] = {"initial_loss": self.initial_loss}
        if self.expected_loss:
            out["expected_loss"] = self.expected_loss[0]
        if self.overfit:
            out["overfit_tiny_batch"] = float(self.overfit.reached)
        if self.gradcheck and math.isfinite(self.gradcheck.max_rel_error):
            out["gradcheck_rel_error"] = self.gradcheck.max_rel_error
        out["inputs_nonfinite"] = float(self.inputs.nonfinite)
        if math.isfinite(self.inputs.abs_max):
            out["input_abs_max"] = self.inputs.abs_max
        if self.inputs.samples >= 500 and math.isfinite(self.inputs.abs_mean):
            out["input_abs_mean"] = self.inputs.abs_mean  # SageMaker: over ≥ 500 samples
        if self.labels:
            out["batches_single_label"] = float(self.labels.single_label_batches > 0)
            if self.labels.imbalance_ratio is not None:
                out["class_imbalance_ratio"] = self.labels.imbalance_ratio
        if self.random_input:
            out["random_input_same"] = float(_same_loss(*self.random_input))
        return out

    def write(self, writer: ScalarWriter | None = None, path: str | Path | None = None,
              step: int = 0) -> None:
        """Write the pre-flight tags to a TensorBoard-style writer or to a JSONL file."""
        target: ScalarWriter = writer or JsonlWriter(path or "nndoctor_runs/preflight.jsonl")
        for name, value in self.scalars().items():
            target.add_scalar(tag("preflight", name), value, step)
        if isinstance(target, JsonlWriter) and writer is None:
            target.close()


def _same_loss(real: float, noise: float) -> bool:
    scale = max(abs(real), abs(noise), 1e-12)
    return abs(real - noise) / scale < RANDOM_SAME


def preflight(
    model: nn.Module,
    batch: tuple[Any, Any],
    loss_fn: LossFn,
    num_classes: int | None = None,
    expected_loss: float | None = None,
    batches: Sequence[tuple[Any, Any]] = (),
    overfit_samples: int = 8,
    overfit_steps: int = 300,
    gradcheck: bool = True,
    engine: Engine | None = None,
    name: str = "preflight",
) -> PreflightReport:
    """Run every check on copies of ``model`` with one ``(inputs, targets)`` batch.

    ``batches`` (e.g. the first few from the DataLoader) only feed the label statistics: class
    balance and batches that hold a single label (unshuffled, sorted data).
    """
    engine = engine or default_engine()
    x, y = batch
    notes: list[str] = []
    first, output = checks.initial_loss(model, x, y, loss_fn)
    expected = (expected_loss, "the given value") if expected_loss is not None else \
        checks.expected_initial_loss(output, y, num_classes)
    fit, trained = checks.overfit_tiny_batch(model, x, y, loss_fn, overfit_samples,
                                             overfit_steps)
    random_input = checks.random_input_losses(trained, x, y, loss_fn, overfit_samples)
    grad: GradCheck | None = None
    if gradcheck:
        try:
            grad = checks.gradient_check(model, x, y, loss_fn)
        except (RuntimeError, TypeError) as exc:  # e.g. an op without float64 support
            notes.append(f"gradient check skipped: {str(exc).splitlines()[0]}")
    signals = checks.init_signals(model, x, y, loss_fn)
    inputs = checks.input_stats(x)
    labels = checks.label_stats([y, *(b[1] for b in batches)], num_classes)
    probe_run = Run(name, Path(name), "preflight",
                    {k: v for k, v in signals.series().items() if "/update_ratio/" not in k})
    stds = {k.rsplit("/", 1)[-1]: float(v.values[-1]) for k, v in probe_run.series.items()
            if k.startswith("nndoctor/act_std/")}
    report = PreflightReport(first, expected, fit, grad, stds, inputs, labels, random_input,
                             (), _empty(), tuple(notes), name, checks.loss_kind(loss_fn),
                             checks.output_kind(output))
    facts = _facts(report, probe_run, engine, num_classes)
    diagnosis = Session(engine, facts).diagnose()
    return replace(report, facts=tuple(facts), diagnosis=diagnosis)


def _empty() -> Diagnosis:
    return Diagnosis("insufficient-data", (), {}, {}, {}, ())


def _fact(name: str, value: bool | float | str, evidence: str) -> Fact:
    return Fact(name, value, 1.0, "probe", "pre-flight", evidence)


def _facts(r: PreflightReport, probe_run: Run, engine: Engine,
           num_classes: int | None) -> list[Fact]:
    params = engine.kb.detector_params("probes")
    facts = [f._replace(source="probe", detail="pre-flight, at init")
             for f in DETECTORS["probes"](probe_run, params) if f.name in engine.kb.facts]
    if r.expected_loss:
        tolerance = engine.kb.detector_params("loss_level")["initial_tolerance"]
        ratio = r.initial_loss / r.expected_loss[0]
        value = "much_higher" if ratio > 1 + tolerance else \
            "much_lower" if ratio < 1 - tolerance else "about_expected"
        facts.append(_fact("initial_loss_vs_expected", value,
                           f"initial loss {r.initial_loss:.4g} vs expected {r.expected_loss[1]} = "
                           f"{r.expected_loss[0]:.4g} (±{tolerance:.0%})"))
    if r.overfit:
        o = r.overfit
        facts.append(_fact("can_overfit_tiny_batch", o.reached,
                           f"{o.samples} samples, Adam {o.lr:g}: loss {o.start_loss:.4g} → "
                           f"{o.final_loss:.4g} in {o.steps} steps"))
    if r.gradcheck and r.gradcheck.checked and math.isfinite(r.gradcheck.max_rel_error):
        facts.append(_fact("gradient_check_error", r.gradcheck.max_rel_error,
                           f"max relative error {r.gradcheck.max_rel_error:.2g} over "
                           f"{r.gradcheck.checked} coordinates in float64"))
    i = r.inputs
    facts += [
        _fact("inputs_contain_nan", i.nonfinite, "the batch's inputs "
              + ("contain NaN/Inf" if i.nonfinite else "are all finite")),
        _fact("inputs_normalized", i.normalized,
              f"input mean {i.mean:.3g}, std {i.std:.3g}, |max| {i.abs_max:.3g}"),
        _fact("input_abs_max", i.abs_max, f"largest |input| in the batch is {i.abs_max:.4g}"),
        _fact("inputs_integer_dtype", i.integer_dtype, "inputs are "
              + ("integers" if i.integer_dtype else "floating point")),
    ]
    if i.samples >= 500:  # SageMaker judges the mean over ≥ 500 samples
        facts.append(_fact("input_abs_mean", i.abs_mean,
                           f"|mean| of the inputs over {i.samples} samples is {i.abs_mean:.3g}"))
    if r.labels:
        lab = r.labels
        facts.append(_fact("batches_single_label", lab.single_label_batches > 0,
                           f"{lab.single_label_batches} of {lab.batches} batches hold one label"))
        if lab.imbalance_ratio is not None:
            facts.append(_fact("class_imbalance_ratio", max(lab.imbalance_ratio, 1.0),
                               f"class counts {dict(sorted(lab.counts.items()))}"))
    if r.random_input and r.overfit:
        real, noise = r.random_input
        facts.append(_fact("random_input_same_behaviour", _same_loss(real, noise),
                           f"after fitting the tiny batch: loss {real:.4g} on it, {noise:.4g} "
                           "on noise of the same scale"))
    if num_classes:
        facts.append(_fact("num_classes", float(num_classes), f"{num_classes} classes (given)"))
    if r.loss_function:
        facts.append(_fact("loss_function", r.loss_function, f"the loss is {r.loss_function}"))
    if r.output_activation:
        facts.append(_fact("output_activation", r.output_activation,
                           f"the model's outputs look like {r.output_activation}"
                           + (" (raw logits)" if r.output_activation == "none" else "")))
    return facts


# ---------------------------------------------------------------------------- command line
SETUP_NAMES = ("model", "batch", "loss_fn")
FAIL_ON = ("possible", "likely", "confirmed", "never")
OPTIONAL_NAMES = ("num_classes", "expected_loss", "batches")


def load_setup(script: Path) -> dict[str, Any]:
    """Run SCRIPT (not as ``__main__``) and collect what ``preflight`` needs from it."""
    namespace = runpy.run_path(str(script), run_name="__nndoctor_preflight__")
    setup = namespace.get("preflight_setup")
    found: dict[str, Any] = dict(setup()) if callable(setup) else \
        {k: namespace[k] for k in SETUP_NAMES + OPTIONAL_NAMES if k in namespace}
    missing = [k for k in SETUP_NAMES if k not in found]
    if missing:
        raise ValueError(f"{script}: define {', '.join(missing)} (or preflight_setup() returning "
                         "a dict with model, batch, loss_fn)")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nndoctor.probes.preflight",
        description="Pre-flight checks of a model and one batch.",
        epilog="exit codes: 0 the checks ran and found nothing at or above --fail-on; 1 a cause "
               "at or above --fail-on; 2 SCRIPT is missing or cannot be used")
    parser.add_argument("script", type=Path, help="Python file defining model, batch, loss_fn")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--log", type=Path, help="also write the pre-flight tags to this JSONL")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="likely",
                        help="exit 1 when a cause at or above this band is found, 'never' to "
                             "always exit 0 after the checks ran (default: likely)")
    args = parser.parse_args(argv)
    if not args.script.is_file():
        print(f"error: {args.script}: no such file", file=sys.stderr)
        return 2
    try:
        setup = load_setup(args.script)
        report = preflight(setup["model"], setup["batch"], setup["loss_fn"],
                           num_classes=setup.get("num_classes"),
                           expected_loss=setup.get("expected_loss"),
                           batches=setup.get("batches") or (), name=str(args.script))
    except Exception as exc:  # the user's script: report it in one line, no traceback
        print(f"error: {args.script}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.log:
        report.write(path=args.log)
    try:
        sys.stdout.write(report.text(args.format, args.top))
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader went away; stop quietly
        from nndoctor.cli import closed_pipe

        closed_pipe()
    return 1 if args.fail_on != "never" and report.diagnosis.alarming(args.fail_on) else 0


if __name__ == "__main__":
    sys.exit(main())
