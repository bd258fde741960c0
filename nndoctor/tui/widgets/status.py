"""Status lines: how settled the diagnosis is, and what the last change moved."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.widgets import Static

from nndoctor.sanitize import clean
from nndoctor.tui.state import Change, Progress
from nndoctor.tui.widgets.text import band_content, move_content

SETTLED = {"confirmed": "settled", "likely": "fairly settled", "possible": "still open"}


class ProgressView(Static):
    """Counts of answers and log facts, and the leading cause with its bar."""

    def show(self, progress: Progress) -> None:
        counts = f"{progress.answered} answered"
        if progress.dont_know:
            counts += f" · {progress.dont_know} don't know"
        if progress.from_log:
            counts += f" · {progress.from_log} from log"
        leader = progress.leader
        if leader is None:
            state = Content.from_markup("[$text-muted]no cause ranked yet — still open[/]")
        else:
            settled = SETTLED.get(leader.band or "", "")
            if leader.tied_with:  # never present one cause where the evidence names several
                n = len(leader.tied_with)
                settled = (f"tied with {n} other cause{'s' if n > 1 else ''}: the evidence "
                           "cannot tell them apart yet")
            state = Content.assemble(
                band_content(leader.confidence, leader.band, 10), " ",
                Content.from_markup("[$text-muted]$s[/]", s=settled))
        self.update(Content.assemble(Content.from_markup("[b]$c[/b]\n", c=counts), state))


class MovesView(Static):
    """What the last answer or change did to the ranking."""

    def show(self, change: Change | None, titles: Mapping[str, str], limit: int = 3) -> None:
        if change is None:
            self.update(Content.from_markup("[$text-muted]Answers move the ranking; "
                                            "changes show here.[/]"))
            return
        if not change.moves:
            self.update(Content.from_markup("[$text-muted]$l: nothing moved[/]",
                                            l=clean(change.label)))
            return
        parts = [Content.from_markup("[b]$l[/b]", l=clean(change.label))]  # 'opened RUN'
        for move in change.moves[:limit]:
            parts.append(Content.assemble(
                "\n", move_content(move), " ",
                Content.from_markup("$t $a→$b", t=titles.get(move.cause, move.cause),
                                    a=f"{move.before:.2f}", b=f"{move.after:.2f}")))
        if len(change.moves) > limit:
            parts.append(Content(f"\n… and {len(change.moves) - limit} more"))
        self.update(Content.assemble(*parts))
