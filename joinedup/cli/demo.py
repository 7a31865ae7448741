"""``joinedup demo``: the main job end to end on the embedded default.

Simulate a district, create a node, ingest every extract, build the person index and the linked
store, and report what the node now holds, with the index scored against the simulator's truth.
Then register one demo actor per role with a web sign-in, print the logins, and serve the web app
on 127.0.0.1 until Ctrl-C (``--no-serve``: build everything and stop, for scripts).
The demo folder is rebuilt from scratch on every run; a folder that was not made by the demo is
never touched.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.gate import authorise
from joinedup.cli.options import JsonOpt
from joinedup.cli.progress import StepProgress, progress_bar
from joinedup.config import load_node
from joinedup.errors import ContractError, UsageError
from joinedup.govern import LOCAL_OPERATOR_ID, Action, ResourceKind
from joinedup.ingest import IngestResult, ingest_dir, init_node
from joinedup.link import LinkageScore, RefreshResult, refresh_node, score_node_against_truth
from joinedup.link.report import build_linkage_report
from joinedup.link.report_html import render_report_html
from joinedup.simulate import SimulationResult, SimulationSpec, simulate_district
from joinedup.simulate.district import MAX_PEOPLE

console = Console()
MARKER = ".joinedup-demo"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoResult:
    folder: Path
    simulation: SimulationResult
    ingest: tuple[IngestResult, ...]
    refresh: RefreshResult
    score: LinkageScore
    stage_seconds: tuple[tuple[str, float], ...]
    report_path: Path | None = None

    @property
    def store_path(self) -> Path:
        return self.folder / "node" / "store.duckdb"

    def as_dict(self) -> dict[str, object]:
        return {
            "folder": str(self.folder),
            "extracts": str(self.folder / "extracts"),
            "truth": str(self.folder / "extracts" / "truth"),
            "node": str(self.folder / "node"),
            "store": str(self.store_path),
            "linkage_report": None if self.report_path is None else str(self.report_path),
            "people": self.simulation.people,
            "seed": self.simulation.seed,
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds},
            "ingest": [r.to_dict() for r in self.ingest],
            "ingest_totals": {
                "read": sum(r.read for r in self.ingest),
                "accepted": sum(r.accepted for r in self.ingest),
                "quarantined": sum(r.quarantined for r in self.ingest),
                "flagged": sum(r.flagged for r in self.ingest),
            },
            "refresh": self.refresh.as_dict(),
            "person_index_vs_truth": {
                "records_scored": self.score.records_scored,
                "precision": round(self.score.precision, 6),
                "recall": round(self.score.recall, 6),
                "f1": round(self.score.f1, 6),
            },
        }


def _prepare(folder: Path) -> None:
    """Empty a previous demo folder; refuse a folder the demo did not make."""
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{folder} exists and is not a folder; choose another --dir")
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise UsageError(
                f"{folder} is not empty and was not made by `joinedup demo`; choose another --dir"
            )
        for child in ("extracts", "node"):
            shutil.rmtree(folder / child, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by joinedup demo; rebuilt on every run\n")


def run_demo(
    folder: Path, *, people: int, seed: int, progress: StepProgress | None = None
) -> DemoResult:
    """Run the whole spine into ``folder``; the building block of the command and its tests."""
    if not 100 <= people <= MAX_PEOPLE:
        raise UsageError(f"--people must be between 100 and {MAX_PEOPLE}")
    _prepare(folder)
    extracts, node_dir = folder / "extracts", folder / "node"
    timings: list[tuple[str, float]] = []

    def simulate_progress(name: str, fraction: float) -> None:
        if progress is not None:
            progress(f"simulate: {name}", int(fraction * 100), 100)

    t0 = time.perf_counter()
    simulation = simulate_district(
        SimulationSpec(people=people, seed=seed), extracts, simulate_progress
    )
    timings.append(("simulate", time.perf_counter() - t0))

    t0 = time.perf_counter()
    settings = init_node(node_dir, name="demo")
    # the demo's own node: decided and audited as its local operator
    authorise(
        settings, LOCAL_OPERATOR_ID, Action.ADMINISTER_NODE, kind=ResourceKind.NODE, name="demo"
    )
    ingested = tuple(ingest_dir(settings, extracts, progress))
    timings.append(("ingest", time.perf_counter() - t0))
    rejected = [r for r in ingested if r.is_failure]
    if rejected:
        raise ContractError(
            "the demo's own extracts were rejected: "
            + ", ".join(f"{r.source} ({r.error or 'every row quarantined'})" for r in rejected)
        )

    t0 = time.perf_counter()
    refreshed = refresh_node(settings, progress)
    timings.append(("refresh", time.perf_counter() - t0))

    t0 = time.perf_counter()
    score = score_node_against_truth(settings, extracts / "truth" / "person_map.csv")
    timings.append(("score against truth", time.perf_counter() - t0))

    t0 = time.perf_counter()
    report = build_linkage_report(settings, truth_dir=extracts / "truth")
    report_path = folder / "linkage-report.html"
    report_path.write_text(render_report_html(report), encoding="utf-8")
    timings.append(("linkage report", time.perf_counter() - t0))
    return DemoResult(
        folder=folder,
        simulation=simulation,
        ingest=ingested,
        refresh=refreshed,
        score=score,
        stage_seconds=tuple(timings),
        report_path=report_path,
    )


def _render(result: DemoResult) -> None:
    ingest = Table(title="Ingest: every row accepted or quarantined")
    for heading in ("source", "read", "accepted", "quarantined", "flagged", "reconciles"):
        ingest.add_column(heading, justify="left" if heading == "source" else "right")
    for r in result.ingest:
        ok = r.accepted + r.quarantined == r.read
        ingest.add_row(
            r.source,
            f"{r.read:,}",
            f"{r.accepted:,}",
            f"{r.quarantined:,}",
            f"{r.flagged:,}",
            "yes" if ok else "[bold red]NO[/]",
        )
    console.print(ingest)

    store = Table(title="Linked store (store.duckdb)")
    store.add_column("table")
    store.add_column("rows", justify="right")
    for name, count in result.refresh.table_counts.items():
        store.add_row(name, f"{count:,}")
    console.print(store)

    index, score = result.refresh.index, result.score
    console.print(
        f"Person index ({index.method}): [bold]{index.persons:,}[/] persons from "
        f"{index.records:,} identity records; against the simulator's truth: precision "
        f"[bold]{score.precision:.4f}[/], recall [bold]{score.recall:.4f}[/]"
        f" (pairwise, {score.records_scored:,} records)"
    )
    timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.stage_seconds)
    console.print(f"Time: {timings}")
    console.print(
        f"Extracts: {result.folder / 'extracts'} (truth in {result.folder / 'extracts' / 'truth'})"
        f"\nNode: {result.folder / 'node'}   linked store: {result.store_path}"
        f"\nLinkage report: {result.report_path}"
        f"\nNext: joinedup node status {result.folder / 'node'}"
    )


def demo_command(
    folder: Annotated[
        Path, typer.Option("--dir", help="Folder to build the demo in (rebuilt on every run).")
    ] = Path("demo"),
    people: Annotated[
        int, typer.Option("--people", help=f"District size, 100-{MAX_PEOPLE} people.")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Simulator seed.")] = 7,
    json_output: JsonOpt = False,
    no_serve: Annotated[
        bool,
        typer.Option("--no-serve", help="Build everything, print the logins, and do not serve."),
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address the web app listens on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[
        int, typer.Option("--port", help="Port the web app listens on.", min=1, max=65535)
    ] = 8000,
) -> None:
    """Simulate a district, build a node from it, seed demo logins, and serve the web app."""
    from joinedup.web import AccountStore, web_settings_for
    from joinedup.web.demo_accounts import seed_demo_accounts, seed_demo_review_queues

    with progress_bar(not json_output) as progress:
        result = run_demo(folder, people=people, seed=seed, progress=progress)
    web = web_settings_for(load_node(result.folder / "node"))
    logins = seed_demo_accounts(AccountStore(web.database_path), web.node)
    seed_demo_review_queues(web.node)
    url = f"http://{host}:{port}/"
    if json_output:
        report = result.as_dict() | {
            "web": {"url": url, "logins": [login.as_dict() for login in logins]}
        }
        typer.echo(json.dumps(report))
    else:
        _render(result)
        table = Table(title=f"Demo logins for {url} (printed once; kept only as hashes)")
        for heading in ("username", "password", "role", "organisation"):
            table.add_column(heading)
        for login in logins:
            table.add_row(login.username, login.password, login.role, login.organisation)
        console.print(table)
        console.print(
            "Children's NHS numbers, UPNs and dates of birth for the child view and the"
            f" opt-out form are in the simulated extracts: {result.folder / 'extracts'}"
        )
    if no_serve:
        return
    from joinedup.cli.serve import serve

    console.print(f"Serving the demo at [bold]{url}[/] (Ctrl-C to stop)")
    serve(web, host=host, port=port)
