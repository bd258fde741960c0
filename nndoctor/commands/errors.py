"""Turn any exception into the one line the user sees."""

from __future__ import annotations

from nndoctor.adapters.run import LogError
from nndoctor.engine.durable_matcher import RulesetCompileError
from nndoctor.engine.facts import FactError
from nndoctor.knowledge.loader import KnowledgeError

USER_ERRORS = (LogError, FactError, KnowledgeError, RulesetCompileError, OSError, ValueError)


def one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    if isinstance(exc, USER_ERRORS):
        return message
    return f"internal error ({type(exc).__name__}: {message}); set NNDOCTOR_DEBUG=1 for details"
