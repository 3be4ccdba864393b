"""One run per output folder: ``OUT/run.lock`` holds an exclusive ``flock`` and says who holds it.

The kernel drops a ``flock`` when its process dies, even by SIGKILL, so a crashed
run never blocks the next one on the same host; the file's content (pid, host,
start time) is only there to name the holder in messages.  A lock left behind
by a dead process on this host is taken over with a message.  A lock naming
another host cannot be checked from here and is refused (delete the file once
that run is known to be gone): the output folder may be on a shared filesystem.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable

from box2mask.errors import Box2MaskError

LOCK_NAME = "run.lock"


class RunLocked(Box2MaskError):
    """Another live run holds the output folder."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(path: Path) -> dict | None:
    """The holder recorded in a lock file (``None`` when absent, empty or unreadable)."""
    try:
        text = Path(path).read_text()
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def describe(holder: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} (since {started})"


class RunLock:
    """Context manager holding ``<out>/run.lock`` for the life of a run."""

    def __init__(self, out: Path | str, *, on_message: Callable[[str], None] | None = None):
        self.path = Path(out) / LOCK_NAME
        self.on_message = on_message or (lambda text: None)
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = read_holder(self.path)
                who = describe(holder) if holder else "another process"
                raise RunLocked(f"{self.path.parent} is in use by a running annotate job ({who}); "
                                "wait for it to finish or use another --out") from None
            # The holder may have removed the file between our open and flock:
            # then we locked an orphaned inode and must start over.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = read_holder(self.path)
        if previous:
            if previous.get("host") != host:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                raise RunLocked(f"{self.path} names a run on another host ({describe(previous)}); "
                                f"if that run is no longer running, delete {self.path} and try again")
            state = "no longer running" if not pid_alive(int(previous.get("pid", -1))) else "not holding the lock"
            self.on_message(f"taking over a stale lock: {describe(previous)} is {state}")
        record = json.dumps({"pid": os.getpid(), "host": host, "started": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        os.fsync(fd)
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
