"""Run DfE's own CIN and SSDA903 validators over a simulated return; print error counts as JSON.

Executed by the interpreter of the DfE validators' own venv (``.venv-dfe``: they pin old pandas
and numpy), never imported by the test suite itself. Usage::

    python dfe_runner.py CIN_XML SSDA903_FOLDER COLLECTION_YEAR LA_GSS_CODE

Prints one JSON object: for each validator, the ruleset, how many rules ran, which rules crashed
or were skipped, and for every rule that found something its type, message and count
(CIN: issue locations, i.e. distinct table rows, or 1 for a return-level rule; 903: flagged rows).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import pkgutil
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

CIN_RULESET = "cin2025_26"
SSDA903_TABLES = ("header", "episodes", "missing")


def run_cin(xml_path: Path) -> dict[str, object]:
    from cin_validator import cin_validator

    module = importlib.import_module(f"cin_validator.rules.{CIN_RULESET}")
    registry = module.registry
    root = ET.parse(xml_path).getroot()
    data = cin_validator.process_data(cin_validator.convert_data(root))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        validator = cin_validator.CinValidator(data, registry)
    crashed = sorted(
        line.split()[3].rstrip(":")
        for line in printed.getvalue().splitlines()
        if line.startswith("Error with rule")
    )
    rules = {str(rule.code): rule for _, rule in registry.items()}
    errors: dict[str, dict[str, object]] = {}
    issues = validator.full_issue_df
    if len(issues):
        located = issues.drop_duplicates(["rule_code", "tables_affected", "row_id"])
        for code, count in located.groupby("rule_code").size().items():
            rule = rules[str(code)]
            errors[str(code)] = {
                "type": rule.rule_type.name,
                "message": rule.message,
                "count": int(count),
            }
    multichild = validator.multichild_issues
    for code in multichild["rule_code"].dropna().unique() if len(multichild) else []:
        rule = rules[str(code)]
        errors[str(code)] = {"type": rule.rule_type.name, "message": rule.message, "count": 1}
    return {
        "ruleset": CIN_RULESET,
        "rows": {name: len(frame) for name, frame in data.items()},
        "rules_run": len(rules),
        "crashed": crashed,
        "errors": errors,
    }


def latest_lac_ruleset() -> str:
    import lac_validator.rules as rules_package

    names = [m.name for m in pkgutil.iter_modules(rules_package.__path__)]
    return max(n for n in names if n.startswith("lac20"))


def run_903(folder: Path, collection_year: str, la_code: str) -> dict[str, object]:
    from lac_validator import lac_validator
    from lac_validator.utils import process_uploaded_files

    logging.getLogger().setLevel(logging.CRITICAL)
    ruleset = latest_lac_ruleset()
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
    files = process_uploaded_files(
        {"This year": [str(folder / f"{table}.csv") for table in SSDA903_TABLES]}
    )
    validator = lac_validator.LacValidator(
        metadata={"collectionYear": collection_year, "localAuthority": la_code},
        files=files,
        registry=registry,
    )
    errors: dict[str, dict[str, object]] = {}
    for table, frame in validator.ds_results.items():
        if table == "metadata":
            continue
        for column in frame.columns:
            if not str(column).startswith("ERR_"):
                continue
            code = str(column)[4:]
            count = int(frame[column].fillna(False).astype(bool).sum())
            if count:
                entry = errors.setdefault(
                    code, {"type": "ERROR", "message": registry[code].message, "count": 0}
                )
                entry["count"] = int(entry["count"]) + count  # type: ignore[call-overload]
    return {
        "ruleset": ruleset,
        "rows": {name: len(frame) for name, frame in validator.dfs.items() if name != "metadata"},
        "rules_run": len(registry),
        "crashed": sorted(validator.fails),
        "skipped": sorted(str(s) for s in validator.skips),
        "errors": errors,
    }


def main(argv: list[str]) -> int:
    xml_path, folder, collection_year, la_code = argv
    warnings.filterwarnings("ignore")
    out = sys.stdout
    # the validators print as they go: keep stdout for the JSON alone
    with contextlib.redirect_stdout(sys.stderr):
        started = time.perf_counter()
        cin = run_cin(Path(xml_path))
        cin["seconds"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        ssda903 = run_903(Path(folder), collection_year, la_code)
        ssda903["seconds"] = round(time.perf_counter() - started, 2)
    json.dump({"cin": cin, "ssda903": ssda903}, out, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
