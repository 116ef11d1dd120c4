"""A self-contained HTML audit report: counts, offender tables and an inline SVG embedding map.

No script, no stylesheet or font from the network: the file opens offline and
is safe to mail around. Every string from the store (ids, sources, text
previews, explanations) is HTML-escaped: the text under audit is, by
definition, possibly hostile. No key material is ever in an :class:`AuditReport`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path

from ragguard.audit.results import AuditReport, EmbeddingMap, FindingStatus

_COLOURS = {"clean": "#9aa5b1", "finding": "#e8590c", "integrity": "#c92a2a"}
_LABELS = {"clean": "clean (random sample)", "finding": "finding (today's policy)", "integrity": "integrity failure"}
_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e4e7eb}
.muted{color:#616e7c}.verdict{display:inline-block;padding:.2rem .6rem;border-radius:4px;color:#fff;font-weight:600}
.ok{background:#2b8a3e}.warn{background:#e8590c}.bad{background:#c92a2a}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f5f7fa}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px;word-break:break-all}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:.5rem}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:.5rem .7rem}.card b{display:block;font-size:1.3rem}
svg{border:1px solid #e4e7eb;border-radius:6px;background:#fff}
"""
MAX_ROWS = 500


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """Rows must already be escaped; the header is escaped here."""
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    n = 0
    for row in rows:
        n += 1
        if n > MAX_ROWS:
            continue
        cells = (f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if n > MAX_ROWS:
        out.append(f'<p class="muted">… and {n - MAX_ROWS} more rows (see <code>--json</code> for all).</p>')
    if n == 0:
        return '<p class="muted">None.</p>'
    return "".join(out)


def _counts_table(counts: dict[str, int], label: str) -> str:
    return _table([label, "count"], ([_e(k), str(v)] for k, v in counts.items()), numeric=[1])


def render_svg(emap: EmbeddingMap, width: int = 720, height: int = 480) -> str:
    """The embedding map as an inline SVG scatter plot, flagged chunks drawn on top, with a legend."""
    pad, legend_h = 20, 70
    xs = [p.x for p in emap.points]
    ys = [p.y for p in emap.points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    sx = (width - 2 * pad) / ((x1 - x0) or 1.0)
    sy = (height - legend_h - 2 * pad) / ((y1 - y0) or 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="2-D PCA map of the store\'s embeddings">',
        "<title>PCA map of the store's embeddings; flagged chunks in colour</title>",
    ]
    order = {"clean": 0, "finding": 1, "integrity": 2}
    for p in sorted(emap.points, key=lambda p: order.get(p.kind, 0)):
        cx = pad + (p.x - x0) * sx
        cy = pad + (y1 - p.y) * sy
        r = 2.2 if p.kind == "clean" else 4.5
        opacity = "0.45" if p.kind == "clean" else "0.95"
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r}" fill="{_COLOURS.get(p.kind, "#000")}" '
            f'fill-opacity="{opacity}"><title>{_e(p.chunk_id)} ({_e(p.kind)})</title></circle>'
        )
    ly = height - legend_h + 12
    counts = {k: sum(1 for p in emap.points if p.kind == k) for k in _COLOURS}
    for i, (kind, colour) in enumerate(_COLOURS.items()):
        y = ly + i * 18
        parts.append(f'<circle cx="{pad + 6}" cy="{y}" r="5" fill="{colour}"/>')
        parts.append(
            f'<text x="{pad + 18}" y="{y + 4}" font-size="12" fill="#1f2933">{_e(_LABELS[kind])}: {counts[kind]}</text>'
        )
    ex = emap.explained
    parts.append(
        f'<text x="{width - pad}" y="{height - 8}" font-size="11" fill="#616e7c" text-anchor="end">'
        f"PC1 {ex[0]:.0%} · PC2 {ex[1]:.0%} of variance; sample of {emap.sampled} of {emap.total} clean chunks</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: AuditReport) -> str:
    """The whole report as one HTML document."""
    code = report.exit_code
    verdict = {0: ("ok", "clean"), 1: ("warn", "new findings"), 2: ("bad", "integrity failures")}[code]
    c = report.counts.to_dict()
    cards = "".join(
        f'<div class="card"><span class="muted">{_e(k.replace("_", " "))}</span><b>{v}</b></div>' for k, v in c.items()
    )
    findings = [f for f in report.findings if f.status is not FindingStatus.RESOLVED]
    resolved = [f for f in report.findings if f.status is FindingStatus.RESOLVED]
    shard = f" · shard {report.shard[0]} of {report.shard[1]}" if report.shard else ""
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ragguard audit: {_e(report.collection)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>ragguard audit of <code>{_e(report.collection)}</code></h1>",
        f'<p class="muted">{_e(report.started_at)} → {_e(report.finished_at)}{_e(shard)} · policy '
        f"{_e(report.policy_version)} · re-embed {'on' if report.reembed else 'off'}</p>",
        f'<p><span class="verdict {verdict[0]}">exit {code}: {verdict[1]}</span> {_e(report.summary())}</p>',
        f'<div class="grid">{cards}</div>',
    ]
    if report.baseline_notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in report.baseline_notes) + "</ul>")
    parts.append("<h2>Integrity failures by reason</h2>" + _counts_table(report.by_reason(), "reason"))
    parts.append("<h2>Findings by rule</h2>" + _counts_table(report.by_code(), "detector/code"))
    parts.append("<h2>Embedding map</h2>")
    if report.embedding_map is not None:
        parts.append(render_svg(report.embedding_map))
    else:
        parts.append('<p class="muted">Too few chunks to draw a map.</p>')
    parts.append(
        "<h2>Integrity failures</h2>"
        + _table(
            ["id", "collection", "reason", "why", "claimed source", "text"],
            (
                [
                    f"<code>{_e(f.chunk_id)}</code>",
                    _e(f.collection),
                    _e(f.reason.value),
                    _e(f.explanation),
                    _e(f.source),
                    _e(f.preview),
                ]
                for f in report.integrity_failures
            ),
        )
    )
    parts.append(
        "<h2>Findings</h2>"
        + _table(
            ["id", "status", "action", "detector/code", "score", "explanation", "source", "text"],
            (
                [
                    f"<code>{_e(f.chunk_id)}</code>", _e(f.status.value), _e(f.action.value if f.action else "-"),
                    _e(f"{f.detector}/{f.code}"), f"{f.score:.2f}", _e(f.explanation), _e(f.source), _e(f.preview),
                ]
                for f in findings
            ),
            numeric=[4],
        )
    )  # fmt: skip
    parts.append(
        "<h2>Resolved since the baseline</h2>"
        + _table(
            ["id", "detector/code", "score", "source"],
            (
                [f"<code>{_e(f.chunk_id)}</code>", _e(f"{f.detector}/{f.code}"), f"{f.score:.2f}", _e(f.source)]
                for f in resolved
            ),
            numeric=[2],
        )
    )
    if report.moved:
        parts.append(
            "<h2>Moved to quarantine</h2>"
            + _table(
                ["id", "quarantine id", "how", "reason"],
                (
                    [f"<code>{_e(m.chunk_id)}</code>", f"<code>{_e(m.quarantine_id)}</code>", _e(m.how), _e(m.reason)]
                    for m in report.moved
                ),
            )
        )
    detectors = _table(
        ["detector", "class", "parameters"],
        (
            [_e(d.name), f"<code>{_e(d.cls)}</code>", _e(", ".join(f"{k}={v}" for k, v in d.params))]
            for d in report.detectors
        ),
    )
    parts.append("<h2>Detectors</h2>" + detectors)
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(report: AuditReport, path: Path) -> None:
    """Write the report (UTF-8), creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
