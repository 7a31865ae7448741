"""``python -m bench.run --only spark``: the same ``joinedup link files`` job on DuckDB and Spark.

Each engine runs the whole job (read, train, score, cluster, write) as its own ``joinedup``
process: ``--engine duckdb`` (the peer: the default engine) and ``--engine spark
--spark-master local[2]`` (Spark in local mode on the same machine). Wall time and the peak RSS
of the joinedup process are measured (``wait4``); on Spark the JVM is a separate process whose
heap is capped by ``spark.driver.memory`` (1 GiB) and is not in that figure. Both outputs are
scored against the truth the same way as ``bench/linkage.py`` (clustered F1 at 0.9, pairwise F1
at 0.5), and the two engines' clusters are compared with each other (pairwise agreement), since
each trains its own model here (u sampling differs by engine on large data).

Results: ``bench/results/spark.json``; the ratio Spark / DuckDB is printed.

Usage: ``python -m bench.spark [--only fake_1000,historical_50k] [--spark-driver-memory 1g]``
(default: fake_1000, 1g).
"""

# SQL here names this benchmark's own files and tables, never a value.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.linkage import (
    CLUSTER_THRESHOLD,
    JOINEDUP,
    PREPARE,
    RESULTS,
    ROOT,
    _clusters_parquet,
    measure,
    score,
)

WORK = ROOT / "bench" / "work" / "spark"
DATASETS = ("fake_1000", "historical_50k")
ENGINES = ("duckdb", "spark")


def _agreement(a: Path, b: Path) -> dict[str, float | int]:
    """Pairwise agreement of two clusterings of the same records (F1 of one against the other)."""
    import duckdb

    con = duckdb.connect()
    pairs = []
    for name, path in (("a", a), ("b", b)):
        con.execute(
            f"CREATE TABLE {name}_c AS SELECT source || '/' || record_id AS k, cluster_id "
            f"FROM read_parquet('{path}')"
        )
        con.execute(
            f"CREATE TABLE {name} AS SELECT x.k AS l, y.k AS r FROM {name}_c x "
            f"JOIN {name}_c y USING (cluster_id) WHERE x.k < y.k"
        )
        row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        pairs.append(int(row[0]) if row else 0)
    row = con.execute("SELECT count(*) FROM a JOIN b USING (l, r)").fetchone()
    both = int(row[0]) if row else 0
    f1 = 2 * both / (pairs[0] + pairs[1]) if pairs[0] + pairs[1] else 1.0
    return {"pairs_duckdb": pairs[0], "pairs_spark": pairs[1], "pairs_both": both, "f1": f1}


def bench_dataset(name: str, driver_memory: str = "1g") -> dict[str, Any]:
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    dataset = PREPARE[name](work)
    runs: dict[str, dict[str, Any]] = {}
    clusters: dict[str, Path] = {}
    for engine in ENGINES:
        print(f"[bench] spark {name}: joinedup link files --engine {engine} ...", flush=True)
        out = work / engine
        extra = (
            [
                "--spark-checkpoint-dir",
                str(work / "checkpoints"),
                "--spark-driver-memory",
                driver_memory,
            ]
            if engine == "spark"
            else []
        )
        run = measure(
            [
                str(JOINEDUP),
                "link",
                "files",
                *(str(f) for f in dataset.files),
                "--out",
                str(out),
                "--threshold",
                str(CLUSTER_THRESHOLD),
                "--scored-pairs",
                "--engine",
                engine,
                *extra,
                *dataset.joinedup_args,
                "--json",
            ]
        )
        report = json.loads((out / "report.json").read_text())
        # _clusters_parquet writes one file per work folder; keep each engine's
        clusters[engine] = Path(shutil.copyfile(_clusters_parquet(out), work / f"{engine}.parquet"))
        runs[engine] = {
            **score(
                out / "scored_pairs.parquet",
                clusters[engine],
                dataset.truth,
                dataset.link_type,
            ),
            "wall_seconds": run.wall_seconds,
            "cpu_seconds": run.cpu_seconds,
            "peak_rss_mib_joinedup_process": run.peak_rss_mib,
            "step_seconds": report.get("seconds"),
        }
    duck, spark = runs["duckdb"], runs["spark"]
    return {
        "dataset": name,
        "link_type": dataset.link_type,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "spark_driver_memory": driver_memory,
        "peer_duckdb": duck,
        "spark_local2": spark,
        "ratio_spark_over_duckdb": {
            k: round(spark[k] / duck[k], 4) if duck[k] else None
            for k in ("wall_seconds", "clustered_f1", "pairwise_f1")
        },
        "clusters_agreement": _agreement(clusters["duckdb"], clusters["spark"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="fake_1000", help="comma-separated datasets")
    parser.add_argument("--spark-driver-memory", default="1g", help="Spark's driver heap")
    ns = parser.parse_args(argv)
    names = [n for n in ns.only.split(",") if n]
    unknown = set(names) - set(DATASETS)
    if unknown:
        raise SystemExit(f"unknown datasets: {sorted(unknown)}; choose from {DATASETS}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = [bench_dataset(n, ns.spark_driver_memory) for n in names]
    out = RESULTS / "spark.json"
    # datasets not run this time keep their last figures
    kept = []
    if out.exists():
        kept = [
            d for d in json.loads(out.read_text()).get("datasets", []) if d["dataset"] not in names
        ]
    payload = {
        "benchmark": "spark",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        },
        "spark_master": "local[2]",
        "datasets": kept + results,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    for r in results:
        d, s = r["peer_duckdb"], r["spark_local2"]
        print(f"\n[bench] spark: {r['dataset']} ({r['link_type']})")
        print(f"  {'':16} {'DuckDB':>10} {'Spark':>10} {'ratio':>8}")
        for label, key in (
            ("wall s", "wall_seconds"),
            ("clustered F1", "clustered_f1"),
            ("pairwise F1", "pairwise_f1"),
        ):
            ratio = r["ratio_spark_over_duckdb"][key]
            print(f"  {label:16} {d[key]!s:>10} {s[key]!s:>10} {ratio!s:>8}")
        print(f"  clusters agreement (pairwise F1 between engines): {r['clusters_agreement']}")
    print(f"\n[bench] wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
