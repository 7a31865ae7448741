"""``joinedup link``: probabilistic linkage of files from outside the simulator.

``joinedup link files LEFT [RIGHT] --out DIR`` de-duplicates one file or links two, on the
standard column names (see ``joinedup.link.settings``); the work is ``joinedup.link.files``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.cli.options import JsonOpt
from joinedup.cli.progress import progress_bar
from joinedup.errors import UsageError
from joinedup.link.engine import (
    DEFAULT_ENGINE,
    DEFAULT_SPARK_DRIVER_MEMORY,
    DEFAULT_SPARK_MASTER,
    ENGINES,
    EngineSpec,
)
from joinedup.link.files import FileLinkSpec, link_files

app = typer.Typer(help="Link or de-duplicate files of person records.", no_args_is_help=True)
console = Console()


def _parse_map(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for v in values:
        their, sep, ours = v.partition("=")
        if not sep or not their.strip() or not ours.strip():
            raise UsageError(f"--map {v}: write it as THEIR_COLUMN=STANDARD_COLUMN")
        pairs.append((their.strip(), ours.strip()))
    return tuple(pairs)


@app.command("files")
def files_command(
    left: Annotated[Path, typer.Argument(help="The first file (CSV or Parquet).")],
    right: Annotated[
        Path | None,
        typer.Argument(help="A second file to link to the first; leave out to de-duplicate LEFT."),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for clusters.csv, pairs.csv and report.json.")
    ] = Path("linked"),
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            help="Match probability at or above which two records join one cluster.",
        ),
    ] = 0.9,
    pair_threshold: Annotated[
        float,
        typer.Option(
            "--pair-threshold", help="Lowest match probability of a pair written to pairs.csv."
        ),
    ] = 0.5,
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Rename a column to a standard name, as THEIR_COLUMN=STANDARD_COLUMN"
            " (repeatable).",
        ),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            "--compare",
            help="Also compare this non-standard column (exact, then fuzzy) (repeatable).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Leave this column out of linkage (repeatable)."),
    ] = None,
    within: Annotated[
        bool,
        typer.Option("--within", help="With two files, also find duplicates inside each file."),
    ] = False,
    one_to_one: Annotated[
        bool,
        typer.Option(
            "--one-to-one",
            help="Each file holds one record per person (a de-duplicated spine): a cluster"
            " takes at most one record of each file, by mutually best links.",
        ),
    ] = False,
    scored_pairs: Annotated[
        bool,
        typer.Option(
            "--scored-pairs",
            help="Also write every scored candidate pair to scored_pairs.parquet.",
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the random u sample.")] = 1,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Use the model.json of an earlier run (same compared columns) instead of "
            "training a new model.",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Where Splink runs: 'duckdb' (in this process) or 'spark' (see --spark-master).",
        ),
    ] = DEFAULT_ENGINE,
    spark_master: Annotated[
        str,
        typer.Option(
            "--spark-master",
            help="With --engine spark: local[N] on this machine, or a cluster's master URL "
            "(spark://HOST:7077, yarn, k8s://HOST:PORT).",
        ),
    ] = DEFAULT_SPARK_MASTER,
    spark_driver_memory: Annotated[
        str,
        typer.Option(
            "--spark-driver-memory",
            help="With --engine spark: the Spark driver's heap, e.g. 1g or 8g (on local[N] "
            "the driver does all the work).",
        ),
    ] = DEFAULT_SPARK_DRIVER_MEMORY,
    spark_checkpoint_dir: Annotated[
        Path | None,
        typer.Option(
            "--spark-checkpoint-dir",
            help="With --engine spark: where Spark writes intermediate tables (on a cluster, "
            "storage every executor reaches). Default: a temporary folder, removed after.",
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            help="With --engine duckdb: the most memory the whole run may use, e.g. 3GB "
            "(GB = 10^9 bytes, GiB = 2^30). DuckDB gets 80% of what the process does not "
            "already hold and spills above it to a temporary folder (removed after). "
            "Default: DuckDB's own (80% of the machine's memory).",
        ),
    ] = None,
    max_pairs: Annotated[
        int | None,
        typer.Option(
            "--max-pairs",
            min=1,
            help="The most candidate pairs all blocking rules together may generate (before "
            "overlaps); rules over budget are tightened (e.g. + year of birth) or left out, as "
            "report.json says. Default: 20 per input record, at least 10 million.",
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Link two files, or de-duplicate one, whose columns use the standard names."""
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    if engine == "spark" and memory_limit is not None:
        raise UsageError(
            "--memory-limit is for --engine duckdb; on Spark use --spark-driver-memory"
        )
    if not re.fullmatch(r"[0-9]+[kmgtKMGT]", spark_driver_memory):
        raise UsageError(f"--spark-driver-memory {spark_driver_memory}: write it as 1g, 512m, 8g")
    scratch = None
    if engine == "spark" and spark_checkpoint_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="joinedup-spark-"))
    try:
        _link(
            FileLinkSpec(
                files=(left,) if right is None else (left, right),
                out=out,
                threshold=threshold,
                pair_threshold=pair_threshold,
                column_map=_parse_map(column_map or []),
                compare=tuple(compare or ()),
                ignore=tuple(ignore or ()),
                within=within,
                one_to_one=one_to_one,
                write_scored_pairs=scored_pairs,
                seed=seed,
                model=model,
                memory_limit=memory_limit,
                max_pairs=max_pairs,
                engine=EngineSpec(
                    name=engine,
                    spark_master=spark_master,
                    spark_driver_memory=spark_driver_memory,
                    checkpoint_dir=spark_checkpoint_dir or scratch,
                ),
            ),
            json_output=json_output,
        )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _link(spec: FileLinkSpec, *, json_output: bool) -> None:
    pair_threshold, threshold = spec.pair_threshold, spec.threshold
    with progress_bar(not json_output) as report:
        result = link_files(spec, report)
    if json_output:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    table = Table(title=f"Linkage ({result.link_type})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for source, n in result.records.items():
        table.add_row(f"records in {source}", f"{n:,}")
    table.add_row("columns compared", ", ".join(result.columns_compared))
    table.add_row("candidate pairs scored", f"{result.scored_pairs:,}")
    table.add_row(f"pairs at p >= {pair_threshold}", f"{result.pairs_written:,}")
    table.add_row(f"clusters at p >= {threshold}", f"{result.clusters:,}")
    table.add_row("records in clusters of 2+", f"{result.records_in_multi_record_clusters:,}")
    table.add_row("largest cluster", f"{result.largest_cluster:,}")
    e = result.estimates
    if e.estimated_precision is not None:
        table.add_row("estimated precision (label-free)", f"{e.estimated_precision:.4f}")
    if e.estimated_recall_within_blocking is not None:
        table.add_row(
            "estimated recall within blocking (label-free)",
            f"{e.estimated_recall_within_blocking:.4f}",
        )
    if e.estimated_cluster_precision is not None:
        table.add_row(
            "estimated precision of the clusters' links (label-free)",
            f"{e.estimated_cluster_precision:.4f}",
        )
    if e.estimated_cluster_recall_one_to_one is not None:
        table.add_row(
            "estimated recall of the clusters' links, one-to-one (label-free)",
            f"{e.estimated_cluster_recall_one_to_one:.4f}",
        )
    for col, n in result.unreadable_values.items():
        table.add_row(f"unreadable values: {col}", f"{n:,}")
    console.print(table)
    console.print(f"Wrote clusters.csv, pairs.csv, report.json and model.json to {result.out}")
