"""The stages as plain classes, without Ray: streaming, determinism, failure isolation, hooks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from box2mask.datasets import open_dataset
from box2mask.datasets.manifest import build_manifest
from box2mask.methods import METHODS, get_method, run_method
from box2mask.methods.filled_box import FilledBox
from box2mask.shards import SCHEMA, track_rows
from pipelines.annotate.plan import plan_shards
from box2mask.devices import pick_device
from pipelines.annotate.stages import InferStage, InfrastructureError, ShardStage, build_method


def one_shard(root, ids=None):
    table = build_manifest(open_dataset("got10k", root), ids=ids)
    (spec,) = plan_shards(table, 10_000)
    return spec


def stage(root, method="filled-box", **kw):
    return ShardStage(dataset="got10k", root=root, split=None, method=method, **kw)


def test_rows_match_the_in_process_method_and_the_schema(tiny_got10k):
    spec = one_shard(tiny_got10k)
    result = stage(tiny_got10k).run(spec)
    assert not result.failures
    reader = open_dataset("got10k", tiny_got10k)
    expected = []
    for work in spec.sequences:
        seq = reader.load(work.id)
        for track in seq.tracks:
            expected += track_rows(seq, track, run_method(FilledBox(), seq, track), shard=spec.shard_id,
                                   root=tiny_got10k)
    assert result.rows == expected
    assert set(result.rows[0]) == set(SCHEMA.names)
    assert result.stats.rows == len(expected) == spec.rows
    assert set(result.stats.stage_seconds) >= {"load", "prepare", "infer", "finalize", "encode"}


def test_grabcut_rows_do_not_depend_on_what_ran_before(tiny_got10k):
    spec = one_shard(tiny_got10k, ids=open_dataset("got10k", tiny_got10k).sequence_ids()[:2])
    first = stage(tiny_got10k, "grabcut").run(spec).rows
    busy = stage(tiny_got10k, "grabcut")
    busy.run(one_shard(tiny_got10k))  # advances OpenCV's random state in this process
    assert busy.run(spec).rows == first


class Spy(FilledBox):
    """filled-box that records the windows it sees and how many are alive at once."""

    name = "spy"
    window = 2
    log: dict = {}

    def prepare(self, sequence, track, targets):
        self.log.setdefault("sizes", []).append(len(targets))
        self.log["alive"] = self.log.get("alive", 0) + 1
        self.log["peak"] = max(self.log.get("peak", 0), self.log["alive"])
        return super().prepare(sequence, track, targets)

    def finalize(self, batch):
        self.log["alive"] -= 1
        return super().finalize(batch)


class Deferred:
    """An inferer that queues work like a remote actor would (lookahead windows in flight)."""

    lookahead = 2

    def __init__(self):
        self.stage = InferStage("spy", method=Spy())

    def submit(self, batch):
        return batch

    def get(self, handle):
        return self.stage(handle)


def test_long_sequence_streams_in_bounded_windows(tiny_got10k, monkeypatch):
    monkeypatch.setitem(METHODS, "spy", Spy)
    Spy.log = {}
    spec = one_shard(tiny_got10k, ids=open_dataset("got10k", tiny_got10k).sequence_ids()[:1])
    stage(tiny_got10k, "spy").run(spec)
    assert Spy.log["sizes"] and max(Spy.log["sizes"]) <= 2 and Spy.log["peak"] == 1
    Spy.log = {}
    result = stage(tiny_got10k, "spy", infer=Deferred()).run(spec)
    assert Spy.log["peak"] == Deferred.lookahead + 1  # never more windows alive than the lookahead allows
    assert len(result.rows) == spec.rows


def test_a_broken_sequence_is_reported_and_the_rest_committed(tiny_got10k, tmp_path):
    root = tmp_path / "train"
    shutil.copytree(tiny_got10k, root)
    ids = open_dataset("got10k", root).sequence_ids()
    spec = one_shard(root)  # planned while intact: the scan refuses a frame cut short
    (root / ids[1] / "00000003.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 64)  # header right, body garbage
    result = stage(root, "grabcut").run(spec)
    # the worker's reader checks the frames again when it loads the sequence
    assert [(f.sequence, f.stage) for f in result.failures] == [(ids[1], "load")]
    assert "00000003.jpg" in result.failures[0].error
    assert {r["sequence"] for r in result.rows} == set(ids) - {ids[1]}
    assert len(result.rows) == spec.rows - spec.sequences[1].rows


def test_a_sequence_changed_since_the_scan_fails_at_load(tiny_got10k, tmp_path):
    root = tmp_path / "train"
    shutil.copytree(tiny_got10k, root)
    spec = one_shard(root)
    victim = spec.sequences[0].id
    (root / victim / "00000006.jpg").unlink()
    gt = root / victim / "groundtruth.txt"
    gt.write_text("\n".join(gt.read_text().splitlines()[:5]) + "\n")
    for name in ("absence.label", "cover.label", "cut_by_image.label"):
        f = root / victim / name
        f.write_text("\n".join(f.read_text().splitlines()[:5]) + "\n")
    result = stage(root).run(spec)
    assert result.failures[0].stage == "load" and "changed since the scan" in result.failures[0].error


class Motion(FilledBox):
    name = "motion-spy"
    window = 4
    needs_motion = True
    calls = []

    def motion(self, sequence, track, targets):
        self.calls.append(len(targets))
        return {"homographies": {int(f): np.eye(3) for f in targets}}

    def infer(self, batch):
        assert set(batch["motion"]["homographies"]) == {int(f) for f in batch["frames"]}
        return batch


def test_motion_runs_only_for_methods_that_ask_for_it(tiny_got10k, monkeypatch):
    import pipelines.annotate.stages as stages

    seen = []

    def spy_rows(*args, homographies=None, **kwargs):
        seen.append(homographies)
        return track_rows(*args, homographies=homographies, **kwargs)

    monkeypatch.setattr(stages, "track_rows", spy_rows)
    monkeypatch.setitem(METHODS, "motion-spy", Motion)
    Motion.calls = []
    spec = one_shard(tiny_got10k, ids=open_dataset("got10k", tiny_got10k).sequence_ids()[:1])
    result = stage(tiny_got10k, "motion-spy").run(spec)
    assert not result.failures and sum(Motion.calls) == spec.rows
    assert sorted(seen[0]) == list(spec.sequences[0].sampled)  # homographies reach the QA signal
    seen.clear()
    stage(tiny_got10k).run(spec)
    assert seen == [None]  # filled-box: no motion computed


class Lost(FilledBox):
    name = "lost"

    def infer(self, batch):
        raise InfrastructureError("actor gone")


def test_infrastructure_errors_fail_the_shard_not_the_sequence(tiny_got10k, monkeypatch):
    monkeypatch.setitem(METHODS, "lost", Lost)
    with pytest.raises(InfrastructureError):
        stage(tiny_got10k, "lost").run(one_shard(tiny_got10k))


class Model(FilledBox):
    name = "model"

    def __init__(self, weights=None):
        self.device = None

    def to(self, device):
        self.device = pick_device(device)
        return self


def test_models_are_moved_to_the_device_torch_sees(tiny_got10k, monkeypatch):
    monkeypatch.setitem(METHODS, "model", Model)
    assert build_method("model", {}).device == pick_device()
    assert InferStage("model").method.device == pick_device()  # the inference actor: best device
    assert stage(tiny_got10k, "model").method.device == "cpu"  # a CPU worker reserved no GPU
    assert stage(tiny_got10k, "model", infer=Deferred()).method.device is None  # prepare/finalize only
    assert pick_device() in ("cpu", "cuda")
    method = get_method("grabcut")
    assert method.to("cuda") is method  # classical methods hold no model and ignore the device
