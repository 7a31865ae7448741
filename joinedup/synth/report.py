"""Write the twin's quality report: ``report.json``, ``report.html`` and ``figures/*.png``.

The HTML is one self-contained page (no script, no CDN) that links the PNG charts beside it.
Charts are drawn with matplotlib's object API (no global state) and saved as PNG without
metadata. Nothing here holds a row: the report dict is aggregates only (see ``quality.py``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
FIGURES = "figures"


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})


def _effects_chart(report: dict[str, Any], path: Path) -> None:
    effects = [e for e in report["effects"] if e["real"]["odds_ratio"] and e["twin"]["odds_ratio"]]
    fig = Figure(figsize=(7, 0.6 + 0.6 * max(len(effects), 1)))
    ax = fig.subplots()
    for i, e in enumerate(effects):
        real = e["real"]["odds_ratio"]
        ax.plot(
            [real * (1 - e["tolerance"]), real * (1 + e["tolerance"])], [i, i], color="#ccc", lw=8
        )
        ax.plot(real, i, "o", color="#1f4e79", label="real" if i == 0 else None)
        ax.plot(e["twin"]["odds_ratio"], i, "D", color="#c55a11", label="twin" if i == 0 else None)
        if e["planted"]:
            ax.plot(e["planted"], i, "|", color="k", ms=14, label="planted" if i == 0 else None)
    ax.set_yticks(range(len(effects)), [e["name"] for e in effects])
    ax.set_xscale("log")
    ax.set_xlabel("odds ratio (grey: real ± tolerance)")
    ax.legend(loc="best", fontsize=8)
    _save(fig, path)


def _columns_chart(report: dict[str, Any], path: Path) -> None:
    cols = sorted(report["column_fidelity"], key=lambda c: -c["twin"])[:25]
    fig = Figure(figsize=(7, 0.4 + 0.22 * max(len(cols), 1)))
    ax = fig.subplots()
    y = np.arange(len(cols))
    ax.barh(y + 0.2, [c["twin"] for c in cols], height=0.4, color="#c55a11", label="twin")
    ax.barh(y - 0.2, [c["holdout"] for c in cols], height=0.4, color="#1f4e79", label="hold-out")
    ax.set_yticks(
        y, [f"{c['table'].removeprefix('store__')}.{c['column']}" for c in cols], fontsize=7
    )
    ax.invert_yaxis()
    ax.set_xlabel("distance to the training rows (TVD or KS; 0 = identical)")
    ax.legend(fontsize=8)
    _save(fig, path)


def _privacy_chart(report: dict[str, Any], path: Path) -> None:
    privacy = report["privacy"]
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    if privacy.get("evaluated"):
        d = privacy["distances"]
        top = max(max(d["synthetic_to_train"], default=1), max(d["holdout_to_train"], default=1))
        bins = [float(b) for b in np.linspace(0, top or 1, 40)]
        ax.hist(d["holdout_to_train"], bins=bins, alpha=0.6, color="#1f4e79", label="hold-out")
        ax.hist(d["synthetic_to_train"], bins=bins, alpha=0.6, color="#c55a11", label="twin")
        ax.legend(fontsize=8)
    ax.set_xlabel("distance to the closest training record")
    ax.set_ylabel("records")
    _save(fig, path)


def _bias_goal_text(goal: dict[str, Any]) -> str:
    if not goal.get("groups_judged"):
        return "No group is large enough to judge."
    worst = ", ".join(
        f"{g['group']} {g['gap_points']} (hold-out {g['holdout_gap_points']})"
        for g in goal.get("worst_groups") or []
    )
    text = (
        f"{goal['groups_judged']} groups judged; largest gaps in points: {html.escape(worst)}. "
        "The hold-out's gap is how far fresh real children of the group are from the training "
        "ones by chance."
    )
    if goal.get("rates_judged"):
        text += (
            f" On the {goal['rates_judged']} rates measured on at least 500 real children, the "
            f"largest gap is {goal['rates_max_gap_points']} points "
            f"({html.escape(str(goal['rates_worst']))})."
        )
    return text


def _bias_chart(report: dict[str, Any], path: Path) -> None:
    rows = [b for b in report["bias"] if b["scored"] and b.get("real_gld") is not None]
    fig = Figure(figsize=(7, 0.6 + 0.3 * max(len(rows), 1)))
    ax = fig.subplots()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [b["real_gld"] for b in rows], height=0.4, color="#1f4e79", label="real")
    ax.barh(y + 0.2, [b["twin_gld"] or 0 for b in rows], height=0.4, color="#c55a11", label="twin")
    ax.set_yticks(y, [f"{b['axis']}: {b['group']}" for b in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("GLD rate")
    ax.legend(fontsize=8)
    _save(fig, path)


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    p = report["provenance"]
    s = report["summary"]
    pr = report["privacy"]
    tl = report["timelines"]
    effects = _table(
        ["effect", "planted", "real OR (n)", "twin OR (n)", "error", "within ±15%"],
        [
            [
                e["description"],
                e["planted"],
                f"{_fmt(e['real']['odds_ratio'])} ({e['real']['n']})",
                f"{_fmt(e['twin']['odds_ratio'])} ({e['twin']['n']})",
                None if e["relative_error"] is None else f"{e['relative_error']:+.1%}",
                e["within_tolerance"],
            ]
            for e in report["effects"]
        ],
    )
    timelines = _table(
        ["check", "real", "twin"], [[k, tl["real"][k], tl["twin"][k]] for k in tl["twin"]]
    )
    privacy_rows = [
        [k, v]
        for k, v in pr.items()
        if k not in {"distances", "evaluated"} and not isinstance(v, dict | list)
    ]
    inference = _table(
        ["sensitive fact", "attacks", "prevalence", "success: fitted", "success: hold-out",
         "success: random", "risk", "risk 95% CI", "risk ≤ 0.05"],
        [
            [r["secret"], r["attacks"], r["prevalence_train"], r["main_success"],
             r["control_success"], r["baseline_success"],
             "not estimable" if r["risk"] is None else r["risk"],
             f"{r['risk_ci95'][0]}–{r['risk_ci95'][1]}",
             "" if r["within_limit"] is None else r["within_limit"]]
            for r in pr.get("attribute_inference") or []
        ],
    )  # fmt: skip
    bias = _table(
        [
            "axis",
            "group",
            "real n",
            "twin n",
            "real GLD",
            "twin GLD",
            "real SEN",
            "twin SEN",
            "mean TVD",
            "max rate gap (points)",
            "hold-out's gap",
        ],
        [
            [
                b["axis"],
                b["group"],
                b["real_n"],
                b["twin_n"],
                b.get("real_gld"),
                b.get("twin_gld"),
                b.get("real_sen_any"),
                b.get("twin_sen_any"),
                b.get("mean_column_tvd"),
                b.get("max_rate_gap_points"),
                b.get("holdout_max_rate_gap_points"),
            ]
            for b in report["bias"]
        ],
    )
    rpp = _table(
        ["table", "KS", "real rows/person", "twin rows/person"],
        [
            [k, v["ks"], v["real_mean"], v["twin_mean"]]
            for k, v in report["rows_per_person"].items()
        ],
    )
    pairs = report["pair_fidelity"]
    worst_pairs = _table(["a", "b", "TVD"], [[w["a"], w["b"], w["tvd"]] for w in pairs["worst"]])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Synthetic twin quality report</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;
font-size:.85rem;text-align:left}}
.label{{background:#fde9d9;border:2px solid #c55a11;padding:.5rem}}
img{{max-width:100%}}</style></head><body>
<h1>Synthetic twin: quality report</h1>
<p class="label"><strong>{html.escape(str(p["label"]))}</strong>. Tier {_fmt(p["tier"])}, engine
{_fmt(p["engine"])}, seed {_fmt(p["seed"])}, made {_fmt(p["created_at"])} from store run
{_fmt(p["source_run"])}: {_fmt(p["real_persons"])} real persons, {_fmt(p["training_persons"])}
used to fit, the rest held out to measure privacy.</p>
<h2>Summary</h2>
{_table(["measure", "value"], [[k, v] for k, v in s.items()])}
<h2>Planted effects</h2>
<p>The same SQL and logistic models on the real secondary views and on the twin.</p>
{effects}
<img src="{FIGURES}/effects.png" alt="odds ratios, real against twin">
<h2>Column fidelity</h2>
<p>Distance of each column from the training rows: total variation distance (categories) or
Kolmogorov-Smirnov (numbers, dates). The hold-out bar is fresh real data: the noise floor.</p>
<img src="{FIGURES}/columns.png" alt="column distances">
<h2>Pair fidelity (person level)</h2>
<p>Mean TVD of the two-way tables of {pairs["pairs"]} column pairs: {_fmt(pairs["mean_tvd"])}.
Worst pairs:</p>
{worst_pairs}
<h2>Keys and timelines</h2>
{timelines}
{rpp}
<h2>Privacy</h2>
{_table(["measure", "value"], privacy_rows)}
<img src="{FIGURES}/privacy.png" alt="distance to closest record">
<h3>Attribute inference</h3>
<p>An attacker who knows a child's month of birth, sex, ethnicity and area (LSOA) takes a twin
record with the same values and reads off a sensitive fact. The risk compares how often that is
right for children used to fit the twin with children held out (anonymeter's measure):
0 means the twin tells the attacker nothing about the fitted children that it does not tell
about any child. The risk divides by the hold-out's miss rate, so a fact the hold-out attacks
miss fewer than 10 times (a rare fact in a small district) is shown as not estimable.</p>
{inference}
<h2>Bias: fidelity by subgroup</h2>
<p>The person flags are drawn within each ethnic group and sex. The goal judged: every ethnic
group x sex of at least 500 real persons within 2 percentage points of the real GLD, SEN and
ASQ rates. {_bias_goal_text(report.get("bias_goal") or {})}</p>
{bias}
<img src="{FIGURES}/bias.png" alt="GLD rate by subgroup">
<h2>Limitations</h2>
<ul>
<li>Every value in the twin is drawn from real rows of a tree leaf of at least
{_fmt(p["min_leaf"])} rows: categories and ranges are real ones; rare combinations may recur.</li>
<li>Relationships the method was not told about (across event tables, beyond the per-person
flags) are kept only as far as the trees find them; check an analysis on the real data through a
job before relying on it.</li>
<li>Subgroups under 50 real persons, or with none of the three rates known in both, are listed
but not scored.</li>
</ul>
</body></html>
"""


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json``, the charts and ``report.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = out_dir / FIGURES
    _effects_chart(report, figures / "effects.png")
    _columns_chart(report, figures / "columns.png")
    _privacy_chart(report, figures / "privacy.png")
    _bias_chart(report, figures / "bias.png")
    json_path = out_dir / REPORT_JSON
    slim = {**report, "privacy": {k: v for k, v in report["privacy"].items() if k != "distances"}}
    json_path.write_text(json.dumps(slim, indent=2, default=str))
    html_path = out_dir / REPORT_HTML
    html_path.write_text(render_html(report))
    return json_path, html_path
