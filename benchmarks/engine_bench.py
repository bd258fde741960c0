"""Engine benchmark: evaluation and next-question latency, RSS growth over many sessions, threads.

Run: python benchmarks/engine_bench.py [--sessions 10000]
Targets (issue #3): evaluation median < 5 ms, next question < 50 ms, RSS growth < 20 MB.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import threading
import time

from nndoctor.engine.facts import Fact
from nndoctor.engine.inference import default_engine
from nndoctor.engine.session import Session


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def fact_set(rng: random.Random, size: int = 50) -> list[Fact]:
    engine = default_engine()
    names = [n for n in engine.kb.askable_facts() if n in engine.rules_using]
    facts = []
    for name in rng.sample(names, min(size, len(names))):
        spec = engine.kb.facts[name]
        facts.append(Fact(name, rng.choice(spec.answers())))
    return facts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    engine = default_engine()
    rng = random.Random(0)
    sets = [fact_set(rng) for _ in range(200)]
    print(f"knowledge base: {len(engine.kb.rules)} rules, {len(engine.kb.causes)} causes, "
          f"{len(engine.kb.facts)} facts; matcher: {engine.matcher.name}; strata: {engine.depth}")

    for name, matcher in (("durable", engine.matcher), ("python", engine.python)):
        times = []
        for facts in sets * 5:
            session = Session(engine, facts)
            t = time.perf_counter()
            engine.evaluate(session.known(), matcher)
            times.append((time.perf_counter() - t) * 1e3)
        print(f"evaluate (~50 facts, {name:>7}): median {statistics.median(times):.3f} ms, "
              f"p99 {percentile(times, 0.99):.3f} ms")

    times = []
    for facts in sets[:100]:
        session = Session(engine, facts[:10])
        session.diagnose(questions=0)
        t = time.perf_counter()
        session.next_question()
        times.append((time.perf_counter() - t) * 1e3)
    print(f"next question (10 facts known): median {statistics.median(times):.2f} ms, "
          f"p99 {percentile(times, 0.99):.2f} ms")

    for _ in range(200):  # warm caches and allocator before measuring growth
        Session(engine, sets[0]).diagnose(questions=0)
    before = rss_mb()
    t = time.perf_counter()
    for i in range(args.sessions):
        Session(engine, sets[i % len(sets)]).diagnose(questions=0)
    elapsed = time.perf_counter() - t
    print(f"{args.sessions} sessions sequentially: {elapsed:.1f} s, RSS growth "
          f"{rss_mb() - before:+.1f} MB")

    per_thread = args.sessions // args.threads
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for i in range(per_thread):
                Session(engine, sets[(offset + i) % len(sets)]).diagnose(questions=0)
        except BaseException as exc:  # reported below
            errors.append(exc)

    before = rss_mb()
    t = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(f"{args.threads} threads × {per_thread} sessions: {time.perf_counter() - t:.1f} s, "
          f"{len(errors)} errors, RSS growth {rss_mb() - before:+.1f} MB")


if __name__ == "__main__":
    main()
