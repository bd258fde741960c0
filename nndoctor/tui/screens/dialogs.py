"""Small modal dialogs: a file path (with a directory tree to pick from) and a yes/no."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Static


class VisibleTree(DirectoryTree):
    """A directory tree without hidden files and folders."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")]


class PathDialog(ModalScreen[Path | None]):
    """Ask for a file path; with ``browse`` a directory tree fills the box on select."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, default: str = "", browse: bool = False,
                 hint: str = "Enter to confirm · Esc to cancel") -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.browse = browse
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="path-dialog", classes="dialog") as dialog:
            dialog.border_title = self.title_text
            dialog.border_subtitle = self.hint if not self.browse else (
                "pick below or type · Enter in the box opens · Esc cancels")
            yield Input(self.default, placeholder="path", id="path")
            if self.browse:
                yield VisibleTree(Path.cwd(), id="tree")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def picked(self, event: DirectoryTree.FileSelected | DirectoryTree.DirectorySelected) -> None:
        box = self.query_one(Input)
        box.value = str(event.path)
        if isinstance(event, DirectoryTree.FileSelected):
            box.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A question with Yes / No buttons (y / n keys)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
