"""Run a snippet in a fresh interpreter and measure its peak RSS and wall time (issue #12).

The child is capped (address space and a timeout), so a regression fails the test instead of
exhausting the machine; it prints its own peak RSS (``VmHWM`` of /proc/self/status) last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

AS_CAP = 6 << 30  # address space: numpy and the allocator reserve more than they touch


@dataclass
class Measured:
    rss_mb: float
    seconds: float
    result: object
    stderr: str


def measure(code: str, timeout: float = 30.0) -> Measured:
    """Run ``code`` (which sets ``result`` to something JSON-able) and measure it."""
    prelude = ("import resource, json\n"
               f"resource.setrlimit(resource.RLIMIT_AS, ({AS_CAP}, {AS_CAP}))\n"
               "result = None\n")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, from the (large) pytest parent
    epilogue = ("\nhwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM')]"
                "\nprint(json.dumps({'rss_kb': int(hwm[0].split()[1]), 'result': result}))\n")
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code) + epilogue],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "NNDOCTOR_DEBUG": ""})
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for more than {timeout} s")
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return Measured(out["rss_kb"] / 1024, seconds, out["result"], proc.stderr)


MEMORY_CAP = 1 << 30  # the cap of run_capped: no hostile input may need more


def run_capped(code: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with at most 1 GiB of address space; a hang fails."""
    prelude = ("import resource\n"
               f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n")
    try:
        return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "NNDOCTOR_DEBUG": ""})
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for more than {timeout} s")
