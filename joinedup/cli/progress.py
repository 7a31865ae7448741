"""One rich progress bar for every long command, and the callback shape rooms report through.

Rooms report progress as ``progress(description, done, total)``; the CLI turns that into a bar on
stderr, so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

StepProgress = Callable[[str, int, int], None]

err_console = Console(stderr=True)


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[StepProgress | None]:
    """Yield a ``(description, done, total)`` callback drawing a bar, or None when disabled."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1)

        def report(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=max(total, 1))

        yield report
