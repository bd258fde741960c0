#!/usr/bin/env python3
"""Generate the labelled accuracy corpus: real CPU training runs logged by the real frameworks.

Every run is a :class:`corpus_gen.recipe.Recipe` from ``corpus_gen/scenarios.py`` trained by its
framework's backend (``corpus_gen/backend_{torch,lightning,hf,keras}.py``) with one injected
fault, or none for the healthy runs. Each run directory (``r0001`` …, order shuffled by the seed,
so nothing but the manifest tells the cause) holds the framework's natural layout
(``lightning_logs/version_0/metrics.csv``, ``runs/<name>/events.out.tfevents…``,
``checkpoint-N/trainer_state.json`` …) and a ``done.json``. After training, the symptom the
cause must produce is checked on the logs read back from disk (``corpus_gen/checks.py``).

Resumable: a run whose directory holds a ``done.json`` of the same recipe is skipped; runs are
written into ``OUT_DIR/.tmp`` and renamed when finished; runs whose recipe changed are trained
again (a finished run whose spec moved to another id is renamed, not retrained). At the end the
manifest of all specs with their check result is written to ``benchmarks/corpus.json`` (runs not
generated yet are listed with ``"check": "missing"``).

Fine-tuning runs (issue #17) start from tiny models pre-trained once and cached in
``OUT_DIR/.cache``; the TRL runs need ``trl`` (the ``corpus`` extra) and are skipped without it.

Usage (the project venv: torch, lightning, transformers, keras, tensorboard)::

    python benchmarks/make_corpus.py [OUT_DIR] [--jobs 2] [--seed 0]
        [--only CAUSE ...] [--framework FW ...] [--family TEXT ...] [--limit N]
        [--no-manifest]

The default OUT_DIR is ``benchmarks/corpus/`` (git-ignored). Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus_gen.recipe import Recipe  # noqa: E402
from corpus_gen.scenarios import build_specs  # noqa: E402

GEN_VERSION = 1  # bump when a backend change alters the numbers of existing runs
# bump a framework's entry when its backend changes what its runs write (only its runs are
# trained again); 1, the default, leaves the fingerprints of earlier corpora as they were.
# lightning 2: checkpoints are kept, as Lightning's default ModelCheckpoint does
BACKEND_VERSIONS = {"lightning": 2}
MANIFEST = ROOT / "benchmarks" / "corpus.json"


def fingerprint(spec: dict[str, Any]) -> str:
    recipe: Recipe = spec["recipe"]
    parts: list[Any] = [GEN_VERSION, spec["cause"], recipe.to_dict()]
    backend = BACKEND_VERSIONS.get(recipe.framework, 1)
    if backend != 1:
        parts.append(backend)
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def _done(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "done.json").read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def reconcile(out: Path, specs: list[dict[str, Any]]) -> None:
    """Move finished runs whose id now names another recipe aside, and back to their new id."""
    stash, tmp = out / ".stash", out / ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    stash.mkdir(parents=True, exist_ok=True)
    want = {s["id"]: fingerprint(s) for s in specs}
    for run_dir in sorted(out.glob("r[0-9]*")):
        done = _done(run_dir)
        if done is not None and want.get(run_dir.name) == done.get("fingerprint"):
            continue
        target = stash / done["fingerprint"] if done else None
        if target is None or target.exists():
            shutil.rmtree(run_dir)
        else:
            os.replace(run_dir, target)
    for spec in specs:
        src = stash / want[spec["id"]]
        if src.exists() and not (out / spec["id"]).exists():
            os.replace(src, out / spec["id"])


def _backend(framework: str) -> Any | None:
    """The framework's backend module; None when there is none or its library is missing."""
    name = f"corpus_gen.backend_{framework}"
    if importlib.util.find_spec(name) is None:
        return None
    module = importlib.import_module(name)
    return module if getattr(module, "AVAILABLE", True) else None


def _job(kind: str, spec: dict[str, Any], out: str) -> dict[str, Any]:
    """Train one spec (kind "train") or re-check a finished run (kind "check")."""
    import torch

    torch.set_num_threads(1)
    from corpus_gen import checks
    from corpus_gen.pretrained import CACHE_ENV

    out_dir = Path(out)
    os.environ.setdefault(CACHE_ENV, str(out_dir / ".cache"))  # the pre-trained bases
    final = out_dir / spec["id"]
    if kind == "check":
        done = _done(final) or {}
        done["check"] = checks.check(spec, final)
        _write_json(final / "done.json", done)
        return {**done, "kind": "check"}
    tmp = out_dir / ".tmp" / spec["id"]
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    try:
        backend = _backend(spec["framework"])
        assert backend is not None
        result = backend.train(spec["recipe"], tmp)
        check = checks.check(spec, tmp)
    except Exception as exc:  # a broken run is reported, not fatal for the corpus
        shutil.rmtree(tmp, ignore_errors=True)
        return {"id": spec["id"], "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(limit=4)}
    done = {"id": spec["id"], "fingerprint": fingerprint(spec), "cause": spec["cause"],
            "framework": spec["framework"], "check": check,
            "steps": result.get("steps") if isinstance(result, dict) else None,
            "seconds": round(time.perf_counter() - started, 2)}
    _write_json(tmp / "done.json", done)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return {**done, "kind": "train"}


def manifest(out: Path, specs: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    runs = []
    for spec in sorted(specs, key=lambda s: s["id"]):
        done = _done(out / spec["id"])
        ok = done is not None and done.get("fingerprint") == fingerprint(spec)
        entry = {k: v for k, v in spec.items() if k != "recipe"}
        entry["check"] = done["check"] if ok and done else "missing"
        entry["recipe"] = spec["recipe"].to_dict()
        runs.append(entry)
    checks = Counter("ok" if r["check"] == "ok" else "missing" if r["check"] == "missing"
                     else "failed" for r in runs)
    return {"generator": "benchmarks/make_corpus.py", "seed": seed,
            "gen_version": GEN_VERSION, "runs_total": len(runs), "checks": dict(checks),
            "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "benchmarks" / "corpus",
                        help="output directory (default: benchmarks/corpus/)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel worker processes")
    parser.add_argument("--only", nargs="+", metavar="CAUSE", help="only these causes")
    parser.add_argument("--framework", nargs="+", metavar="FW", help="only these frameworks")
    parser.add_argument("--family", nargs="+", metavar="TEXT",
                        help="only families whose name has one of these texts")
    parser.add_argument("--limit", type=int, help="train at most N runs")
    parser.add_argument("--no-manifest", action="store_true", help="do not write corpus.json")
    parser.add_argument("--no-recheck", action="store_true",
                        help="do not re-run the checks on runs that are already finished")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    specs = build_specs(args.seed)
    reconcile(out, specs)
    chosen = [s for s in specs
              if (not args.only or s["cause"] in args.only)
              and (not args.framework or s["framework"] in args.framework)
              and (not args.family or any(t in s["family"] for t in args.family))]
    backends: dict[str, Any] = {}
    todo, recheck, skipped = [], [], Counter()
    for spec in chosen:
        fw = spec["framework"]
        if fw not in backends:
            backends[fw] = _backend(fw)
            if backends[fw] is None:
                print(f"backend_{fw}.py not found or its library is not installed: its runs "
                      "are skipped", flush=True)
        done = _done(out / spec["id"])
        if done is not None and done.get("fingerprint") == fingerprint(spec):
            recheck.append(spec)
            continue
        backend = backends[fw]
        faults = {k for k in spec["recipe"].faults if not k.startswith("_")}
        if backend is None or not faults <= set(getattr(backend, "SUPPORTED_FAULTS", set())):
            skipped[fw if backend is None else f"{fw} (unsupported fault)"] += 1
            continue
        todo.append(spec)
    if args.limit is not None:
        todo = todo[:args.limit]
    if args.no_recheck:
        recheck = []
    print(f"{len(specs)} specs; {len(todo)} to train, {len(recheck)} finished (re-checked)"
          + (f", skipped {dict(skipped)}" if skipped else ""), flush=True)
    started = time.perf_counter()
    failed = 0
    jobs = [("train", s) for s in todo] + [("check", s) for s in recheck]
    by_id = {s["id"]: s for s in specs}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_job, kind, spec, str(out)) for kind, spec in jobs]
        for n, fut in enumerate(as_completed(futures), 1):
            res = fut.result()
            spec = by_id[res["id"]] if "id" in res else None
            if "error" in res:
                failed += 1
                print(f"[{n}/{len(jobs)}] {res['id']} ERROR {res['error']}\n{res['trace']}",
                      flush=True)
                continue
            if spec is None:
                continue
            flag = "" if res.get("check") == "ok" else f"  CHECK: {res.get('check')}"
            if res.get("kind") == "train" or flag:
                print(f"[{n}/{len(jobs)}] {res['id']} {spec['cause']:26s} {spec['framework']:9s}"
                      f" {spec['task']:15s} {res.get('seconds', 0):5.1f}s{flag}", flush=True)
    elapsed = time.perf_counter() - started
    if not args.no_manifest:
        data = manifest(out, specs, args.seed)
        _write_json(MANIFEST, data)
        print(f"manifest: {MANIFEST} {data['checks']}", flush=True)
    print(f"done in {elapsed:.0f}s; {failed} run(s) raised", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
