"""``python -m bench.run --only outputs``: the disclosure checker against its targets and its peer.

Measures (results in ``bench/results/outputs.json``):

1. checker time given evidence: p50/p95 of ``check_table`` on tables of 100, 1,000 and 10,000
   cells (counts with secondary suppression, and means with dominance rules); target p95 <= 50 ms;
2. evidence time: ``collect_evidence`` on 1,000,000 rows (1,000 cells), counts and a value;
   target <= 1 s on 2 cores;
3. the peer, ACRO 1.0.2 (its own venv, ``make install-acro``), on the same tables from the same
   rows, beside joinedup end to end (evidence + check), with the ratio;
4. the attacks: the count and magnitude scenarios of ``tests/outputs/test_attacks.py`` run through
   both engines; an attacker who sees only the released tables (``tests/outputs/attacker.py``)
   counts the small groups it pins and the children's values it recovers;
5. whether ACRO's own ``load_records`` (SACRO-Viewer's format) reads joinedup's ``results.json``.
"""

# SQL here is built from fixed names and the benchmark's own scenario filters (no input).
# ruff: noqa: S608

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from joinedup.outputs import OutputSession, Statistic, check_table, collect_evidence, get_profile
from joinedup.outputs.check import complete_grid
from joinedup.outputs.evidence import evidence_from_arrays
from tests.outputs.attacker import Cell, Mechanism, cells_from_release, disclosed, small_groups
from tests.outputs.conftest import new_connection, pupil_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ACRO_PYTHON = ROOT / ".venv-acro" / "bin" / "python"


def _pcts(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def _grid_evidence(rows: int, cols: int, rng: np.random.Generator) -> Any:
    n = rng.choice(
        [0, 1, 3, 7, 12, 25, 60, 150, 400],
        size=rows * cols,
        p=[0.02, 0.01, 0.01, 0.01, 0.15, 0.3, 0.3, 0.15, 0.05],
    )
    keys = (
        np.repeat(np.array([f"r{i:03d}" for i in range(rows)], dtype=object), cols),
        np.tile(np.array([f"c{j:03d}" for j in range(cols)], dtype=object), rows),
    )
    total = n * rng.uniform(5, 15, size=n.shape)
    top1 = np.minimum(total, rng.uniform(10, 40, size=n.shape))
    top2 = np.minimum(total - top1, rng.uniform(5, 20, size=n.shape))
    return evidence_from_arrays(
        dims=("r", "c"),
        keys=keys,
        n=n.astype(np.int64),
        total=total,
        top1=top1,
        top2=np.maximum(top2, 0),
    )


def bench_checker() -> list[dict[str, Any]]:
    rng = np.random.default_rng(5)
    profile = get_profile("joinedup")
    out = []
    for rows, cols, repeats in ((10, 10, 50), (40, 25, 30), (100, 100, 20)):
        ev = _grid_evidence(rows, cols, rng)
        for stat in (Statistic.COUNT, Statistic.MEAN):
            times = []
            result = None
            for _ in range(repeats):
                t = time.perf_counter()
                result = check_table(ev, profile, statistic=stat)
                times.append(time.perf_counter() - t)
            assert result is not None
            row = {
                "cells": rows * cols,
                "statistic": stat.value,
                "repeats": repeats,
                **_pcts(times),
                "primary": int((result.status == "suppressed").sum()),
                "secondary": int((result.status == "secondary").sum()),
                "secondary_lp_checked": result.lp_checked,
            }
            print(
                f"[bench] checker {rows * cols} cells {stat.value}: p95 {row['p95_ms']} ms",
                flush=True,
            )
            out.append(row)
    return out


def bench_evidence(work: Path) -> dict[str, Any]:
    con = duckdb.connect(str(work / "evidence.duckdb"))
    con.execute("SET threads = 2")
    con.execute(
        "CREATE OR REPLACE TABLE t AS SELECT 'P' || lpad(i::VARCHAR, 7, '0') AS person_id, "
        "(i % 20)::VARCHAR AS la, (hash(i) % 50)::VARCHAR AS grp, (hash(i * 7) % 100)::DOUBLE AS v "
        "FROM range(1000000) r(i)"
    )
    result: dict[str, Any] = {"rows": 1_000_000, "cells": 1000, "threads": 2}
    for label, value in (("counts", None), ("value", "v")):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            collect_evidence(con.table("t"), by=["la", "grp"], person="person_id", value=value)
            times.append(time.perf_counter() - t)
        result[label] = {
            "seconds_min": round(min(times), 3),
            "seconds_p50": round(float(np.median(times)), 3),
        }
        print(f"[bench] evidence 1M rows {label}: p50 {result[label]['seconds_p50']} s", flush=True)
    con.close()
    return result


def _acro(job: dict[str, Any], work: Path) -> dict[str, Any] | None:
    if not ACRO_PYTHON.exists():
        print("[bench] ACRO venv missing: run `make install-acro`", flush=True)
        return None
    job_path, out_path = work / "acro_job.json", work / "acro_out.json"
    job_path.write_text(json.dumps(job))
    subprocess.run(
        [str(ACRO_PYTHON), str(ROOT / "bench" / "acro_peer.py"), str(job_path), str(out_path)],
        check=True,
        cwd=ROOT,
    )
    data: dict[str, Any] = json.loads(out_path.read_text())
    return data


def _frame(rows: int, n_r: int, n_c: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "person_id": [f"P{i:07d}" for i in range(rows)],
            "a": [f"a{x:03d}" for x in rng.integers(0, n_r, rows)],
            "b": [f"b{x:03d}" for x in rng.integers(0, n_c, rows)],
            "v": rng.gamma(2.0, 5.0, rows),
        }
    )


def bench_peer_tables(work: Path) -> list[dict[str, Any]]:
    specs = [(100_000, 10, 10, 3), (100_000, 40, 25, 2), (100_000, 100, 100, 1)]
    timing = []
    ours = []
    profile = get_profile("joinedup")
    for k, (rows, n_r, n_c, repeats) in enumerate(specs):
        table = _frame(rows, n_r, n_c, k)
        path = work / f"peer{k}.csv"
        pacsv.write_csv(table, path)
        for kind in ("count", "mean"):
            timing.append(
                {
                    "data": str(path),
                    "cells": n_r * n_c,
                    "kind": kind,
                    "by": ["a", "b"],
                    "value": "v",
                    "repeats": repeats,
                }
            )
            con = duckdb.connect()
            con.execute("SET threads = 2")
            con.register("src_table", table)
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                ev = collect_evidence(
                    con.table("src_table"),
                    by=["a", "b"],
                    person="person_id",
                    value=None if kind == "count" else "v",
                )
                if kind == "count":
                    ev = complete_grid(ev)
                check_table(
                    ev, profile, statistic=Statistic.COUNT if kind == "count" else Statistic.MEAN
                )
                times.append(time.perf_counter() - t)
            ours.append({"cells": n_r * n_c, "rows": rows, "kind": kind, "seconds": times})
            con.close()
    peer = _acro({"timing": timing}, work)
    out = []
    for k, mine in enumerate(ours):
        row: dict[str, Any] = {
            "cells": mine["cells"],
            "rows": mine["rows"],
            "kind": mine["kind"],
            "joinedup_seconds_p50": round(float(np.median(mine["seconds"])), 3),
        }
        if peer is not None:
            theirs = peer["timings"][k]["seconds"]
            row["acro_seconds_p50"] = round(float(np.median(theirs)), 3)
            row["acro_over_joinedup"] = round(
                row["acro_seconds_p50"] / max(row["joinedup_seconds_p50"], 1e-6), 1
            )
        print(f"[bench] peer table {row}", flush=True)
        out.append(row)
    return out


# ------------------------------------------------------------------ attack scenarios
def _ids(con: duckdb.DuckDBPyConnection, where: str) -> list[str]:
    return [
        str(r[0]) for r in con.execute(f"SELECT person_id FROM pupils WHERE {where}").fetchall()
    ]


def _scenarios(rows: list[tuple[object, ...]]) -> list[dict[str, Any]]:
    sc: list[dict[str, Any]] = []
    sc.append({"family": "oneway", "releases": [("TRUE", ["la", "sen"]), ("TRUE", ["sen"])]})
    sc.append({"family": "oneway", "releases": [("TRUE", ["la", "sen"]), ("TRUE", ["la"])]})
    for child in (0, 3, 45, 150, 230, 310, 420, 520, 560, 600):
        sc.append(
            {
                "family": "filter",
                "victim": rows[child][0],
                "releases": [("TRUE", ["la"]), (f"person_id <> '{rows[child][0]}'", ["la"])],
            }
        )
    for cohorts in (
        [("LA1", "LA4"), ("LA1",)],
        [("LA1", "LA4"), ("LA2", "LA4"), ("LA1", "LA2")],
        [("LA2", "LA3", "LA4"), ("LA2", "LA3")],
        [("LA3", "LA4"), ("LA3",), ("LA4", "LA5"), ("LA5",)],
    ):
        sc.append(
            {
                "family": "overlap",
                "releases": [
                    ("la IN (" + ", ".join(f"'{x}'" for x in c) + ")", ["sen"]) for c in cohorts
                ],
            }
        )
    for start in (200, 300, 400, 500, 550, 600):
        sc.append(
            {
                "family": "rerun",
                "releases": [
                    (f"TRY_CAST(substr(person_id, 2) AS INT) < {start + m}", ["sen"])
                    for m in range(3)
                ],
            }
        )
    sc.append({"family": "class", "releases": [("TRUE", ["la", "fsm"]), ("TRUE", ["la"])]})
    for child in (0, 60, 130, 222, 333, 444, 505, 560, 590, 620):
        sc.append(
            {
                "family": "mean",
                "victim": rows[child][0],
                "releases": [("TRUE", ["la"]), (f"person_id <> '{rows[child][0]}'", ["la"])],
            }
        )
    return sc


def _members(
    con: duckdb.DuckDBPyConnection, where: str, by: list[str]
) -> dict[tuple[str, ...], frozenset[str]]:
    cols = ", ".join(f"CAST({c} AS VARCHAR)" for c in by)
    out: dict[tuple[str, ...], set[str]] = {}
    for *labels, pid in con.execute(
        f"SELECT {cols}, person_id FROM pupils_attacker WHERE {where}"
    ).fetchall():
        out.setdefault(tuple(labels), set()).add(pid)
    return {k: frozenset(v) for k, v in out.items()}


def _count_disclosed(
    known: list[Cell], extra: list[frozenset[str]], threshold: int, width: int
) -> int:
    return len(disclosed(known, small_groups(known, threshold) + extra, width))


def bench_attacks(work: Path) -> dict[str, Any]:
    rows = pupil_rows()
    con = new_connection(rows)
    scenarios = _scenarios(rows)
    # ACRO: the same releases (cohort = person ids), run in its own venv
    data_path = work / "pupils.csv"
    con.execute(f"COPY pupils TO '{data_path}' (FORMAT csv, HEADER)")
    job = {
        "data": str(data_path),
        "bundle": None,
        "scenarios": [
            {
                "releases": [
                    {
                        "kind": "mean" if s["family"] == "mean" else "count",
                        "by": by,
                        "value": "absence",
                        "ids": None if where == "TRUE" else _ids(con, where),
                    }
                    for where, by in s["releases"]
                ]
            }
            for s in scenarios
        ],
    }
    t = time.perf_counter()
    peer = _acro(job, work)
    acro_seconds = time.perf_counter() - t
    la4 = [m for m in _members(con, "la = 'LA4'", ["sen"]).values()]
    per_family: dict[str, dict[str, int]] = {}
    t = time.perf_counter()
    for k, s in enumerate(scenarios):
        fam = per_family.setdefault(
            s["family"],
            {
                "scenarios": 0,
                "joinedup": 0,
                "acro": 0,
                "joinedup_released": 0,
                "acro_released": 0,
                "releases": 0,
            },
        )
        fam["scenarios"] += 1
        extra = la4 + ([frozenset({s["victim"]})] if "victim" in s else [])
        # joinedup
        session = OutputSession(
            new_connection(rows),
            project_id=f"S{k}",
            release_dir=work / f"rel{k}",
            staging_dir=work / f"stage{k}",
        )
        known: list[Cell] = []
        mine_means = []
        for where, by in s["releases"]:
            fam["releases"] += 1
            rel = session.con.sql(f"SELECT * FROM pupils WHERE {where}")
            if s["family"] == "mean":
                out = (
                    session.summary("m", rel, by=by, value="absence", statistic="mean")
                    if not mine_means
                    else session.summary("m2", rel, by=by, value="absence", statistic="mean")
                )
                mine_means.append(out.released.get("cells", {}) if out.is_released else {})
                fam["joinedup_released"] += int(out.is_released)
                continue
            out = session.table(f"t{len(known)}_{by[0]}_{len(by)}", rel, by=by)
            fam["joinedup_released"] += int(out.is_released)
            if out.is_released:
                p = session.profile
                mech = Mechanism(
                    threshold=p.threshold,
                    round_base=p.round_base,
                    noise=p.perturb_max if out.perturbed else 0,
                    secondary=p.secondary,
                )
                known += cells_from_release(out.files[0], _members(con, where, by), mech)
        if s["family"] == "mean":
            fam["joinedup"] += _mean_recovered(rows, s["victim"], mine_means)
        else:
            fam["joinedup"] += _count_disclosed(known, extra, 10, 5)
        if peer is None:
            continue
        theirs = peer["scenarios"][k]
        if s["family"] == "mean":
            means = [
                {tuple(lab.split("|")): v for lab, v in r.items() if v is not None} for r in theirs
            ]
            fam["acro_released"] += sum(1 for r in theirs if r)
            fam["acro"] += _mean_recovered(rows, s["victim"], means)
            continue
        known_acro: list[Cell] = []
        mech = Mechanism(threshold=10, round_base=1, secondary=False)
        for (where, by), released in zip(s["releases"], theirs, strict=True):
            fam["acro_released"] += 1
            members = _members(con, where, by)
            for lab, v in released.items():
                lo, hi = mech.interval("[suppressed]" if v is None else f"{v:g}")
                known_acro.append(
                    Cell(members=members.get(tuple(lab.split("|")), frozenset()), lo=lo, hi=hi)
                )
        fam["acro"] += _count_disclosed(known_acro, extra, 10, 1)
    ours_seconds = time.perf_counter() - t
    # one more check: ACRO reads our bundle
    session = OutputSession(
        new_connection(rows),
        project_id="B",
        release_dir=work / "bundle",
        staging_dir=work / "bundle_stage",
    )
    session.table("la_by_sen", session.con.sql("SELECT * FROM pupils"), by=["la", "sen"])
    session.summary("absence", session.con.sql("SELECT * FROM pupils"), by=["la"], value="absence")
    loaded = _acro({"bundle": str(work / "bundle")}, work) if peer is not None else None
    totals = {e: sum(f[e] for f in per_family.values()) for e in ("joinedup", "acro")}
    return {
        "scenarios": len(scenarios),
        "per_family": per_family,
        "disclosed_total": totals,
        "joinedup_seconds_all_scenarios": round(ours_seconds, 2),
        "acro_seconds_all_scenarios": round(acro_seconds, 2),
        "acro_reads_joinedup_bundle": loaded,
        "note": "disclosed = small groups (1-9) pinned narrower than the rounding base (5 for "
        "joinedup; exactly for ACRO, which does not round) plus children's values recovered "
        "within 10% from means; the attacker sees only released tables",
    }


def _mean_recovered(
    rows: list[tuple[object, ...]], victim: str, means: list[dict[tuple[str, ...], float]]
) -> int:
    if len(means) < 2:
        return 0
    row = next(r for r in rows if r[0] == victim)
    cell = (str(row[1]),)
    a, b = means[0].get(cell), means[1].get(cell)
    if a is None or b is None:
        return 0
    n = sum(1 for r in rows if r[1] == row[1])
    estimate = a * n - b * (n - 1)
    return int(abs(estimate - float(row[4])) <= 0.1 * max(abs(float(row[4])), 1.0))


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="outputs-bench-") as tmp:
        work = Path(tmp)
        result = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average_at_start": os.getloadavg(),
            },
            "checker_given_evidence": bench_checker(),
            "evidence_1m_rows": bench_evidence(work),
            "peer_tables": bench_peer_tables(work),
            "attacks": bench_attacks(work),
        }
    result["machine"]["load_average_at_end"] = os.getloadavg()  # type: ignore[index]
    (RESULTS / "outputs.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result["attacks"]["disclosed_total"]), flush=True)


if __name__ == "__main__":
    main()
