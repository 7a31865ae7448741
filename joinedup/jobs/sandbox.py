"""Running a job's code in a separate, confined process (the parent side).

``run_sandboxed`` starts ``python -I -m joinedup.research.child`` under
``unshare --user --map-root-user --mount --net`` (util-linux):

- **no network**: a fresh network namespace has no interface but a loopback that is down;
- **a root of its own**: in the fresh mount namespace an empty tmpfs becomes the process's root
  (``chroot``), holding only the system's programs and libraries, Python's installation,
  joinedup's environment and package (``exposed_paths``, bound read-only) and the job's work
  folder. The node (vault, store, ``govern.duckdb``, key), the extracts beside it and every other
  folder on the machine are simply not there, for Python, DuckDB, pyarrow or any C code;
- **limits**: ``RLIMIT_AS`` (memory), ``RLIMIT_CPU`` (CPU seconds), ``RLIMIT_FSIZE`` (largest
  file) and no core dumps, set with ``resource.setrlimit`` before the code starts, and a
  wall-clock timeout here, after which the whole process group is killed;
- **only its own files**: the work folder (outside the node) holds one copy of the project view,
  the code and an empty spool; the environment is bare.

If the namespaces cannot be made (``unshare`` missing or not permitted) and isolation is
required (always, inside a node), the job is refused with a clear error rather than run
unconfined. Inside the child a Python audit hook adds a second wall (``research.child``).

Invariants: the child's arguments and environment carry no node path, and no exposed folder
contains the node; its stdout and stderr go to a log for node staff, never to the researcher.
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
# In the new mount namespace: an empty tmpfs root; the exposed folders bound into it read-only
# (links recreated, single files bound onto empty files); the work folder bound writable; then
# chroot into it. Arguments: ROOT CHROOT EXPOSED... -- WORKDIR COMMAND...
_ROOT_SCRIPT = """set -e
R="$1"; C="$2"; shift 2
mount -t tmpfs -o size=4m,mode=755 joinedup-root "$R"
while [ "$1" != "--" ]; do
  if [ -L "$1" ]; then mkdir -p "$R$(dirname "$1")"; ln -s "$(readlink "$1")" "$R$1"
  elif [ -d "$1" ]; then mkdir -p "$R$1"; mount --rbind "$1" "$R$1"
    mount -o remount,bind,ro "$R$1" 2>/dev/null || true
  elif [ -e "$1" ]; then mkdir -p "$R$(dirname "$1")"; : > "$R$1"; mount --bind "$1" "$R$1"
  fi
  shift
done
shift
W="$1"; shift
mkdir -p "$R$W"; mount --bind "$W" "$R$W"
exec "$C" "$R" "$@"
"""
SYSTEM_FOLDERS = ("/usr", "/bin", "/lib", "/lib64")
SYSTEM_FILES = (
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
    "/dev/random",
)
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
                confined_command(["/bin/true"], workdir=Path(probe)),
                capture_output=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired, ConfigError) as exc:
            return f"unshare could not run: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        return "unshare -rmn is not permitted here" + (f" ({detail[-1]})" if detail else "")
    return None


def exposed_paths() -> list[str]:
    """What a job's process sees besides its work folder: the system's programs and libraries,
    Python's installation, the environment joinedup runs in and joinedup itself, read-only."""
    package = Path(__file__).resolve().parents[1]  # joinedup (an editable install lives here)
    wanted = [*SYSTEM_FOLDERS, sys.base_prefix, sys.prefix, str(package), *SYSTEM_FILES]
    present = [p for p in dict.fromkeys(wanted) if os.path.lexists(p)]
    folders = [p for p in present if os.path.isdir(p) and not os.path.islink(p)]
    # a folder inside another exposed folder is already there
    return [p for p in present if not any(p != f and Path(p).is_relative_to(f) for f in folders)]


def confined_command(argv: list[str], *, workdir: Path, hide: tuple[Path, ...] = ()) -> list[str]:
    """``argv`` wrapped to run with no network, in a root holding only ``exposed_paths()`` and
    ``workdir``. ``hide`` names folders that must not be visible (the node): ConfigError if an
    exposed folder would show one."""
    unshare = shutil.which("unshare") or "unshare"
    chroot = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if chroot is None:
        raise ConfigError("chroot (coreutils) is not installed")
    exposed = exposed_paths()
    for folder in (*hide, workdir):
        for path in exposed:
            if Path(folder).resolve().is_relative_to(path):
                raise ConfigError(f"{folder} lies inside {path}, which a job's process sees")
    root = workdir / ".root"  # the new root's mount point (empty outside the namespace)
    root.mkdir(exist_ok=True)
    script = ["sh", "-c", _ROOT_SCRIPT, "sh", str(root), chroot, *exposed, "--", str(workdir)]
    return [unshare, *UNSHARE, "--", *script, *argv]


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
    command = confined_command(child, workdir=workdir, hide=hide) if isolated else child
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
