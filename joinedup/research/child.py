"""The sandboxed process's entry: ``python -I -m joinedup.research.child --data DB --spool DIR
--code analysis.py --record violations.jsonl``.

The job runner starts this in a separate process (a network namespace with no network, resource
limits, a bare root without the node; see ``joinedup.jobs.sandbox``). Here it opens the one database
it is given read-only, with DuckDB's file and network access switched off and locked, installs
a Python audit hook (``sys.addaudithook``) and runs the researcher's code. The hook blocks, and
records in ``--record`` (beside the spool, where the code may not remove it): any socket use,
starting processes (``subprocess``, ``os.system``, ``exec``, ``fork``, ``posix_spawn``),
``ctypes``, writing, renaming or deleting files outside the spool, and reading files outside
Python's own installation, the code folder, the spool and the data file. A blocked action raises
``SandboxViolation``, which is not an ``Exception`` (a bare ``except Exception`` does not
swallow it); any recorded violation makes the node release nothing from the job.

Exit codes: 0 ran to the end; 1 the code raised; 70 the sandbox blocked an action; 71 the code
ran out of memory (``RLIMIT_AS``); 2 bad arguments. The hook is defence in depth: the
operating-system walls (network namespace, bare root, limits) hold even against code
that gets past it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_BLOCKED = 70
EXIT_MEMORY = 71
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_BLOCKED_PREFIXES = ("socket.", "ctypes.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn")
_BLOCKED_EVENTS = frozenset(
    {
        "os.system",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "pty.spawn",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys.setprofile",
        "sys.settrace",
        "webbrowser.open",
    }
)
_WRITE_EVENTS = frozenset(
    {
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.link",
        "os.symlink",
        "os.rename",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "shutil.make_archive",
        "shutil.unpack_archive",
    }
)
_READ_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "os.walk"})
_BLOCKED_IMPORTS = frozenset({"ctypes", "_ctypes", "duckdb", "_duckdb"})


class SandboxViolation(BaseException):
    """An action the sandbox does not allow (deliberately not an ``Exception``)."""


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def install_guard(*, write_root: Path, read_roots: list[Path], record_fd: int) -> None:
    """Install the audit hook (irremovable for the process's life)."""
    writes = (os.path.realpath(write_root),)
    reads = tuple(os.path.realpath(p) for p in [*read_roots, write_root])
    busy = [False]

    def block(event: str, what: str) -> None:
        line = json.dumps({"event": event, "what": what}) + "\n"
        with contextlib.suppress(OSError):
            os.write(record_fd, line.encode())
        raise SandboxViolation(f"blocked by the job sandbox: {event} ({what})")

    def resolve(target: Any) -> str | None:
        if isinstance(target, int) or target is None:
            return None
        if isinstance(target, bytes):
            target = target.decode(errors="replace")
        return str(os.path.realpath(os.fspath(target)))

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            _check(event, args)
        finally:
            busy[0] = False

    def _check(event: str, args: tuple[Any, ...]) -> None:
        if event in _BLOCKED_EVENTS or event.startswith(_BLOCKED_PREFIXES):
            block(event, "not allowed in a job")
        if event == "import" and args and str(args[0]).split(".")[0] in _BLOCKED_IMPORTS:
            block(event, str(args[0]))
        if event == "os.truncate" and args and isinstance(args[0], int):
            block(event, "truncating an open file")
        if event == "open":
            path = resolve(args[0])
            if path is None:
                return
            mode = str(args[1] or "r")
            flags = int(args[2] or 0) if len(args) > 2 else 0
            writing = any(c in mode for c in "wax+") or bool(flags & _WRITE_FLAGS)
            if writing and not _inside(path, writes):
                block("open for writing outside the spool folder", path)
            if not writing and not _inside(path, reads):
                block("open for reading outside the job's files", path)
        elif event in _WRITE_EVENTS:
            for target in args[:2]:
                path = resolve(target) if isinstance(target, str | bytes | os.PathLike) else None
                if path is not None and not _inside(path, writes):
                    block(f"{event} outside the spool folder", path)
        elif event in _READ_EVENTS:
            path = resolve(args[0] if args else None) or os.getcwd()
            if not _inside(path, reads):
                block(f"{event} outside the job's files", path)

    check: Callable[[str, tuple[Any, ...]], None] = hook
    sys.addaudithook(check)


def _read_roots(code_dir: Path, data: Path) -> list[Path]:
    package = Path(__file__).resolve().parent.parent  # joinedup itself (an editable install)
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), code_dir, data}
    roots.add(package)
    roots |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    roots |= {Path(str(data) + ".wal"), Path("/dev/null"), Path("/dev/urandom")}
    roots |= {Path("/proc/self"), Path("/sys/devices/system/cpu"), Path("/etc/localtime")}
    roots |= {Path("/usr/share/zoneinfo")}
    return sorted(roots)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="joinedup.research.child")
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--spool", required=True, type=Path)
    parser.add_argument("--code", required=True, type=Path)
    parser.add_argument("--record", required=True, type=Path)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--threads", default=1, type=int)
    args = parser.parse_args(argv)

    import duckdb
    import pyarrow.parquet  # noqa: F401 - loaded before the guard closes imports

    from joinedup import research

    con = duckdb.connect(
        str(args.data),
        read_only=True,
        config={
            "enable_external_access": False,
            "memory_limit": args.memory_limit,
            "threads": args.threads,
            "lock_configuration": True,
        },
    )
    research.open_research(con, args.spool)
    code = args.code.resolve()
    source = code.read_text(encoding="utf-8")
    record_fd = os.open(args.record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chdir(args.spool)
    sys.path[:0] = [str(code.parent)]
    install_guard(
        write_root=args.spool, read_roots=_read_roots(code.parent, args.data), record_fd=record_fd
    )
    try:
        exec(compile(source, str(code), "exec"), {"__name__": "__main__"})
    except SandboxViolation:
        traceback.print_exc()
        return EXIT_BLOCKED
    except MemoryError:
        print("the job ran out of its memory limit", file=sys.stderr)
        return EXIT_MEMORY
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
