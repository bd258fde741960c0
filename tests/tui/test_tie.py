"""The interview never presents one cause where the evidence names several (a tie)."""

from __future__ import annotations

from textual.pilot import Pilot

from nndoctor.engine.facts import Fact
from nndoctor.engine.session import Session
from nndoctor.tui.app import NNDoctorApp
from tests.tui.conftest import drive, text_of

FLAT_AT_CHANCE_SMOOTH = {
    "train_loss_trend": "flat", "val_loss_trend": "flat", "loss_at_chance": True,
    "train_loss_high": True, "loss_oscillating": False, "loss_nonfinite": False,
    "loss_exploded": False, "grad_norm_spikes": False, "loss_fast_drop_then_plateau": False,
    "lr": 0.001,
}


def test_a_tied_leader_is_shown_as_a_tie() -> None:
    session = Session(facts=[Fact(k, v, 1.0, "log") for k, v in FLAT_AT_CHANCE_SMOOTH.items()])
    tied = session.diagnose(questions=0).tied
    assert len(tied) >= 2
    app = NNDoctorApp(session)

    async def scenario(pilot: Pilot[None]) -> None:
        text = text_of(pilot, "#progress")
        assert f"tied with {len(tied) - 1} other causes" in text

    drive(app, scenario)
