"""The peer, ACRO 1.0.2, run in its own virtual environment (``make install-acro``: it pins
pandas <= 2.3.3, which joinedup's pins exclude). Called by ``bench/outputs.py`` as
``.venv-acro/bin/python bench/acro_peer.py JOB.json OUT.json``; imports nothing from joinedup.

The job names a CSV file of rows, the releases to make (a cohort of person ids, the
dimensions, counts or a mean), tables to time, and a joinedup release folder to load with ACRO's
own ``load_records`` (proof that SACRO-Viewer's reader accepts our ``results.json``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings

import pandas as pd

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)


def _table(acro: object, df: pd.DataFrame, release: dict[str, object]) -> dict[str, float | None]:
    by = list(release["by"])  # type: ignore[arg-type]
    if release["kind"] == "mean":
        table = acro.pivot_table(  # type: ignore[attr-defined]
            df,
            values=release["value"],
            index=by[0],
            columns=by[1] if len(by) > 1 else None,
            aggfunc="mean",
        )
        if len(by) == 1:
            table = table[release["value"]].to_frame("mean")
    else:
        columns = df[by[1]] if len(by) > 1 else pd.Series(["n"] * len(df), index=df.index, name="_")
        table = acro.crosstab(df[by[0]], columns)  # type: ignore[attr-defined]
    out: dict[str, float | None] = {}
    for row in table.index:
        for col in table.columns:
            labels = [str(row)] + ([str(col)] if len(by) > 1 else [])
            value = table.loc[row, col]
            out["|".join(labels)] = None if pd.isna(value) else float(value)
    return out


def main() -> None:
    from acro import ACRO

    with open(sys.argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    result: dict[str, object] = {}
    started = time.perf_counter()
    acro = ACRO(suppress=True)
    result["import_and_init_seconds"] = round(time.perf_counter() - started, 3)
    if "data" in job:
        df = pd.read_csv(job["data"])
        scenarios = []
        for scenario in job["scenarios"]:
            acro = ACRO(suppress=True)
            released = []
            for release in scenario["releases"]:
                ids = release.get("ids")
                part = df if ids is None else df[df["person_id"].isin(set(ids))]
                released.append(_table(acro, part, release))
            scenarios.append(released)
        result["scenarios"] = scenarios
    timings = []
    for spec in job.get("timing", []):
        df = pd.read_csv(spec["data"])
        acro = ACRO(suppress=True)
        seconds = []
        for _ in range(spec.get("repeats", 1)):
            t = time.perf_counter()
            _table(acro, df, {"kind": spec["kind"], "by": spec["by"], "value": spec.get("value")})
            seconds.append(time.perf_counter() - t)
        timings.append(
            {"cells": spec["cells"], "rows": len(df), "kind": spec["kind"], "seconds": seconds}
        )
    result["timings"] = timings
    if job.get("bundle"):
        from acro.record import load_records

        try:
            records = load_records(job["bundle"])
            result["bundle_loaded_outputs"] = len(records.results)
        except Exception as exc:  # reported, not raised
            result["bundle_error"] = f"{type(exc).__name__}: {exc}"
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
