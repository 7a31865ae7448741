"""``joinedup job run|submit|status|outputs``: the double lock from the command line.

``job run JOBDIR --synthetic`` runs on the researcher's own machine against a synthetic twin
file: no node is involved, so nothing is decided (the twin's download was). Every other command
acts on a node and is decided by ``joinedup.govern.decide`` as the ``--as`` actor first:
``submit`` as ``run_job`` under the job's project, ``status`` and ``outputs`` as ``read_job``,
``log`` (the job's printout, for node staff) as ``administer_node``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, JsonOpt, NodeArg
from joinedup.cli.progress import progress_bar
from joinedup.config import load_node
from joinedup.errors import UsageError
from joinedup.govern import LOCAL_OPERATOR_ID, Action, Resource, ResourceKind, decide
from joinedup.govern.cohort import load_cohort_file
from joinedup.jobs import JobRecord, JobState, find_job, read_job, run_synthetic, submit_job
from joinedup.jobs.runner import job_folder
from joinedup.outputs.node import release_dir
from joinedup.research.spool import VIOLATIONS_FILE

console = Console()
app = typer.Typer(
    help="Jobs: run analysis code on the synthetic twin, then inside the node (double lock).",
    no_args_is_help=True,
)

JobDirArg = Annotated[
    Path,
    typer.Argument(
        help="The job folder: job.toml and the analysis code.", exists=True, file_okay=False
    ),
]
JobIdArg = Annotated[str, typer.Argument(help="The job id printed by: joinedup job submit.")]

_EXIT = {JobState.FINISHED: 0, JobState.BLOCKED: 4, JobState.REFUSED: 3}


def _render(record: JobRecord, *, json_output: bool, title: str) -> None:
    if json_output:
        typer.echo(json.dumps(record.as_dict(), indent=2))
        return
    console.print(f"[bold]{title}[/] {record.job_id}: {record.state.value} ({record.reason})")
    if record.problems:
        for problem in record.problems:
            console.print(f"  spool: {problem}")
    if not record.outputs:
        return
    table = Table(title="Outputs")
    for heading in ("#", "output", "kind", "status", "files or reasons"):
        table.add_column(heading)
    for o in record.outputs:
        detail = ", ".join(o.files) if o.files else "; ".join(o.reasons)
        table.add_row(str(o.seq), o.name, o.kind, o.status, detail)
    console.print(table)


@app.command("run")
def job_run(
    job_dir: JobDirArg,
    synthetic: Annotated[
        bool,
        typer.Option(
            "--synthetic", help="Run against a synthetic twin (the only local run there is)."
        ),
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="The synthetic twin (a DuckDB file); default: twin.duckdb in the job folder.",
            dir_okay=False,
        ),
    ] = None,
    cohort_spec: Annotated[
        Path | None,
        typer.Option(
            "--cohort-spec",
            help="Keep only this cohort's children in the view (the project's cohort spec, "
            "JSON or YAML), as the node will; default: every child of the twin.",
            dir_okay=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Run a job on the synthetic twin; checked outputs are written to JOBDIR/outputs."""
    if not synthetic:
        raise UsageError(
            "a job meets real data only inside the node: run it here with --synthetic, "
            "then send it with: joinedup job submit NODE JOBDIR --as YOU"
        )
    cohort = None if cohort_spec is None else load_cohort_file(cohort_spec)
    with progress_bar(not json_output) as report:
        record, log = run_synthetic(job_dir, data, progress=report, cohort=cohort)
    if not json_output:
        console.print("[dim]--- the job's own output (synthetic data) ---[/]")
        console.print(log.read_text(encoding="utf-8", errors="replace").rstrip(), markup=False)
        console.print("[dim]---[/]")
    _render(record, json_output=json_output, title="synthetic run")
    if not json_output and record.outputs:
        console.print(f"outputs in {job_dir.resolve() / 'outputs'}")
    raise typer.Exit(_EXIT.get(record.state, 1))


@app.command("submit")
def job_submit(
    node: NodeArg,
    job_dir: JobDirArg,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Submit a job: decided under its project, run sandboxed on the project view, outputs
    checked. The job's own printout stays in the node."""
    settings = load_node(node)
    with progress_bar(not json_output) as report:
        record = submit_job(settings, job_dir, as_actor, progress=report)
    _render(record, json_output=json_output, title="job")
    raise typer.Exit(_EXIT.get(record.state, 1))


def _authorised_record(node: Path, job_id: str, actor: str) -> JobRecord:
    settings = load_node(node)
    known = find_job(settings, job_id)
    decide(
        node=settings,
        actor=actor,
        action=Action.READ_JOB,
        resource=Resource(kind=ResourceKind.OUTPUT, name=f"job {job_id}"),
        purpose=None,
        project_id=None if known is None else known.project_id,
    ).raise_if_denied()
    return read_job(settings, job_id)


@app.command("status")
def job_status(
    node: NodeArg,
    job_id: JobIdArg,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """A job's state: refused, blocked, failed, killed at a limit, or finished."""
    record = _authorised_record(node, job_id, as_actor)
    if json_output:
        data = record.as_dict()
        data.pop("outputs")
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(
        f"job {record.job_id} ({record.project_id}, by {record.submitted_by}, "
        f"{record.submitted_at}): {record.state.value}: {record.reason}"
    )
    counts: dict[str, int] = {}
    for o in record.outputs:
        counts[o.status] = counts.get(o.status, 0) + 1
    if counts:
        console.print("outputs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


@app.command("outputs")
def job_outputs(
    node: NodeArg,
    job_id: JobIdArg,
    json_output: JsonOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """What a job released, what was refused and why, and what waits for output checkers."""
    settings = load_node(node)
    record = _authorised_record(node, job_id, as_actor)
    _render(record, json_output=json_output, title="job")
    released = release_dir(settings, record.project_id or "")
    if not json_output and any(o.files for o in record.outputs):
        console.print(f"released files in {released}")


@app.command("log")
def job_log(
    node: NodeArg,
    job_id: JobIdArg,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Node staff only: the job's own printout and the sandbox's record of blocked actions.
    It may hold row values, so it is never released to the researcher."""
    settings = load_node(node)
    authorise(settings, as_actor, Action.ADMINISTER_NODE, kind=ResourceKind.NODE, name=job_id)
    folder = job_folder(settings, job_id)
    log = folder / "child.log"
    if not log.is_file():
        raise UsageError(f"job {job_id} has no log (it was refused before it ran, or is unknown)")
    console.print(log.read_text(encoding="utf-8", errors="replace"), markup=False)
    violations = folder / "spool" / VIOLATIONS_FILE
    if violations.is_file() and violations.read_bytes().strip():
        console.print("[bold]blocked by the sandbox:[/]")
        console.print(violations.read_text(encoding="utf-8", errors="replace"), markup=False)
