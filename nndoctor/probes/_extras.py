"""Optional frameworks: import them or fail with the pip command that installs the extra."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``; ImportError naming ``pip install 'nndoctor[<extra>]'`` if missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this nndoctor probe needs {module!r}; install it with: "
            f"pip install 'nndoctor[{extra}]'"
        ) from exc
