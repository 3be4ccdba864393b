"""One run per output folder: live holders refuse, dead ones are taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from pipelines.annotate.lock import LOCK_NAME, RunLock, RunLocked

HOLD = """
import sys, time
from pipelines.annotate.lock import RunLock
lock = RunLock(sys.argv[1]); lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(out):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_on_the_same_folder_is_refused_while_the_first_lives(tmp_path):
    proc = hold_lock(tmp_path)
    try:
        with pytest.raises(RunLocked, match=f"pid {proc.pid} on {socket.gethostname()}"):
            RunLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_run_is_taken_over_with_a_message(tmp_path):
    proc = hold_lock(tmp_path)
    proc.kill()  # SIGKILL: no cleanup, the file stays behind
    proc.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == proc.pid
    messages = []
    with RunLock(tmp_path, on_message=messages.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
        with pytest.raises(RunLocked):  # held by us now: a second acquire in another fd fails too
            RunLock(tmp_path).acquire()
    assert any(f"pid {proc.pid}" in m and "no longer running" in m for m in messages)
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_naming_another_host_is_refused(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere-node", "started": time.time()}))
    with pytest.raises(RunLocked, match="another host.*elsewhere-node"):
        RunLock(tmp_path).acquire()
    # the refusal leaves the other host's lock untouched
    assert json.loads((tmp_path / LOCK_NAME).read_text())["host"] == "elsewhere-node"
