"""Make a twin with its quality report, or rebuild the report of an existing twin.

A twin folder holds ``twin.duckdb`` (the store-shaped synthetic data), ``report.json``,
``report.html`` and ``figures/``. It holds no real person id and no real row: the report is
aggregates only. The real data are read from the node's secondary views.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from joinedup.errors import ConfigError
from joinedup.synth.quality import build_quality_report
from joinedup.synth.report import write_report
from joinedup.synth.twin import (
    PROVENANCE_TABLE,
    TWIN_FILE,
    Progress,
    TwinSettings,
    make_twin,
    read_store,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthResult:
    twin: Path
    report_json: Path
    report_html: Path
    persons: int
    rows: dict[str, int]
    seconds: dict[str, float]
    summary: dict[str, Any]


def _report(store_path: Path, twin_path: Path, provenance: dict[str, Any]) -> dict[str, Any]:
    seed = int(provenance["seed"])
    real = read_store(store_path, seed=seed, holdout=float(provenance["holdout"]))
    if provenance.get("source_run") != real.source_run:
        raise ConfigError(
            "the store was refreshed since this twin was made (run "
            f"{provenance.get('source_run')} -> {real.source_run}): make a new twin"
        )
    twin_wide = read_store(twin_path, seed=seed, holdout=0.0).person
    real_con = duckdb.connect(str(store_path), read_only=True)
    twin_con = duckdb.connect(str(twin_path), read_only=True)
    try:
        report = build_quality_report(real_con, twin_con, real, twin_wide, seed=seed)
    finally:
        real_con.close()
        twin_con.close()
    report["provenance"] = provenance
    return report


def read_provenance(twin_path: Path) -> dict[str, Any]:
    if not twin_path.is_file():
        raise ConfigError(f"no synthetic twin at {twin_path}")
    con = duckdb.connect(str(twin_path), read_only=True)
    try:
        rows = con.execute(f"SELECT key, value FROM {PROVENANCE_TABLE}").fetchall()  # noqa: S608
    except duckdb.CatalogException as exc:
        raise ConfigError(f"{twin_path} is not a synthetic twin (no provenance)") from exc
    finally:
        con.close()
    return {str(k): json.loads(str(v)) for k, v in rows}


def make_synthetic_twin(
    store_path: Path,
    out_dir: Path,
    settings: TwinSettings | None = None,
    progress: Progress | None = None,
) -> SynthResult:
    """Synthesise the twin of ``store_path`` into ``out_dir`` and write its quality report."""
    result = make_twin(store_path, out_dir, settings, progress)
    tick = time.perf_counter()
    report = _report(store_path, result.path, result.provenance)
    seconds = {**result.seconds, "report": time.perf_counter() - tick}
    report["timings_s"] = {k: round(v, 2) for k, v in seconds.items()}
    json_path, html_path = write_report(report, out_dir)
    return SynthResult(
        twin=result.path,
        report_json=json_path,
        report_html=html_path,
        persons=result.persons,
        rows=result.rows,
        seconds=seconds,
        summary=report["summary"],
    )


def rebuild_report(store_path: Path, twin_dir: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Recompute the quality report of the twin in ``twin_dir`` against ``store_path``."""
    twin_path = twin_dir / TWIN_FILE
    provenance = read_provenance(twin_path)
    report = _report(store_path, twin_path, provenance)
    json_path, html_path = write_report(report, twin_dir)
    return json_path, html_path, report["summary"]


__all__ = [
    "SynthResult",
    "TwinSettings",
    "make_synthetic_twin",
    "read_provenance",
    "rebuild_report",
]
