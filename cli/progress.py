"""Progress and messages for the terminal: rich when interactive, plain lines otherwise.

Library and pipeline code report progress through plain callbacks; this module
turns them into a rich progress bar on a terminal, or into occasional log lines
when output goes to a file or CI log (so logs stay readable).
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False)


def interactive() -> bool:
    return console.is_terminal


class PlainTask:
    """Progress as a log line every ``every`` seconds, for non-terminal output."""

    def __init__(self, description: str, total: int | None, every: float = 10.0):
        self.description, self.total, self.every = description, total, every
        self.done = self.skipped = 0
        self.start = self.last = time.monotonic()
        self.extra = ""

    def skip(self, n: int) -> None:
        """Count work already done before this run (resume) without crediting it to the rate."""
        self.done += n
        self.skipped += n

    def advance(self, n: int = 1, extra: str = "") -> None:
        self.done += n
        self.extra = extra or self.extra
        now = time.monotonic()
        if now - self.last >= self.every or (self.total and self.done >= self.total):
            self.last = now
            total = f"/{self.total}" if self.total else ""
            rate = (self.done - self.skipped) / max(now - self.start, 1e-9)
            print(f"[{self.description}] {self.done}{total} ({rate:.1f}/s) {self.extra}", file=sys.stderr, flush=True)


class RichTask:
    def __init__(self, progress: Progress, description: str, total: int | None):
        self.progress = progress
        self.task = progress.add_task(description, total=total, extra="")

    def advance(self, n: int = 1, extra: str = "") -> None:
        self.progress.update(self.task, advance=n, extra=extra)

    def skip(self, n: int) -> None:
        """Work done by an earlier run: moves the bar; rich's speed estimate only sees later steps."""
        self.progress.reset(self.task, completed=n)


@contextlib.contextmanager
def track(description: str, total: int | None) -> Iterator[PlainTask | RichTask]:
    """A progress reporter with ``advance(n, extra="")``, rich or plain as fits the output."""
    if not interactive():
        yield PlainTask(description, total)
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[extra]}")]
    with Progress(*columns, console=console, transient=False) as progress:
        yield RichTask(progress, description, total)


def fail(message: str, hint: str | None = None) -> None:
    """Print an error (and what to do about it) and exit with status 2."""
    console.print(f"[bold red]error:[/] {message}")
    if hint:
        console.print(f"[dim]hint:[/] {hint}")
    raise SystemExit(2)
