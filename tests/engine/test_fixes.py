"""Fixes that fit the run: left out when they do not apply, first when the evidence points at
them, then the cheap ones, and with the run's own numbers when they are known."""

from __future__ import annotations

from nndoctor.engine.facts import Fact
from nndoctor.engine.fixes import fit_fixes
from nndoctor.engine.session import Session
from nndoctor.knowledge import kb
from nndoctor.knowledge.schema import Fix


def _fix(fix_id: str, **fields) -> kb.Fix:
    return Fix.model_validate({"id": fix_id, "action": f"Generic text of {fix_id}.",
                               "sources": ["ref:tuning-playbook"], **fields}).to_kb()


def _diagnose(facts: dict[str, object], certainty: float = 1.0):
    return Session(facts=[Fact(k, v, certainty, "log") for k, v in facts.items()]  # type: ignore[arg-type]
                   ).diagnose(questions=0)


def test_evidence_first_then_effort_then_file_order():
    fixes = [
        _fix("costly", effort="high"),
        _fix("medium-one", effort="medium"),
        _fix("cheap-one"),
        _fix("weakly-pointed-at", effort="medium", first_when={"fact": "loss_oscillating",
                                                               "eq": True}),
        _fix("cheap-two"),
        _fix("pointed-at", effort="high", first_when={"fact": "loss_nonfinite", "eq": True}),
    ]
    known = {"loss_nonfinite": (True, 0.9), "loss_oscillating": (True, 0.4)}
    fitted, left_out = fit_fixes(fixes, known)
    assert [f.id for f in fitted] == ["pointed-at", "weakly-pointed-at", "cheap-one", "cheap-two",
                                      "medium-one", "costly"]
    assert fitted[0].first_because == "loss_nonfinite = true" and fitted[2].first_because == ""
    assert left_out == ()
    plain, _ = fit_fixes(fixes, {})  # no evidence: effort, then file order
    assert [f.id for f in plain] == ["cheap-one", "cheap-two", "medium-one", "weakly-pointed-at",
                                     "costly", "pointed-at"]


def test_a_fix_is_left_out_only_when_the_facts_say_it_does_not_apply():
    fixes = [
        _fix("warmup", not_when={"fact": "loss_unmoved", "eq": True}),
        _fix("rnn-cells", applies_when={"fact": "architecture", "eq": "rnn"}),
        _fix("always"),
    ]
    fitted, left_out = fit_fixes(fixes, {})  # nothing known: nothing is left out
    assert [f.id for f in fitted] == ["warmup", "rnn-cells", "always"] and not left_out
    fitted, left_out = fit_fixes(fixes, {"loss_unmoved": (True, 1.0),
                                         "architecture": ("mlp", 1.0)})
    assert [f.id for f in fitted] == ["always"]
    assert [(f.id, f.because) for f in left_out] == [
        ("warmup", "not for this run: loss_unmoved = true"),
        ("rnn-cells", "applies only when architecture = rnn")]
    fitted, _ = fit_fixes(fixes, {"loss_unmoved": (False, 1.0), "architecture": ("rnn", 1.0)})
    assert [f.id for f in fitted] == ["warmup", "rnn-cells", "always"]


def test_values_fill_the_text_and_an_unknown_one_keeps_the_generic_text():
    fix = _fix("lower-lr", needs=["lr"], action_with_values="Lower it: {lr} → {lr / 10}.",
               verify="The loss falls.", verify_with_values="The loss falls at {lr / 10}.")
    (fitted,), _ = fit_fixes([fix], {"lr": (0.3, 1.0)})
    assert (fitted.action, fitted.verify, fitted.values) == (
        "Lower it: 0.3 → 0.03.", "The loss falls at 0.03.", ("lr",))
    (generic,), _ = fit_fixes([fix], {"optimizer": ("adam", 1.0)})
    assert (generic.action, generic.verify, generic.values) == (
        "Generic text of lower-lr.", "The loss falls.", ())


def test_a_run_at_lr_200_is_told_to_divide_its_own_rate():
    d = _diagnose({"lr": 200.0, "lr_vs_optimizer_range": "far_above", "loss_nonfinite": True,
                   "nonfinite_early": True, "lr_warmup": False, "steps_trained": 3000.0})
    lead = d.causes[0]
    assert lead.id == "lr_too_high"
    first = lead.fixes[0]
    assert first.id == "divide-lr-by-10" and "(200 → 20 → 2)" in first.action
    assert first.first_because.startswith("lr_vs_optimizer_range in {above, far_above}")
    warmup = next(f for f in lead.fixes if f.id == "add-warmup")
    assert "about 30-150 of this run's 3000 steps" in warmup.action
    bisect = next(f for f in lead.fixes if f.id == "bisect-lr-from-checkpoint")
    assert "below the 200 that failed, between 20 and 0.02" in bisect.action
    assert lead.fixes[-1].effort == "medium"  # the one costly fix comes last


def test_a_run_dead_from_initialisation_gets_no_warmup_and_no_lower_rate():
    d = _diagnose({"loss_unmoved": True, "train_loss_trend": "flat", "loss_at_chance": True,
                   "train_loss_high": True, "lr": 0.01, "optimizer": "sgd",
                   "lr_vs_optimizer_range": "typical"})
    dead = d.cause("dead_relu")
    assert dead is not None and dead.band is not None
    assert dead.fixes[0].id == "he-initialisation"
    assert [f.id for f in dead.fixes_left_out] == ["lower-learning-rate"]
    advice = " ".join(f.action.lower() for c in d.causes for f in c.fixes)
    assert "warm" not in advice  # no cause tells a run that never moved to warm its LR up
    assert "tune-lr-schedule" in [f.id for f in d.cause("optimization_difficulty").fixes_left_out]


def test_a_rate_already_far_below_its_range_is_not_lowered_further():
    d = _diagnose({"dead_unit_fraction": 0.7, "lr": 1e-6, "optimizer": "adam",
                   "lr_vs_optimizer_range": "far_below"})
    dead = d.cause("dead_relu")
    assert dead is not None and dead.band is not None
    assert "lower-learning-rate" in [f.id for f in dead.fixes_left_out]
    assert all("learning rate by 10" not in f.action for f in dead.fixes)
    assert "adaptive-optimiser" in [f.id for f in dead.fixes_left_out]  # it already is Adam


def test_overfitting_stops_at_its_own_best_step_and_halves_its_own_batch():
    d = _diagnose({"val_loss_rising": True, "generalization_gap": "large",
                   "val_loss_trend": "increasing", "train_loss_trend": "decreasing",
                   "val_loss_best_step": 1234.0, "batch_size": 64.0})
    over = d.causes[0]
    assert over.id == "overfitting"
    assert over.fixes[0].id == "early-stopping" and "after about 1234 steps" in over.fixes[0].action
    assert over.fixes[-1].id == "more-data"  # high effort last
    smaller = next(f for f in over.fixes if f.id == "smaller-batch-or-sgd-momentum")
    assert "(halve it: 64 → 32)" in smaller.action


def test_exploding_gradients_clip_at_the_observed_p90_norm_first():
    d = _diagnose({"grad_norm_spikes": True, "grad_norm_growing": True, "loss_exploded": True,
                   "grad_norm_p90": 3.2149, "lr": 0.01})
    clip = d.cause("exploding_gradients").fixes[0]
    assert clip.id == "clip-gradient-norm" and "max_norm=3.21" in clip.action
    assert clip.values == ("grad_norm_p90",)


def test_facts_too_uncertain_for_the_rules_neither_fill_in_nor_decide_fixes():
    sure = {"val_loss_rising": True, "generalization_gap": "large",
            "val_loss_trend": "increasing", "train_loss_trend": "decreasing"}
    shaky = Session(facts=[*(Fact(k, v, 1.0, "log") for k, v in sure.items()),
                           Fact("val_loss_best_step", 1234.0, 0.1, "log"),
                           Fact("dropout_rate", 0.6, 0.1, "log")]).diagnose(questions=0)
    over = shaky.cause("overfitting")
    stop = next(f for f in over.fixes if f.id == "early-stopping")
    assert "1234" not in stop.action and stop.values == ()
    assert "add-dropout" in [f.id for f in over.fixes]



def test_fixes_for_fits_only_the_first_causes_and_changes_nothing_else():
    """A report showing its first k causes asks for their fixes only (JSON --top k)."""
    from pathlib import Path

    from nndoctor.adapters.readers import read_path
    from nndoctor.pipeline import diagnose_run

    examples = Path(__file__).resolve().parents[2] / "examples"
    for folder in sorted(p for p in examples.iterdir() if p.is_dir()):
        for run in read_path(folder):
            full = diagnose_run(run, questions=0).diagnosis
            for k in (1, 2):
                part = diagnose_run(run, questions=0, fixes_for=k).diagnosis
                assert part.causes[:k] == full.causes[:k]
                assert all(not c.fixes and not c.fixes_left_out for c in part.causes[k:])
                strip = [c._replace(fixes=(), fixes_left_out=()) for c in full.causes[k:]]
                assert list(part.causes[k:]) == strip
                assert part._replace(causes=()) == full._replace(causes=())
    session = Session(facts=diagnose_run(read_path(examples / "nan_blowup")[0],
                                         questions=0).diagnosis.facts.values())
    assert session.diagnose(0, fixes_for=0).causes[0].fixes == ()
    assert session.diagnose(0).causes[0].fixes  # asked for all again: fitted
