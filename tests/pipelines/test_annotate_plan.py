"""Shard planning and the configuration fingerprint (no Ray)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from box2mask.datasets.manifest import SCHEMA
from pipelines.annotate.config import (
    DEFAULT_METHOD,
    AnnotateConfig,
    ConfigError,
    check_method,
    config_differences,
    fingerprint,
)
from pipelines.annotate.plan import plan_shards


def manifest(lengths: list[int], *, invalid: set[int] = frozenset(), tracks: int = 1) -> pa.Table:
    rows = []
    for k, n in enumerate(lengths):
        ok = k not in invalid
        rows.append({"id": f"seq{k:03d}", "dataset": "got10k", "split": "train", "category": "c",
                     "status": "ok" if ok else "invalid", "num_frames": n, "num_sampled": n if ok else 0,
                     "sampled": list(range(n)) if ok else [], "num_tracks": tracks if ok else 0,
                     "num_visible": n, "height": 10, "width": 10, "errors": [] if ok else ["bad"],
                     "warnings": []})
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def test_shards_cover_every_valid_sequence_once_in_order():
    table = manifest([30, 40, 50, 10, 10, 10, 5], invalid={2})
    plan = plan_shards(table, 60)
    ids = [w.id for s in plan for w in s.sequences]
    assert ids == ["seq000", "seq001", "seq003", "seq004", "seq005", "seq006"]
    assert [s.shard_id for s in plan] == [f"{k:05d}" for k in range(len(plan))]
    assert all(s.rows <= 60 for s in plan)


def test_long_video_sits_alone_in_its_shard():
    plan = plan_shards(manifest([10, 2788, 10, 10]), 100)
    assert [s.sequence_ids for s in plan] == [("seq000",), ("seq001",), ("seq002", "seq003")]
    assert plan[1].rows == 2788


def test_rows_count_every_track():
    plan = plan_shards(manifest([10, 10, 10], tracks=3), 60)
    assert [s.rows for s in plan] == [60, 30]


def test_plan_is_deterministic_and_depends_on_shard_frames():
    table = manifest([7, 13, 21, 3, 8, 40, 1, 1, 9])
    assert plan_shards(table, 25) == plan_shards(table, 25)
    assert plan_shards(table, 25) != plan_shards(table, 10)
    with pytest.raises(ValueError):
        plan_shards(table, 0)


def test_fingerprint_holds_content_choices_not_execution(tmp_path):
    base = AnnotateConfig(dataset="lasot", root=tmp_path, out=tmp_path / "out")
    fp = fingerprint(base, None)
    assert fp["every"] == 5 and fp["max_frames"] == 200  # LaSOT preset, resolved
    assert fp["method"] == DEFAULT_METHOD == "network" and fp["root"] == str(tmp_path.resolve())
    # the preset spelt out explicitly is the same configuration
    assert fingerprint(AnnotateConfig(dataset="lasot", root=tmp_path, out=tmp_path / "o", every=5,
                                      max_frames=200), None) == fp
    other = fingerprint(AnnotateConfig(dataset="lasot", root=tmp_path, out=tmp_path / "o", every=1,
                                       max_frames=0), None)
    diffs = config_differences(fp, other)
    assert len(diffs) == 2 and diffs[0].startswith("every: 5 (in run.json) -> 1 (now)")
    assert fingerprint(base, "abc")["weights_sha256"] == "abc"


def test_method_options_are_checked_before_any_work(tmp_path):
    check_method(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="grabcut",
                                method_options={"iterations": 2}))
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        check_method(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="nope"))
    with pytest.raises(ConfigError, match="does not accept"):
        check_method(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="grabcut",
                                    method_options={"colour": 1}))
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    with pytest.raises(ConfigError, match="does not accept"):  # grabcut has no weights
        check_method(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="grabcut", weights=weights))
    with pytest.raises(ConfigError, match="does not exist"):
        check_method(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, weights=tmp_path / "none"))


class Weighted:
    """A method with default weights, as the network has: their digest joins the fingerprint."""

    name = "weighted"
    digest = "0" * 64

    def __init__(self, weights=None):
        self.weights = weights

    @property
    def weights_sha256(self):
        if self.digest is None:
            raise FileNotFoundError("weights/default.pt")
        return self.digest


def test_default_weights_of_a_method_are_fingerprinted(tmp_path, monkeypatch):
    from box2mask.methods import METHODS
    from box2mask.atomic import file_sha256
    from pipelines.annotate.config import weights_digest

    monkeypatch.setitem(METHODS, "weighted", Weighted)
    config = AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="weighted")
    assert weights_digest(config) == "0" * 64
    given = tmp_path / "w.pt"
    given.write_bytes(b"weights")
    assert weights_digest(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="weighted",
                                         weights=given)) == file_sha256(given)
    assert weights_digest(AnnotateConfig(dataset="got10k", root=tmp_path, out=tmp_path, method="grabcut")) is None
    monkeypatch.setattr(Weighted, "digest", None)
    with pytest.raises(ConfigError, match="weights cannot be read"):
        weights_digest(config)
