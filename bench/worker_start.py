"""What starting the audit's text workers costs: forkserver (shipped) against spawn (the fallback).

    python bench/worker_start.py [--rounds 5] [--workers 2]

Each arm runs in its own fresh process (a forkserver is started once per
process), the arms alternating round by round. A run imports what an audit's
process holds (ragguard, chromadb), opens a pool of text workers with the
default text detectors, waits until every worker has answered, and scans one
page in them. Printed per arm, medians over the rounds:

* seconds until the workers answered (the auditing process scans pages itself
  meanwhile, so this is not idle time any more, but it is time the workers do
  not help);
* the machine's busy CPU seconds over the run, from ``/proc/stat`` (Linux):
  what the start-up takes away from the audit on a small machine. The child's
  own interpreter start and imports are in both arms alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def busy_cpu_seconds() -> float:
    """The machine's busy CPU time so far (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / 100.0


def child(method: str, workers: int) -> dict[str, float]:
    """One run in this fresh process, with workers started by ``method``."""
    import chromadb  # noqa: F401 - an audit's process holds the store's client

    from ragguard.audit import parallel
    from ragguard.detectors.registry import create

    if method == "spawn":
        parallel.worker_context = lambda detectors: parallel.multiprocessing.get_context("spawn")  # type: ignore[assignment,misc]
    detectors = [create(n) for n in ("instructions", "hidden", "obfuscation", "query_targeting", "token_artifacts")]
    page = ["Please read the installation notes before you upgrade the cluster."] * parallel.INLINE_BELOW
    t = time.perf_counter()
    with parallel.TextScanPool(detectors, workers) as pool:  # type: ignore[arg-type]
        pool.submit(page)  # starts the workers; scanned here meanwhile
        if not pool.started(timeout=300):
            raise SystemExit("workers did not start")
        answered = time.perf_counter() - t
        pool.submit(page).result()
    return {"answered_s": answered}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--child", choices=("spawn", "forkserver"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workers)))
        return
    results: dict[str, dict[str, list[float]]] = {m: {"answered_s": [], "cpu_s": []} for m in ("spawn", "forkserver")}
    for r in range(args.rounds):
        arms = ("spawn", "forkserver") if r % 2 == 0 else ("forkserver", "spawn")
        for method in arms:
            before = busy_cpu_seconds()
            out = subprocess.run(
                [sys.executable, __file__, "--child", method, "--workers", str(args.workers)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            results[method]["cpu_s"].append(busy_cpu_seconds() - before)
            results[method]["answered_s"].append(json.loads(out.stdout.strip().splitlines()[-1])["answered_s"])
    print(f"| workers started by | until {args.workers} workers answered, s | machine busy CPU over the run, s |")
    print("|---|---:|---:|")
    med = {m: {k: statistics.median(v) for k, v in d.items()} for m, d in results.items()}
    for method, d in med.items():
        print(f"| {method} | {d['answered_s']:.2f} | {d['cpu_s']:.2f} |")
    fs, sp = med["forkserver"], med["spawn"]
    print(f"\nforkserver / spawn, medians of {args.rounds} rounds:", end=" ")
    print(f"until answered {fs['answered_s'] / sp['answered_s']:.2f}, busy CPU {fs['cpu_s'] / sp['cpu_s']:.2f}")


if __name__ == "__main__":
    main()
