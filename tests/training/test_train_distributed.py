"""Data-parallel training through Ray Train: identical replicas, one global batch, a killed worker resumed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from box2mask.errors import Box2MaskError
from box2mask.losses import LossWeights
from box2mask.model.network import NetworkConfig
from box2mask.training.clips import ClipConfig
from box2mask.training.trainer import TrainConfig, load_checkpoint
from pipelines.train import DataSource, load_sources, weights_from_checkpoint
from pipelines.train_distributed import (RAY_STORAGE, merge_logs, rank_seed, shard_pools, split_batch,
                                         train_distributed, weights_digest)

HEALTH_CHECK_ENV = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"

# Projection only, no learning-rate drop: on these clips the loss falls by more than half in 16 steps
# at this rate (measured over seeds 0-3: last quarter 0.25-0.46 of a first quarter at 1.2-1.4).
TINY = TrainConfig(iterations=16, batch=2, lr=3e-3, lr_steps=(), checkpoint_every=8,
                   losses=LossWeights(warmup_length=1, pairwise=0.0, affinity=0.0, temporal=0.0),
                   clip=ClipConfig(frames=2, crop_size=64),
                   network=NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8))


@pytest.fixture(scope="module")
def three_sequences(tmp_path_factory) -> Path:
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    return write_got10k(tmp_path_factory.mktemp("ddp"), SyntheticSpec(num_sequences=3, num_frames=8, height=96,
                                                                      width=128, seed=5))


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray (2 CPUs, no GPU) for the module: starting it costs seconds, and train_distributed uses it.

    Ray Train's controller polls its workers every 2 s by default; a worker group's
    start, a lost worker and the end each wait for a few polls, so polling every
    0.5 s here takes about a third off these tests (the processes inherit it from
    the raylet started below).
    """
    import ray

    if ray.is_initialized():
        yield ray
        return
    saved = os.environ.get(HEALTH_CHECK_ENV)
    os.environ[HEALTH_CHECK_ENV] = "0.5"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop(HEALTH_CHECK_ENV, None)
        else:
            os.environ[HEALTH_CHECK_ENV] = saved


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


# -- one global batch, shards and seeds (no Ray) ------------------------------------------------------

@pytest.mark.parametrize("batch", [3, 4, 5, 8])
def test_the_workers_shares_add_up_to_the_global_batch(batch):
    for world in (1, 2, 3):
        shares = split_batch(batch, world)
        assert len(shares) == world and sum(shares) == batch
        assert max(shares) - min(shares) <= 1 and shares == tuple(sorted(shares, reverse=True))
    assert split_batch(5, 3) == (2, 2, 1)


def test_a_global_batch_smaller_than_the_worker_count_is_refused(three_sequences, tmp_path):
    with pytest.raises(Box2MaskError, match="global batch"):
        split_batch(2, 3)
    with pytest.raises(Box2MaskError, match="at least the worker count"):
        train_distributed([DataSource("got10k", three_sequences)], tmp_path / "run", replace(TINY, batch=2),
                          workers=3)
    assert not (tmp_path / "run").exists()  # refused before anything was written or started


def test_sequences_are_sharded_by_rank_and_a_small_pool_is_shared(three_sequences):
    (pool, _), = load_sources([DataSource("got10k", three_sequences)])
    ids = sorted(s.id for s in pool)
    shards = [[s.id for s in shard_pools([(pool[::-1], 1.0)], rank, 2)[0][0]] for rank in (0, 1)]
    assert shards == [ids[0::2], ids[1::2]]  # sorted first: the order the reader gave does not matter
    assert all([s.id for s in shard_pools([(pool, 0.5)], rank, 4)[0][0]] == ids for rank in range(4))
    assert shard_pools([(pool, 0.5)], 1, 2)[0][1] == 0.5  # a pool keeps its weight
    seeds = {rank_seed(0, rank) for rank in range(4)} | {rank_seed(1, 0), rank_seed(0, 1, iteration=10)}
    assert len(seeds) == 6 and rank_seed(0, 1) == rank_seed(0, 1)


def test_step_logs_are_averaged_by_each_workers_clips():
    logs = [{"iteration": 3, "total": 1.0, "lr": 0.1, "seconds": 0.5, "digest": "a"},
            {"iteration": 3, "total": 4.0, "lr": 0.1, "seconds": 0.9, "digest": "b", "teacher": 2.0}]
    merged = merge_logs(logs, (2, 1))
    assert merged["iteration"] == 3 and isinstance(merged["iteration"], int) and merged["lr"] == 0.1
    assert merged["total"] == pytest.approx(2.0) and merged["seconds"] == 0.9
    assert merged["teacher"] == 2.0 and merged["digest"] == "a"


# -- through Ray Train ------------------------------------------------------------------------------

def test_two_workers_hold_identical_weights_after_every_step_and_the_loss_falls(ray_cluster, three_sequences,
                                                                               tmp_path):
    out = tmp_path / "run"
    trainer = train_distributed([DataSource("got10k", three_sequences)], out, TINY, workers=2, verify_every=1,
                                export_path=out / "weights.pt")
    logs = read_log(out)
    assert [log["iteration"] for log in logs] == list(range(1, 17))
    assert all(log["workers"] == 2 for log in logs)
    digests = [log["replica_digests"] for log in logs]
    assert all(len(d) == 2 and d[0] == d[1] for d in digests), digests
    assert len({d[0] for d in digests}) == len(digests)  # ... and every step moved them
    totals = [log["total"] for log in logs]
    assert np.mean(totals[-4:]) < 0.6 * np.mean(totals[:4]), totals
    # rank 0's final state reached the driver, OUT/checkpoint.pt and the weights file
    assert trainer.iteration == 16 and weights_digest(trainer) == logs[-1]["weights_digest"]
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["iteration"] == 16 and state["workers"] == 2
    assert len(state["samplers"]) == 2 and state["samplers"][0] != state["samplers"][1]
    assert (out / "weights.pt").is_file()


@dataclass(frozen=True)
class KillOnce:
    """An ``on_step`` hook: records (pid, rank, iteration) and kills rank 1 at ``iteration``, once."""

    marker: Path
    record: Path
    iteration: int = 4

    def __call__(self, rank: int, iteration: int) -> None:
        with open(self.record, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {rank} {iteration}\n")
        if rank == 1 and iteration == self.iteration and not self.marker.exists():
            self.marker.touch()
            os._exit(1)


def test_a_killed_worker_restarts_the_group_from_the_last_checkpoint(ray_cluster, three_sequences, tmp_path):
    out = tmp_path / "run"
    config = replace(TINY, iterations=8, checkpoint_every=2)
    hook = KillOnce(tmp_path / "killed", tmp_path / "steps.txt")
    trainer = train_distributed([DataSource("got10k", three_sequences)], out, config, workers=2, on_step=hook,
                                export_path=out / "weights.pt")
    assert hook.marker.exists(), "the worker was never killed"
    steps = [tuple(map(int, line.split())) for line in hook.record.read_text().splitlines()]
    rank1 = [(pid, it) for pid, rank, it in steps if rank == 1]
    pids = list(dict.fromkeys(pid for pid, _ in rank1))
    assert len(pids) == 2, "expected exactly one restart of the worker group"
    before = [it for pid, it in rank1 if pid == pids[0]]
    after = [it for pid, it in rank1 if pid == pids[1]]
    resumed = after[0] - 1
    assert before == [1, 2, 3, 4] and resumed in (2, 4), (before, after)  # a checkpoint, not the start
    assert after == list(range(resumed + 1, 9))
    # rank 0's log: the steps before the kill, then from the checkpoint's iteration + 1 to the end
    assert [log["iteration"] for log in read_log(out)] == [1, 2, 3, 4] + list(range(resumed + 1, 9))
    assert trainer.iteration == 8 and load_checkpoint(out / "checkpoint.pt")["iteration"] == 8
    assert (out / "weights.pt").is_file()
    weights_from_checkpoint(out / "checkpoint.pt", tmp_path / "from-checkpoint.pt")  # the single-process tool
    kept = [p for p in (out / RAY_STORAGE).iterdir() if p.is_dir() and p.name.startswith("checkpoint")]
    assert 1 <= len(kept) <= 2


def test_the_cli_refuses_gpu_workers_on_a_cluster_without_gpus(ray_cluster, three_sequences, tmp_path):
    from click.testing import CliRunner

    from cli.main import main

    args = ["train", "--data", f"got10k:{three_sequences}", "--out", str(tmp_path / "run"), "--iterations", "2",
            "--batch", "2", "--crop-size", "64", "--frames", "2", "--losses", "projection"]
    result = CliRunner().invoke(main, [*args, "--gpus", "1"])
    assert result.exit_code == 2, result.output
    assert "--gpus 1: the Ray cluster has no GPU" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, [*args, "--workers", "3"])
    assert result.exit_code == 2 and "at least the worker count (3)" in result.output, result.output
    result = CliRunner().invoke(main, [*args, "--address", "127.0.0.1:1"])
    assert result.exit_code == 2 and "--address is the Ray cluster for --workers N" in result.output, result.output
