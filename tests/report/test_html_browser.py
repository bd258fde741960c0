"""The HTML report in a real browser: headless Chromium loads a sweep report of real logs.

Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) runs the page as a user would
open it, from a file, offline. A first script injected at the top of ``<head>`` records every
script error and every Content-Security-Policy violation (a resource the page tried to load) on
``<html>``; a probe injected at the end of ``<body>`` reads the drawn plots back from the
browser's own layout (length and box of every line), clicks the overview's column headers and
records the order of the rows; ``--dump-dom`` returns the page with those records. A second load
of the untouched page takes a screenshot (kept in the test's tmp folder).

The README's docs/img/html-report.png was taken the same way from a smaller report:
``nndoctor diagnose examples/overfitting examples/nan_blowup examples/healthy --format html
-o /tmp/report.html`` then ``chromium --headless --hide-scrollbars --window-size=1100,1900
--screenshot=docs/img/html-report.png file:///tmp/report.html``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nndoctor.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "logs"
EXAMPLES = ROOT / "examples"
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="headless Chromium is not installed (apt-get install chromium)")

RECORDER = """<script>(function () {
  var root = document.documentElement;
  function note(kind, text) { root.setAttribute("data-" + kind,
    (root.getAttribute("data-" + kind) || "") + text + "\\n"); }
  window.addEventListener("error", function (e) { note("errors", e.message); });
  document.addEventListener("securitypolicyviolation", function (e) {
    note("blocked", e.violatedDirective + " " + e.blockedURI); });
})();</script>"""

PROBE = """<script>(function () {
  var out = {lines: [], plots: document.querySelectorAll("svg.plot").length, sorts: {},
             sections: {}};
  Array.prototype.forEach.call(document.querySelectorAll("section.run"), function (s) {
    out.sections[s.id] = s.querySelector(".meta").textContent; });
  Array.prototype.forEach.call(document.querySelectorAll("svg.plot path.line"), function (p) {
    var box = p.getBBox();
    out.lines.push({series: p.getAttribute("data-series"), length: p.getTotalLength(),
                    points: (p.getAttribute("d").match(/[ML]/g) || []).length,
                    width: box.width, run: p.closest("section").id});
  });
  out.markers = Array.prototype.map.call(document.querySelectorAll("g.marker-note text"),
    function (t) { return {text: t.textContent, run: t.closest("section").id,
                           width: t.getBBox().width}; });
  out.nonfinite = Array.prototype.map.call(document.querySelectorAll("g.nonfinite-note"),
    function (g) { return {run: g.closest("section").id, step: +g.getAttribute("data-step")}; });
  var table = document.getElementById("runs");
  function rows(col) { return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
    return [r.cells[0].textContent, r.cells[col].getAttribute("data-sort")]; }); }
  out.initial = rows(0);
  [["verdict", 1], ["name", 0], ["val_loss", 6]].forEach(function (c) {
    var th = table.tHead.rows[0].cells[c[1]];
    th.click(); var up = rows(c[1]), upState = th.getAttribute("aria-sort");
    th.click(); out.sorts[c[0]] = {up: up, down: rows(c[1]), states: [upState,
      th.getAttribute("aria-sort")]};
  });
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();</script>"""


class Attributes(HTMLParser):
    """The attributes of <html> and <body> of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag, attrs):
        if tag in ("html", "body") and tag not in self.found:
            self.found[tag] = dict(attrs)


def chromium(tmp_path: Path, *args: str, size: str = "1100,1500") -> str:
    profile = tmp_path / "profile"
    command = [BROWSER, "--headless", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
               "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
               f"--window-size={size}", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


SWEEP = (EXAMPLES / "overfitting", FIXTURES / "keras_history", FIXTURES / "lightning",
         FIXTURES / "tensorboard", FIXTURES / "hf")
NAN_RUNS = ("keras_history", "lightning/version_0", "torch_simple")  # NaN/Inf in their logs


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """A sweep report of real logs: overfitting with train and validation, runs that turn NaN,
    healthy runs, 11 in all."""
    out = tmp_path_factory.mktemp("html") / "report.html"
    code = main(["diagnose", *map(_shown, SWEEP), "--format", "html", "-o", str(out),
                 "--no-progress", "--jobs", "1"])
    assert code == 0 and out.stat().st_size > 0
    return out


def _shown(path: Path) -> str:
    """The path relative to the working directory when inside it (as a user types it)."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


@pytest.fixture(scope="module")
def probed(page: Path, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("probe")
    html = page.read_text(encoding="utf-8")
    assert html.count("<head>") == 1 and html.count("</body>") == 1
    probe_page = tmp / "probe.html"
    probe_page.write_text(html.replace("<head>", "<head>" + RECORDER, 1)
                          .replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    dom = chromium(tmp, "--dump-dom", probe_page.as_uri())
    parser = Attributes()
    parser.feed(dom)
    body = parser.found.get("body", {})
    assert "data-probe" in body, "the probe did not run: " + dom[:500]
    return {"html": parser.found.get("html", {}), "probe": json.loads(body["data-probe"] or "{}"),
            "source": html}


def test_no_script_errors_and_nothing_loaded(probed):
    assert probed["html"].get("data-errors") is None, probed["html"]["data-errors"]
    assert probed["html"].get("data-blocked") is None, probed["html"]["data-blocked"]


def test_every_plot_is_drawn_with_its_lines(probed):
    probe = probed["probe"]
    assert probe["plots"] == probed["source"].count('<svg xmlns="http://www.w3.org/2000/svg"')
    assert len(probe["sections"]) == 11 and probe["plots"] >= 25
    lines = probe["lines"]
    assert len(lines) > probe["plots"]  # train and validation share figures
    drawn = [line for line in lines if line["points"] >= 2]
    assert len(drawn) >= 0.9 * len(lines)
    assert all(line["length"] > 0 and line["width"] > 0 for line in drawn)


def test_train_and_validation_loss_of_the_overfitting_run_share_a_plot(probed):
    probe = probed["probe"]
    section = _section(probe, "examples/overfitting")
    series = [line["series"] for line in probe["lines"] if line["run"] == section]
    assert series[:2] == ["train_loss", "val_loss"]
    labels = [m["text"] for m in probe["markers"] if m["run"] == section]
    assert "val loss rising · step 48" in labels
    assert all(m["width"] > 20 for m in probe["markers"])  # laid out as readable text


def test_runs_with_nan_mark_where_it_starts(probed):
    probe = probed["probe"]
    nan_runs = {_section(probe, path) for path in NAN_RUNS}
    marked = {m["run"] for m in probe["markers"] if "NaN" in m["text"]}
    marked |= {n["run"] for n in probe["nonfinite"]}
    assert nan_runs <= marked


def _section(probe: dict, path: str) -> str:
    """The id of the one run section whose path contains ``path``."""
    (found,) = [sid for sid, meta in probe["sections"].items() if path in meta]
    return found


def _ordered(values: list[str | None], numeric: bool, descending: bool) -> bool:
    """Whether the sort keys are in order, empty keys last either way."""
    present = [v for v in values if v not in ("", None)]
    assert values[:len(present)] == present  # empties at the end
    keys = [float(v) for v in present] if numeric else present
    return keys == sorted(keys, reverse=descending)


def test_the_overview_sorts_on_header_clicks(probed):
    probe = probed["probe"]
    names = sorted(name for name, _ in probe["initial"])
    for column, numeric in (("verdict", True), ("name", False), ("val_loss", True)):
        result = probe["sorts"][column]
        assert result["states"] == ["ascending", "descending"]
        for direction, descending in (("up", False), ("down", True)):
            rows = result[direction]
            assert sorted(name for name, _ in rows) == names  # the same rows, reordered
            keys = [key for _, key in rows]
            assert _ordered(keys, numeric, descending), (column, direction, keys)
    assert probe["sorts"]["val_loss"]["up"] != probe["sorts"]["val_loss"]["down"]


def test_a_screenshot_is_kept(page, tmp_path):
    shot = tmp_path / "html-report.png"
    chromium(tmp_path, f"--screenshot={shot}", page.as_uri(), size="1100,2100")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000
