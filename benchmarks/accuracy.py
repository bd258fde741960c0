"""Diagnosis accuracy of nndoctor over the labelled corpus of real training runs.

The corpus is made by ``benchmarks/make_corpus.py`` (runs in ``benchmarks/corpus/<id>/``, the
manifest in ``benchmarks/corpus.json``). Every run is scored through the library path the CLI
uses (``load_runs`` + ``diagnose_run``)::

    python benchmarks/accuracy.py [CORPUS_DIR] [--manifest benchmarks/corpus.json]
        [--split dev|test|all] [--mode logs|classes|ask] [--ask N] [--jobs N]
        [--verbose] [--json OUT] [--compare OLD.json]

Modes: ``logs`` — the logs alone; ``classes`` — plus the class count from the manifest, as
``--answer num_classes=C`` gives it (0 for a regression, as the question's help says);
``ask`` — ``classes`` plus a simulated practitioner (``benchmarks/_practitioner.py``)
answering the N next-best questions from the run's recipe.

A run is right at top-k when one of the first k causes is its labelled cause or one of the
manifest's ``alternatives`` (what a careful human could also rank first from the logs);
"strict" top-1 accepts the injected cause only. On a healthy run any cause at ``likely`` or
``confirmed`` is a false alarm. Runs whose ``check`` is not ``ok`` are skipped; a folder that
cannot be read, or whose diagnosis fails, counts as a miss. Scoring lives in pure functions
(``summarize``, ``breakdown``, ``baselines``, ``calibration``, ``confusion``, ``compare``), apart
from the I/O.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _practitioner import DONT_KNOW
from _practitioner import answer as practitioner_answer

ROOT = Path(__file__).resolve().parents[1]
HEALTHY = "healthy"
BANDS = ("possible", "likely", "confirmed")
ALARM_BANDS = frozenset({"likely", "confirmed"})
SPLITS = ("dev", "test")
MODES = ("logs", "classes", "ask")
CONFUSION_SHOWN = 30  # pairs printed without --verbose
COMPARED = ("top1", "top3", "strict_top1", "false_alarms", "insufficient_faulty",
            "insufficient_healthy", "healthy_verdict")
LABELS = {
    "top1": "top-1 (cause or alternative)",
    "top3": "top-3 (cause or alternative)",
    "strict_top1": "strict top-1 (injected cause)",
    "false_alarms": "false alarms on healthy runs (likely+)",
    "insufficient_faulty": "verdict insufficient-data, faulty runs",
    "insufficient_healthy": "verdict insufficient-data, healthy runs",
    "healthy_verdict": "verdict healthy, healthy runs",
}


# ---------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Ranked:
    """One ranked cause of a diagnosis."""

    cause: str
    confidence: float
    band: str | None


@dataclass(frozen=True)
class Result:
    """The scored outcome of one corpus run: its labels and nndoctor's first three causes."""

    id: str
    cause: str
    split: str
    alternatives: tuple[str, ...] = ()
    framework: str = ""
    task: str = ""
    family: str = ""
    top: tuple[Ranked, ...] = ()
    verdict: str = "error"
    error: str | None = None
    runs_in_folder: int = 1
    asked: tuple[tuple[str, str], ...] = ()
    tied: tuple[str, ...] = ()  # the leading causes nndoctor reports as not separated
    seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        return self.cause == HEALTHY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        d = dict(d)
        d["alternatives"] = tuple(d.get("alternatives", ()))
        d["top"] = tuple(Ranked(**t) for t in d.get("top", ()))
        d["asked"] = tuple(tuple(a) for a in d.get("asked", ()))
        d["tied"] = tuple(d.get("tied", ()))
        return cls(**d)


# ---------------------------------------------------------------------------------- scoring
def ratio(k: int, n: int) -> dict[str, Any]:
    """``k`` of ``n`` with its rate (None when ``n`` is 0)."""
    return {"k": k, "n": n, "rate": k / n if n else None}


def accepted(result: Result, strict: bool = False) -> set[str]:
    """The causes that count as right for a faulty run."""
    return {result.cause} if strict else {result.cause, *result.alternatives}


def ranking_hits(result: Result, ranking: Sequence[str], k: int, strict: bool = False) -> bool:
    """Whether one of the first ``k`` causes of ``ranking`` is right (never, on a healthy run)."""
    return not result.healthy and bool(accepted(result, strict) & set(ranking[:k]))


def hit(result: Result, k: int = 1, strict: bool = False) -> bool:
    """nndoctor's top-k is right for this faulty run."""
    return ranking_hits(result, [t.cause for t in result.top], k, strict)


def false_alarm(result: Result) -> bool:
    """A healthy run with a cause at ``likely`` or ``confirmed`` (causes come highest first)."""
    return result.healthy and bool(result.top) and result.top[0].band in ALARM_BANDS


def is_ok(result: Result) -> bool:
    """Right for the run: top-1 hit on a faulty run, no false alarm on a healthy one."""
    return not false_alarm(result) if result.healthy else hit(result, 1)


def first(result: Result) -> str:
    """What came first: a cause id, ``(nothing)`` or ``(error)``."""
    if result.error is not None:
        return "(error)"
    return result.top[0].cause if result.top else "(nothing)"


def summarize(results: Sequence[Result]) -> dict[str, Any]:
    """The headline figures of one split."""
    faulty = [r for r in results if not r.healthy]
    healthy = [r for r in results if r.healthy]
    return {
        "runs": len(results),
        "faulty": len(faulty),
        "healthy": len(healthy),
        "errors": sum(r.error is not None for r in results),
        "multi_run_folders": sum(r.runs_in_folder > 1 for r in results),
        "top1": ratio(sum(hit(r, 1) for r in faulty), len(faulty)),
        "top3": ratio(sum(hit(r, 3) for r in faulty), len(faulty)),
        "strict_top1": ratio(sum(hit(r, 1, strict=True) for r in faulty), len(faulty)),
        "tied_top": ratio(sum(bool(r.tied) for r in faulty), len(faulty)),
        "tied_right": ratio(sum(bool(accepted(r) & set(r.tied)) for r in faulty), len(faulty)),
        "false_alarms": ratio(sum(false_alarm(r) for r in healthy), len(healthy)),
        "insufficient_faulty": ratio(
            sum(r.verdict == "insufficient-data" for r in faulty), len(faulty)),
        "insufficient_healthy": ratio(
            sum(r.verdict == "insufficient-data" for r in healthy), len(healthy)),
        "healthy_verdict": ratio(sum(r.verdict == "healthy" for r in healthy), len(healthy)),
    }


def breakdown(results: Iterable[Result], key: Callable[[Result], str]) -> dict[str, Any]:
    """Top-1 / top-3 on the faulty runs, grouped by ``key``, keys sorted."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        if not r.healthy:
            groups.setdefault(key(r) or "?", []).append(r)
    return {name: {"n": len(rs),
                   "top1": ratio(sum(hit(r, 1) for r in rs), len(rs)),
                   "top3": ratio(sum(hit(r, 3) for r in rs), len(rs))}
            for name, rs in sorted(groups.items())}


def healthy_breakdown(results: Iterable[Result],
                      key: Callable[[Result], str]) -> dict[str, Any]:
    """False alarms and ``healthy`` verdicts on the healthy runs, grouped by ``key``."""
    groups: dict[str, list[Result]] = {}
    for r in results:
        if r.healthy:
            groups.setdefault(key(r) or "?", []).append(r)
    return {name: {"n": len(rs),
                   "false_alarms": ratio(sum(false_alarm(r) for r in rs), len(rs)),
                   "healthy_verdict": ratio(sum(r.verdict == "healthy" for r in rs), len(rs))}
            for name, rs in sorted(groups.items())}


def most_frequent(results: Iterable[Result], k: int = 3) -> list[str]:
    """The ``k`` most frequent labelled causes of the faulty runs (ties by id)."""
    counts = Counter(r.cause for r in results if not r.healthy)
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def constant_ranking(results: Sequence[Result], lead: str, k: int = 3) -> list[str]:
    """``lead`` first, then the most frequent other causes: a constant answer's top-k."""
    return [lead, *[c for c in most_frequent(results, k + 1) if c != lead]][:k]


def baseline(results: Sequence[Result], ranking: Sequence[str]) -> dict[str, Any]:
    """Top-1 / top-3 of answering the same ``ranking`` for every faulty run."""
    faulty = [r for r in results if not r.healthy]
    return {"ranking": list(ranking),
            "top1": ratio(sum(ranking_hits(r, ranking, 1) for r in faulty), len(faulty)),
            "top3": ratio(sum(ranking_hits(r, ranking, 3) for r in faulty), len(faulty))}


def baselines(results: Sequence[Result]) -> dict[str, Any]:
    """Constant answers: the split's most frequent causes, and ``lr_too_high`` first."""
    return {"most_frequent": baseline(results, most_frequent(results)),
            "lr_too_high": baseline(results, constant_ranking(results, "lr_too_high"))}


def calibration(results: Iterable[Result]) -> dict[str, Any]:
    """Per band of the top cause: how often it was right (a top cause on a healthy run is
    wrong), strictly right, and its mean confidence."""
    by_band: dict[str, list[Result]] = {b: [] for b in BANDS}
    for r in results:
        if r.top and r.top[0].band in by_band:
            by_band[r.top[0].band].append(r)  # type: ignore[index]
    return {band: {"n": len(rs),
                   "right": ratio(sum(hit(r, 1) for r in rs), len(rs)),
                   "strict_right": ratio(sum(hit(r, 1, strict=True) for r in rs), len(rs)),
                   "mean_confidence": (round(sum(r.top[0].confidence for r in rs) / len(rs), 4)
                                       if rs else None)}
            for band, rs in by_band.items()}


def confusion(results: Iterable[Result]) -> list[tuple[str, str, int]]:
    """(expected, what came first, count) for every run that was not right, most common first."""
    counts = Counter((r.cause, first(r)) for r in results if not is_ok(r))
    return [(e, g, n) for (e, g), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def split_groups(results: Sequence[Result], split: str) -> dict[str, list[Result]]:
    """The result lists per column: dev, test and all, or just the chosen split."""
    if split != "all":
        return {split: [r for r in results if r.split == split]}
    groups = {s: [r for r in results if r.split == s] for s in SPLITS}
    groups["all"] = list(results)
    return groups


def figures(results: Sequence[Result], split: str = "all") -> dict[str, Any]:
    """Every figure, per split column."""
    out = {}
    for name, rs in split_groups(results, split).items():
        out[name] = {
            **summarize(rs),
            "by_framework": breakdown(rs, lambda r: r.framework),
            "by_task": breakdown(rs, lambda r: r.task),
            "by_family": breakdown(rs, lambda r: r.family),
            "by_cause": breakdown(rs, lambda r: r.cause),
            "healthy_by_framework": healthy_breakdown(rs, lambda r: r.framework),
            "baselines": baselines(rs),
            "calibration": calibration(rs),
            "confusion": confusion(rs),
        }
    return out


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Per-split deltas of the headline rates and the runs whose top-1 changed, between two
    ``--json`` outputs (``old`` first)."""
    deltas: dict[str, dict[str, Any]] = {}
    for split, figs in new["figures"].items():
        before = old["figures"].get(split, {})
        deltas[split] = {m: {"old": before.get(m, {}).get("rate"), "new": figs[m]["rate"]}
                         for m in COMPARED}
    old_runs = {d["id"]: Result.from_dict(d) for d in old["runs"]}
    new_runs = {d["id"]: Result.from_dict(d) for d in new["runs"]}
    fixed, broken, moved = [], [], []
    for rid in sorted(old_runs.keys() & new_runs.keys()):
        a, b = old_runs[rid], new_runs[rid]
        row = {"id": rid, "cause": b.cause, "family": b.family, "split": b.split,
               "old": first(a), "new": first(b)}
        if is_ok(a) != is_ok(b):
            (fixed if is_ok(b) else broken).append(row)
        elif first(a) != first(b):
            moved.append(row)
    return {"deltas": deltas, "fixed": fixed, "broken": broken, "moved": moved,
            "only_old": sorted(old_runs.keys() - new_runs.keys()),
            "only_new": sorted(new_runs.keys() - old_runs.keys())}


# ---------------------------------------------------------------------------------- manifest
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def reason_key(check: str) -> str:
    """A failed check's message with its numbers blanked, so alike failures group together."""
    return _NUMBER.sub("#", check)


def select(entries: Iterable[dict[str, Any]],
           split: str) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The runs to score (``check`` ok, in the split) sorted by id, and the ids of the skipped
    ones by reason (numbers blanked)."""
    chosen, skipped = [], {}
    for e in entries:
        if split != "all" and e.get("split") != split:
            continue
        check = str(e.get("check", "(no check)"))
        if check == "ok":
            chosen.append(e)
        else:
            skipped.setdefault(reason_key(check), []).append(str(e["id"]))
    return sorted(chosen, key=lambda e: str(e["id"])), dict(
        sorted(skipped.items(), key=lambda kv: (-len(kv[1]), kv[0])))


# ---------------------------------------------------------------------------------- scoring I/O
@dataclass(frozen=True)
class Job:
    entry: dict[str, Any]
    root: str
    mode: str
    ask: int


def _points(run: Any) -> int:
    return sum(len(run.series[n]) for n in ("train_loss", "val_loss") if n in run.series)


def pick_run(runs: Sequence[Any]) -> int:
    """Index of the run with the most train_loss + val_loss points (the first on ties)."""
    return max(range(len(runs)), key=lambda i: (_points(runs[i]), -i))


def interview(diagnosis: Any, recipe: dict[str, Any],
              questions: int) -> tuple[Any, tuple[tuple[str, str], ...]]:
    """Let the practitioner answer up to ``questions`` next-best questions; the new diagnosis
    and the (fact, answer) pairs."""
    from nndoctor.engine.facts import FactError
    from nndoctor.engine.session import Session

    session = Session(facts=diagnosis.facts.values())
    asked: list[tuple[str, str]] = []
    for _ in range(questions):
        question = session.next_question()
        if question is None:
            break
        value = practitioner_answer(question.fact, recipe)
        try:
            session.answer(question.fact, value)
        except FactError:  # a practitioner bug: record it, answer "don't know"
            session.answer(question.fact, DONT_KNOW)
            value = f"invalid {value!r}"
        asked.append((question.fact, str(value)))
    return session.diagnose(questions=0), tuple(asked)


def _stale(folder: Path, entry: dict[str, Any]) -> str | None:
    """Why the folder no longer holds the manifest's run (the generator's ``done.json`` names
    another cause), or None."""
    try:
        done = json.loads((folder / "done.json").read_text())
    except (OSError, ValueError):
        return None
    if isinstance(done, dict) and done.get("cause") not in (None, entry["cause"]):
        return f"{folder.name} holds a {done['cause']} run, not {entry['cause']}"
    return None


def score_entry(job: Job) -> Result:
    """Read one run folder, diagnose it as the CLI does, and keep its first three causes."""
    from nndoctor.pipeline import diagnose_run, load_runs, parse_answers

    e = job.entry
    base = Result(id=str(e["id"]), cause=str(e["cause"]), split=str(e.get("split", "")),
                  alternatives=tuple(e.get("alternatives") or ()),
                  framework=str(e.get("framework", "")), task=str(e.get("task", "")),
                  family=str(e.get("family", "")))
    started = time.perf_counter()
    folder = Path(job.root) / str(e.get("path", e["id"]))
    stale = _stale(folder, e)
    if stale:
        return replace(base, error=f"stale manifest: {stale}", runs_in_folder=0)
    try:
        skipped: list[Any] = []
        runs = load_runs([folder], skipped=skipped)
        if not runs:
            reasons = "; ".join(str(s) for s in skipped[:2])
            raise ValueError("no run read" + (f" ({reasons})" if reasons else ""))
    except Exception as exc:
        return replace(base, error=f"read: {type(exc).__name__}: {exc}"[:300], runs_in_folder=0,
                       seconds=time.perf_counter() - started)
    run = runs[pick_run(runs)]
    classes = int(e.get("num_classes") or 0)
    # "Answer 0 for regression" (the fact's help); a language model's vocabulary is not given
    told = classes > 0 or e.get("task") == "regression"
    answers = (parse_answers([f"num_classes={classes}"])
               if job.mode in ("classes", "ask") and told else [])
    try:
        diagnosis = diagnose_run(run, answers, questions=0).diagnosis
        asked: tuple[tuple[str, str], ...] = ()
        if job.mode == "ask":
            diagnosis, asked = interview(diagnosis, e.get("recipe") or {}, job.ask)
    except Exception as exc:
        return replace(base, error=f"diagnose: {type(exc).__name__}: {exc}"[:300],
                       runs_in_folder=len(runs), seconds=time.perf_counter() - started)
    top = tuple(Ranked(c.id, round(float(c.confidence), 4), c.band)
                for c in diagnosis.causes[:3])
    tied = tuple(getattr(diagnosis, "tied", ()) or ())
    return replace(base, top=top, verdict=diagnosis.verdict, runs_in_folder=len(runs),
                   asked=asked, tied=tied, seconds=round(time.perf_counter() - started, 4))


def score_all(jobs: Sequence[Job], workers: int, progress: bool = False) -> list[Result]:
    """Score every job, in ``workers`` processes; results in job order."""
    results: list[Result] = []

    def tick(i: int) -> None:
        if progress:
            print(f"\r  {i}/{len(jobs)} runs", end="", file=sys.stderr, flush=True)

    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs, 1):
            results.append(score_entry(job))
            tick(i)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for i, result in enumerate(pool.map(score_entry, jobs, chunksize=1), 1):
                results.append(result)
                tick(i)
    if progress:
        print(file=sys.stderr)
    return results


# ---------------------------------------------------------------------------------- rendering
def pct(r: dict[str, Any] | None) -> str:
    """``62% (31/50)``, or ``–`` when nothing was counted."""
    if not r or not r["n"]:
        return "–"
    return f"{r['rate']:.0%} ({r['k']}/{r['n']})"


def _short(r: dict[str, Any] | None) -> str:
    return "–" if not r or not r["n"] else f"{r['rate']:.0%}"


def _pair(group: dict[str, Any] | None) -> str:
    if not group:
        return ""
    return f"{_short(group['top1'])} / {_short(group['top3'])} (n={group['n']})"


def render_table(figs: dict[str, dict[str, Any]]) -> str:
    """One Markdown table: a column per split, a row per figure."""
    cols = list(figs)
    lines = ["| measure | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(figs[c]) for c in cols) + " |")

    def section(title: str) -> None:
        lines.append(f"| **{title}** |" + " |" * len(cols))

    row("runs scored (faulty + healthy)", lambda f: f"{f['runs']} ({f['faulty']} + "
        f"{f['healthy']})")
    for m in COMPARED:
        row(LABELS[m], lambda f, m=m: pct(f[m]))
    row("faulty runs with a tie at the top", lambda f: pct(f["tied_top"]))
    row("right cause within the leading tie", lambda f: pct(f["tied_right"]))
    row("unreadable / failed folders (misses)", lambda f: str(f["errors"]))
    row("folders with >1 run (most points scored)", lambda f: str(f["multi_run_folders"]))
    section("constant-answer baselines (top-1 / top-3)")
    row("most frequent causes", lambda f: (
        f"{'/'.join(f['baselines']['most_frequent']['ranking'][:1]) or '–'}: "
        f"{_short(f['baselines']['most_frequent']['top1'])} / "
        f"{_short(f['baselines']['most_frequent']['top3'])}"))
    row("lr_too_high first", lambda f: (
        f"{_short(f['baselines']['lr_too_high']['top1'])} / "
        f"{_short(f['baselines']['lr_too_high']['top3'])}"))
    for key, title in (("by_framework", "per framework"), ("by_task", "per task"),
                       ("by_family", "per family"), ("by_cause", "per cause")):
        section(f"{title} (top-1 / top-3, faulty runs)")
        names = sorted({n for c in cols for n in figs[c][key]})
        for name in names:
            row(name, lambda f, key=key, name=name: _pair(f[key].get(name)))
    section("healthy runs per framework (false alarms / verdict healthy)")
    for name in sorted({n for c in cols for n in figs[c]["healthy_by_framework"]}):
        row(name, lambda f, name=name: _healthy_cell(f["healthy_by_framework"].get(name)))
    section("calibration: top cause right, by its band")
    for band in BANDS:
        row(band, lambda f, band=band: _calibration_cell(f["calibration"][band]))
    return "\n".join(lines)


def _healthy_cell(group: dict[str, Any] | None) -> str:
    if not group:
        return ""
    return (f"{_short(group['false_alarms'])} / {_short(group['healthy_verdict'])} "
            f"(n={group['n']})")


def _calibration_cell(cell: dict[str, Any]) -> str:
    if not cell["n"]:
        return "–"
    return (f"{pct(cell['right'])}, strict {_short(cell['strict_right'])}, "
            f"mean conf {cell['mean_confidence']:.2f}")


def render_misses(results: Sequence[Result]) -> list[str]:
    """Every run that was not right, with its first three causes."""
    lines = []
    for r in results:
        if is_ok(r):
            continue
        got = r.error or ", ".join(f"{t.cause} {t.confidence:.2f} {t.band}" for t in r.top) or (
            "nothing")
        alts = f" (or {', '.join(r.alternatives)})" if r.alternatives else ""
        lines.append(f"- {r.id} [{r.split}, {r.framework}, {r.family}] expected {r.cause}{alts}"
                     f"; verdict {r.verdict}; got {got}")
        if r.asked:
            lines.append("    asked: " + ", ".join(f"{f}={a}" for f, a in r.asked))
    return lines


def render_compare(diff: dict[str, Any], old_meta: dict[str, Any], verbose: bool) -> str:
    """The per-split deltas and the fixed / broken runs."""
    cols = list(diff["deltas"])
    lines = [f"### compared with {old_meta.get('json', 'old run')} (mode {old_meta.get('mode')}, "
             f"nndoctor {old_meta.get('commit', '?')})", "",
             "| measure | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for m in COMPARED:
        cells = []
        for c in cols:
            a, b = diff["deltas"][c][m]["old"], diff["deltas"][c][m]["new"]
            if a is None or b is None:
                cells.append("–" if b is None else f"– → {b:.0%}")
            else:
                cells.append(f"{a:.0%} → {b:.0%} ({100 * (b - a):+.1f} pt)")
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    lines.append("")
    for kind in ("fixed", "broken") + (("moved",) if verbose else ()):
        rows = diff[kind]
        title = {"fixed": "fixed", "broken": "broken",
                 "moved": "top-1 changed, still right/wrong"}[kind]
        lines.append(f"{title}: {len(rows)}")
        lines += [f"- {x['id']} [{x['split']}, {x['family']}] expected {x['cause']}: "
                  f"{x['old']} → {x['new']}" for x in rows]
    if not verbose:
        lines.append(f"top-1 changed, still right/wrong: {len(diff['moved'])} (--verbose lists)")
    if diff["only_old"] or diff["only_new"]:
        lines.append(f"runs only in the old results: {len(diff['only_old'])}, only in the new: "
                     f"{len(diff['only_new'])}")
    return "\n".join(lines)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=ROOT / "benchmarks" / "corpus",
                        help="corpus root; run paths in the manifest are relative to it")
    parser.add_argument("--manifest", type=Path, default=ROOT / "benchmarks" / "corpus.json")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--mode", choices=MODES, default="logs")
    parser.add_argument("--ask", type=int, default=3, metavar="N",
                        help="questions the simulated practitioner answers (--mode ask)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write figures and runs")
    parser.add_argument("--compare", type=Path, metavar="OLD", help="an older --json output")
    args = parser.parse_args(argv)

    manifest = json.loads(args.manifest.read_text())
    entries, skipped = select(manifest.get("runs", []), args.split)
    mode = f"ask (N={args.ask})" if args.mode == "ask" else args.mode
    jobs = [Job(e, str(args.corpus), args.mode, args.ask) for e in entries]
    started = time.perf_counter()
    results = score_all(jobs, args.jobs, progress=sys.stderr.isatty())
    elapsed = time.perf_counter() - started
    figs = figures(results, args.split)
    commit = _commit()

    print(f"## nndoctor accuracy — mode {mode}, split {args.split}, nndoctor {commit}")
    missing = len(skipped.get("missing", []))
    n_skipped = sum(len(ids) for ids in skipped.values())
    print(f"corpus {args.corpus} ({args.manifest.name}, {len(manifest.get('runs', []))} runs "
          f"listed); scored {len(results)}; skipped {n_skipped} (not generated {missing}, "
          f"failed check {n_skipped - missing})")
    stale = sum((r.error or "").startswith("stale manifest") for r in results)
    if stale:
        print(f"WARNING: {stale} folders hold another run than the manifest says (a manifest "
              "older than the corpus?); they count as misses")
    print()
    print(render_table(figs))
    print()
    widest = "all" if "all" in figs else args.split
    pairs = figs[widest]["confusion"]
    shown = pairs if args.verbose else pairs[:CONFUSION_SHOWN]
    print(f"confusion ({widest}; expected → what came first; {len(pairs)} pairs):")
    for expected, got, n in shown:
        print(f"- {expected} → {got}: {n}")
    if len(shown) < len(pairs):
        print(f"- … {len(pairs) - len(shown)} more pairs, "
              f"{sum(n for *_, n in pairs[len(shown):])} runs (--verbose lists them)")
    if skipped:
        print("skipped (check not ok):")
        for why, ids in skipped.items():
            listed = f": {', '.join(ids)}" if args.verbose and why != "missing" else ""
            print(f"- {len(ids)}× {why}{listed}")
    errors = [r for r in results if r.error]
    if errors:
        print(f"unreadable or failed folders ({len(errors)}):")
        for r in errors[: None if args.verbose else 10]:
            print(f"- {r.id}: {r.error}")
    if args.verbose:
        print("misses:")
        print("\n".join(render_misses(results)))
    rate = len(results) / elapsed if elapsed else 0.0
    print(f"timing: {elapsed:.1f} s for {len(results)} runs ({rate:.1f} runs/s, "
          f"--jobs {args.jobs})")

    output = {"version": 1,
              "meta": {"corpus": str(args.corpus), "manifest": str(args.manifest),
                       "mode": args.mode, "ask": args.ask if args.mode == "ask" else 0,
                       "split": args.split, "commit": commit, "seconds": round(elapsed, 2),
                       "json": str(args.json) if args.json else None},
              "skipped": skipped, "figures": figs,
              "runs": [r.to_dict() for r in results]}
    if args.compare:
        old = json.loads(args.compare.read_text())
        old["meta"]["json"] = str(args.compare)
        print()
        print(render_compare(compare(old, output), old["meta"], args.verbose))
    if args.json:
        args.json.write_text(json.dumps(output, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
