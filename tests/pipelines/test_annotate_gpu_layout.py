"""Sizing a run for GPUs, and the GPU-actor layout run end to end on a cluster with a logical GPU.

Ray can declare GPUs it does not have (``ray.init(num_gpus=1)``): actors are then
placed exactly as on a GPU node (fractional ``num_gpus``, one GPU shared by several
inference actors) while torch, seeing no CUDA device, computes on CPU.  That checks
the placement and the data path of ``--gpus``; speed on a real GPU is measured by
``benchmarks/pipeline.py --gpus N`` (docs/pipeline.md).
"""

from __future__ import annotations

import pytest

from pipelines.annotate import AnnotateConfig, annotate
from pipelines.annotate.ray_runtime import size_resources
from tests.pipelines.procs import local_ray, rows_of


def test_cpu_cluster_puts_inference_inside_the_workers():
    res = size_resources(cpus=16, free_gpus=0, nodes=1, gpus=0, workers=None)
    assert (res.workers, res.infer_actors, res.gpus_per_infer) == (16, 0, 0.0)


def test_gpus_share_actors_and_leave_a_core_per_gpu():
    res = size_resources(cpus=16, free_gpus=8, nodes=1, gpus=8, workers=None, actors_per_gpu=2)
    assert (res.workers, res.infer_actors, res.gpus_per_infer) == (8, 16, 0.5)


def test_asking_for_absent_or_too_many_gpus_warns_and_uses_what_is_free():
    said = []
    res = size_resources(cpus=4, free_gpus=0, nodes=1, gpus=2, workers=None, warn=said.append)
    assert res.infer_actors == 0 and res.gpus_per_infer == 0 and "no free GPU" in said[-1]
    res = size_resources(cpus=4, free_gpus=1, nodes=1, gpus=3, workers=9, warn=said.append)
    assert (res.workers, res.infer_actors, res.gpus_per_infer) == (4, 1, 1.0)
    assert any("has 1 free" in s for s in said) and "4 free CPUs" in said[-1]


@pytest.fixture(scope="module")
def ray_with_logical_gpu():
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    with local_ray("b2mgpu", num_gpus=1) as started:  # one logical GPU: Ray places actors on it, torch sees none
        yield started


def test_two_inference_actors_share_one_gpu_and_write_the_same_rows(ray_with_logical_gpu, tiny_got10k, tmp_path):
    config = dict(dataset="got10k", root=tiny_got10k, shard_frames=12)
    said = []
    shared = annotate(AnnotateConfig(out=tmp_path / "gpu", **config), gpus=1, actors_per_gpu=2, workers=1,
                      on_message=said.append)
    assert shared.complete and shared.infer_actors == 2
    assert any("2 inference actor(s) with 0.5 GPU each" in m for m in said), said
    local = annotate(AnnotateConfig(out=tmp_path / "cpu", **config), workers=2)
    assert local.complete and local.infer_actors == 0
    assert rows_of(tmp_path / "gpu") == rows_of(tmp_path / "cpu")
