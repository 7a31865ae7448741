"""``python -m bench.run --only incremental``: a full against an incremental refresh as new
records arrive.

A simulated district is split into an earlier snapshot (every 20th row of each agency extract
withheld, ``joinedup.simulate.write_earlier_extracts``) and the later, whole one. The node
ingests the earlier snapshot and refreshes (training the model and filling the pair cache: not
compared), then ingests the later one (about 5% new records). From that same state, copied,
two refreshes run, each as its own ``joinedup`` process (wall time and peak RSS by ``wait4``):

- **incremental**: ``joinedup node refresh NODE`` (the default): pairs of unchanged profiles
  come from the pair cache, only pairs with a new or changed profile are scored;
- **full**: ``joinedup node refresh NODE --full``: every pair scored, term frequencies
  recomputed.

Reported: both wall times and their ratio, the Splink stage's own seconds in each, the pairs
reused and newly scored, and the agreement of the two person indexes (the share of records
whose person holds exactly the same records in both), beside each index's pairwise precision,
recall and F1 against the simulator's truth.

Results: ``bench/results/incremental.json`` (``incremental-<N>.json`` for another size than
20,000). Usage: ``python -m bench.run --only incremental [--people N] [--seed S] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.run import RESULTS, ROOT, WORK, run_stage, score_index

DEFAULT_PEOPLE = 20_000
DEFAULT_SEED = 11
WITHHOLD_EVERY = 20


def persons_by_record(node: Path) -> dict[str, frozenset[str]]:
    """Each record's person, as the set of records sharing it (person ids differ by run)."""
    import duckdb

    con = duckdb.connect(str(node / "store.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT list(record_key) FROM link__record_person GROUP BY person_id"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, frozenset[str]] = {}
    for (keys,) in rows:
        group = frozenset(keys)
        for key in keys:
            out[key] = group
    return out


def _last_run(node: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(node / "store.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT persons, linkage FROM link__runs ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return {"persons": int(row[0]), "splink": json.loads(row[1]).get("splink-v1", {})}


def bench_incremental(people: int, seed: int, keep: bool) -> dict[str, Any]:
    from joinedup.simulate import write_earlier_extracts

    work = WORK / f"incremental-{people}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    later, earlier, node = work / "later", work / "earlier", work / "node"
    run_stage(
        "simulate", ["simulate", "--people", str(people), "--seed", str(seed), "--out", str(later)]
    )
    withheld = write_earlier_extracts(later, earlier, withhold_every=WITHHOLD_EVERY)
    run_stage("node init", ["node", "init", str(node)])
    run_stage("ingest earlier", ["source", "ingest-dir", str(node), str(earlier), "--json"])
    first = run_stage("first refresh (trains)", ["node", "refresh", str(node), "--json"])
    first_run = _last_run(node)
    run_stage("ingest later", ["source", "ingest-dir", str(node), str(later), "--json"])
    full_node = work / "node_full"
    shutil.copytree(node, full_node)
    incremental = run_stage("refresh incremental", ["node", "refresh", str(node), "--json"])
    incremental_run = _last_run(node)
    full = run_stage("refresh --full", ["node", "refresh", str(full_node), "--full", "--json"])
    full_run = _last_run(full_node)

    a, b = persons_by_record(node), persons_by_record(full_node)
    same = sum(1 for k in a if b.get(k) == a[k])
    truth = later / "truth" / "person_map.csv"
    result = {
        "people": people,
        "seed": seed,
        "rows_withheld_from_the_earlier_snapshot": withheld,
        "withhold_every": WITHHOLD_EVERY,
        "first_refresh": {**asdict(first), "splink": first_run["splink"]},
        "incremental": {
            **asdict(incremental),
            "persons": incremental_run["persons"],
            "splink": incremental_run["splink"],
            "vs_truth": score_index(node, truth)["joinedup_person_index"],
        },
        "full": {
            **asdict(full),
            "persons": full_run["persons"],
            "splink": full_run["splink"],
            "vs_truth": score_index(full_node, truth)["joinedup_person_index"],
        },
        "full_over_incremental_wall": round(full.wall_seconds / incremental.wall_seconds, 2),
        "full_over_incremental_splink_stage": round(
            float(full_run["splink"].get("seconds", 0))
            / max(float(incremental_run["splink"].get("seconds", 0)), 1e-9),
            2,
        ),
        "person_agreement": {
            "records": len(a),
            "records_with_the_same_person": same,
            "share": round(same / len(a), 6) if a else None,
            "persons_incremental": incremental_run["persons"],
            "persons_full": full_run["persons"],
        },
    }
    if not keep:
        shutil.rmtree(work)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help="district size")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="simulator seed")
    parser.add_argument("--keep", action="store_true", help="keep bench/work afterwards")
    ns = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "incremental",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **bench_incremental(ns.people, ns.seed, ns.keep),
    }
    name = "incremental.json" if ns.people == DEFAULT_PEOPLE else f"incremental-{ns.people}.json"
    out = RESULTS / name
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] wrote {out.relative_to(ROOT)}")
    agreement = result["person_agreement"]
    print(
        f"[bench] refresh with ~5% new records: full {result['full']['wall_seconds']} s, "
        f"incremental {result['incremental']['wall_seconds']} s "
        f"(ratio {result['full_over_incremental_wall']}); Splink stage full "
        f"{result['full']['splink'].get('seconds')} s, incremental "
        f"{result['incremental']['splink'].get('seconds')} s; records with the same person "
        f"{agreement['share']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
