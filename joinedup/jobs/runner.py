"""The double lock, end to end: a job run on the synthetic twin, or submitted to a node.

- ``run_synthetic(job_dir, twin, cohort=...)``: lock 1. The code runs in a separate process
  against a project view built from the synthetic twin (only the project's cohort, when the
  researcher gives its spec, so the code meets data of the shape it will meet); its spooled
  outputs go through the same
  disclosure checks and are written to ``JOBDIR/outputs`` (synthetic data, L3).
- ``submit_job(settings, job_dir, actor_id)``: lock 2. ``decide(actor, run_job, project, purpose)``
  (refused and audited unless the project is active and names the actor), every declared view
  and column checked against the project's approved variables (each view decided and audited),
  then a project view built from the store's ``view__secondary__*`` under
  ``NODE/jobs/<job_id>/`` holding only the project's approved cohort (a project approved before
  cohorts were pinned is refused by ``decide``, audited), the code run in the sandbox, and its
  spool replayed through ``OutputSession`` on the node (its ledger ``outputs.duckdb``; released
  files in ``outputs/released/<project>/``, see ``joinedup.outputs.node``).
- ``read_job(settings, job_id)``: the job's record, with each output's current status from the
  ledger (a pending output may have been released or rejected by checkers since).

A job's record (``job.json``) names states, outputs, release ids, reasons and counts; never a
row value. It pins the cohort the job saw (``cohort_sha256``) and its size rounded to 5 ("<10"
below ten: ``joinedup.govern.cohort.rounded_size``). The child's log (``child.log``) stays in
the node for its staff.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from joinedup.config import NodeSettings
from joinedup.errors import AccessDenied, ConfigError, JoinedupError, UsageError
from joinedup.govern import Action, Resource, ResourceKind, decide
from joinedup.govern.cohort import CohortSpec, rounded_size
from joinedup.govern.database import open_govern
from joinedup.govern.projects import get_project, record_release
from joinedup.jobs.replay import ReplayedOutput, open_project_view, replay_request
from joinedup.jobs.sandbox import SandboxResult, isolation_problem, run_sandboxed
from joinedup.jobs.spec import JOB_FILE, JobSpec, load_job
from joinedup.jobs.view import build_project_view
from joinedup.model import DataLevel, Purpose
from joinedup.outputs import OutputSession, OutputStatus
from joinedup.outputs.node import ledger_path, open_output_session
from joinedup.research.child import EXIT_BLOCKED, EXIT_MEMORY
from joinedup.research.spool import VIOLATIONS_FILE, read_requests

JOBS_FOLDER = "jobs"
RECORD_FILE = "job.json"
WORKSPACE = ".joinedup"  # inside a job folder: the synthetic run's working files
STEPS = 4
Progress = Callable[[str, int, int], None]  # (description, done, total), as the CLI's bar takes


class JobState(StrEnum):
    REFUSED = "refused"  # stopped before running (governance or declared columns)
    BLOCKED = "blocked"  # the sandbox blocked an action: nothing is released
    FAILED = "failed"  # the code raised: nothing is released
    KILLED = "killed"  # a time, CPU or memory limit ended it: nothing is released
    RUNNING = "running"  # submitted and allowed; not finished yet
    FINISHED = "finished"  # ran to the end; its outputs went through disclosure control


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord:
    job_id: str
    project_id: str | None
    submitted_by: str
    submitted_at: str
    synthetic: bool
    state: JobState
    reason: str
    seconds: float | None = None
    isolated: bool | None = None
    problems: tuple[str, ...] = ()
    outputs: tuple[ReplayedOutput, ...] = field(default=())
    cohort_sha256: str | None = None
    cohort_size: str | None = None  # rounded (rounded_size), never an exact small count

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "project_id": self.project_id,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at,
            "synthetic": self.synthetic,
            "state": self.state.value,
            "reason": self.reason,
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "isolated": self.isolated,
            "problems": list(self.problems),
            "outputs": [o.as_dict() for o in self.outputs],
            "cohort_sha256": self.cohort_sha256,
            "cohort_size": self.cohort_size,
        }


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def job_folder(settings: NodeSettings, job_id: str) -> Path:
    if not job_id.startswith("J") or not job_id[1:].isalnum():
        raise UsageError(f"{job_id!r} is not a job id (they look like J0123456789)")
    return settings.root / JOBS_FOLDER / job_id


def _write_record(folder: Path, record: JobRecord) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECORD_FILE).write_text(json.dumps(record.as_dict(), indent=2), encoding="utf-8")


def _record_from(data: dict[str, Any]) -> JobRecord:
    return JobRecord(
        job_id=str(data["job_id"]),
        project_id=data.get("project_id"),
        submitted_by=str(data["submitted_by"]),
        submitted_at=str(data["submitted_at"]),
        synthetic=bool(data.get("synthetic")),
        state=JobState(data["state"]),
        reason=str(data.get("reason", "")),
        seconds=data.get("seconds"),
        isolated=data.get("isolated"),
        problems=tuple(data.get("problems", ())),
        cohort_sha256=data.get("cohort_sha256"),
        cohort_size=data.get("cohort_size"),
        outputs=tuple(
            ReplayedOutput(
                seq=int(o["seq"]),
                name=str(o["name"]),
                kind=str(o["kind"]),
                status=str(o["status"]),
                release_id=o.get("release_id"),
                reasons=tuple(o.get("reasons", ())),
                files=tuple(o.get("files", ())),
            )
            for o in data.get("outputs", ())
        ),
    )


def find_job(settings: NodeSettings, job_id: str) -> JobRecord | None:
    """The job's stored record, or None (also for a malformed id)."""
    try:
        path = job_folder(settings, job_id) / RECORD_FILE
    except UsageError:
        return None
    if not path.is_file():
        return None
    return _record_from(json.loads(path.read_text(encoding="utf-8")))


def read_job(settings: NodeSettings, job_id: str) -> JobRecord:
    """The job's record with each output's current status from the ledger."""
    record = find_job(settings, job_id)
    if record is None:
        raise UsageError(f"no job {job_id} on this node")
    ids = [o.release_id for o in record.outputs if o.release_id]
    ledger = ledger_path(settings)
    if not ids or not ledger.is_file():
        return record
    con = duckdb.connect(str(ledger), read_only=True)
    try:
        rows = con.execute(
            "SELECT release_id, status FROM out__releases WHERE release_id IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [ids],
        ).fetchall()
    finally:
        con.close()
    now = {str(r[0]): str(r[1]) for r in rows}
    outputs = tuple(
        replace(o, status=now.get(o.release_id, o.status)) if o.release_id else o
        for o in record.outputs
    )
    return replace(record, outputs=outputs)


# ---------------------------------------------------------------- running


def _outcome(result: SandboxResult, violations: int) -> tuple[JobState, str]:
    if result.timed_out:
        return JobState.KILLED, f"killed at the wall-clock limit ({result.seconds:.1f} s)"
    if result.signal_name in ("SIGXCPU", "SIGKILL"):
        return JobState.KILLED, f"killed by the CPU limit ({result.signal_name})"
    if violations or result.exit_code == EXIT_BLOCKED:
        return JobState.BLOCKED, (
            f"the sandbox blocked {violations or 1} action(s) (network, processes, or files "
            "outside the job); nothing from this job is released"
        )
    if result.exit_code == EXIT_MEMORY:
        return JobState.KILLED, "stopped at the memory limit (memory_mb in job.toml)"
    if result.exit_code == 0:
        return JobState.FINISHED, "ran to the end; outputs checked"
    if result.signal_name:
        return JobState.KILLED, f"ended by {result.signal_name} (a memory or file-size limit?)"
    return JobState.FAILED, (
        f"the code stopped with an error (exit {result.exit_code}); nothing is released. "
        "The log is kept in the node; run it on the synthetic twin to debug"
    )


def _execute(
    spec: JobSpec,
    *,
    view_db: Path,
    log: Path,
    spool_home: Path,
    hide: tuple[Path, ...],
    require_isolation: bool,
) -> tuple[SandboxResult, Path]:
    """Run the code on a copy of ``view_db`` in a fresh folder; the spool ends in ``spool_home``."""
    with tempfile.TemporaryDirectory(prefix="joinedup-job-") as tmp:
        work = Path(tmp)
        if any(work.is_relative_to(h) for h in hide):
            raise UsageError("the system's temporary folder lies inside the node; set TMPDIR")
        data = work / "data.duckdb"
        shutil.copyfile(view_db, data)
        code = work / "code"
        code.mkdir()
        shutil.copyfile(spec.entry, code / spec.entry.name)
        spool = work / "spool"
        spool.mkdir()
        result = run_sandboxed(
            workdir=work,
            data=data,
            code=code / spec.entry.name,
            spool=spool,
            log=log,
            limits=spec.limits,
            hide=hide,
            require_isolation=require_isolation,
        )
        if spool_home.exists():
            shutil.rmtree(spool_home)
        shutil.copytree(spool, spool_home, symlinks=True)  # links stay links, never followed
        _keep_violations(work / VIOLATIONS_FILE, spool_home / VIOLATIONS_FILE)
    return result, spool_home


def _keep_violations(record: Path, kept: Path) -> None:
    """Append the guard's record (kept outside the spool) to the spool's copy; anything but a
    plain file in the copy's place counts as one more violation."""
    lines = record.read_bytes() if record.is_file() else b""
    if kept.is_symlink() or (kept.exists() and not kept.is_file()):
        if kept.is_symlink() or kept.is_file():
            kept.unlink()
        else:
            shutil.rmtree(kept)
        lines += b'{"event": "the spool held a link or folder in the record\'s place"}\n'
    if lines:
        with kept.open("ab") as out:
            out.write(lines)


def _replay(
    spool: Path, *, view_db: Path, views: list[str], session: OutputSession
) -> tuple[list[ReplayedOutput], list[str]]:
    reading = read_requests(spool)
    view = open_project_view(view_db)
    try:
        outputs = [
            replay_request(r, view=view, views=views, session=session) for r in reading.requests
        ]
    finally:
        view.close()
    return outputs, list(reading.problems)


def _step(progress: Progress | None, description: str, done: int) -> None:
    if progress is not None:
        progress(description, done, STEPS)


def run_synthetic(
    job_dir: Path,
    twin: Path | None = None,
    *,
    progress: Progress | None = None,
    cohort: CohortSpec | None = None,
) -> tuple[JobRecord, Path]:
    """Lock 1: run the job on the synthetic twin; checked outputs go to ``JOBDIR/outputs``.
    Returns the record and the child's log (synthetic data: the researcher may read it)."""
    spec = load_job(job_dir)
    twin = (twin or spec.folder / "twin.duckdb").resolve()
    if not twin.is_file():
        raise UsageError(
            f"no synthetic twin at {twin}: give --data TWIN.duckdb (download it from the node)"
        )
    workspace = spec.folder / WORKSPACE
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir()
    outputs_dir = spec.folder / "outputs"
    if outputs_dir.exists():
        shutil.rmtree(outputs_dir)
    view_db = workspace / "view.duckdb"
    _step(progress, "building the view from the twin", 0)
    built = build_project_view(
        source=twin, views=spec.views, target=view_db, twin=True, cohort=cohort
    )
    _step(progress, "running the job (separate process)", 1)
    log = workspace / "child.log"
    result, spool = _execute(
        spec,
        view_db=view_db,
        log=log,
        spool_home=workspace / "spool",
        hide=(),
        require_isolation=False,
    )
    violations = read_requests(spool).violations
    state, reason = _outcome(result, violations)
    record = JobRecord(
        job_id="synthetic",
        project_id=spec.project_id,
        submitted_by="you",
        submitted_at=_now(),
        synthetic=True,
        state=state,
        reason=reason,
        seconds=result.seconds,
        isolated=result.isolated,
        cohort_sha256=None if cohort is None else cohort.sha256,
        cohort_size=None if built.persons is None else rounded_size(built.persons),
    )
    if state is JobState.FINISHED:
        _step(progress, "checking outputs", STEPS - 1)
        con = duckdb.connect()
        try:
            session = OutputSession(
                con,
                project_id=f"synthetic:{spec.project_id}",
                release_dir=outputs_dir,
                staging_dir=workspace / "staging",
                actor="synthetic",
            )
            outputs, problems = _replay(
                spool, view_db=view_db, views=list(spec.views), session=session
            )
        finally:
            con.close()
        record = replace(record, outputs=tuple(outputs), problems=tuple(problems))
    _write_record(workspace, record)
    return record, log


def _refuse(folder: Path, record: JobRecord, reason: str) -> AccessDenied:
    _write_record(folder, replace(record, state=JobState.REFUSED, reason=reason))
    return AccessDenied(f"denied: {reason} (job {record.job_id} refused)")


def submit_job(
    settings: NodeSettings,
    job_dir: Path,
    actor_id: str,
    *,
    today: date | None = None,
    progress: Progress | None = None,
) -> JobRecord:
    """Lock 2: decide, check the declared columns, build the project view, run, replay."""
    try:
        spec: JobSpec | None = load_job(job_dir)
        spec_error: UsageError | None = None
    except UsageError as exc:
        spec, spec_error = None, exc
    project_id = spec.project_id if spec else None
    project = None
    if project_id is not None:
        with open_govern(settings) as gov:
            project = get_project(gov, project_id)
    purpose = project.spec.purpose if project else Purpose.RESEARCH
    _step(progress, "deciding", 0)
    decision = decide(
        node=settings,
        actor=actor_id,
        action=Action.RUN_JOB,
        resource=Resource(
            kind=ResourceKind.PROJECT,
            name=project_id or "(no readable job.toml)",
            level=DataLevel.L1_PSEUDONYMISED,
        ),
        purpose=purpose,
        project_id=project_id,
        today=today,
    )
    if spec is None:
        if decision.rule == "actor:unregistered" or spec_error is None:
            decision.raise_if_denied()
        raise spec_error or UsageError("no job")
    job_id = "J" + uuid.uuid4().hex[:10]
    folder = job_folder(settings, job_id)
    record = JobRecord(
        job_id=job_id,
        project_id=project_id,
        submitted_by=actor_id,
        submitted_at=_now(),
        synthetic=False,
        state=JobState.REFUSED,
        reason="",
    )
    if not decision.allowed:
        raise _refuse(folder, record, decision.reason)
    assert project is not None
    cohort = project.spec.cohort_spec
    if cohort is None:  # decide refuses these; never build a view of everyone by default
        raise _refuse(folder, record, f"project {project_id} has no approved cohort; re-apply")
    record = replace(record, cohort_sha256=cohort.sha256)
    approved = set(project.spec.variables)
    unapproved = [v for v in spec.variables if v not in approved]
    unapproved += [f"{v} (the view itself)" for v in spec.views if v not in project.spec.datasets]
    for view, columns in spec.views.items():
        decide(
            node=settings,
            actor=actor_id,
            action=Action.RUN_JOB,
            resource=Resource(
                kind=ResourceKind.TABLE,
                name=view,
                level=DataLevel.L1_PSEUDONYMISED,
                columns=columns,
            ),
            purpose=purpose,
            project_id=project_id,
            today=today,
        )
    if unapproved:
        raise _refuse(
            folder,
            record,
            f"the job reads columns outside project {project_id}'s approved variables: "
            + ", ".join(unapproved),
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "code").mkdir()
    shutil.copyfile(spec.entry, folder / "code" / spec.entry.name)
    shutil.copyfile(spec.folder / JOB_FILE, folder / "code" / JOB_FILE)
    view_db = folder / "project.duckdb"
    problem = isolation_problem()
    if problem is not None:  # before any data is copied
        reason = f"the job sandbox is unavailable on this node ({problem})"
        _write_record(folder, replace(record, state=JobState.FAILED, reason=reason))
        raise ConfigError(f"{reason}; jobs are refused rather than run without isolation")
    _write_record(folder, replace(record, state=JobState.RUNNING, reason="running"))
    try:
        _step(progress, "building the project view", 1)
        built = build_project_view(
            source=settings.store_path,
            views=spec.views,
            target=view_db,
            config=settings.duckdb_config(),
            cohort=cohort,
        )
        record = replace(record, cohort_size=rounded_size(built.persons or 0))
        _step(progress, "running the job (sandboxed)", 2)
        result, spool = _execute(
            spec,
            view_db=view_db,
            log=folder / "child.log",
            spool_home=folder / "spool",
            hide=(settings.root,),
            require_isolation=True,
        )
    except JoinedupError as exc:
        _write_record(folder, replace(record, state=JobState.FAILED, reason=str(exc)))
        raise
    violations = read_requests(spool).violations
    state, reason = _outcome(result, violations)
    record = replace(
        record, state=state, reason=reason, seconds=result.seconds, isolated=result.isolated
    )
    if state is JobState.FINISHED:
        _step(progress, "checking outputs", STEPS - 1)
        con = duckdb.connect(config={"threads": 1})
        try:
            session = open_output_session(
                settings, con, project_id=project.project_id, actor=actor_id
            )
            outputs, problems = _replay(
                spool, view_db=view_db, views=list(spec.views), session=session
            )
        finally:
            con.close()
        record = replace(record, outputs=tuple(outputs), problems=tuple(problems))
        released = [o.name for o in outputs if o.status == OutputStatus.RELEASED]
        if released:
            with open_govern(settings) as gov:
                for name in released:
                    record_release(gov, project.project_id, name, today or datetime.now(UTC).date())
    _write_record(folder, record)
    return record
