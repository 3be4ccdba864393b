"""Joining a Ray cluster that is not there fails in seconds, with the address and what to check.

Ray itself retries an unreachable GCS for minutes.  The checks run in a
subprocess with a timeout, so a regression fails here instead of hanging.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.pipelines.procs import REPO


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 90.0):
    env = {**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONPATH": str(REPO), **(env or {})}
    t0 = time.monotonic()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - t0


CONNECT = ("import sys, time\n"
           "from pipelines.annotate import ray_runtime as rt\n"
           "t0 = time.monotonic()\n"
           "try:\n"
           "    rt.connect(None if sys.argv[1] == '-' else sys.argv[1])\n"
           "except Exception as exc:\n"
           "    print(f'{type(exc).__name__} {isinstance(exc, OSError)} {time.monotonic() - t0:.1f} {exc}')\n"
           "    print('initialised', rt.ray.is_initialized())\n"
           "    sys.exit(3)\n")


@pytest.mark.parametrize("how", ["address", "auto+RAY_ADDRESS", "ray-client"])
def test_a_closed_port_fails_fast_naming_the_address(how):
    address = f"127.0.0.1:{closed_port()}"
    arg, env, shown = {"address": (address, {}, address),
                       "auto+RAY_ADDRESS": ("auto", {"RAY_ADDRESS": address}, f"{address} (from RAY_ADDRESS)"),
                       "ray-client": (f"ray://{address}", {}, f"ray://{address}")}[how]
    proc, seconds = run([sys.executable, "-c", CONNECT, arg], env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    kind, is_oserror, took, message = first.split(" ", 3)
    assert kind == "ConfigError" and is_oserror == "False", first
    assert float(took) < 10 and seconds < 30, (took, seconds)
    assert f"cannot reach a Ray cluster at {shown} (connection refused)" in message, message
    assert "ray start --head" in message and "firewall" in message, message
    assert second == "initialised False"


def test_annotate_with_a_dead_address_prints_one_line_and_no_disk_hint(tiny_got10k, tmp_path):
    address = f"127.0.0.1:{closed_port()}"
    out = tmp_path / "out"
    proc, seconds = run([sys.executable, "-m", "cli.main", "annotate", "--dataset", "got10k", "--root",
                         str(tiny_got10k), "--out", str(out), "--method", "filled-box", "--address", address],
                        env={"COLUMNS": "40"})
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2 and seconds < 30, (proc.returncode, seconds, text)
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and address in errors[0] and "ray start --head" in errors[0], text
    assert "cannot read or write" not in text and "hint:" not in text, text


def test_ray_connection_errors_become_config_errors_not_os_errors(monkeypatch):
    """Ray raises ConnectionError (an OSError), e.g. when `auto` finds no cluster: not a disk problem."""
    from pipelines.annotate import ray_runtime as rt
    from pipelines.annotate.config import ConfigError

    def refuse(**kwargs):
        assert kwargs["address"] == "auto"
        raise ConnectionError("Could not find any running Ray instance.\n  Please specify one.")

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(rt.ray, "is_initialized", lambda: False)
    monkeypatch.setattr(rt.ray, "init", refuse)
    with pytest.raises(ConfigError) as caught:
        rt.connect("auto")
    assert not isinstance(caught.value, OSError)
    assert str(caught.value).startswith("cannot connect to a Ray cluster at auto (Could not find any running "
                                        "Ray instance. Please specify one.): is a Ray head running there")
