"""What went wrong when writing an export, a report or a QA file, said in words.

An ``OSError`` names an errno and often a temporary file; the user needs the
file they asked for, the real cause (the disk is full, the folder is read-only,
the destination is a folder) and what to do.  :func:`explain` turns any error
the export, report, show and QA jobs raise into one message line and one hint
line for the command line.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

from box2mask.errors import Box2MaskError

RUN_HINT = "is OUT a run folder written by `box2mask annotate`?"


class OutputError(Box2MaskError):
    """An output could not be written; ``hint`` says what to do about it."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Explained:
    """One line saying what failed and why, one line saying what to do."""

    message: str
    hint: str


def _cause(exc: OSError) -> tuple[str, str] | None:
    """``(cause, hint)`` for the errnos a user can act on, or ``None``."""
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return ("the disk is full" if code == errno.ENOSPC else "the disk quota is used up",
                "free space on that disk, or write to another disk")
    if code == errno.EROFS:
        return "the file system is read-only", "write to a folder on a writable disk"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied", "write to a folder you may write to, or change its permissions"
    if code == errno.EISDIR:
        return "the destination is a folder", "give the name of a file (it may be inside that folder)"
    if code == errno.ENOTDIR:
        return "a part of the path is a file, not a folder", "check the path"
    if code == errno.ENOENT:
        return "no such file or folder", "check the path"
    if code == errno.ENAMETOOLONG:
        return "the file name is too long", "choose a shorter path"
    return None


def _named(exc: OSError, target: Path | str | None) -> tuple[str, bool]:
    """The file to name and whether it is the output: the one the user asked for rather than a
    temporary file beside it or inside it."""
    name = None if exc.filename is None else Path(str(exc.filename))
    if target is None:
        return (str(name) if name is not None else "a file"), False
    target = Path(target)
    if name is None or name == target or name.name.startswith("."):
        return str(target), True
    try:
        name.relative_to(target)
        return str(name), True
    except ValueError:
        pass
    return str(name), name.parent == target.parent


def os_error(exc: OSError, target: Path | str | None) -> OutputError:
    """``exc`` as an :class:`OutputError` naming the file (the output the user asked for, when it
    was writing) and the cause."""
    cause = _cause(exc)
    detail = exc.strerror or str(exc)
    name, writing = _named(exc, target)
    head = f"cannot write {name}" if writing else name
    if cause is None:
        return OutputError(f"{head}: {detail}", "check the path and try again")
    text, hint = cause
    shown = f" ({detail})" if detail and detail.lower() != text.lower() else ""
    return OutputError(f"{head}: {text}{shown}", hint)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def explain(exc: BaseException, *, target: Path | str | None = None, default_hint: str = RUN_HINT) -> Explained:
    """The message and hint for ``exc`` raised while reading a run and writing ``target``."""
    from box2mask.export.source import DamagedShardError, RunError

    if isinstance(exc, OutputError):
        return Explained(one_line(exc), exc.hint)
    if isinstance(exc, DamagedShardError):
        return Explained(one_line(exc), exc.hint)
    if isinstance(exc, RunError):
        return Explained(one_line(exc), RUN_HINT)
    if isinstance(exc, OSError):
        err = os_error(exc, target)
        return Explained(one_line(err), err.hint)
    return Explained(one_line(exc), default_hint)
