"""Progress and messages for the terminal: rich when interactive, plain lines otherwise.

Library and pipeline code report progress through plain callbacks; this module
turns them into a rich progress bar on a terminal, or into occasional log lines
when output goes to a file or CI log (so logs stay readable).

Messages are never hard-wrapped at the terminal width (``soft_wrap``): a message
is one line, whatever ``COLUMNS`` or the length of the paths in it, so it can be
grepped and tested.  When stderr is not a terminal they are plain text (the
markup is resolved, no styling codes) and tables take the width they need.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import time
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

DEBUG_ENV = "BOX2MASK_DEBUG"  # set by `box2mask --debug`: errors also print their traceback
PLAIN_WIDTH = 10_000  # the width tables are laid out in when output is not a terminal


class MessageConsole(Console):
    """Rich's console, except that output which is not a terminal (a log, a pipe, a test) has no width.

    Rich would lay tables out in ``COLUMNS`` (or 80) columns even in a log file and
    cut their cells ("shar…"); there, a table takes the width its content needs.
    """

    @property
    def size(self):
        size = Console.size.fget(self)
        if self.is_terminal:
            return size
        return size._replace(width=max(size.width, PLAIN_WIDTH))

    @size.setter
    def size(self, new_size) -> None:
        Console.size.fset(self, new_size)


# soft_wrap: console.print never breaks a line at the width (the terminal wraps it, if at all);
# emoji=False: ":name:" in a path or message stays as written.
console = MessageConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def interactive() -> bool:
    return console.is_terminal


def say(markup: str) -> None:
    """Print one message (rich markup, user text escaped) on stderr: styled on a terminal, else plain.

    Never wrapped: one message is one line of output, at any terminal width.
    """
    if interactive():
        console.print(markup, soft_wrap=True)
    else:
        print(Text.from_markup(markup, emoji=False).plain, file=sys.stderr, flush=True)


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
    """Print an error (and what to do about it) and exit with status 2.

    ``message`` and ``hint`` are rich markup: escape user text in them (``rich.markup.escape``).
    Each is printed on one line (see :func:`say`).
    """
    say(f"[bold red]error:[/] {message}")
    if hint:
        say(f"[dim]hint:[/] {hint}")
    if os.environ.get(DEBUG_ENV) and sys.exc_info()[0] is not None:  # `box2mask --debug ...`
        traceback.print_exc(file=sys.stderr)
    raise SystemExit(2)
