"""Atomic file writes: a reader sees the old file, or the whole new one, never a part.

Everything box2mask writes goes through here (write to a temporary name in the
same folder, flush, then ``os.replace``), which is what makes re-runs after a
crash safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)
_SUFFIX = ".tmp"


def temporary_target(name: str) -> str | None:
    """The file name a temporary of :func:`atomic_path` was going to become, or ``None``.

    Temporaries are named ``.<target>.<8 random characters>.tmp`` (``tempfile.mkstemp``);
    a file that does not have that shape was not made here.
    """
    if not (name.startswith(".") and name.endswith(_SUFFIX)):
        return None
    target, dot, rand = name[1:-len(_SUFFIX)].rpartition(".")
    if not dot or not target or len(rand) != 8 or not all(c.isalnum() or c == "_" for c in rand):
        return None
    return target


def file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: Path | str, *, sync: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    ``sync=False`` skips the fsync (still atomic against a crashed process): for
    many small files whose writer flushes them together before marking them done.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode a plain open() would
    try:
        yield tmp
        if sync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path | str, data: bytes, *, sync: bool = True) -> None:
    with atomic_path(path, sync=sync) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
