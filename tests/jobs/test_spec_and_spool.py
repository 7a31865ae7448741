"""job.toml is checked at the edge, and the spool is read as untrusted input: every malformed
request is reported by name and never replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from joinedup.errors import UsageError
from joinedup.jobs.spec import load_job
from joinedup.research.spool import VIOLATIONS_FILE, read_requests


def _job(folder: Path, toml: str, code: str = "print(1)\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "job.toml").write_text(toml, encoding="utf-8")
    (folder / "analysis.py").write_text(code, encoding="utf-8")
    return folder


GOOD = 'project = "P1"\n[views]\nview__secondary__person = ["sex", "person_id"]\n'


def test_a_good_job_file_is_read(tmp_path: Path) -> None:
    spec = load_job(_job(tmp_path / "j", GOOD))
    assert spec.project_id == "P1"
    assert spec.views == {"view__secondary__person": ("sex",)}  # person_id is implied
    assert spec.variables == ("view__secondary__person.sex",)
    assert spec.limits.seconds == 120


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('project = "P1"\n[views]\nstore__person = ["sex"]\n', "is not a view__secondary__"),
        ('project = "P1"\n[views]\nview__secondary__person = ["se x"]\n', "malformed column"),
        (
            'project = "P1"\nentry = "../x.py"\n[views]\nview__secondary__person = ["sex"]\n',
            "inside the job folder",
        ),
        (GOOD + "[limits]\nseconds = 100000\n", "malformed"),
        (GOOD + 'colour = "blue"\n', "malformed"),
        ('project = "P1"\n[views]\n', "list the views"),
        ("project = \n", "not valid TOML"),
    ],
)
def test_a_bad_job_file_says_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_job(_job(tmp_path / "j", toml))


def test_a_folder_without_job_toml_is_not_a_job(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a job folder"):
        load_job(tmp_path)


def _request(spool: Path, number: int, **fields: object) -> None:
    body = {"seq": number, "kind": "table", "name": f"t{number}", "args": {"by": ["sex"]}}
    body.update(fields)
    (spool / f"{number:04d}.json").write_text(json.dumps(body), encoding="utf-8")


def test_the_spool_reports_malformed_requests_and_stray_files(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    _request(spool, 1, sql="SELECT 1", rows=None)
    _request(spool, 2, kind="shell")
    _request(spool, 3, name="../../etc/passwd")
    _request(spool, 4, seq=5)
    _request(spool, 6, rows="0006.parquet")  # rows file missing
    (spool / "0007.json").write_text("{not json", encoding="utf-8")
    (spool / "dump.csv").write_text("a,b\n", encoding="utf-8")
    (spool / "0008.json").symlink_to(tmp_path / "elsewhere.json")
    (spool / VIOLATIONS_FILE).write_text('{"event": "socket.connect"}\n', encoding="utf-8")
    reading = read_requests(spool)
    assert [r.seq for r in reading.requests] == [1]
    problems = " | ".join(reading.problems)
    assert "0002.json: malformed request (unknown kind" in problems
    assert "0003.json: malformed request (output name" in problems
    assert "0004.json: malformed request (sequence number" in problems
    assert "0006.json: malformed request (rows file is missing)" in problems
    assert "0007.json: malformed request" in problems
    assert "1 link(s) or folder(s) in the spool ignored" in problems
    assert "unexpected file(s) in the spool ignored" in problems
    assert reading.violations == 1
