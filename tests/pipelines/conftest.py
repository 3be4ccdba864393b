from __future__ import annotations

import shutil

import pytest

from tests.pipelines.procs import local_ray, short_tmp


@pytest.fixture(scope="session")
def tiny_got10k(tmp_path_factory):
    """Six small synthetic GOT-10k sequences (6 frames, 96x128): seconds of GrabCut in all."""
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    return write_got10k(tmp_path_factory.mktemp("tiny"), SyntheticSpec(num_sequences=6, num_frames=6, height=96,
                                                                       width=128, seed=3))


@pytest.fixture(scope="module")
def ray_local():
    """One in-process local Ray (2 CPUs) shared by a module's tests that drive the pipeline in-process.

    Starting Ray costs 3-4 s and about 0.5 GB, so a module starts it once; the
    driver reuses an initialised Ray and frees its own actors after each run.
    Module scope (not session) so that it is shut down before other packages'
    tests, which may start Ray their own way.
    """
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        yield ray
        return
    with local_ray("b2mray") as started:
        yield started




# 12 sequences x 8 frames of 200x260: GrabCut needs a few tenths of a second per
# sequence on one core, so with one sequence per shard there are seconds between
# the first and the last commit to kill a run in.
KILL_SPEC = {"num_sequences": 12, "num_frames": 8, "height": 200, "width": 260, "seed": 11}
KILL_ARGS = ("--shard-frames", "8")


@pytest.fixture(scope="session")
def kill_got10k(tmp_path_factory):
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    return write_got10k(tmp_path_factory.mktemp("kill"), SyntheticSpec(**KILL_SPEC))


@pytest.fixture(scope="session")
def reference_run(kill_got10k, tmp_path_factory):
    """An uninterrupted CLI run (2 workers) on ``kill_got10k``: what every interrupted run must equal."""
    import uuid

    from tests.pipelines.procs import annotate_args, coco_export, marked_env, rows_of, run, stop_marked

    base = tmp_path_factory.mktemp("reference")
    out, log, ray_tmp = base / "out", base / "log.txt", short_tmp()
    token = uuid.uuid4().hex
    try:
        rc = run(annotate_args(kill_got10k, out, *KILL_ARGS, "--workers", "2"), marked_env(token, ray_tmp), log,
                 watch=out)
        assert rc == 0, log.read_text()[-3000:]
    finally:
        stop_marked(token)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    return {"out": out, "rows": rows_of(out), "coco": coco_export(out, base / "coco.json"),
            "shards": KILL_SPEC["num_sequences"]}
