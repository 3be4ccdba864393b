"""Multi-node: a two-node Ray cluster on loopback, joined with --address."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.pipelines.conftest import KILL_ARGS
from tests.pipelines.procs import annotate_args, free_port, marked_env, rows_of, run, short_tmp, stop_marked

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).parent / "ray")


def test_a_job_runs_across_two_nodes(kill_got10k, reference_run, tmp_path):
    token, ray_tmp, port = uuid.uuid4().hex, short_tmp(), free_port()
    env = marked_env(token)
    address = f"127.0.0.1:{port}"
    try:
        head = subprocess.run([RAY, "start", "--head", "--port", str(port), "--num-cpus", "1",
                               "--node-ip-address", "127.0.0.1", "--temp-dir", str(ray_tmp),
                               "--include-dashboard", "false", "--disable-usage-stats"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert head.returncode == 0, head.stderr[-2000:]
        node = subprocess.run([RAY, "start", "--address", address, "--num-cpus", "1",
                               "--node-ip-address", "127.0.0.1"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert node.returncode == 0, node.stderr[-2000:]
        out, log = tmp_path / "out", tmp_path / "log.txt"
        rc = run(annotate_args(kill_got10k, out, *KILL_ARGS, "--address", address), env, log, watch=out)
        assert rc == 0, log.read_text()[-3000:]
        assert "Ray: 2 node(s), 2 CPUs" in log.read_text()
        nodes = {json.loads(p.read_text())["node_id"] for p in (out / "progress").glob("*.json")}
        assert len(nodes) == 2, f"shards ran on {len(nodes)} node(s)"
        assert rows_of(out) == reference_run["rows"]
    finally:
        stop_marked(token)  # only the processes this test started; never `ray stop`
        shutil.rmtree(ray_tmp, ignore_errors=True)
