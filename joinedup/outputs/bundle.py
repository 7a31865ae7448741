"""The SDC record of every release, in ACRO's ``results.json`` bundle format.

ACRO 1.0.2 (``acro/record.py``, ``finalise_json``) writes a folder holding ``results.json``
(``{"version", "tool", "results": {uid: {uid, status, type, properties, files: [{name, sdc:
{summary, cells}}], outcome, command, summary, timestamp, comments, exception, fair}}}``), the
output files, ``checksums/<file>.txt`` (sha256) and ``config.json``. SACRO-Viewer opens such a
folder. ``write_bundle_entry`` adds one output to the release folder's bundle; ``version`` is
the ACRO format version the file follows, ``tool`` names joinedup.

Invariants: every file named in ``results.json`` exists beside it with its checksum; an entry is
never rewritten once its output is released.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACRO_FORMAT_VERSION = "1.0.2"
RESULTS_FILE = "results.json"


def _load(folder: Path) -> dict[str, Any]:
    path = folder / RESULTS_FILE
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    return {
        "version": ACRO_FORMAT_VERSION,
        "tool": {
            "@type": "SoftwareApplication",
            "name": "joinedup",
            "url": "https://github.com/joinedup/joinedup",
            "version": "0.1.0",
        },
        "results": {},
    }


def write_bundle_entry(
    folder: Path,
    *,
    uid: str,
    status: str,
    output_type: str,
    properties: dict[str, Any],
    files: list[str],
    sdc: dict[str, Any],
    outcome: dict[str, dict[str, str]],
    command: str,
    summary: str,
    exception: str = "",
    comments: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> Path:
    """Add (or replace, before release) one output's record in ``folder/results.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = _load(folder)
    data["results"][uid] = {
        "uid": uid,
        "status": status,
        "type": output_type,
        "properties": properties,
        "files": [{"name": name, "sdc": sdc} for name in files],
        "outcome": outcome,
        "command": command,
        "summary": summary,
        "timestamp": datetime.now(UTC).isoformat(),
        "comments": comments or [],
        "exception": exception,
        "fair": {},
    }
    checksums = folder / "checksums"
    checksums.mkdir(exist_ok=True)
    for name in files:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        (checksums / f"{name}.txt").write_text(digest, encoding="utf-8")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config, indent=4), encoding="utf-8")
    path = folder / RESULTS_FILE
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return path
