"""Diagnosis accuracy over a labelled corpus of runs with injected faults.

Make the corpus first (real training on CPU, a few minutes):
    python benchmarks/make_corpus.py benchmarks/corpus
then:
    python benchmarks/accuracy.py benchmarks/corpus

By default the number of classes is given as an answer (a practitioner always knows it);
--no-classes measures what the logs alone allow. Reports top-1 / top-3 accuracy on faulty runs,
the false-alarm rate on healthy runs (a cause at
'likely' or above), and a confusion list of the misses.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from _practitioner import answer

from nndoctor.engine.facts import Fact
from nndoctor.engine.session import Session
from nndoctor.pipeline import RunReport, diagnose_run, load_runs


def interview(report: RunReport, config: dict, questions: int) -> RunReport:
    """Ask up to ``questions`` next-best questions; the practitioner answers from the config."""
    session = Session(facts=report.diagnosis.facts.values())
    for _ in range(questions):
        question = session.next_question()
        if question is None:
            break
        session.answer(question.fact, answer(question.fact, config))
    return RunReport(report.run, session.diagnose(questions=0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path, nargs="?", default=Path("benchmarks/corpus"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--ask", type=int, default=0, metavar="N",
                        help="let a simulated practitioner answer N next-best questions from "
                        "the run's configuration (benchmarks/_practitioner.py)")
    parser.add_argument("--no-classes", action="store_true",
                        help="do not tell nndoctor the number of classes (logs alone)")
    args = parser.parse_args()
    labels = json.loads((args.corpus / "labels.json").read_text())
    top1 = top3 = faulty = healthy = false_alarms = healthy_verdicts = 0
    per_cause: Counter[str] = Counter()
    per_cause_hit: Counter[str] = Counter()
    misses = []
    started = time.perf_counter()
    for run_dir, label in sorted(labels.items()):
        runs = load_runs([args.corpus / run_dir])
        answers = [] if args.no_classes or not label.get("num_classes") else [
            Fact("num_classes", float(label["num_classes"]), source="answer")]
        report = diagnose_run(runs[0], answers, questions=0)
        if args.ask:
            report = interview(report, label["config"], args.ask)
        ranked = [c.id for c in report.diagnosis.causes]
        cause = label["cause"]
        if cause == "healthy":
            healthy += 1
            likely = [c for c in report.diagnosis.causes if c.band in {"likely", "confirmed"}]
            false_alarms += bool(likely)
            healthy_verdicts += report.diagnosis.verdict == "healthy"
            if likely:
                misses.append((run_dir, cause, [f"{c.id}:{c.confidence:.2f}" for c in likely]))
            continue
        faulty += 1
        per_cause[cause] += 1
        hit1 = ranked[:1] == [cause]
        top1 += hit1
        top3 += cause in ranked[:3]
        per_cause_hit[cause] += hit1
        if not hit1:
            misses.append((run_dir, cause, ranked[:3]))
    elapsed = time.perf_counter() - started
    print(f"corpus: {faulty} faulty runs, {healthy} healthy runs ({elapsed:.1f} s)")
    if faulty:
        print(f"top-1 accuracy: {top1}/{faulty} = {top1 / faulty:.0%}")
        print(f"top-3 accuracy: {top3}/{faulty} = {top3 / faulty:.0%}")
    if healthy:
        print(f"false alarms on healthy runs (a cause at 'likely' or above): "
              f"{false_alarms}/{healthy} = {false_alarms / healthy:.0%}; "
              f"verdict 'healthy': {healthy_verdicts}/{healthy}")
    print("per cause (top-1 hits / runs):")
    for cause, n in sorted(per_cause.items()):
        print(f"  {cause:<26} {per_cause_hit[cause]}/{n}")
    if args.verbose:
        for run_dir, cause, got in misses:
            print(f"  miss {run_dir}: expected {cause}, got {got}")


if __name__ == "__main__":
    main()
