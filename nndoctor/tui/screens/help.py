"""The keys of the screen the user is on (`?`): its own, the app's (hidden ones too) and the
keys that move between widgets. Built from the bindings themselves, so it cannot drift."""

from __future__ import annotations

from typing import ClassVar

from textual.actions import parse
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

Row = tuple[str, str, bool]  # (keys, what it does, available now)
MOVING: list[Row] = [
    ("↑ ↓", "move in a list", True),
    ("enter", "answer, open, confirm", True),
    ("tab", "next pane (shift+tab: back)", True),
    ("^p", "command palette", True),
]


def declared(node_type: type) -> list[Binding]:
    """The bindings nndoctor's own classes declare (not textual's defaults), base class first."""
    out: list[Binding] = []
    for cls in reversed(node_type.__mro__):
        if cls.__module__.startswith("nndoctor.") and "BINDINGS" in cls.__dict__:
            out += Binding.make_bindings(cls.__dict__["BINDINGS"])
    return out


def rows(node: DOMNode, app: App[object]) -> list[Row]:
    """One row per action, with all its keys; unavailable now (e.g. undo with no answer) when
    its check_action says so."""
    merged: dict[str, tuple[list[str], str, bool]] = {}
    for binding in declared(type(node)):
        namespace, name, params = parse(binding.action)
        target = app if namespace == "app" else node
        keys, _, _ = merged.get(binding.action, ([], "", True))
        key = app.get_key_display(binding)
        if key not in keys:
            keys.append(key)
        enabled = target.check_action(name, params) is True
        merged[binding.action] = (keys, binding.description or name, enabled)
    return [("/".join(keys), text, enabled) for keys, text, enabled in merged.values()]


def key_rows(screen: Screen[object], app: App[object]) -> tuple[list[Row], list[Row]]:
    """(the screen's keys, the app's keys)."""
    return rows(screen, app), rows(app, app)


def table(title: str, rows: list[Row]) -> Content:
    """A heading, then one line per key: the keys in a column, what they do after them."""
    lines = [Content.from_markup("[b $primary]$t[/]", t=title)]
    width = max((len(keys) for keys, _, _ in rows), default=0) + 2
    for keys, text, enabled in rows:
        what = Content(text) if enabled else \
            Content.from_markup("[$text-muted]$t (not now)[/]", t=text)
        key = Content.from_markup("[b $accent]$k[/]", k=f"{keys:<{width}}")
        lines.append(Content.assemble(key, what))
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    """Lists the keys; Esc, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", key_display="?"),
        Binding("q", "app.pop_screen", "Close"),
    ]

    def __init__(self, own: list[Row], everywhere: list[Row], where: str) -> None:
        super().__init__()
        self.own, self.everywhere, self.where = own, everywhere, where

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "esc or ? closes"
            with Horizontal(id="help-columns"):
                with Vertical(classes="help-column"):
                    if self.own:
                        yield Static(table(self.where, self.own))
                    yield Static(table("Moving around", MOVING), classes="help-moving")
                yield Static(table("Everywhere", self.everywhere), classes="help-column")
