"""The core (engine, knowledge, adapters, pipeline, report) imports without textual."""

from __future__ import annotations

import subprocess
import sys

CORE = ("nndoctor.engine", "nndoctor.engine.session", "nndoctor.knowledge",
        "nndoctor.knowledge.loader", "nndoctor.adapters", "nndoctor.adapters.symptoms",
        "nndoctor.pipeline", "nndoctor.report", "nndoctor.tui.state", "nndoctor.tui.files")


def test_core_packages_do_not_import_textual() -> None:
    code = "\n".join([
        "import sys",
        *(f"import {name}" for name in CORE),
        "from nndoctor.knowledge.loader import builtin_knowledge_base",
        "builtin_knowledge_base()",
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))",
        "print(','.join(leaked))",
    ])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"textual imported by the core: {result.stdout}"


def test_the_cli_imports_textual_only_for_ask() -> None:
    code = ("import sys, nndoctor.cli, nndoctor.commands.ask, nndoctor.commands.diagnose; "
            "print('textual' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
