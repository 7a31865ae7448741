"""The double lock, run for real on a small simulated district: submitted jobs are decided and
audited, run in a sandboxed process on a project view, and only checked typed outputs leave."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from job_fixtures import COHORT, EVENT_VIEW, PERSON_VIEW, TODAY, JobNode, write_job

from joinedup.cli.main import main
from joinedup.config import NodeSettings
from joinedup.errors import AccessDenied, ConfigError
from joinedup.govern.cohort import WHOLE_POPULATION, rounded_size
from joinedup.jobs import JobState, read_job, run_synthetic, submit_job
from joinedup.jobs import sandbox as sandbox_module
from joinedup.outputs.node import release_dir

pytestmark = pytest.mark.usefixtures("isolated")

TABLE_AND_SUMMARY = """
from joinedup import research
people = research.sql(
    "SELECT person_id, sex, n_records FROM view__secondary__person WHERE sex IN ('F', 'M')"
)
research.table("people_by_sex", people, by=["sex"])
research.summary("records_by_sex", people, by=["sex"], value="n_records", statistic="mean")
"""


def _events(node: NodeSettings) -> list[tuple[str, str, str, str]]:
    con = duckdb.connect(str(node.root / "govern.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT actor_id, action, outcome, reason FROM audit__events ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def _person_ids(node: NodeSettings) -> set[str]:
    con = duckdb.connect(str(node.store_path), read_only=True)
    try:
        return {str(r[0]) for r in con.execute(f"SELECT person_id FROM {PERSON_VIEW}").fetchall()}
    finally:
        con.close()


def _released_text(node: NodeSettings, job_id: str) -> str:
    """The files this job released (read from the project's release folder)."""
    record = read_job(node, job_id)
    folder = release_dir(node, record.project_id or "")
    names = [f for o in record.outputs if o.status == "released" for f in o.files]
    return "\n".join((folder / n).read_text(errors="replace") for n in names)


def _all_released_text(node: NodeSettings, project_id: str) -> str:
    folder = release_dir(node, project_id)
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_a_table_and_a_summary_are_released_after_checks(
    jnode: JobNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = write_job(tmp_path / "job", jnode.project_id, TABLE_AND_SUMMARY)
    node = str(jnode.settings.root)
    code = main(["job", "submit", node, str(job), "--as", "res-1", "--json"], {})
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["state"] == "finished"
    assert [(o["name"], o["status"]) for o in out["outputs"]] == [
        ("people_by_sex", "released"),
        ("records_by_sex", "released"),
    ]
    release = release_dir(jnode.settings, jnode.project_id)
    rows = (release / "people_by_sex.csv").read_text().splitlines()
    assert rows[0] == "sex,count"
    counts = [int(r.split(",")[1]) for r in rows[1:3]]
    assert all(c >= 10 and c % 5 == 0 for c in counts)  # threshold 10, rounded to 5
    assert (release / "results.json").is_file()  # the ACRO-format SDC record
    # the run was decided as run_job under the project, and allowed
    # (the audit reason pins the cohort the view held: here the whole population)
    allowed = f"under active project {jnode.project_id}, cohort sha256 {WHOLE_POPULATION.sha256}"
    assert ("res-1", "run_job", "allow", allowed) in _events(jnode.settings)
    assert out["cohort_sha256"] == WHOLE_POPULATION.sha256
    # the project view held only the declared columns and the person id
    job_folder = jnode.settings.root / "jobs" / out["job_id"]
    view = duckdb.connect(str(job_folder / "project.duckdb"), read_only=True)
    try:
        tables = view.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        columns = [d[0] for d in view.execute(f"SELECT * FROM {PERSON_VIEW}").description]
    finally:
        view.close()
    assert tables == [(PERSON_VIEW,)]
    assert columns == ["person_id", "sex", "n_records"]
    # status and outputs: the submitter sees them, a researcher outside the project does not
    assert main(["job", "status", node, out["job_id"], "--as", "res-1"], {}) == 0
    assert "finished" in capsys.readouterr().out
    assert main(["job", "outputs", node, out["job_id"], "--as", "checker-1", "--json"], {}) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {o["status"] for o in listed["outputs"]} == {"released"}
    assert main(["job", "outputs", node, out["job_id"], "--as", "res-2"], {}) == 3
    assert _events(jnode.settings)[-1][:3] == ("res-2", "read_job", "deny")


def test_an_unapproved_column_is_refused_before_running(jnode: JobNode, tmp_path: Path) -> None:
    job = write_job(
        tmp_path / "job",
        jnode.project_id,
        TABLE_AND_SUMMARY,
        columns=("sex", "ethnicity", "lsoa21cd"),
    )
    with pytest.raises(AccessDenied, match=r"ethnicity, view__secondary__person\.lsoa21cd") as exc:
        submit_job(jnode.settings, job, "res-1")
    assert "outside project" in str(exc.value)
    job_id = str(exc.value).rsplit("job ", 1)[1].split(" ")[0]
    assert read_job(jnode.settings, job_id).state is JobState.REFUSED
    assert not (jnode.settings.root / "jobs" / job_id / "project.duckdb").exists()
    deny = _events(jnode.settings)[-1]
    assert deny[:3] == ("res-1", "run_job", "deny")
    assert "ethnicity" in deny[3]


@pytest.mark.parametrize("case", ["not approved", "expired", "not a member"])
def test_a_job_outside_an_active_project_is_refused_and_audited(
    jnode: JobNode, tmp_path: Path, case: str
) -> None:
    project = jnode.unapproved_id if case == "not approved" else jnode.project_id
    actor = "res-2" if case == "not a member" else "res-1"
    today = TODAY + timedelta(days=400) if case == "expired" else None
    job = write_job(tmp_path / "job", project, TABLE_AND_SUMMARY)
    before = len(_events(jnode.settings))
    with pytest.raises(AccessDenied) as exc:
        submit_job(jnode.settings, job, actor, today=today)
    expected = {"not approved": "not active", "expired": "expired", "not a member": "not a member"}
    assert expected[case] in str(exc.value)
    events = _events(jnode.settings)[before:]
    assert [e[:3] for e in events] == [(actor, "run_job", "deny")]


def _submit(jnode: JobNode, tmp_path: Path, code: str, **job: str) -> tuple[str, JobState]:
    folder = write_job(tmp_path / "job", jnode.project_id, code, **job)  # type: ignore[arg-type]
    record = submit_job(jnode.settings, folder, "res-1")
    return record.job_id, record.state


def test_a_socket_is_blocked_and_nothing_is_released(jnode: JobNode, tmp_path: Path) -> None:
    code = (
        TABLE_AND_SUMMARY
        + """
import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1)
except Exception:
    pass  # a violation is not an Exception: this does not swallow it
"""
    )
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.BLOCKED
    assert _released_text(jnode.settings, job_id) == ""
    assert read_job(jnode.settings, job_id).outputs == ()


def test_a_raw_socket_is_blocked_too(jnode: JobNode, tmp_path: Path) -> None:
    code = "import _socket\n_socket.socket().connect(('192.0.2.1', 80))\n"
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.BLOCKED
    violations = jnode.settings.root / "jobs" / job_id / "spool" / "violations.jsonl"
    assert "socket" in violations.read_text()


def test_the_namespaces_hold_without_the_hook(jnode: JobNode, tmp_path: Path) -> None:
    # the operating-system walls alone, as a job's process gets them (no audit hook here):
    # no network, and neither the node nor the folder beside it exists, even for C code
    node = jnode.settings.root
    probe = f"""
import os, socket
import pyarrow.fs as fs
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)
    print("network: connected")
except OSError as exc:
    print("network: errno", exc.errno)
print("node:", os.path.exists({str(node)!r}))
local = fs.LocalFileSystem()
print("beside the node:", local.get_file_info({str(node.parent)!r}).type.name)
print("vault:", local.get_file_info({str(jnode.settings.vault_path)!r}).type.name)
try:
    open({str(Path(sandbox_module.__file__).parent / "_probe")!r}, "w")
    print("joinedup: writable")
except OSError as exc:
    print("joinedup: errno", exc.errno)
"""
    work = tmp_path / "work"
    work.mkdir()
    command = sandbox_module.confined_command(
        [sys.executable, "-I", "-c", probe], workdir=work, hide=(node,)
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "network: errno 101",
        "node: False",
        "beside the node: NotFound",
        "vault: NotFound",
        "joinedup: errno 30",  # read-only: the code cannot change the platform it runs on
    ]


@pytest.mark.parametrize("how", ["python", "duckdb"])
def test_the_vault_cannot_be_read(jnode: JobNode, tmp_path: Path, how: str) -> None:
    vault = jnode.settings.vault_path
    if how == "python":
        code = f"open({str(vault)!r}, 'rb').read(16)\n"
    else:
        code = f"""
from joinedup import research
import duckdb
try:
    duckdb.connect({str(vault)!r}, read_only=True).execute("SELECT 1")
    result = "opened"
except Exception as exc:
    result = type(exc).__name__
research.text("vault.txt", "vault: " + result, why="probe")
"""
    job_id, state = _submit(jnode, tmp_path, code)
    if how == "python":
        assert state is JobState.BLOCKED
    else:  # the node folder is an empty tmpfs inside the sandbox: there is no vault to open
        spooled = jnode.settings.root / "jobs" / job_id / "spool" / "0001.json"
        assert json.loads(spooled.read_text())["content"] == "vault: IOException"
    assert _released_text(jnode.settings, job_id) == ""


def test_writing_outside_the_spool_is_blocked(jnode: JobNode, tmp_path: Path) -> None:
    target = tmp_path / "leak.csv"
    code = TABLE_AND_SUMMARY + f"open({str(target)!r}, 'w').write('rows')\n"
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.BLOCKED
    assert not target.exists()
    assert _released_text(jnode.settings, job_id) == ""


def test_rows_printed_or_spooled_as_text_never_leave(jnode: JobNode, tmp_path: Path) -> None:
    code = (
        TABLE_AND_SUMMARY.replace("_by_sex", "_by_sex_again")
        + """
rows = research.sql("SELECT person_id, sex, n_records FROM view__secondary__person").fetchall()
for row in rows:
    print(*row)
research.text("rows.csv", "person_id,sex\\n" + "\\n".join(f"{r[0]},{r[1]}" for r in rows[:50]))
"""
    )
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.FINISHED
    record = read_job(jnode.settings, job_id)
    statuses = {o.name: o.status for o in record.outputs}
    assert statuses["people_by_sex_again"] == "released"
    assert statuses["rows.csv"] in ("refused", "pending_review")  # never released unseen
    released = _all_released_text(jnode.settings, jnode.project_id)
    ids = _person_ids(jnode.settings)
    assert released and not any(pid in released for pid in ids)
    log = (jnode.settings.root / "jobs" / job_id / "child.log").read_text()
    assert any(pid in log for pid in ids)  # kept in the node for its staff, not released
    node = str(jnode.settings.root)
    assert main(["job", "log", node, job_id, "--as", "res-1"], {}) == 3  # not for researchers
    assert main(["job", "log", node, job_id], {}) == 0  # the node administrator


def test_rows_not_made_by_sql_on_the_view_are_refused(jnode: JobNode, tmp_path: Path) -> None:
    code = """
from joinedup import research
import pyarrow as pa
fake = pa.table({"person_id": ["p"] * 40, "sex": ["F"] * 40})
research.data().register("fake", fake)
research.table("invented", "SELECT person_id, sex FROM fake", by=["sex"])
"""
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.FINISHED
    (output,) = read_job(jnode.settings, job_id).outputs
    assert output.status == "refused"
    assert "could not recompute" in output.reasons[0]
    assert _released_text(jnode.settings, job_id) == ""


@pytest.mark.parametrize(
    ("code", "limits", "why"),
    [
        ("import time\ntime.sleep(60)\n", "seconds = 2", "wall-clock"),
        ("while True:\n    pass\n", "cpu_seconds = 1\nseconds = 30", "CPU"),
        ("block = bytearray(3 * 1024**3)\n", "memory_mb = 1024", "memory"),
    ],
)
def test_a_job_past_its_limits_is_killed(
    jnode: JobNode, tmp_path: Path, code: str, limits: str, why: str
) -> None:
    job_id, state = _submit(jnode, tmp_path, code, limits=limits)
    assert state is JobState.KILLED
    record = read_job(jnode.settings, job_id)
    assert why in record.reason
    assert record.seconds is not None and record.seconds < 10


def test_without_the_sandbox_a_job_is_refused_not_run_unconfined(
    jnode: JobNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    folder = write_job(tmp_path / "job", jnode.project_id, TABLE_AND_SUMMARY)
    jobs = jnode.settings.root / "jobs"
    jobs.mkdir(exist_ok=True)
    before = set(jobs.iterdir())
    with pytest.raises(ConfigError, match="sandbox is unavailable"):
        submit_job(jnode.settings, folder, "res-1")
    (new,) = set(jobs.iterdir()) - before
    assert read_job(jnode.settings, new.name).state is JobState.FAILED
    assert not (new / "project.duckdb").exists()  # refused before any data was copied


def test_the_synthetic_run_writes_checked_outputs_to_the_job_folder(
    jnode: JobNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # stand-in for a synthetic twin file: a DuckDB database with the person view's table
    twin = tmp_path / "twin.duckdb"
    con = duckdb.connect(str(twin))
    con.execute(f"ATTACH '{jnode.settings.store_path}' AS s (READ_ONLY)")
    con.execute(f"CREATE TABLE store__person AS SELECT * FROM s.{PERSON_VIEW}")
    con.close()
    job = write_job(tmp_path / "job", jnode.project_id, TABLE_AND_SUMMARY + "print('hello')\n")
    code = main(["job", "run", str(job), "--synthetic", "--data", str(twin)], {})
    assert code == 0
    shown = capsys.readouterr().out
    assert "hello" in shown  # synthetic data: the researcher sees the job's own printout
    assert (job / "outputs" / "people_by_sex.csv").is_file()
    assert (job / "outputs" / "records_by_sex.csv").is_file()
    record, _ = run_synthetic(job, twin)  # a rerun starts afresh
    assert [o.status for o in record.outputs] == ["released", "released"]
    assert main(["job", "run", str(job)], {}) == 2  # real data only through submit


def test_the_synthetic_run_may_take_the_projects_cohort(
    jnode: JobNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # stand-in twin: the person and GP event tables, named as the twin names them
    twin = tmp_path / "twin.duckdb"
    con = duckdb.connect(str(twin))
    con.execute(f"ATTACH '{jnode.settings.store_path}' AS s (READ_ONLY)")
    con.execute(f"CREATE TABLE store__person AS SELECT * FROM s.{PERSON_VIEW}")
    con.execute(f"CREATE TABLE store__gp_event AS SELECT * FROM s.{EVENT_VIEW}")
    con.close()
    spec_file = tmp_path / "cohort.json"
    spec_file.write_text(COHORT.canonical_json())
    job = write_job(tmp_path / "job", jnode.cohort_id, GIRLS_BY_SEX, columns=("sex",))
    args = ["job", "run", str(job), "--synthetic", "--data", str(twin), "--json"]
    assert main([*args, "--cohort-spec", str(spec_file)], {}) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cohort_sha256"] == COHORT.sha256
    view = duckdb.connect(str(job / ".joinedup" / "view.duckdb"), read_only=True)
    try:
        sexes = {
            str(r[0]) for r in view.execute(f"SELECT DISTINCT sex FROM {PERSON_VIEW}").fetchall()
        }
    finally:
        view.close()
    assert sexes == {"F"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"has_event": {"table": "nursery"}}')
    assert main([*args, "--cohort-spec", str(bad)], {}) == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("sex", "differ from the node's recomputation"),
        ("person_id", "not in the project view"),
    ],
)
def test_spooled_rows_edited_by_the_job_are_refused(
    jnode: JobNode, tmp_path: Path, change: str, reason: str
) -> None:
    # the code rewrites its own spooled rows (the spool is the one folder it may write)
    code = f"""
from joinedup import research
import pyarrow as pa, pyarrow.parquet as pq
receipt = research.table(
    "edited_{change}", "SELECT person_id, sex FROM view__secondary__person", by=["sex"]
)
path = f"{{receipt.seq:04d}}.parquet"
rows = pq.read_table(path)
column = rows.column_names.index("{change}")
rows = rows.set_column(column, "{change}", pa.array(["X"] * rows.num_rows))
pq.write_table(rows, path)
"""
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.FINISHED
    (output,) = read_job(jnode.settings, job_id).outputs
    assert output.status == "refused"
    assert reason in output.reasons[0]


def test_opted_out_children_are_not_in_the_project_view(tmp_path: Path) -> None:
    from job_fixtures import job_node

    from joinedup.store.secondary import publish_secondary_views

    fresh = job_node(tmp_path / "optout")
    store = duckdb.connect(str(fresh.settings.store_path))
    try:
        person, namespace, key = store.execute(
            "SELECT sp.person_id, sp.namespace, sp.subject_key FROM link__subject_person sp "
            f"JOIN {PERSON_VIEW} p USING (person_id) ORDER BY sp.person_id LIMIT 1"
        ).fetchone() or ("", "", "")
        # the refresh's own step, with one family's dissent in the register
        publish_secondary_views(store, [(str(namespace), str(key), "2015-01")])
    finally:
        store.close()
    job = write_job(tmp_path / "job", fresh.project_id, TABLE_AND_SUMMARY)
    record = submit_job(fresh.settings, job, "res-1")
    assert record.state is JobState.FINISHED
    view = duckdb.connect(
        str(fresh.settings.root / "jobs" / record.job_id / "project.duckdb"), read_only=True
    )
    try:
        ids = {str(r[0]) for r in view.execute(f"SELECT person_id FROM {PERSON_VIEW}").fetchall()}
    finally:
        view.close()
    assert ids and str(person) not in ids
    assert ids == _person_ids(fresh.settings)


GIRLS_BY_SEX = """
from joinedup import research
people = research.sql("SELECT person_id, sex FROM view__secondary__person")
research.table("cohort_by_sex", people, by=["sex"])
"""


def test_a_job_sees_only_its_projects_cohort(jnode: JobNode, tmp_path: Path) -> None:
    job = write_job(
        tmp_path / "job",
        jnode.cohort_id,
        GIRLS_BY_SEX,
        columns=("sex", "birth_month"),
        event_columns=("event_date",),
    )
    record = submit_job(jnode.settings, job, "res-1")
    assert record.state is JobState.FINISHED, record.reason
    store = duckdb.connect(str(jnode.settings.store_path), read_only=True)
    try:  # the cohort read independently: girls with a GP event since 2020, opt-outs removed
        expected = {
            str(r[0])
            for r in store.execute(
                f"SELECT person_id FROM {PERSON_VIEW} WHERE sex = 'F' AND person_id IN "
                f"(SELECT person_id FROM {EVENT_VIEW} WHERE event_date >= DATE '2020-01-01')"
            ).fetchall()
        }
        everyone = len(_person_ids(jnode.settings))
        their_events = store.execute(
            f"SELECT count(*) FROM {EVENT_VIEW} WHERE person_id IN (SELECT unnest(?))",
            [sorted(expected)],
        ).fetchone()
    finally:
        store.close()
    assert 10 < len(expected) < everyone / 2
    folder = jnode.settings.root / "jobs" / record.job_id
    view = duckdb.connect(str(folder / "project.duckdb"), read_only=True)
    try:
        tables = {
            str(r[0]) for r in view.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        people = view.execute(f"SELECT person_id, sex FROM {PERSON_VIEW}").fetchall()
        event_people = {
            str(r[0])
            for r in view.execute(f"SELECT DISTINCT person_id FROM {EVENT_VIEW}").fetchall()
        }
        event_rows = view.execute(f"SELECT count(*) FROM {EVENT_VIEW}").fetchone()
    finally:
        view.close()
    assert tables == {PERSON_VIEW, EVENT_VIEW}  # the cohort's own table is not in the file
    assert {str(p) for p, _ in people} == expected
    assert {s for _, s in people} == {"F"}
    assert event_people <= expected
    # the cohort selects children, not events: each child keeps all of their GP events
    assert event_rows == their_events
    stored = json.loads((folder / "job.json").read_text())
    assert stored["cohort_sha256"] == COHORT.sha256
    assert stored["cohort_size"] == rounded_size(len(expected))
    assert str(len(expected)) not in stored["cohort_size"] or len(expected) % 5 == 0
    reason = f"under active project {jnode.cohort_id}, cohort sha256 {COHORT.sha256}"
    assert ("res-1", "run_job", "allow", reason) in _events(jnode.settings)


def test_a_project_approved_before_cohorts_is_refused_and_audited(
    jnode: JobNode, tmp_path: Path
) -> None:
    job = write_job(tmp_path / "job", jnode.legacy_id, TABLE_AND_SUMMARY)
    before = len(_events(jnode.settings))
    with pytest.raises(AccessDenied, match="re-apply with a cohort spec") as exc:
        submit_job(jnode.settings, job, "res-1")
    events = _events(jnode.settings)[before:]
    assert [e[:3] for e in events] == [("res-1", "run_job", "deny")]
    assert "approved before cohorts were pinned" in events[0][3]
    job_id = str(exc.value).rsplit("job ", 1)[1].split(" ")[0]
    assert read_job(jnode.settings, job_id).state is JobState.REFUSED
    assert not (jnode.settings.root / "jobs" / job_id / "project.duckdb").exists()


def test_status_of_an_unknown_job_says_so(jnode: JobNode) -> None:
    node = str(jnode.settings.root)
    assert main(["job", "status", node, "J0000000000"], {}) == 2
    assert main(["job", "status", node, "not-a-job", "--as", "nobody"], {}) == 3


def test_a_caught_violation_still_withholds_every_output(jnode: JobNode, tmp_path: Path) -> None:
    code = (
        TABLE_AND_SUMMARY.replace("_by_sex", "_by_sex_caught")
        + """
import os
try:
    os.system("true")
except BaseException:
    pass  # swallowed, and the spool's record removed: the node keeps its own
for name in os.listdir("."):
    if name.endswith(".jsonl"):
        os.remove(name)
"""
    )
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.BLOCKED
    assert read_job(jnode.settings, job_id).outputs == ()


def test_labels_the_job_chose_cannot_carry_values(jnode: JobNode, tmp_path: Path) -> None:
    code = """
from joinedup import research
pid = research.sql("SELECT min(person_id) FROM view__secondary__person").fetchone()[0]
people = "SELECT person_id, sex FROM view__secondary__person"
research.table("levels_leak", people, by=["sex"], levels={"sex": ["F", "M", "U", pid]})
research.table("t_" + pid[:12], people, by=["sex"])
research.table("levels_fine", people, by=["sex"], levels={"sex": ["F", "M", "U", "X"]})
"""
    job_id, state = _submit(jnode, tmp_path, code)
    assert state is JobState.FINISHED
    outputs = read_job(jnode.settings, job_id).outputs
    assert [o.status for o in outputs] == ["refused", "refused", "released"]
    assert "declared level" in outputs[0].reasons[0]
    assert "name looks like it holds data" in outputs[1].reasons[0]
