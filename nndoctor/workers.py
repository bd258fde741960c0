"""The worker processes of a local sweep (issue #15).

Started (forked) when first needed, usually right after start-up, by the planning of a large
folder: each worker warms up (the knowledge base and the engine) while the parent walks the
folder, then the workers detect the readers of its files in chunks (``readers.classify``), and
then run the tasks. So no core waits while the parent plans, and the serial part of a sweep is
the start-up and the walk of the folder.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # concurrent.futures imports logging: only a started pool needs it
    from concurrent.futures import Executor

    from nndoctor.adapters.readers import Found

CLASSIFY_FROM = 512  # files: fewer are classified here (a pool costs more than it saves)
CLASSIFY_CHUNK = 256  # files per piece of work


class Workers:
    """Up to ``jobs`` worker processes, started at the first :meth:`map`."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: Executor | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn`` of each item in the workers, in order (``fn`` and the items are pickled)."""
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor  # only a sweep needs a pool

            self._pool = ProcessPoolExecutor(max_workers=self.jobs, initializer=_warm)
        return self._pool.map(fn, items)

    def classify(self, files: Iterable[Path]) -> Iterable[Found]:
        """``readers.classify`` of each file, in order: in the workers for a large folder.
        ``files`` may still be coming (the walk of the folder): from the first
        ``CLASSIFY_FROM`` on, the workers start and warm up, and each chunk is sent to them as
        soon as it is walked, so starting them and detecting overlap the rest of the walk."""
        pending = iter(files)
        first = list(itertools.islice(pending, CLASSIFY_FROM))
        if self.jobs < 2 or len(first) < CLASSIFY_FROM:
            from nndoctor.adapters.readers import classify

            return map(classify, [*first, *pending])
        chunks = _chunks(itertools.chain(first, pending), CLASSIFY_CHUNK)
        return (found for chunk in self.map(_classify_chunk, chunks) for found in chunk)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _warm() -> None:
    """A new worker loads what every task needs while the parent is still planning, then
    settles (:func:`settle`)."""
    from nndoctor.engine.inference import default_engine
    from nndoctor.pipeline import diagnose_run  # noqa: F401  (imports the detectors)

    default_engine()
    settle()


def settle() -> None:
    """Set what is loaded so far (modules, the knowledge base, the engine: kept to the end of
    the process) apart from the garbage collector's generations (``gc.freeze``), so that its
    full collections during the tasks no longer walk those objects each time."""
    import gc

    gc.freeze()


def _chunks(files: Iterator[Path], size: int) -> Iterator[list[str]]:
    """``files`` as lists of ``size`` path strings, each made as soon as its files arrive."""
    while chunk := [str(f) for f in itertools.islice(files, size)]:
        yield chunk


def _classify_chunk(files: Sequence[str]) -> list[Found]:
    from nndoctor.adapters.readers import classify

    return [classify(Path(f)) for f in files]
