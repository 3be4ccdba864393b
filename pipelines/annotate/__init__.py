"""``box2mask annotate`` as a pipeline: boxes to masks on Ray, sharded, resumable, multi-node.

Modules, in the order a run uses them:

* :mod:`~pipelines.annotate.config`: the job and the fingerprint that guards resumes;
* :mod:`~pipelines.annotate.lock`: one run per output folder;
* :mod:`~pipelines.annotate.plan`: manifest to shards;
* :mod:`~pipelines.annotate.stages`: read, prepare, motion, infer, finalize, encode (no Ray);
* :mod:`~pipelines.annotate.ray_runtime`: actors and every Ray option;
* :mod:`~pipelines.annotate.commit`: atomic shard files, failures, stats;
* :mod:`~pipelines.annotate.driver`: the loop that ties them together.

See ``docs/pipeline.md`` for the design and how to run on a cluster.
"""

from pipelines.annotate.config import DEFAULT_METHOD, DEFAULT_SHARD_FRAMES, AnnotateConfig, ConfigError
from pipelines.annotate.lock import RunLocked

_DRIVER = ("AnnotateSummary", "ProgressSnapshot", "annotate")


def __getattr__(name: str):
    # The driver imports Ray (about a second); `box2mask status` and the plan/commit
    # helpers do not need it, so it is loaded on first use.
    if name in _DRIVER:
        from pipelines.annotate import driver

        return getattr(driver, name)
    raise AttributeError(f"module 'pipelines.annotate' has no attribute {name!r}")

__all__ = ["DEFAULT_METHOD", "DEFAULT_SHARD_FRAMES", "AnnotateConfig", "AnnotateSummary", "ConfigError",
           "ProgressSnapshot", "RunLocked", "annotate"]
