"""Messages the widgets post up to their screen ("attributes down, messages up")."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class AnswerChosen(Message):
    """A person picked or typed an answer (``"dont_know"`` for don't know)."""

    fact: str
    value: str


@dataclass
class CauseChosen(Message):
    """A cause was selected in a list: open its detail."""

    cause_id: str


@dataclass
class AnswerHighlighted(Message):
    """The cursor moved to a choice (for the what-if preview)."""

    fact: str
    value: str
