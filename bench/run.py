"""``make bench``: the spine at Connected Bradford scale, stage by stage.

Each stage runs as its own ``joinedup`` process so that its wall time and peak resident memory
(``wait4`` rusage of that process alone) are measured honestly, the way a node operator would run
it. Results go to ``bench/results/spine.json``; the work folder is ``bench/work/`` (git-ignored).

Usage: ``python -m bench.run [--only spine|linkage|outputs|spark|synth|incremental] [--people N]
[--seed S] [--keep]``; with no ``--only`` it runs the spine, the linkage benchmark
(``bench/linkage.py``), the disclosure-control benchmark (``bench/outputs.py``), the
DuckDB-against-Spark benchmark (``bench/spark.py``) and the full-against-incremental refresh
benchmark (``bench/incremental.py``, 20,000 people unless ``--only incremental --people N``);
``--only synth`` runs the synthetic twin benchmark (``bench/synth.py``, with its own options).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work"
JOINEDUP = Path(sys.executable).parent / "joinedup"


@dataclass(frozen=True, slots=True, kw_only=True)
class StageResult:
    stage: str
    command: list[str]
    wall_seconds: float
    user_seconds: float
    system_seconds: float
    peak_rss_mib: float
    exit_code: int


def run_stage(stage: str, args: list[str]) -> StageResult:
    """Run one joinedup command, measuring that process alone."""
    command = [str(JOINEDUP), *args]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = StageResult(
        stage=stage,
        command=["joinedup", *args],
        wall_seconds=round(wall, 2),
        user_seconds=round(usage.ru_utime, 2),
        system_seconds=round(usage.ru_stime, 2),
        # ru_maxrss is in KiB on Linux
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
        exit_code=proc.returncode,
    )
    print(
        f"[bench] {stage}: {result.wall_seconds:.1f} s, peak {result.peak_rss_mib:.0f} MiB,"
        f" exit {result.exit_code}",
        flush=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} failed with exit code {proc.returncode}")
    return result


def score_index(node: Path, truth: Path) -> dict[str, object]:
    """The node's person index and the naive peer (exact name + date of birth), against truth.

    Exact name and date-of-birth matching is what an analyst without a linkage tool would do; it
    is the comparator the linkage research note uses.
    """
    import duckdb

    from joinedup.config import load_node
    from joinedup.link import LinkageScore, score_against_truth
    from joinedup.link.refresh import attach_vault

    settings = load_node(node)
    con = duckdb.connect(str(settings.store_path), read_only=True)
    try:
        attach_vault(con, settings.vault_path)
        ours = score_against_truth(con, truth)
        method_row = con.execute(
            "SELECT method FROM link__runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        con.execute(
            "CREATE TEMP TABLE peer_record_person AS SELECT record_key, "
            "CASE WHEN given_name_norm IS NULL OR family_name_norm IS NULL "
            "OR date_of_birth IS NULL THEN record_key "
            "ELSE md5(given_name_norm || '|' || family_name_norm || '|' || date_of_birth) "
            "END AS person_id FROM vault.vault__identities"
        )
        peer = score_against_truth(con, truth, record_person="peer_record_person")
    finally:
        con.close()

    def as_dict(score: LinkageScore) -> dict[str, float]:
        return {
            "precision": round(score.precision, 5),
            "recall": round(score.recall, 5),
            "f1": round(score.f1, 5),
        }

    result = {
        "records_scored": ours.records_scored,
        "joinedup_person_index": {
            "method": method_row[0] if method_row else None,
            **as_dict(ours),
        },
        "peer_exact_name_dob": as_dict(peer),
        "recall_ratio": round(ours.recall / peer.recall, 3) if peer.recall else None,
        "f1_ratio": round(ours.f1 / peer.f1, 3) if peer.f1 else None,
    }
    print(
        f"[bench] person index vs truth: precision {ours.precision:.5f}, recall"
        f" {ours.recall:.4f}, F1 {ours.f1:.4f}; peer exact name+DOB: precision"
        f" {peer.precision:.5f}, recall {peer.recall:.4f}, F1 {peer.f1:.4f};"
        f" F1 ratio {result['f1_ratio']}",
        flush=True,
    )
    return result


# the linkage issue's goals for a simulated district, judged on the node's own linkage report
DISTRICT_GOALS = {
    "precision_min": 0.999,
    "subgroup_precision_min": 0.995,
    "ethnic_recall_gap_points_max": 3.0,
    "f1_min": 0.985,
    "label_free_precision_error_points_max": 0.5,
    "label_free_recall_error_points_max": 2.0,
}
# subgroups judged: at least this many predicted pairs (precision) or true pairs (recall gap),
# the floor the children benchmark uses; smaller ones are listed, not judged
MIN_SUBGROUP_PAIRS = 1000


def district_targets(report: dict[str, Any]) -> dict[str, Any]:
    """The district goals from a ``joinedup link report --truth`` JSON: overall precision and
    F1, precision in every subgroup, the recall gap between ethnic groups, and the label-free
    estimates beside the truth."""
    from joinedup.link.report import NOT_A_CHILD

    overall = report["truth_overall"]
    precision = overall["precision"]["value"]
    recall = overall["recall"]["value"]
    subgroups = report["subgroups"]
    # the goals are for children's subgroups; records of adults (housing tenants) are reported
    # beside them (they are the same records under every kind, so one row is kept)
    adults = next((g for g in subgroups if g["group"] == NOT_A_CHILD), None)
    children = [g for g in subgroups if g["group"] != NOT_A_CHILD]
    judged = [g for g in children if g["precision"]["denominator"] >= MIN_SUBGROUP_PAIRS]
    worst = min(judged, key=lambda g: g["precision"]["value"])
    ethnic = {
        g["group"]: g["recall"]["value"]
        for g in children
        if g["kind"] == "ethnic_group" and g["recall"]["denominator"] >= MIN_SUBGROUP_PAIRS
    }
    gap = 100 * (max(ethnic.values()) - min(ethnic.values())) if len(ethnic) >= 2 else None
    label_free = report["label_free"]
    # the linkage model's estimates (from the refresh's match probabilities); the report's own
    # independent weights are kept beside them
    est_p, est_r = label_free["model_expected_precision"], label_free["model_expected_recall"]
    p_err = None if est_p is None else 100 * (est_p - precision)
    r_err = None if est_r is None else 100 * (est_r - recall)
    goals = DISTRICT_GOALS
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(overall["f1"], 5),
        "subgroup_precision_min": round(worst["precision"]["value"], 5),
        "subgroup_precision_min_group": f"{worst['kind']} = {worst['group']}",
        "subgroups_judged": len(judged),
        "subgroups_too_small": sorted(
            f"{g['kind']} = {g['group']}" for g in children if g not in judged
        ),
        "adult_records": None
        if adults is None
        else {
            "records": adults["records"],
            "predicted_pairs": adults["precision"]["denominator"],
            "precision": adults["precision"]["value"],
            "recall": adults["recall"]["value"],
        },
        "recall_by_ethnic_group": {k: round(v, 5) for k, v in sorted(ethnic.items())},
        "ethnic_recall_gap_points": None if gap is None else round(gap, 2),
        "label_free_precision": est_p,
        "label_free_recall": est_r,
        "label_free_precision_error_points": None if p_err is None else round(p_err, 2),
        "label_free_recall_error_points": None if r_err is None else round(r_err, 2),
        "report_weights_precision": label_free["expected_precision"],
        "report_weights_recall": label_free["expected_recall"],
        "goals": goals,
        "goals_met": {
            "precision": precision >= goals["precision_min"],
            "subgroup_precision": worst["precision"]["value"] >= goals["subgroup_precision_min"],
            "ethnic_recall_gap": gap is not None and gap <= goals["ethnic_recall_gap_points_max"],
            "f1": overall["f1"] >= goals["f1_min"],
            "label_free_precision": p_err is not None
            and abs(p_err) <= goals["label_free_precision_error_points_max"],
            "label_free_recall": r_err is not None
            and abs(r_err) <= goals["label_free_recall_error_points_max"],
        },
    }


def bench_spine(people: int, seed: int, keep: bool) -> dict[str, object]:
    work = WORK / f"spine-{people}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    extracts, node = work / "extracts", work / "node"
    stages = [
        run_stage(
            "simulate",
            ["simulate", "--people", str(people), "--seed", str(seed), "--out", str(extracts)],
        ),
        run_stage("node init", ["node", "init", str(node)]),
        run_stage("ingest", ["source", "ingest-dir", str(node), str(extracts), "--json"]),
        run_stage("refresh (person index + linked store)", ["node", "refresh", str(node)]),
    ]
    accuracy = score_index(node, extracts / "truth" / "person_map.csv")
    report_json = work / "linkage-report.json"
    stages.append(
        run_stage(
            "link report (with truth; not part of the spine)",
            [
                "link",
                "report",
                str(node),
                "--truth",
                str(extracts / "truth"),
                "--out",
                str(work / "linkage-report.html"),
                "--json-out",
                str(report_json),
            ],
        )
    )
    district = district_targets(json.loads(report_json.read_text()))
    print(
        f"[bench] district linkage: precision {district['precision']}, F1 {district['f1']},"
        f" lowest subgroup precision {district['subgroup_precision_min']}"
        f" ({district['subgroup_precision_min_group']}), ethnic recall gap"
        f" {district['ethnic_recall_gap_points']} points; label-free error"
        f" {district['label_free_precision_error_points']} (precision),"
        f" {district['label_free_recall_error_points']} (recall) points;"
        f" goals met: {district['goals_met']}",
        flush=True,
    )
    pipeline = [s for s in stages if s.stage not in ("simulate", stages[-1].stage)]
    total_wall = sum(s.wall_seconds for s in pipeline)
    peak = max(s.peak_rss_mib for s in pipeline)
    dominant = max(pipeline, key=lambda s: s.wall_seconds)
    sizes = {
        p.name: p.stat().st_size for p in node.iterdir() if p.suffix == ".duckdb" and p.is_file()
    }
    extract_bytes = sum(p.stat().st_size for p in extracts.rglob("*") if p.is_file())
    if not keep:
        shutil.rmtree(work)
    return {
        "people": people,
        "seed": seed,
        "stages": [asdict(s) for s in stages],
        "spine_wall_seconds": round(total_wall, 1),
        "spine_peak_rss_mib": peak,
        "dominant_stage": dominant.stage,
        "goal": {"spine_wall_seconds_max": 600, "spine_peak_rss_mib_max": 8192},
        "goal_met": total_wall <= 600 and peak <= 8192,
        "person_index_vs_truth": accuracy,
        "district_linkage": district,
        "extract_bytes": extract_bytes,
        "database_bytes": sizes,
        "note": "spine = node init + ingest + refresh; simulation is timed but is not part of the"
        " spine (a real node receives extracts, it does not make them)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # None: each benchmark's own default (600,000 and 11 here; synth and incremental differ)
    parser.add_argument("--people", type=int, help="district size (people; default 600,000)")
    parser.add_argument("--seed", type=int, help="simulator seed (default 11)")
    parser.add_argument("--keep", action="store_true", help="keep bench/work afterwards")
    parser.add_argument(
        "--only",
        choices=("spine", "linkage", "outputs", "spark", "synth", "incremental"),
        help="run one benchmark (default: all but synth)",
    )
    ns, rest = parser.parse_known_args(argv)
    if ns.only == "synth":
        from bench import synth

        # the synthetic twin's own options (--people defaults to 20,000 there)
        people = [] if ns.people is None else ["--people", str(ns.people)]
        seed = [] if ns.seed is None else ["--seed", str(ns.seed)]
        return synth.main([*people, *seed, *rest])
    if ns.only == "incremental":
        from bench import incremental

        people = [] if ns.people is None else ["--people", str(ns.people)]
        seed = [] if ns.seed is None else ["--seed", str(ns.seed)]
        keep = ["--keep"] if ns.keep else []
        return incremental.main([*people, *seed, *keep, *rest])
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if ns.only in (None, "spine"):
        bench_spine_main(ns)
    if ns.only in (None, "linkage"):
        from bench import linkage

        # every dataset beside the peer, the children at 100,000 per file; then the issue's
        # 1M x 1M case for joinedup alone (plain Splink's tutorial settings filled ~61 GB of
        # spill disk there and failed: docs/reference/benchmarks.md)
        limit = ["--memory-limit", "3GB"]
        linkage.main(["--children", "100000", *limit])
        one_million = ["--only", "children", "--children", "1000000", "--no-peer"]
        linkage.main([*one_million, *limit, "--results", "linkage-1m.json"])
    if ns.only in (None, "outputs"):
        from bench import outputs

        outputs.main()
    if ns.only in (None, "spark"):
        from bench import spark

        spark.main([])
    if ns.only is None:
        from bench import incremental

        incremental.main([])
    return 0


def bench_spine_main(ns: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "spine",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **bench_spine(ns.people or 600_000, 11 if ns.seed is None else ns.seed, ns.keep),
    }
    out = RESULTS / "spine.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] wrote {out.relative_to(ROOT)}")
    print(
        f"[bench] spine: {result['spine_wall_seconds']} s wall, peak {result['spine_peak_rss_mib']}"
        f" MiB (goal <= 600 s, <= 8192 MiB); dominant stage: {result['dominant_stage']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
