"""The live ranking: one option per cause with its confidence bar and its last move."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from nndoctor.engine.diagnosis import RankedCause
from nndoctor.engine.session import Move
from nndoctor.tui.messages import CauseChosen
from nndoctor.tui.widgets.text import band_content, move_content


def cause_prompt(cause: RankedCause, move: Move | None, width: int = 12) -> Content:
    title = Content.from_markup("[b]$t[/b]", t=cause.title)
    mv = move_content(move)
    first = Content.assemble(title, " ", mv) if mv.plain else title
    return Content.assemble(first, "\n", band_content(cause.confidence, cause.band, width))


class RankingList(OptionList):
    """Ranked causes; selecting one posts :class:`CauseChosen`."""

    def show(self, causes: Sequence[RankedCause], moves: Mapping[str, Move]) -> None:
        current = self.highlighted_option.id if self.highlighted_option is not None else None
        self.clear_options()
        self.add_options([Option(cause_prompt(c, moves.get(c.id)), id=c.id) for c in causes])
        ids = [c.id for c in causes]
        if ids:
            self.highlighted = ids.index(current) if current in ids else 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(CauseChosen(event.option.id))
