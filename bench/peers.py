"""Offline peer detectors on the same dev texts as ``bench/detection.py`` (``--peers``).

Each peer is pip-installable, pure Python, needs no network, and is run through
its own documented public API at its own default settings (nothing tuned):

* ``agent-cordon==0.3.0`` -- ``agent_cordon.scan(text)`` with ``DEFAULT_POLICY``.
  **flagged** = ``ScanResult.is_dangerous`` (risk >= the policy's
  ``dangerous_threshold``, 60 of 100 by default; the lower "suspicious" band,
  risk >= 25, is not counted).
* ``aicordon==1.4.0`` -- Picket, the local rule engine:
  ``aicordon.picket.load(mode="ipi")`` (the shipped rule base; ``ipi`` is the
  package's default mode, for data an agent reads rather than a typed turn),
  then ``Detector.check(text)`` per text. **flagged** = ``Report.flagged``
  (at least one finding).
* ``rag-firewall==0.4.1`` -- ``rag_firewall.Firewall`` built with every
  built-in scanner at its constructor defaults (``RegexInjectionScanner``,
  ``PIIScanner``, ``SecretsScanner``, ``EncodedContentScanner``,
  ``URLScanner``, ``ConflictScanner``) and no extra policies, so only the
  policy engine's built-in auto-deny applies (a high-severity
  ``regex_injection`` or ``secrets`` finding). Each text is evaluated as one
  doc dict ``{"page_content": text, "metadata": {}}`` with
  ``Firewall.evaluate_one``, the call its ``wrap_retriever`` makes per
  retrieved chunk. **flagged** = ``metadata["_ragfw"]["decision"] == "deny"``
  (what ``wrap_retriever`` drops). ``Firewall()`` with no arguments has no
  scanners and would allow everything; the README's example ``firewall.yaml``
  is not used because its ``block_secrets_leak`` policy has ``match: {}``,
  which matches (and denies) every document. Its audit log is sent to
  ``os.devnull`` so the bench writes no ``audit.jsonl``.

A peer that is not installed is reported and skipped. An exception on one text
is counted (and reported); that text counts as not flagged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import devdata

Check = Callable[[str], bool]


@dataclass(frozen=True)
class Peer:
    name: str
    pip: str
    build: Callable[[], Check]


def _agent_cordon() -> Check:
    import agent_cordon

    def check(text: str) -> bool:
        return bool(agent_cordon.scan(text).is_dangerous)

    return check


def _aicordon_picket() -> Check:
    from aicordon import picket

    det = picket.load(mode="ipi")

    def check(text: str) -> bool:
        return bool(det.check(text).flagged)

    return check


def _rag_firewall() -> Check:
    import rag_firewall.audit
    from rag_firewall import Firewall
    from rag_firewall.scanners.conflict_scanner import ConflictScanner
    from rag_firewall.scanners.encoding_scanner import EncodedContentScanner
    from rag_firewall.scanners.pii_scanner import PIIScanner
    from rag_firewall.scanners.regex_scanner import RegexInjectionScanner
    from rag_firewall.scanners.secrets_scanner import SecretsScanner
    from rag_firewall.scanners.url_scanner import URLScanner

    # Audit.log appends every decision to ./audit.jsonl unless told otherwise.
    rag_firewall.audit._LOG_PATH = os.devnull
    fw = Firewall(
        scanners=[
            RegexInjectionScanner(),
            PIIScanner(),
            SecretsScanner(),
            EncodedContentScanner(),
            URLScanner(),
            ConflictScanner(),
        ]
    )

    def check(text: str) -> bool:
        doc: dict[str, Any] = fw.evaluate_one({"page_content": text, "metadata": {}})
        return bool(doc["metadata"]["_ragfw"]["decision"] == "deny")

    return check


PEERS: tuple[Peer, ...] = (
    Peer("agent-cordon 0.3.0 (scan().is_dangerous)", "agent-cordon==0.3.0", _agent_cordon),
    Peer("aicordon 1.4.0 Picket (mode ipi, Report.flagged)", "aicordon==1.4.0", _aicordon_picket),
    Peer("rag-firewall 0.4.1 (default scanners, decision deny)", "rag-firewall==0.4.1", _rag_firewall),
)


@dataclass(frozen=True)
class Run:
    hits: list[bool]
    errors: int
    seconds: float


def run_peer(check: Check, rows: Sequence[devdata.Row]) -> Run:
    """``check`` on every text; an exception counts as an error and as not flagged."""
    hits: list[bool] = []
    errors = 0
    t = time.perf_counter()
    for r in rows:
        try:
            hits.append(check(r.text))
        except Exception:
            errors += 1
            hits.append(False)
    return Run(hits, errors, time.perf_counter() - t)


def _mean(xs: Sequence[bool]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def report(title: str, rows: Sequence[devdata.Row], run: Run) -> dict[str, float]:
    """Per-family recall (label 1) or FPR (label 0), then overall, as in ``detection.report``."""
    by_family: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_family.setdefault(r.family, []).append(i)
    label_of = {f: rows[idx[0]].label for f, idx in by_family.items()}
    print(f"\n### {title}\n")
    print("| family | n | metric | flagged |")
    print("|---|---:|---|---:|")
    for f in sorted(by_family, key=lambda f: (-label_of[f], f)):
        idx = by_family[f]
        metric = "recall" if label_of[f] == 1 else "FPR"
        print(f"| {f} | {len(idx)} | {metric} | {_mean([run.hits[i] for i in idx]):.3f} |")
    pos = [h for h, r in zip(run.hits, rows, strict=True) if r.label == 1]
    neg = [h for h, r in zip(run.hits, rows, strict=True) if r.label != 1]
    overall = {"recall": _mean(pos), "fpr": _mean(neg)}
    print(f"| **all** | {len(rows)} | recall / FPR | {overall['recall']:.3f} / {overall['fpr']:.3f} |")
    rate = len(rows) / run.seconds if run.seconds > 0 else float("inf")
    print(f"\n{rate:.0f} texts/s; {run.errors} text(s) raised an exception (counted as not flagged)")
    return overall


def run_all(inc: Sequence[devdata.Row], inj: Sequence[devdata.Row]) -> dict[str, dict[str, dict[str, float]]]:
    """Run every installed peer on the poisoning and injection sets and print the tables."""
    print("\n## Peers (offline, default settings)")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for peer in PEERS:
        try:
            check = peer.build()
        except ImportError:
            print(f"\npeer {peer.name}: not installed (pip install {peer.pip})")
            continue
        except Exception as e:  # a peer that cannot start must not sink the bench
            print(f"\npeer {peer.name}: failed to start ({type(e).__name__}: {e})")
            continue
        results[peer.name] = {
            "poisoning": report(f"{peer.name}: poisoning (incoming.jsonl)", inc, run_peer(check, inc)),
            "injection": report(f"{peer.name}: injection (documents.jsonl)", inj, run_peer(check, inj)),
        }
    return results
