"""The stand-alone HTML page: the do-this-first table, sections per run, offline, escaped."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from nndoctor.adapters.run import Run, Series
from nndoctor.cli import main
from nndoctor.pipeline import RunReport, diagnose_run, load_runs
from nndoctor.report.html import first_step, render_html

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


class Elements(HTMLParser):
    """Every start tag of a page as (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


def reports(*names: str, questions: int = 0) -> list[RunReport]:
    runs = load_runs([EXAMPLES / n for n in names])
    return [diagnose_run(run, questions=questions) for run in runs]


def test_the_page_opens_with_a_do_this_first_row_per_run_linking_to_its_section():
    rs = reports("overfitting", "nan_blowup", "healthy")
    page = render_html(rs)
    table = page[page.index("<table"):page.index("</table>")]
    assert page.index("Do this first") < page.index("<svg")  # before any plot
    rows = re.findall(r"<tr><td data-sort='[^']*'><a href='#(run-\d+)'>([^<]*)</a>", table)
    assert [name for _, name in rows] == ["overfitting", "nan_blowup", "healthy"]
    ids = {a.get("id") for _, a in elements(page)}
    assert all(anchor in ids for anchor, _ in rows)
    assert "Overfitting (the model memorises the training set)" in table
    assert rs[0].diagnosis.causes[0].fixes[0].action.split(" - ")[0] in table
    assert "Nothing urgent" in table  # the healthy run


def test_a_sweep_table_is_sortable_and_a_single_run_table_is_not():
    sweep = render_html(reports("overfitting", "nan_blowup"))
    single = render_html(reports("overfitting"))
    assert "<table class='runs sortable'" in sweep and "<table class='runs'" in single
    assert "Most common leading cause" in sweep


def test_plots_are_inline_svg_and_nothing_is_loaded_from_anywhere():
    page = render_html(reports("nan_blowup"))
    tags = elements(page)
    assert sum(1 for t, a in tags if t == "svg") == 4
    assert not any(t in ("img", "link", "iframe", "object", "embed") for t, _ in tags)
    assert not any("src" in a for _, a in tags)
    assert all((a.get("href") or "#").startswith("#") for t, a in tags if t == "a")
    csp = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in csp
    assert re.findall(r"https?://[^\s\"'<>]+", page) == ["http://www.w3.org/2000/svg"] * 4


def test_a_tie_is_named_with_the_step_that_separates_it():
    (r,) = reports("flat_loss", questions=3)
    assert r.diagnosis.tied
    action, _ = first_step(r.diagnosis)
    question = r.diagnosis.separation.question  # asked among the tied causes only
    assert action.startswith("Tell them apart: ") and f"--answer {question.fact}=" in action
    assert "It helps tell apart the leading hypotheses" in question.why
    page = render_html([r])
    assert "Tied: " in page and "Tell them apart" in page


def test_strings_from_the_log_are_escaped_everywhere():
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\x1b[2J\u202e'\""
    steps = np.arange(0, 300, 3)
    loss = np.exp(-steps / 60.0) + 0.01
    val = np.r_[np.linspace(1.0, 0.4, 50), np.linspace(0.42, 0.9, 50)]
    run = Run(evil, Path(f"/runs/{evil}"), "jsonl",
              {"train_loss": Series(steps, loss, evil), "val_loss": Series(steps, val),
               f"train/{evil}": Series(steps, loss), f"val/{evil}": Series(steps, val)},
              warnings=(evil,))
    page = render_html([diagnose_run(run, questions=0)] * 2)
    assert "<script>alert" not in page and "<img" not in page
    tags = elements(page)
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)  # no handler
    assert sum(1 for tag, _ in tags if tag == "script") == 1  # the page's own sort script
    assert "\x1b" not in page and "\u202e" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "\\x1b[2J\\u202e" in page


def test_cli_writes_the_html_report_and_the_plot_file(tmp_path, capsys):
    out, plot = tmp_path / "report.html", tmp_path / "plots.html"
    assert main(["diagnose", str(EXAMPLES / "overfitting"), "--format", "html", "-o", str(out),
                 "--no-progress"]) == 0
    assert main(["diagnose", str(EXAMPLES / "overfitting"), "--plot", str(plot),
                 "--no-progress"]) == 0
    assert "Overfitting" in capsys.readouterr().out  # the text report still goes to stdout
    for page in (out.read_text(encoding="utf-8"), plot.read_text(encoding="utf-8")):
        assert page.startswith("<!doctype html>") and "val loss rising · step 48" in page
