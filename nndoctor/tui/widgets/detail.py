"""A cause in full: what it means, the evidence (HOW) or WHY NOT, fixes in order, sources."""

from __future__ import annotations

from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from nndoctor.engine.facts import Fact
from nndoctor.sanitize import clean
from nndoctor.tui.state import Interview
from nndoctor.tui.widgets.text import band_content

MAX_NOT_FIRED = 4
Block = tuple[str, Content]  # (CSS class, text): one paragraph of the detail


def describe(interview: Interview, fact: Fact) -> Content:
    """``lr = 1 (your answer)`` or ``val_loss_rising = yes (log: val_loss, steps …): evidence``."""
    value = interview.label(fact.name, fact.value)
    if fact.source == "log":
        origin = f"log: {fact.detail}" if fact.detail else "from the log"
        style = "$accent"
    elif fact.source == "answer":
        origin, style = "your answer", "$success"
    else:
        origin, style = fact.source, "$text-muted"
    text = Content.from_markup(f"[b]$n[/b] = $v [{style}]($o)[/]", n=fact.name, v=clean(value),
                               o=clean(origin))  # details and values come from the log
    return Content.assemble(text, f": {clean(fact.evidence)}") if fact.evidence else text


def cause_blocks(interview: Interview, cause_id: str) -> list[Block]:
    """The paragraphs of one cause's detail, ranked or not."""
    spec = interview.kb.causes[cause_id]
    ranked = interview.diagnosis.cause(cause_id)
    score = interview.diagnosis.scores.get(cause_id, 0.0)
    blocks: list[Block] = [
        ("title", Content.from_markup("[b]$t[/b] [$text-muted]($i)[/]", t=spec.title, i=cause_id)),
        ("para", band_content(score, ranked.band if ranked else None, 16)),
        ("heading", Content("What it means")),
        ("para", Content(" ".join(spec.explanation.split()))),
    ]
    not_fired = interview.session.why_not(cause_id)[1:]
    if ranked is not None:
        blocks.append(("heading", Content("Evidence (how this was concluded)")))
        for trace in ranked.support:
            sign = "for" if trace.contribution > 0 else "against"
            blocks.append(("para", Content.from_markup(
                "[b]$r[/b] [$text-muted]$s $c[/] $w", r=trace.rule_id, s=sign,
                c=f"{trace.contribution:+.2f}", w=" ".join(trace.because.split()))))
            blocks += [("fact", describe(interview, fact)) for fact in trace.facts]
        if not_fired:
            blocks.append(("heading", Content("Rules that could add to it but did not fire")))
    else:
        blocks.append(("heading", Content("Why not (why it is not ranked)")))
        if not not_fired:
            blocks.append(("para", Content("No rule concludes it from the facts known so far.")))
    blocks += [("fact", Content(line.strip())) for line in not_fired[:MAX_NOT_FIRED]]
    if len(not_fired) > MAX_NOT_FIRED:
        blocks.append(("fact", Content(f"… and {len(not_fired) - MAX_NOT_FIRED} more rules")))
    blocks.append(("heading", Content("Fixes, in order")))
    fixes = ranked.fixes if ranked is not None else spec.fixes  # ranked: fitted to the run
    for i, fix in enumerate(fixes, 1):
        effort = f" ({fix.effort} effort)" if fix.effort != "low" else ""
        blocks.append(("fix", Content.from_markup("[b]$n.[/b] $a[$text-muted]$e[/]", n=str(i),
                                                  a=" ".join(fix.action.split()), e=effort)))
        if fix.verify:
            blocks.append(("verify", Content.from_markup(
                "[$success]Verify:[/] $v", v=" ".join(fix.verify.split()))))
    blocks.append(("heading", Content("Sources")))
    blocks += [("fact", Content(interview.source_label(s))) for s in spec.sources]
    return blocks


class CauseDetail(Vertical):
    """One Static per paragraph, so wrapped lines keep their indent."""

    def show(self, interview: Interview, cause_id: str) -> None:
        self.remove_children()
        self.mount_all(Static(Content.assemble("• ", text) if kind == "fact" else text,
                              classes=f"detail-{kind}")
                       for kind, text in cause_blocks(interview, cause_id))

    def plain(self) -> str:
        """The whole detail as plain text (for tests and copy)."""
        return "\n".join(str(s.content) for s in self.query(Static))
