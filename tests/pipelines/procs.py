"""Processes for the pipeline tests: run the CLI, find and stop exactly what a test started.

Every process a test starts gets a unique ``BOX2MASK_TEST_MARK`` in its
environment; Ray's daemons and workers inherit it, so ``/proc/<pid>/environ``
tells ours apart from anyone else's, and only those are ever signalled.
"""

from __future__ import annotations

import contextlib

import json
import shutil
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from box2mask.shards import iter_rows

REPO = Path(__file__).resolve().parents[2]
BOX2MASK = [sys.executable, "-m", "cli.main"]
MARK = "BOX2MASK_TEST_MARK"


def short_tmp(prefix: str = "b2m") -> Path:
    """A short folder under /tmp: Ray's socket paths must stay under 107 characters."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def marked_env(token: str, ray_tmp: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({MARK: token, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
                "PYTHONPATH": str(REPO)})
    if ray_tmp is not None:
        env["RAY_TMPDIR"] = str(ray_tmp)
    return env


def marked_pids(token: str) -> list[int]:
    """Live processes carrying ``MARK=token`` (zombies have an empty environ and drop out)."""
    needle = f"{MARK}={token}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def stop_marked(token: str, *, grace: float = 5.0) -> None:
    """SIGTERM our marked processes, then SIGKILL what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = marked_pids(token)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while marked_pids(token) and time.monotonic() < deadline:
            time.sleep(0.1)
    left = marked_pids(token)
    assert not left, f"processes of this test still alive: {[cmdline(p) for p in left]}"


def wait_gone(token: str, timeout: float = 20.0) -> list[int]:
    """Wait for every marked process to exit on its own; returns the ones still alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not marked_pids(token):
            return []
        time.sleep(0.1)
    return marked_pids(token)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def annotate_args(root: Path, out: Path, *extra: str) -> list[str]:
    return [*BOX2MASK, "annotate", "--dataset", "got10k", "--root", str(root), "--out", str(out), *extra]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start ``args`` in its own session (so its process group can be killed as a whole)."""
    fh = open(log, "ab")
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


STALL_S = 180.0    # a pipeline run that changes nothing for this long is taken as hung
LIMIT_S = 1200.0   # and one that runs this long in all, however busy


def _activity(log: Path, watch: Path | None) -> tuple:
    """What changes while a run makes progress: the log's size and every file under ``watch``."""
    state = [log.stat().st_size if log.exists() else 0]
    if watch is not None and watch.is_dir():
        for path in sorted(watch.rglob("*")):
            with contextlib.suppress(OSError):
                stat = path.stat()
                state.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(state)


def run(args: list[str], env: dict[str, str], log: Path, stall: float = STALL_S, *, watch: Path | None = None,
        limit: float = LIMIT_S) -> int:
    """Run ``args`` to the end (see :func:`finish`); returns its exit status."""
    return finish(start(args, env, log), log, stall, watch=watch, limit=limit)


def finish(proc: subprocess.Popen, log: Path, stall: float = STALL_S, *, watch: Path | None = None,
           limit: float = LIMIT_S) -> int:
    """Wait for ``proc``; fails when nothing moved for ``stall`` seconds, or after ``limit`` in all.

    Progress is the log growing or a file under ``watch`` (the run's output folder) changing, so a run
    slowed by a loaded machine is not mistaken for a hung one (a wall-clock cap would be a timing flake).
    """
    began = moved = time.monotonic()
    seen = _activity(log, watch)
    while True:
        try:
            return proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            pass
        now, state = time.monotonic(), _activity(log, watch)
        if state != seen:
            seen, moved = state, now
        if now - moved > stall or now - began > limit:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            why = f"made no progress for {stall:.0f} s" if now - moved > stall else f"did not finish in {limit:.0f} s"
            raise AssertionError(f"{' '.join(map(str, proc.args))} {why}; log:\n{log.read_text()[-3000:]}")


def committed(out: Path) -> int:
    folder = out / "shards"
    return sum(1 for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.is_dir() else 0


def wait_for(predicate, proc: subprocess.Popen | None, timeout: float, poll: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(poll)
    return False


def rows_of(out: Path) -> list[tuple]:
    """Every shard row as a sorted tuple of (column, value): comparable across runs."""
    rows = [tuple(sorted((k, json.dumps(v)) for k, v in r.items())) for r in iter_rows(out)]
    return sorted(rows)


def keys_of(out: Path) -> list[tuple]:
    return [(r["sequence"], r["track_id"], r["frame_index"])
            for r in iter_rows(out, columns=["sequence", "track_id", "frame_index"])]


def coco_export(out: Path, dest: Path) -> dict:
    """The run exported as COCO (what users consume), with the export's duplicate check."""
    from box2mask.export import export_run

    stats = export_run(out, "coco", dest)
    assert not stats.duplicates, f"export found duplicated rows: {stats.duplicates[:5]}"
    data = json.loads(dest.read_text())
    return {"images": data["images"], "annotations": data["annotations"], "videos": data["videos"]}


@contextlib.contextmanager
def local_ray(prefix: str, **resources):
    """A quiet in-process local Ray with 2 CPUs (and ``resources``, e.g. ``num_gpus=1``) in a short temp dir."""
    import ray

    tmp = short_tmp(prefix)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
             _temp_dir=str(tmp), **resources)
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
