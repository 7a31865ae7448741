"""``job.toml``: what a job is, read and checked at this edge.

::

    project = "P0123456789"          # the approved project the job runs under
    entry = "analysis.py"            # the researcher's code, beside job.toml

    [views]                          # the views and columns the code reads
    view__secondary__person = ["sex", "birth_month"]

    [limits]                         # optional; capped by the node's maxima
    seconds = 120                    # wall clock
    cpu_seconds = 60
    memory_mb = 2048

Invariants: views are ``view__secondary__*`` names; columns are plain identifiers; the person
id (``person_id``) is always present and need not be listed; the entry file lies inside the
job folder.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from joinedup.errors import UsageError
from joinedup.research.spool import PERSON
from joinedup.store.secondary import SECONDARY_PREFIX

JOB_FILE = "job.toml"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

# The node's maxima: a job may ask for less, never more.
MAX_SECONDS = 600
MAX_CPU_SECONDS = 600
MAX_MEMORY_MB = 4096
DEFAULT_SECONDS = 120
DEFAULT_CPU_SECONDS = 60
DEFAULT_MEMORY_MB = 2048
MIN_MEMORY_MB = 512  # Python, DuckDB and pyarrow need this much address space to start


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(default=DEFAULT_SECONDS, gt=0, le=MAX_SECONDS)
    cpu_seconds: int = Field(default=DEFAULT_CPU_SECONDS, ge=1, le=MAX_CPU_SECONDS)
    memory_mb: int = Field(default=DEFAULT_MEMORY_MB, ge=MIN_MEMORY_MB, le=MAX_MEMORY_MB)


class _JobFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str = Field(min_length=1, max_length=64)
    entry: str = "analysis.py"
    views: dict[str, list[str]]
    limits: _Limits = _Limits()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobLimits:
    seconds: float = DEFAULT_SECONDS
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    folder: Path
    project_id: str
    entry: Path
    views: dict[str, tuple[str, ...]]  # view -> columns (person_id not listed)
    limits: JobLimits

    @property
    def variables(self) -> tuple[str, ...]:
        """The declared columns as ``view.column`` (the form a project approves)."""
        return tuple(f"{v}.{c}" for v, cols in self.views.items() for c in cols)


def load_job(folder: Path) -> JobSpec:
    """The job in ``folder``; UsageError saying what is wrong with its ``job.toml``."""
    folder = folder.resolve()
    path = folder / JOB_FILE
    if not path.is_file():
        raise UsageError(
            f"{folder} is not a job folder (no {JOB_FILE}); see docs/how-to/run-a-job.md"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        parsed = _JobFile.model_validate(raw)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise UsageError(f"{path} is malformed ({problems})") from None
    entry = (folder / parsed.entry).resolve()
    if not entry.is_relative_to(folder) or entry.suffix != ".py":
        raise UsageError(f"{path}: entry must be a .py file inside the job folder")
    if not entry.is_file():
        raise UsageError(f"{path}: entry {parsed.entry} does not exist")
    if not parsed.views:
        raise UsageError(f"{path}: list the views the code reads under [views]")
    views: dict[str, tuple[str, ...]] = {}
    for view, columns in parsed.views.items():
        if not view.startswith(SECONDARY_PREFIX) or not IDENTIFIER.match(view):
            raise UsageError(f"{path}: view {view} is not a {SECONDARY_PREFIX}* view")
        bad = [c for c in columns if not IDENTIFIER.match(c)]
        if bad:
            raise UsageError(f"{path}: {view} has malformed column name(s): {', '.join(bad)}")
        views[view] = tuple(dict.fromkeys(c for c in columns if c != PERSON))
    return JobSpec(
        folder=folder,
        project_id=parsed.project,
        entry=entry,
        views=views,
        limits=JobLimits(
            seconds=parsed.limits.seconds,
            cpu_seconds=parsed.limits.cpu_seconds,
            memory_mb=parsed.limits.memory_mb,
        ),
    )


def read_project_id(folder: Path) -> str | None:
    """The project a job names, or None if its ``job.toml`` cannot be read."""
    try:
        return load_job(folder).project_id
    except UsageError:
        return None
