"""Running a job's code in a separate, confined process (the parent side).

``run_sandboxed`` starts ``python -I -m joinedup.research.child`` under
``unshare --user --map-root-user --mount --net`` (util-linux):

- **no network**: a fresh network namespace has no interface but a loopback that is down;
- **the node hidden**: in the fresh mount namespace an empty read-only tmpfs is mounted over
  each folder in ``hide`` (the node folder), so the vault, the store, ``govern.duckdb`` and the
  key are not there to open, by Python or by DuckDB;
- **limits**: ``RLIMIT_AS`` (memory), ``RLIMIT_CPU`` (CPU seconds), ``RLIMIT_FSIZE`` (largest
  file) and no core dumps, set with ``resource.setrlimit`` before the code starts, and a
  wall-clock timeout here, after which the whole process group is killed;
- **only its own files**: the child gets one copy of the project view, the code folder and an
  empty spool folder, all in a fresh folder outside the node, and a bare environment.

If the namespaces cannot be made (``unshare`` missing or not permitted) and isolation is
required (always, inside a node), the job is refused with a clear error rather than run
unconfined. Inside the child a Python audit hook adds a second wall (``research.child``).

Invariants: the child's arguments and environment carry no node path; its stdout and stderr go
to a log for node staff, never to the researcher.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from joinedup.errors import ConfigError
from joinedup.jobs.spec import JobLimits
from joinedup.research.spool import VIOLATIONS_FILE

UNSHARE = ("--user", "--map-root-user", "--mount", "--net")
# Mount an empty read-only tmpfs over every folder named before "--", then run the rest.
_HIDE_SCRIPT = (
    'while [ "$1" != "--" ]; do '
    'mount -t tmpfs -o ro,size=4k,mode=000 joinedup-hidden "$1" || exit 97; shift; done; '
    'shift; exec "$@"'
)
EXIT_HIDE_FAILED = 97
MAX_FILE_BYTES = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxResult:
    exit_code: int | None  # None when killed at the wall-clock limit
    timed_out: bool
    signal_name: str | None  # the signal that ended the process, if one did
    seconds: float
    isolated: bool  # ran inside the namespaces


def isolation_problem() -> str | None:
    """Why the namespaces cannot be made here, or None if they can."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="joinedup-probe-") as probe:
        try:
            done = subprocess.run(
                [unshare, *UNSHARE, "--", "sh", "-c", _HIDE_SCRIPT, "sh", probe, "--", "true"],
                capture_output=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unshare could not run: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        return "unshare -rmn is not permitted here" + (f" ({detail[-1]})" if detail else "")
    return None


def confined_command(argv: list[str], *, hide: tuple[Path, ...]) -> list[str]:
    """``argv`` wrapped to run with no network and with the ``hide`` folders emptied."""
    unshare = shutil.which("unshare") or "unshare"
    folders = [str(h) for h in hide]
    return [unshare, *UNSHARE, "--", "sh", "-c", _HIDE_SCRIPT, "sh", *folders, "--", *argv]


def _limit(limits: JobLimits) -> None:
    memory = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_sandboxed(
    *,
    workdir: Path,
    data: Path,
    code: Path,
    spool: Path,
    log: Path,
    limits: JobLimits,
    hide: tuple[Path, ...] = (),
    require_isolation: bool = True,
) -> SandboxResult:
    """Run ``code`` against ``data`` in a confined child; its output requests land in ``spool``.

    ``workdir`` is the fresh folder outside the node holding ``data``, ``code`` and ``spool``."""
    problem = isolation_problem()
    if problem is not None and require_isolation:
        raise ConfigError(
            f"the job sandbox is unavailable ({problem}); jobs are refused rather than run "
            "without isolation. Install util-linux and allow user namespaces "
            "(see docs/reference/jobs.md)"
        )
    memory_limit = f"{max(limits.memory_mb // 2, 128)}MB"
    child = [
        sys.executable,
        "-I",
        "-m",
        "joinedup.research.child",
        "--data",
        str(data),
        "--spool",
        str(spool),
        "--code",
        str(code),
        "--record",
        str(workdir / VIOLATIONS_FILE),
        "--memory-limit",
        memory_limit,
    ]
    isolated = problem is None
    command = confined_command(child, hide=hide) if isolated else child
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(spool),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    started = time.monotonic()
    timed_out = False
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: _limit(limits),
            start_new_session=True,
            close_fds=True,
        )
        try:
            proc.wait(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    seconds = time.monotonic() - started
    code_ = proc.returncode
    signal_name = None
    if code_ is not None and code_ < 0:
        signal_name = signal.Signals(-code_).name
    elif isolated and code_ is not None and code_ > 128:
        # unshare passes on a killed child as 128 + signal
        try:
            signal_name = signal.Signals(code_ - 128).name
        except ValueError:
            signal_name = None
    return SandboxResult(
        exit_code=None if timed_out else code_,
        timed_out=timed_out,
        signal_name=signal_name,
        seconds=seconds,
        isolated=isolated,
    )
