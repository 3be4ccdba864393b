"""``annotate --adapt``: fine-tune on the run's own boxes, resumable, never redone, guarded like any setting."""

from __future__ import annotations

import json
import shutil

import pytest

from box2mask.atomic import file_sha256
from box2mask.errors import Box2MaskError
from box2mask.model.inference import InferenceConfig
from box2mask.model.weights import DEFAULT_WEIGHTS, inference_defaults, read_payload
from box2mask.runs import RunInfo, RunPaths
from pipelines.annotate import AnnotateConfig, ConfigError, annotate
from pipelines.annotate.adapt import AdaptConfig, default_steps
from pipelines.status import run_status
from tests.pipelines.procs import keys_of

SETTINGS = AdaptConfig(steps=3, batch=2, checkpoint_every=2)


class Interrupt(Exception):
    pass


def train_log(out):
    return [json.loads(line)["iteration"] for line in (out / "adapt" / "train" / "train_log.jsonl").open()]


@pytest.fixture(scope="module")
def adapted(ray_local, tiny_got10k, tmp_path_factory):
    """A run interrupted at adaptation step 3 (checkpoint at 2), then run again to the end."""
    out = tmp_path_factory.mktemp("adapt") / "out"
    config = AnnotateConfig(dataset="got10k", root=tiny_got10k, out=out, shard_frames=12, adapt=SETTINGS)
    reports = []

    def stop_at_three(report):
        reports.append(report)
        if report.phase == "train" and report.step == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        annotate(config, workers=2, on_adapt=stop_at_three)
    before_resume = train_log(out)
    phases = []
    summary = annotate(config, workers=2, on_adapt=lambda r: phases.append(r.phase))
    return config, summary, before_resume, reports, phases


def test_an_interrupted_adaptation_resumes_from_its_last_checkpoint(adapted):
    config, summary, before_resume, reports, phases = adapted
    assert before_resume == [1, 2, 3]
    # the second run redid only step 3 (the checkpoint was at 2), and the teacher run was not redone
    assert train_log(config.out) == [1, 2, 3, 3]
    assert "teacher" in {r.phase for r in reports} and phases[-1] == "done"
    assert summary.complete and summary.adapted is not None and not summary.adapted.skipped


def test_the_adapted_weights_are_recorded_and_used(adapted):
    config, summary, *_ = adapted
    weights = config.out / "adapt" / "weights.pt"
    info = RunInfo.load(RunPaths(config.out).run_json)
    assert info.adapted["weights_sha256"] == file_sha256(weights) == summary.adapted.weights_sha256
    assert info.adapted["base_weights_sha256"] == file_sha256(DEFAULT_WEIGHTS) == info.weights_sha256
    assert info.config["adapt"] == SETTINGS.to_dict()
    payload = read_payload(weights)
    assert payload["metadata"]["iterations"] == 3
    assert payload["metadata"]["adapted_from"]["sha256"] == info.weights_sha256
    assert InferenceConfig(**payload["inference"]) == inference_defaults(DEFAULT_WEIGHTS)  # the base's defaults
    assert keys_of(config.out)
    status = run_status(config.out)
    assert status.complete and status.adapt["phase"] == "done"


def test_a_rerun_never_trains_again(adapted, tmp_path):
    config, *_ = adapted
    copy = tmp_path / "out"
    shutil.copytree(config.out, copy)
    again = AnnotateConfig(dataset=config.dataset, root=config.root, out=copy, shard_frames=12, adapt=SETTINGS)
    done = annotate(again)
    assert done.adapted is None and done.shards_committed == 0  # every shard committed: no adapt phase at all
    (copy / "shards" / "00001.parquet").unlink()
    said = []
    redo = annotate(again, workers=2, on_message=said.append)
    assert redo.shards_committed == 1 and redo.adapted.skipped
    assert any("adapt: done earlier" in m for m in said)
    assert train_log(copy) == [1, 2, 3, 3]


def test_other_adapt_settings_on_the_same_out_are_refused(adapted):
    config, *_ = adapted
    changed = AnnotateConfig(dataset=config.dataset, root=config.root, out=config.out, shard_frames=12,
                             adapt=AdaptConfig(steps=5, batch=2, checkpoint_every=2))
    with pytest.raises(ConfigError, match=r"adapt:.*\"steps\": 3.*\"steps\": 5"):
        annotate(changed)


def test_adapt_refuses_masks_as_boxes_and_methods_without_a_network(davis_root, tmp_path):
    with pytest.raises(ConfigError, match="boxes come from its masks"):
        annotate(AnnotateConfig(dataset="davis", root=davis_root, out=tmp_path / "a", adapt=AdaptConfig()))
    with pytest.raises(ConfigError, match="nothing to train"):
        annotate(AnnotateConfig(dataset="got10k", root=davis_root, out=tmp_path / "b", method="grabcut",
                                adapt=AdaptConfig()))


def test_default_steps_scale_with_the_frames_within_bounds():
    assert default_steps(10) == 200 and default_steps(400) == 600 and default_steps(1376) == 2000
    assert default_steps(10**6) == 2000


def test_adapting_without_a_teacher_skips_grabcut_and_trains_on_the_box_losses(ray_local, tiny_got10k, tmp_path):
    settings = AdaptConfig(steps=2, batch=2, checkpoint_every=2, teacher="none")
    config = AnnotateConfig(dataset="got10k", root=tiny_got10k, out=tmp_path / "out", shard_frames=12, adapt=settings)
    phases = []
    summary = annotate(config, workers=2, on_adapt=lambda r: phases.append(r.phase))
    assert summary.complete and "teacher" not in phases and "train" in phases
    assert not (config.out / "adapt" / "teacher").exists()
    metadata = read_payload(config.out / "adapt" / "weights.pt")["metadata"]
    assert metadata["train_config"]["losses"]["teacher"] == 0.0 and metadata["teachers"] == []
    assert RunInfo.load(RunPaths(config.out).run_json).config["adapt"]["teacher"] == "none"


def test_a_blended_teacher_runs_grabcut_and_the_starting_network_and_teaches_with_both(ray_local, tiny_got10k,
                                                                                      tmp_path):
    settings = AdaptConfig(steps=2, batch=2, checkpoint_every=2, teacher="blend")
    config = AnnotateConfig(dataset="got10k", root=tiny_got10k, out=tmp_path / "out", shard_frames=12, adapt=settings)
    summary = annotate(config, workers=2)
    assert summary.complete
    cut, own = config.out / "adapt" / "teacher", config.out / "adapt" / "teacher-network"
    assert RunInfo.load(RunPaths(cut).run_json).method == "grabcut"
    network = RunInfo.load(RunPaths(own).run_json)
    assert network.method == "network" and network.weights_sha256 == file_sha256(DEFAULT_WEIGHTS)
    assert sorted(keys_of(cut)) == sorted(keys_of(own))  # both teachers cover the same frames
    metadata = read_payload(config.out / "adapt" / "weights.pt")["metadata"]
    assert sorted(metadata["teachers"]) == sorted(str(p.resolve()) for p in (cut, own))
    assert metadata["train_config"]["losses"]["teacher"] > 0.0


def test_runs_made_before_the_teacher_option_keep_their_fingerprint():
    # their run.json has no "teacher" key and they were taught by GrabCut: that must still match, and the
    # default teacher (blend) must not
    assert "teacher" not in AdaptConfig(teacher="grabcut").to_dict()
    assert AdaptConfig().to_dict()["teacher"] == AdaptConfig.teacher == "blend"


def test_an_unknown_adapt_teacher_is_refused():
    with pytest.raises(Box2MaskError, match="unknown --adapt-teacher 'sam'"):
        AdaptConfig(teacher="sam")
