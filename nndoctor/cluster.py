"""Sweeps past one machine: the per-run work of a sweep on a Dask distributed cluster.

``nndoctor diagnose PATH… --scheduler tcp://HOST:8786`` plans as a local sweep does and hands
the tasks to the cluster's workers, which run :func:`nndoctor.sweep.run_task` (read, merge,
derive facts, diagnose, render) where *they* run: paths are opened on the worker, so a path
only the workers can see, or an object-store URL (``s3://bucket/runs/``, one task per run
folder under it, each read through the remote mirror of ``_remote.py``) never passes through
the parent. Results come back compact (a few strings per run) and in order, and are written
exactly as a local sweep writes them.

When it pays: many runs, each slow to fetch — 10^5 run folders in object storage, read by
workers close to the bucket, where the parent's one or two cores and its network would be the
bottleneck. When it does not: a local folder on one machine (``--jobs`` uses its cores with
no scheduler round trips; a task costs the cluster ~1 ms, a small run ~5 ms to diagnose), or a
handful of runs. Needs ``pip install 'nndoctor[cluster]'`` (dask[distributed]) here and on the
workers, with nndoctor installed on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nndoctor.adapters.run import LogError
from nndoctor.sweep import Options, Outcome, Task, run_batch

BATCH = 16  # tasks per cluster task: the scheduler's per-task cost is paid once per batch
CONNECT_TIMEOUT = "10s"


def outcomes(tasks: Sequence[Task], options: Options, address: str,
             client_factory: Callable[..., Any] | None = None) -> Iterator[Outcome]:
    """The tasks' outcomes, in order, computed on the cluster behind ``address``."""
    if client_factory is None:
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs Dask: pip install 'nndoctor[cluster]'") from None
        client_factory = Client
    try:
        client = client_factory(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"--scheduler {address}: cannot reach the Dask scheduler "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                         ) from None
    try:
        batches = [list(tasks[i:i + BATCH]) for i in range(0, len(tasks), BATCH)]
        futures = client.map(run_batch, batches, options=options, pure=False)
        for index, future in enumerate(futures):
            try:
                done = future.result()
            except LogError:
                raise
            except Exception as exc:  # a worker died or nndoctor is missing there
                raise ValueError(f"--scheduler {address}: a worker failed "
                                 f"({type(exc).__name__}: {exc})") from None
            futures[index] = None  # the cluster can forget it
            future.release()
            yield from done
    finally:
        client.close()
