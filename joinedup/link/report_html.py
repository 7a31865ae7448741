"""The linkage quality report as one self-contained HTML page.

``render_report_html(report) -> str`` turns a ``LinkageReport`` into a page with no external
resource (no CDN, no script, no web font): charts are inline SVG drawn with matplotlib's
object API (no pyplot, no global state), each inside a ``<figure>`` with ``role="img"``, a text
alternative and a caption, and every number a chart shows is also in a table next to it.

Invariants:
- the page shows only what the report holds: counts, rates, weights, rule and source names,
  record keys (pseudonyms) and agreement symbols; it never reads the node;
- every text from the report is HTML-escaped; tables have captions and header cells with scope.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from html import escape

from matplotlib.figure import Figure

from joinedup.link.report import (
    LINKAGE_COUNTS,
    LINKAGE_SECONDS,
    NOT_RECORDED,
    LabelFree,
    LinkageReport,
    PairScore,
    Rate,
    SubgroupRates,
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;
background:#fff;line-height:1.45}
header,main,footer{max-width:72rem;margin:0 auto;padding:0 1.25rem}
header{border-bottom:4px solid #1d70b8;padding-top:1rem}
h1{font-size:1.8rem;margin:.5rem 0}h2{font-size:1.35rem;margin-top:2.2rem;
border-bottom:1px solid #b1b4b6;padding-bottom:.2rem}h3{font-size:1.1rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #b1b4b6;padding:.25rem .5rem;vertical-align:top}
th{background:#f3f2f1;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}figcaption{font-size:.9rem;color:#505a5f}
.note{background:#f3f2f1;border-left:5px solid #1d70b8;padding:.5rem .8rem}
.keys{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
nav ul{columns:2;padding-left:1.2rem}
details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}
svg{max-width:100%;height:auto}
"""
_LINKED, _NOT_LINKED = "#1d70b8", "#d4351c"


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _rate(rate: Rate | None, digits: int = 2) -> str:
    if rate is None or rate.value is None:
        return "–"
    return (
        f"{_pct(rate.value, digits)} ({_pct(rate.low, digits)}–{_pct(rate.high, digits)}; "
        f"{rate.numerator:,}/{rate.denominator:,})"
    )


def _table(
    caption: str, headings: Sequence[str], rows: Iterable[Sequence[object]], numeric: set[int]
) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headings)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = escape(f"{cell:,}" if isinstance(cell, int) else str(cell))
            if i == 0:
                cells.append(f'<th scope="row">{text}</th>')
            else:
                cells.append(f'<td class="n">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figure(fig: Figure, alt: str, caption: str) -> str:
    return (
        f'<figure role="img" aria-label="{escape(alt)}">{_svg(fig)}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=96)
    fig.set_layout_engine("constrained")
    return fig


def _histograms(report: LinkageReport, limit: int = 6) -> str:
    shown = report.histograms[:limit]
    if not shown:
        return "<p>No candidate pairs.</p>"
    cols = 3
    rows = (len(shown) + cols - 1) // cols
    fig = _new_figure(11, 2.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(shown) :]:
        ax.set_visible(False)
    for ax, hist in zip(axes.flat, shown, strict=False):
        edges = hist.bin_edges
        width = edges[1] - edges[0]
        ax.bar(
            edges[:-1],
            hist.not_linked,
            width=width,
            align="edge",
            color=_NOT_LINKED,
            alpha=0.75,
            label="not linked",
        )
        ax.bar(
            edges[:-1],
            hist.linked,
            width=width,
            align="edge",
            color=_LINKED,
            alpha=0.75,
            label="linked",
        )
        ax.set_yscale("symlog", linthresh=1)
        ax.set_title(hist.source_pair, fontsize=9)
        ax.set_xlabel("match weight (log2 odds)", fontsize=8)
        ax.set_ylabel("pairs", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Match weight of candidate pairs, linked and not linked", fontsize=10)
    names = ", ".join(h.source_pair for h in shown)
    alt = (
        f"Histograms of match weight for the {len(shown)} source pairs with most candidate "
        f"pairs ({names}); linked pairs in blue, pairs not linked in red. The same counts are "
        "in the tables below."
    )
    figure = _figure(fig, alt, "Match weight histograms by source pair (log scale).")
    tables = []
    for hist in report.histograms:
        bins = [
            (f"{lo:g} to {hi:g}", ln, nl)
            for lo, hi, ln, nl in zip(
                hist.bin_edges[:-1], hist.bin_edges[1:], hist.linked, hist.not_linked, strict=True
            )
            if ln or nl
        ]
        tables.append(
            _table(
                f"Match weight, {hist.source_pair}",
                ["weight", "linked pairs", "pairs not linked"],
                bins,
                {1, 2},
            )
        )
    return (
        figure
        + "<details><summary>Histogram counts for every source pair</summary>"
        + "".join(tables)
        + "</details>"
    )


def _subgroup_chart(rates: Sequence[SubgroupRates], kind: str, has_truth: bool) -> str:
    rows = [r for r in rates if r.kind == kind]
    if not rows:
        return ""
    fig = _new_figure(8, 0.35 * len(rows) + 1.3)
    ax = fig.subplots()
    y = list(range(len(rows)))
    series: list[tuple[str, str, list[Rate | None]]] = [
        ("link rate", _LINKED, [r.link_rate for r in rows])
    ]
    if has_truth:
        series.append(("missed-link rate", _NOT_LINKED, [r.missed_link_rate for r in rows]))
    for offset, (label, colour, values) in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, rate in zip(y, values, strict=True):
            if rate is None or rate.value is None or rate.low is None or rate.high is None:
                continue
            xs.append(100 * rate.value)
            ys.append(i + 0.18 * offset)
            lo.append(max(0.0, 100 * (rate.value - rate.low)))
            hi.append(max(0.0, 100 * (rate.high - rate.value)))
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", color=colour, label=label, capsize=3)
    ax.set_yticks(y, [r.group for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of records (95% Wilson interval)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"Link rates by {kind}", fontsize=10)
    alt = f"Dot plot of link rate{' and missed-link rate' if has_truth else ''} by {kind}, " + (
        "with 95% intervals: "
        + "; ".join(
            f"{r.group} {_pct(r.link_rate.value, 1)} linked"
            + (
                f", {_pct(r.missed_link_rate.value, 1)} missed"
                if has_truth and r.missed_link_rate
                else ""
            )
            for r in rows
        )
    )
    return _figure(fig, alt, f"Link rates by {kind}; the table below holds the same numbers.")


def _cluster_chart(report: LinkageReport) -> str:
    dist = report.clusters.size_distribution
    fig = _new_figure(6, 2.6)
    ax = fig.subplots()
    ax.bar(list(dist), list(dist.values()), color=_LINKED)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("identity records per person", fontsize=8)
    ax.set_ylabel("persons", fontsize=8)
    ax.tick_params(labelsize=8)
    alt = "Bar chart of persons by records per person: " + "; ".join(
        f"{k} records: {v:,} persons" for k, v in dist.items()
    )
    return _figure(fig, alt, "Cluster size distribution (log scale).")


def _score_rows(scores: Iterable[PairScore]) -> list[list[object]]:
    return [
        [
            s.scope,
            s.predicted_pairs,
            s.true_pairs,
            s.true_positive_pairs,
            _rate(s.precision, 3),
            _rate(s.recall, 3),
            "–" if s.f1 is None else f"{s.f1:.4f}",
        ]
        for s in scores
    ]


_SCORE_HEADINGS = [
    "scope",
    "linked pairs",
    "true pairs",
    "true linked pairs",
    "precision (95% CI)",
    "recall (95% CI)",
    "F1",
]


def _audit_table(caption: str, pairs: Sequence[object], has_truth: bool) -> str:
    from joinedup.link.report import COMPARISONS, AuditPair

    headings = ["record key a", "record key b", "sources", "linked by", "weight"]
    headings += [f.replace("_", " ") for f in COMPARISONS]
    if has_truth:
        headings.append("true match?")
    rows = []
    for p in pairs:
        assert isinstance(p, AuditPair)
        row: list[object] = [
            p.record_key_a,
            p.record_key_b,
            f"{p.source_a} × {p.source_b}",
            p.linked_by,
            f"{p.match_weight:.2f}",
        ]
        row += [p.pattern.get(f, "") for f in COMPARISONS]
        if has_truth:
            row.append("–" if p.is_true_match is None else ("yes" if p.is_true_match else "NO"))
        rows.append(row)
    return '<div class="keys">' + _table(caption, headings, rows, {4}) + "</div>"


def _linkage_table(linkage: object) -> str:
    """The latest run's pair scoring: incremental or full (and why), counts and timings."""
    if not isinstance(linkage, dict) or linkage.get("scoring") in (None, NOT_RECORDED):
        note = linkage.get("note") if isinstance(linkage, dict) else None
        return (
            '<p class="note">Latest run\'s pair scoring: not recorded'
            + (f" ({escape(str(note))})" if note else "")
            + ".</p>"
        )
    scoring = str(linkage["scoring"])
    because = linkage.get("full_because")
    counts = linkage.get("counts") or {}
    seconds = linkage.get("seconds") or {}
    rows: list[list[object]] = [
        ["scoring", scoring + (f" (full because {because})" if because else "")],
        *(
            [label, NOT_RECORDED if counts.get(key) is None else counts[key]]
            for key, label in LINKAGE_COUNTS
        ),
        *(
            [f"seconds: {label}", seconds[key]]
            for key, label in LINKAGE_SECONDS
            if seconds.get(key) is not None
        ),
    ]
    return _table(
        f"Latest run's pair scoring ({linkage.get('stage')})", ["item", "value"], rows, {1}
    )


def _headline_estimates(lf: LabelFree) -> list[list[object]]:
    """The summary's label-free precision and recall: the linkage model's where the latest
    refresh recorded them, else the report's own match weights'."""
    if lf.model_expected_precision is not None:
        return [
            [
                "expected precision (label-free, linkage model)",
                _pct(lf.model_expected_precision, 3),
            ],
            [
                "expected recall (label-free, linkage model, an upper bound)",
                _pct(lf.model_expected_recall, 3),
            ],
        ]
    return [
        ["expected precision (label-free)", _pct(lf.expected_precision, 3)],
        ["expected recall (label-free, an upper bound)", _pct(lf.expected_recall, 3)],
    ]


def render_report_html(report: LinkageReport) -> str:
    """The report as a self-contained, accessible HTML page."""
    has_truth = report.truth_overall is not None
    prov = report.provenance
    parts: list[str] = []
    parts.append(
        '<section aria-labelledby="summary"><h2 id="summary">Summary</h2>'
        + _table(
            "Headline figures",
            ["measure", "value"],
            [
                ["identity records indexed", report.records],
                ["persons with records", report.clusters.persons_with_records],
                ["candidate pairs compared", report.label_free.candidate_pairs],
                ["linked pairs", report.label_free.linked_pairs],
                *_headline_estimates(report.label_free),
                *(
                    [
                        [
                            "true precision (simulated truth)",
                            _rate(report.truth_overall.precision, 3),
                        ],
                        ["true recall (simulated truth)", _rate(report.truth_overall.recall, 3)],
                        [
                            "true F1",
                            f"{report.truth_overall.f1:.4f}"
                            if report.truth_overall.f1 is not None
                            else "–",
                        ],
                    ]
                    if report.truth_overall is not None
                    else []
                ),
                ["persons holding two NHS numbers", report.clusters.persons_with_two_nhs_numbers],
            ],
            {1},
        )
        + "</section>"
    )
    # inputs
    overall = [q for q in report.inputs if q.subgroup_kind == "all"]
    parts.append(
        '<section aria-labelledby="inputs"><h2 id="inputs">Inputs: completeness and validity'
        "</h2><p>For each identity field, the records of each source whose contract carries it: "
        "the share with a value (present) and the share with a usable value (valid: not "
        "flagged at ingest, not a placeholder name, not an impossible or default date of "
        "birth, sex M or F, a well-formed postcode).</p>"
        + _table(
            "Completeness and validity by field and source",
            ["field", "source", "records", "present (95% CI)", "valid (95% CI)"],
            [[q.field, q.source, q.records, _rate(q.present), _rate(q.valid)] for q in overall],
            {2},
        )
    )
    for kind in sorted({q.subgroup_kind for q in report.inputs} - {"all"}):
        rows = [q for q in report.inputs if q.subgroup_kind == kind]
        parts.append(
            f"<details><summary>By {escape(kind)}</summary>"
            + _table(
                f"Completeness and validity by field, source and {kind}",
                ["field", "source", kind, "records", "present (95% CI)", "valid (95% CI)"],
                [
                    [q.field, q.source, q.subgroup, q.records, _rate(q.present), _rate(q.valid)]
                    for q in rows
                ],
                {3},
            )
            + "</details>"
        )
    parts.append("</section>")
    # blocking
    parts.append(
        '<section aria-labelledby="blocking"><h2 id="blocking">Blocking: comparisons per rule</h2>'
        "<p>A block is one key (say one UPN); its records are compared pairwise. Rules marked "
        "<em>report only</em> are not used to link: they find near misses for the match-weight "
        "model and the missed-match audit. A report-only rule that would compare more pairs "
        "than the linkage's per-rule budget (4 per record, at least 2M) is tightened by one "
        "more key; the table shows the key and the pairs it would have compared.</p>"
        + _table(
            "Comparisons per blocking rule",
            ["rule", "used by", "blocks", "records in blocks", "comparisons", "largest block"],
            [
                [
                    b.rule
                    if b.tightened_by is None
                    else f"{b.rule} & {b.tightened_by} "
                    f"(as written: {b.comparisons_untightened:,} comparisons)",
                    "index" if b.used_by_index else "report only",
                    b.blocks,
                    b.records,
                    b.comparisons,
                    b.largest_block,
                ]
                for b in report.blocking
            ],
            {2, 3, 4, 5},
        )
        + "</section>"
    )
    # weights
    parts.append(
        '<section aria-labelledby="weights"><h2 id="weights">Match weights</h2>'
        "<p>Every candidate pair gets a Fellegi–Sunter match weight from its field agreement "
        "(= agree, ~ partly agree, x disagree, – missing). u-probabilities come from "
        f"{prov['thresholds']['random_pairs_for_u']:,} random pairs; m-probabilities from "
        "pairs joined by strong identifiers (for NHS number and date of birth, only pairs "
        "joined by other identifiers).</p>"
        + _table(
            "m- and u-probabilities and weights by field and level",
            ["field", "level", "m", "u", "weight"],
            [
                [w.field, w.level, f"{w.m:.4f}", f"{w.u:.5f}", f"{w.weight:+.2f}"]
                for w in report.field_weights
            ],
            {2, 3, 4},
        )
        + _histograms(report)
        + "</section>"
    )
    lf = report.label_free
    model_rows = (
        [
            [
                "expected false pairs among the linked (linkage model)",
                f"{lf.model_expected_false_pairs:,.1f}",
            ],
            [
                "expected true pairs left apart (linkage model)",
                f"{lf.model_expected_missed_pairs:,.1f}",
            ],
            ["expected precision (linkage model)", _pct(lf.model_expected_precision, 3)],
            ["expected recall within blocking (linkage model)", _pct(lf.model_expected_recall, 3)],
        ]
        if lf.model_expected_false_pairs is not None and lf.model_expected_missed_pairs is not None
        else [["linkage model's estimates", "not recorded (the latest refresh scored no pairs)"]]
    )
    parts.append(
        '<section aria-labelledby="estimates"><h2 id="estimates">Precision and recall</h2>'
        '<p class="note">Label-free estimates need no truth. The linkage model\'s come from the '
        "latest refresh's own match probabilities: links made on valid identifiers are taken "
        "as right, each probabilistic merge is wrong with 1 − p of its best pair, and two "
        "persons left apart with a scored pair are one child with p. The report's own come "
        "from its independent match weights over every candidate pair; they count every pair "
        "of a person's records, including records that share no compared field (an event "
        "row linked by its identifier alone), so on a node with many such records they "
        "understate precision. Both recalls are upper bounds: true pairs that share no block "
        "are never candidates.</p>"
        + _table(
            "Label-free estimates",
            ["measure", "value"],
            [
                ["candidate pairs", lf.candidate_pairs],
                ["linked pairs", lf.linked_pairs],
                *model_rows,
                ["prior match probability of a random pair", f"{lf.prior:.3g}"],
                [
                    "expected matches among candidates (report's weights)",
                    f"{lf.expected_matches:,.1f}",
                ],
                ["expected precision (report's weights)", _pct(lf.expected_precision, 3)],
                ["expected recall (report's weights)", _pct(lf.expected_recall, 3)],
            ],
            {1},
        )
    )
    if report.truth_overall is not None:
        parts.append(
            "<p>Against the simulator's truth (pairwise over identity records):</p>"
            + _table(
                "True precision, recall and F1, overall",
                _SCORE_HEADINGS,
                _score_rows([report.truth_overall]),
                {1, 2, 3},
            )
            + _table(
                "True precision, recall and F1 by source pair",
                _SCORE_HEADINGS,
                _score_rows(report.truth_by_source_pair),
                {1, 2, 3},
            )
        )
    else:
        parts.append("<p>No truth was given (a real node): only label-free estimates.</p>")
    parts.append("</section>")
    # subgroups
    basis = (
        "the simulator's truth (people.csv): link rate (records linked to another record), "
        "missed-link rate (records with a true mate not linked to all of them), false-link "
        "rate (records in a person holding another child's record), pairwise precision and "
        "recall"
        if has_truth
        else "what the linked store knows of each person (store__person): link rate only"
    )
    parts.append(
        '<section aria-labelledby="subgroups"><h2 id="subgroups">Subgroups</h2>'
        f"<p>Groups from {escape(basis)}, with 95% Wilson intervals.</p>"
    )
    kinds = list(dict.fromkeys(r.kind for r in report.subgroups))
    for kind in kinds:
        group_rows = [r for r in report.subgroups if r.kind == kind]
        headings = ["group", "records", "link rate"]
        if has_truth:
            headings += ["missed-link rate", "false-link rate", "precision", "recall"]
        table_rows: list[list[object]] = []
        for r in group_rows:
            row: list[object] = [r.group, r.records, _rate(r.link_rate)]
            if has_truth:
                row += [
                    _rate(r.missed_link_rate),
                    _rate(r.false_link_rate),
                    _rate(r.precision, 3),
                    _rate(r.recall, 3),
                ]
            table_rows.append(row)
        parts.append(
            f"<h3>{escape(kind)}</h3>"
            + _subgroup_chart(report.subgroups, kind, has_truth)
            + _table(f"Link rates by {kind}", headings, table_rows, {1})
        )
    parts.append("</section>")
    # audits
    parts.append(
        '<section aria-labelledby="audits"><h2 id="audits">Audit samples</h2>'
        "<p>Pairs for a reviewer, by record key only (look the records up with "
        "<code>joinedup link review</code>). The false-match sample takes half the "
        "lowest-weight linked pairs and half at random; the missed-match sample takes records "
        "the index left alone with their best candidate.</p>"
        + _audit_table(
            "False-match audit sample (linked pairs)", report.false_match_audit, has_truth
        )
        + _audit_table(
            "Missed-match audit sample (unlinked records, best candidate)",
            report.missed_match_audit,
            has_truth,
        )
        + "</section>"
    )
    c = report.clusters
    parts.append(
        '<section aria-labelledby="clusters"><h2 id="clusters">Clusters</h2>'
        + _cluster_chart(report)
        + _table(
            "Persons by records per person",
            ["records per person", "persons"],
            [[k, v] for k, v in c.size_distribution.items()],
            {1},
        )
        + _table(
            "Persons the over-merge guard flags",
            ["kind", "persons"],
            [["two or more NHS numbers", c.persons_with_two_nhs_numbers]]
            + [[k, v] for k, v in c.conflicts_by_kind.items() if k != "nhs"],
            {1},
        )
        + "</section>"
    )
    prov_rows: list[list[object]] = []
    for key, value in prov.items():
        if key == "linkage":
            continue  # a table of its own, below
        if key == "rules":
            value = ", ".join(f"{r['name']} ({r['strength']})" for r in value)
        elif key == "thresholds":
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        prov_rows.append([key.replace("_", " "), value])
    parts.append(
        '<section aria-labelledby="provenance"><h2 id="provenance">Provenance</h2>'
        + _table("Versions, settings and run times", ["item", "value"], prov_rows, set())
        + _linkage_table(prov.get("linkage"))
        + "</section>"
    )
    nav = "".join(
        f'<li><a href="#{i}">{t}</a></li>'
        for i, t in (
            ("summary", "Summary"),
            ("inputs", "Inputs"),
            ("blocking", "Blocking"),
            ("weights", "Match weights"),
            ("estimates", "Precision and recall"),
            ("subgroups", "Subgroups"),
            ("audits", "Audit samples"),
            ("clusters", "Clusters"),
            ("provenance", "Provenance"),
        )
    )
    title = f"Linkage quality report: {report.node_name}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>Run {escape(str(prov['run_id']))} "
        f"({escape(str(prov['method']))}), generated {escape(report.generated_at)}. "
        "Aggregate figures and pseudonymous record keys only.</p></header>"
        f'<main><nav aria-label="Contents"><ul>{nav}</ul></nav>{"".join(parts)}</main>'
        f"<footer><p>joinedup {escape(str(prov.get('joinedup', '')))}</p></footer>"
        "</body></html>\n"
    )
