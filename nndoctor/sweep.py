"""Sweeps that scale with cores and keep memory flat (issue #13).

The parent only *plans*: it walks each directory, asks the readers which files are logs (for a
large folder the workers answer that: nndoctor/workers.py) and groups them exactly as a
directory scan does (``readers._read_dir``), then joins the groups a merge could ever join
(same home folder; an HF ``output_dir`` and its ``runs/<date>`` event folders; Lightning run
folders of different formats that ``_merge._apart`` relates) into *units*.
Workers receive units (a few paths each) and do everything else: read, merge, derive facts, run
the engine, render the run's part of the report. They send back a compact result: a few
strings and the rendered text, never a Run.

The parent spills the rendered parts to an anonymous temporary file and keeps only a small index
per run, so memory does not grow with the number of runs. When every unit is in, it applies what
needs the whole folder (drop logs with nothing in them when others have something, sort by path,
give runs of one name their relative path) and writes the report from the spill file, piece by
piece: a JSON array incrementally for ``--format json``, one line per run for ``jsonl``. The
result is the one :func:`nndoctor.adapters.readers.read_path` + :func:`pipeline.diagnose_run` +
:func:`nndoctor.report.render` give, byte for byte (tests/cli/test_sweep.py compares).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from nndoctor.adapters.run import LogError
from nndoctor.engine.facts import Fact
from nndoctor.lazy_re import regex

if TYPE_CHECKING:
    from nndoctor.report.terminal import TextStyle
    from nndoctor.workers import Workers

STREAMED = ("json", "jsonl", "text", "github")  # formats written from the workers' parts
HEADLINED = ("text", "github")  # formats that show each run's headline (the sweep table)
_VERSION = regex(r"^version_\d+$")


class Options(NamedTuple):
    """What every run of a sweep is diagnosed and rendered with."""

    fmt: str
    top: int
    questions: int
    answers: tuple[Fact, ...] = ()
    overrides: tuple[tuple[str, str], ...] = ()
    fail_on: str | None = None
    keep_reports: bool = False  # markdown/html/--plot: the whole RunReport comes back
    width: int = 80  # text: the terminal's width, its colour system (None: plain), --explain
    color: str | None = None
    explain: bool = False
    bodies: bool = True  # text: render each run's block (run_sweep: off when none will show)

    def text_style(self) -> TextStyle:
        from nndoctor.report.terminal import TextStyle

        return TextStyle(self.width, self.color, self.explain)


class Task(NamedTuple):
    """One unit of work: a file, the groups of a folder, a remote run folder or an error."""

    source: int  # which PATH argument
    kind: str  # "units": groups under a directory; "file": one file named directly
    root: Path
    groups: tuple[tuple[str, Any, tuple[Path, ...]], ...] = ()  # (reader name, key, files)
    error: LogError | None = None  # kind "error": raised when its turn comes, as read_path would
    url: str | None = None  # kind "url": a remote run folder, read where the task runs


class Result:
    """One run, as a worker returns it (no Run, no arrays). A plain class, as :class:`Outcome`:
    a dataclass costs every start ~3 M instructions to make."""

    __slots__ = ("alarming", "format", "has_loss", "headline", "id", "id_changed", "kept", "name",
                 "offset", "part", "path", "renamed", "rendered_id", "report", "root", "size",
                 "source", "task", "top_cause", "verdict")

    def __init__(self, source: int, path: str, name: str, format: str, kept: bool,
                 verdict: str, top_cause: str | None, alarming: bool, has_loss: bool,
                 part: bytes, id: str = "", headline: Any = None, report: Any = None,
                 root: Path | None = None, offset: int = 0, size: int = 0,
                 renamed: str | None = None, id_changed: bool = False, task: int = -1,
                 rendered_id: str = "") -> None:
        self.source = source  # which PATH argument
        self.path = path
        self.name = name
        self.format = format
        self.kept = kept  # had series or warnings when read (a directory drops the others)
        self.verdict = verdict
        self.top_cause = top_cause
        self.alarming = alarming
        self.has_loss = has_loss
        # the run's rendered part, UTF-8 (json: one object; text: the lines after the header):
        # bytes from the worker to the report, never decoded and encoded again on the way
        self.part = part
        # report/ids.py: relative to the PATH it was found under; unique after finish()
        self.id = id
        # report.headline.Headline (HEADLINED formats): the sweep table, GitHub annotations
        self.headline = headline
        self.report = report  # the RunReport, only with Options.keep_reports
        self.root = root
        self.offset = offset
        self.size = size
        self.renamed = renamed
        self.id_changed = id_changed  # finish() made the id unique: the rendered part follows
        self.task = task  # index of the task in run_sweep's list (-1: a ready run)
        self.rendered_id = rendered_id  # the id the rendered part holds (finish() may change id)

    def __repr__(self) -> str:
        return f"Result(path={self.path!r}, name={self.name!r}, id={self.id!r})"


class Outcome:
    """What a task gives back: its results, the files skipped, or a fatal error."""

    __slots__ = ("error", "results", "skipped")

    def __init__(self, results: list[Result] | None = None,
                 skipped: list[LogError] | None = None, error: LogError | None = None) -> None:
        self.results = [] if results is None else results
        self.skipped = [] if skipped is None else skipped
        self.error = error  # a file named directly that cannot be read: fatal

    def __repr__(self) -> str:
        return f"Outcome(results={self.results!r}, skipped={self.skipped!r}, error={self.error!r})"


# ---------------------------------------------------------------------------------- planning
def plan(paths: Sequence[Path], on_error: Callable[[LogError], None],
         where_run: bool = False, workers: Workers | None = None) -> tuple[list[Task], list]:
    """Tasks for local paths; anything else (``-``, URLs, ``sqlite:///``) is read here by
    :func:`read_path` and comes back as ready Runs, tagged with their source index. With
    ``where_run`` (a cluster: nndoctor/cluster.py) a remote URL becomes one task per run folder
    under it and a path this machine cannot see one task, both read where the task runs. The
    ``workers`` detect the readers of a large folder's files."""
    from nndoctor.adapters.readers import read_path
    from nndoctor.adapters.readers._remote import remote_url

    tasks: list[Task] = []
    ready: list[tuple[int, Any, Path]] = []  # (source, run, the PATH its id is relative to)
    for index, path in enumerate(paths):
        try:
            if os.path.isdir(path):
                units = _plan_dir(Path(path), on_error, workers)
                tasks += [Task(index, "units", Path(path), groups) for groups in units]
            elif os.path.exists(path):
                tasks.append(Task(index, "file", Path(path)))
            elif where_run and remote_url(path):
                url = remote_url(path) or ""
                tasks += [Task(index, "url", Path(url), url=unit) for unit in _remote_units(url)]
            elif where_run and str(path) != "-" and not str(path).startswith("sqlite:"):
                tasks.append(Task(index, "file", Path(path)))  # perhaps only the workers see it
            else:  # stdin, a remote URL, a sqlite URI, or an error read_path words best
                root = Path(remote_url(path) or "")  # a URL's runs are named under it
                ready += [(index, run, root) for run in read_path(path, on_error=on_error)]
        except LogError as exc:  # the first failing PATH in order fails the command
            tasks.append(Task(index, "error", Path(path), error=exc))
    return tasks, ready


def _plan_dir(root: Path, on_error: Callable[[LogError], None],
              workers: Workers | None) -> list[tuple]:
    """``readers._read_dir`` up to the reading, then the groups split into independent units."""
    from nndoctor.adapters.readers import group_files

    groups, empty, unreadable = group_files(root, workers.classify if workers else None)
    for error in empty + unreadable:
        on_error(error)
    if not groups:
        if empty or unreadable:
            return []
        raise LogError(root, "no log of a known format in this directory")
    items = [(name, key, tuple(files)) for (name, key), (_reader, files) in groups.items()]
    return [tuple(items[i] for i in members) for members in _components(items)]


def _remote_units(url: str) -> list[str]:
    """The run folders directly under a remote URL (each read by one task), or the URL itself
    when it holds logs of its own or cannot be listed here (the task then says why)."""
    try:
        import fsspec

        fs, root = fsspec.core.url_to_fs(url)
        entries = fs.ls(root.rstrip("/"), detail=True)
    except Exception:  # no fsspec, no credentials here, not found: the worker will tell
        return [url]
    folders = sorted(e["name"] for e in entries if e.get("type") == "directory")
    if not folders or any(e.get("type") != "directory" for e in entries):
        return [url]
    scheme = url.split("://", 1)[0]
    return [f"{scheme}://{name.rstrip('/')}/" for name in folders]


def _home(key: Any, files: tuple[Path, ...]) -> Path:
    return key if isinstance(key, Path) and key != files[0] else files[0].parent


def _components(items: list[tuple[str, Any, tuple[Path, ...]]]) -> list[list[int]]:
    """Indexes of ``items`` joined whenever ``merge_logged`` could join any two of them (judged
    on paths alone, so more is joined than is merged: that only makes a unit larger)."""
    from nndoctor.adapters.readers._merge import Components

    sets = Components(len(items))
    buckets: dict[tuple[Any, ...], list[int]] = {}
    homes = [_home(key, files) for _, key, files in items]
    for i, ((_name, _key, _files), home) in enumerate(zip(items, homes, strict=True)):
        buckets.setdefault(("home", home), []).append(i)
        buckets.setdefault(("hf", home), [])
        if home.parent.name == "runs":  # an HF output_dir's event folders join its state
            buckets.setdefault(("hf", home.parent.parent), []).append(i)
        if _VERSION.match(home.name) or (home / "hparams.yaml").is_file():
            for key in _apart_keys(home):
                buckets.setdefault(key, []).append(i)
    for key, members in buckets.items():
        if key[0] == "hf":
            members = members + buckets.get(("home", key[1]), [])
            if len({items[i][0] for i in members}) < 2:
                continue
        elif key[0] != "home" and len({items[i][0] for i in members}) < 2:
            continue  # runs of one format are never merged across folders
        if len(members) > 1:
            sets.union(*members)
    return sets.groups()


def _apart_keys(home: Path, max_depth: int = 3) -> list[tuple[Any, ...]]:
    """Keys two Lightning run folders share whenever ``_merge._apart`` relates them: siblings,
    or the same path under two save_dirs up to ``max_depth`` levels up."""
    keys: list[tuple[Any, ...]] = [("sibling", home.parent)]
    names = [home.name]
    up = home.parent
    for depth in range(1, max_depth + 1):
        if up == up.parent:
            break
        keys.append(("save_dir", depth, tuple(names), up.parent))
        names.append(up.name)
        up = up.parent
    return keys


# ---------------------------------------------------------------------------------- workers
def run_task(task: Task, options: Options) -> Outcome:
    """Read one task's logs and diagnose each run; nothing but strings goes back."""
    from nndoctor.adapters.names import apply_overrides, with_loss_warning
    from nndoctor.adapters.readers import _guarded, read_path, readers
    from nndoctor.adapters.readers._merge import Logged, merge_logged

    outcome = Outcome()
    if task.error is not None:
        outcome.error = task.error
        return outcome
    overrides = dict(options.overrides)
    if task.kind == "url":
        try:
            runs = read_path(task.url or "", metric_overrides=overrides or None,
                             on_error=outcome.skipped.append)
        except LogError as exc:
            outcome.skipped.append(exc)
            return outcome
        outcome.results += [_diagnose(task, run, True, options) for run in runs]
        return outcome
    if task.kind == "file":
        try:
            runs = read_path(task.root, metric_overrides=overrides or None)
        except LogError as exc:
            outcome.error = exc
            return outcome
        for run in runs:
            outcome.results.append(_diagnose(task, run, True, options))
        return outcome
    by_name = {r.name: r for r in readers()}
    logged = []
    for name, key, files in task.groups:
        try:
            read = _guarded(by_name[name], list(files))
        except LogError as exc:
            outcome.skipped.append(exc)
            continue
        home = _home(key, files)
        logged += [Logged(run, home) for run in read]
    for run in merge_logged(logged):
        kept = bool(run.series or run.warnings)
        if overrides:
            run = apply_overrides(run, overrides)
        outcome.results.append(_diagnose(task, with_loss_warning(run), kept, options))
    return outcome


def _diagnose(task: Task, run: Any, kept: bool, options: Options) -> Result:
    from nndoctor.adapters.names import has_loss
    from nndoctor.pipeline import diagnose_run
    from nndoctor.report.headline import headline
    from nndoctor.report.ids import base_id

    # a JSON part shows the fixes of its first --top causes only: no others are fitted
    shown = options.top if options.fmt in ("json", "jsonl") and not options.keep_reports else None
    report = diagnose_run(run, options.answers, questions=options.questions, fixes_for=shown)
    path = run.path if isinstance(run.path, Path) else Path(run.path)
    report = report._replace(id=base_id(task.root, path))
    d = report.diagnosis
    return Result(
        source=task.source, path=str(run.path), name=run.name, format=run.format, kept=kept,
        verdict=d.verdict, top_cause=d.causes[0].id if d.causes else None,
        alarming=bool(options.fail_on and d.alarming(options.fail_on)),
        has_loss=has_loss(run), part=_utf8(render_part(report, options)), id=report.id,
        headline=headline(report) if options.fmt in HEADLINED else None,
        report=report if options.keep_reports else None,
        root=task.root if task.kind in ("units", "url") else None)


def render_part(report: Any, options: Options) -> str:
    if options.fmt == "json":  # the evidence objects written straight to text
        from nndoctor.report.common import evidence_fragment, run_dict
        from nndoctor.report.indented_json import dumps

        def evidence(fact: Fact) -> Any:  # written at the depth of the facts object's values
            return evidence_fragment(fact, "\n        ")

        return "    " + dumps(run_dict(report, options.top, evidence), "\n    ", safe=True)
    if options.fmt == "jsonl":
        from nndoctor.report.common import run_dict

        return _dump(run_dict(report, options.top), options.fmt)
    if options.fmt == "text" and options.bodies:
        from nndoctor.report.text import run_body

        return run_body(report, options.top, options.text_style())
    return ""  # github: drawn from the headline; a text sweep too large to show its blocks


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _dump(data: dict[str, Any], fmt: str) -> str:
    from nndoctor.report.indented_json import dumps
    from nndoctor.sanitize import escape_json

    if fmt == "jsonl":
        return escape_json(json.dumps(data, ensure_ascii=False))
    return escape_json("    " + dumps(data, "\n    "))  # at its depth in the document


def run_batch(tasks: Sequence[Task], options: Options) -> list[Outcome]:
    """A worker's job: one task after another (local workers, a cluster's: cluster.py)."""
    return [run_task(task, options) for task in tasks]


def _batch(job: tuple[Sequence[Task], Options]) -> list[Outcome]:
    return run_batch(*job)


# ---------------------------------------------------------------------------------- the parent
SPOOL_BYTES = 8 << 20  # rendered parts kept in memory up to this size, then in a temporary file


class Sweep:
    """Every result's index in memory, its rendered part in a spill file: in memory while the
    parts are small (a single run never touches the disk), an anonymous temporary file past
    ``SPOOL_BYTES``, so memory stays flat in the number of runs."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.spill: IO[bytes] = io.BytesIO()
        self.end = 0

    def _write(self, data: bytes) -> None:
        if self.end + len(data) > SPOOL_BYTES and isinstance(self.spill, io.BytesIO):
            import tempfile  # only a sweep whose report outgrows memory needs it

            spilled = tempfile.TemporaryFile(prefix="nndoctor-")  # noqa: SIM115
            spilled.write(self.spill.getbuffer())
            self.spill = spilled
        self.spill.write(data)
        self.end += len(data)

    def add(self, result: Result) -> None:
        data = result.part
        result.offset, result.size, result.part = self.end, len(data), b""
        self._write(data)
        self.results.append(result)

    def part(self, result: Result) -> bytes:
        """The rendered part of ``result``, UTF-8."""
        self.spill.seek(result.offset)
        data = self.spill.read(result.size)
        self.spill.seek(self.end)
        return data

    def text(self, result: Result) -> str:
        return self.part(result).decode("utf-8", "surrogatepass")

    def finish(self) -> list[Result]:
        """Per directory: drop what ``_read_dir`` drops, sort, give duplicate names their
        relative path (``readers._unique_names``); then make the run ids unique."""
        from nndoctor.report.ids import unique_ids

        by_source = _by_source(self.results)
        ordered: list[Result] = []
        for source in sorted(by_source):
            group = _kept(by_source[source])
            root = group[0].root
            if root is not None:
                group.sort(key=lambda r: (r.path, r.format))
                counts: dict[str, int] = {}
                for r in group:
                    counts[r.name] = counts.get(r.name, 0) + 1
                for r in group:
                    if counts[r.name] > 1:
                        try:
                            rel = Path(r.path).relative_to(root).as_posix()
                        except ValueError:
                            rel = r.path
                        r.renamed = rel if rel != "." else root.name
            ordered += group
        ids = unique_ids([(r.id, r.path, r.renamed or r.name) for r in ordered])
        for r, new in zip(ordered, ids, strict=True):
            r.rendered_id, r.id, r.id_changed = r.id, new, new != r.id
        self.results = ordered
        return ordered

    def shown(self) -> list[Result]:
        """The runs :meth:`finish` will keep (in no particular order)."""
        return [r for group in _by_source(self.results).values() for r in _kept(group)]

    def replace_text(self, result: Result, text: str) -> None:
        """A new rendered part for ``result`` (appended to the spill file)."""
        data = _utf8(text)
        result.offset, result.size = self.end, len(data)
        self._write(data)

    def close(self) -> None:
        self.spill.close()


def _by_source(results: list[Result]) -> dict[int, list[Result]]:
    """The results grouped by the PATH argument they were found under."""
    groups: dict[int, list[Result]] = {}
    for r in results:
        groups.setdefault(r.source, []).append(r)
    return groups


def _kept(group: list[Result]) -> list[Result]:
    """What ``_read_dir`` keeps of one directory's runs: those with something in them, or all
    when none has (a file named directly, or read where it runs, keeps everything)."""
    if group[0].root is None:
        return list(group)
    return [r for r in group if r.kept] or list(group)


def run_sweep(tasks: list[Task], ready: list[tuple[int, Any, Path]], options: Options,
              workers: Workers | None, progress: Callable[[int, int], None] | None,
              on_error: Callable[[LogError], None], scheduler: str | None = None) -> Sweep:
    """Run every task (in the ``workers`` when there are enough tasks or the workers have
    started, or on the Dask cluster of ``scheduler``: nndoctor/cluster.py), spilling the
    results; the workers are closed when it returns."""
    sweep = Sweep()
    for source, run, root in ready:
        sweep.add(_diagnose(Task(source, "ready", root), run, True, options))
    total = len(tasks)
    # on a cluster the tasks may read what only its workers see: no second pass here
    work = options if scheduler else _work_options(options, total + len(ready))
    if scheduler:
        from nndoctor.cluster import outcomes as on_cluster

        outcomes: Iterator[Outcome] = on_cluster(tasks, work, scheduler)
    elif workers is None or workers.jobs <= 1 or (total < 8 and not workers.started):
        outcomes = (run_task(t, work) for t in tasks)
    else:
        jobs = [(tasks[a:b], work) for a, b in _batches(total, workers.jobs)]
        outcomes = (o for done in workers.map(_batch, jobs) for o in done)
    try:
        for done, outcome in enumerate(outcomes, 1):
            if outcome.error is not None:
                raise outcome.error
            for error in outcome.skipped:
                on_error(error)
            for result in outcome.results:
                result.task = done - 1
                sweep.add(result)
            if progress:
                progress(done, total)
        if not work.bodies and options.bodies:
            _render_bodies(sweep, tasks, options)
    except BaseException:
        sweep.close()
        raise
    finally:
        if workers is not None:
            workers.close()
    return sweep


BATCH = 16  # tasks sent to a worker at once, at most


def _batches(total: int, jobs: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the batches of ``total`` tasks for ``jobs`` workers: up to ``BATCH``
    tasks (an eighth of a worker's share for fewer tasks), then smaller and smaller towards
    the end, so the workers finish together instead of one waiting on the other's last
    batch."""
    largest = max(1, min(BATCH, total // (jobs * 8)))
    start = 0
    while start < total:
        end = start + max(1, min(largest, (total - start) // (2 * jobs)))
        yield start, end
        start = end


def _work_options(options: Options, runs_at_least: int) -> Options:
    """The options the tasks run with: a text sweep of more tasks than
    ``report.text.shows_blocks`` shows blocks for renders no run's block (each task reads at
    least one run, unless it finds none: :func:`_render_bodies` covers that)."""
    if options.fmt != "text" or not options.bodies:
        return options
    from nndoctor.report.text import shows_blocks

    if shows_blocks(options.text_style(), runs_at_least):
        return options
    return options._replace(bodies=False)


def _render_bodies(sweep: Sweep, tasks: list[Task], options: Options) -> None:
    """When fewer runs than planned are shown, so few that their blocks are: run the tasks of
    the runs without one again (here: a handful), with their blocks."""
    from nndoctor.report.text import shows_blocks

    shown = sweep.shown()
    if not shows_blocks(options.text_style(), len(shown)):
        return
    redo = {r.task for r in shown if r.task >= 0}
    for index in sorted(redo):
        results = [r for r in sweep.results if r.task == index]
        again = run_task(tasks[index], options).results
        for result, full in zip(results, again, strict=True):
            sweep.replace_text(result, full.part.decode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------------- writing
def write(sweep: Sweep, options: Options, out: IO[str]) -> None:
    """The report from the spill file, piece by piece."""
    from nndoctor import __version__
    from nndoctor.report.common import SCHEMA_VERSION

    results = sweep.results
    if options.fmt in ("json", "jsonl"):
        put = _bytes_to(out)
        if options.fmt == "jsonl":
            for r in results:
                put(_named(sweep, r, "jsonl") + b"\n")
            return
        put(_utf8('{\n  "nndoctor": ' + json.dumps(__version__) + ',\n  "schema_version": '
                  + json.dumps(SCHEMA_VERSION) + ',\n  "runs": ['))
        for i, r in enumerate(results):
            put((b",\n" if i else b"\n") + _named(sweep, r, "json"))
        put(b"\n  ]\n}\n" if results else b"]\n}\n")
        return
    if options.fmt == "github":
        from nndoctor.report.github import annotation

        for r in results:
            out.write(annotation(r.id, r.path, r.headline))
        return
    _write_text(sweep, options, out)


def _bytes_to(out: IO[str]) -> Callable[[bytes], Any]:
    """A writer of UTF-8 text to ``out``: its binary buffer when it writes UTF-8 and leaves
    line breaks alone (POSIX), so the parts go out as they are; else decoded, through ``out``."""
    import codecs

    buffer = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if buffer is not None and encoding and os.linesep == "\n":
        with contextlib.suppress(LookupError):
            if codecs.lookup(encoding).name == "utf-8":
                out.flush()  # anything written as text before goes first
                return buffer.write
    return lambda data: out.write(data.decode("utf-8", "surrogatepass"))


def _named(sweep: Sweep, r: Result, fmt: str) -> bytes:
    """The run's JSON part under its final id and name: its head (the keys up to ``name``, as
    ``report.common.run_dict`` orders them) written again, the rest as the worker wrote it."""
    data = sweep.part(r)
    if r.renamed is None and not r.id_changed:
        return data
    before = _utf8(_head(r.rendered_id, r.path, r.name, fmt))
    if data.startswith(before):
        return _utf8(_head(r.id, r.path, r.renamed or r.name, fmt)) + data[len(before):]
    doc = json.loads(data.decode("utf-8", "surrogatepass"))
    doc["id"] = r.id
    if r.renamed is not None:
        doc["name"] = r.renamed
    return _utf8(_dump(doc, fmt))


def _head(run_id: str, path: str, name: str, fmt: str) -> str:
    """The start of a rendered JSON part, through the ``name`` key and its separator."""
    from nndoctor.report.common import SCHEMA_VERSION

    part = _dump({"schema_version": SCHEMA_VERSION, "id": run_id, "path": path, "name": name}, fmt)
    closing = "}" if fmt == "jsonl" else "\n    }"  # _dump's text ends the object so
    return part[:-len(closing)] + (", " if fmt == "jsonl" else ",\n")


def _write_text(sweep: Sweep, options: Options, out: IO[str]) -> None:
    """``report.text.render_text``'s pieces, one run at a time."""
    from nndoctor.report.text import Row, footer, run_head, shows_blocks, sweep_table

    style = options.text_style()
    results = sweep.results
    first = True

    def piece(text: str) -> None:
        nonlocal first
        if text:
            out.write(text if first else "\n" + text)
            first = False

    if len(results) > 1:
        piece(sweep_table([Row(r.id, r.headline) for r in results], style))
    blocks = shows_blocks(style, len(results))
    if blocks:
        for r in results:
            name = r.renamed if r.renamed is not None else r.name
            piece(run_head(style, r.id, name, r.format) + sweep.text(r))
    piece(footer(style, len(results), blocks))


def stdout() -> IO[str]:
    return sys.stdout


def with_name(report: Any, result: Result) -> Any:
    """The RunReport under its final name and id (for markdown/html/--plot)."""
    if result.renamed is None:
        return report._replace(id=result.id)
    return report._replace(run=replace(report.run, name=result.renamed), id=result.id)
