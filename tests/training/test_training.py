"""Training from boxes only: no mask file is ever opened, checkpoints resume exactly."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from box2mask.errors import Box2MaskError
from box2mask.losses import LossWeights
from box2mask.training.clips import ClipConfig, ClipSampler
from box2mask.training.trainer import TrainConfig, Trainer
from box2mask.model.network import NetworkConfig
from pipelines.train import DataSource, load_sources, network_for_training, train

TINY = TrainConfig(iterations=2, batch=1, checkpoint_every=1,
                   losses=LossWeights(warmup_length=1),
                   clip=ClipConfig(frames=2, crop_size=64),
                   network=NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8))


class FileAudit:
    """Records every path opened by Python (audit hook) and by OpenCV's imread."""

    def __init__(self, monkeypatch):
        self.paths: list[str] = []
        sys.addaudithook(self._hook)
        real = cv2.imread

        def imread(path, *args):
            self.paths.append(str(path))
            return real(path, *args)

        monkeypatch.setattr(cv2, "imread", imread)
        self.active = True

    def _hook(self, event, args):
        if getattr(self, "active", False) and event == "open" and isinstance(args[0], (str, bytes, Path)):
            self.paths.append(str(args[0]))


def test_training_path_never_opens_a_mask_file(synthetic_got10k, tmp_path, monkeypatch):
    truth = synthetic_got10k.parent / "truth"
    assert any(truth.rglob("*.png")), "the fixture must have mask files beside the frames"
    audit = FileAudit(monkeypatch)
    try:
        trainer = train([DataSource("got10k", synthetic_got10k)], tmp_path / "run", TINY, device="cpu")
    finally:
        audit.active = False
    assert trainer.iteration == 2
    opened = [Path(p).resolve() for p in audit.paths]
    frames = [p for p in opened if p.suffix == ".jpg"]
    assert frames, "the audit saw no frame being read: it is not working"
    leaked = [p for p in opened if truth.resolve() in p.parents or p.suffix == ".png" and "motion" not in p.parts]
    assert not leaked, f"training opened mask files: {leaked[:3]}"


def test_training_refuses_mask_datasets(davis_root):
    with pytest.raises(Box2MaskError, match="evaluation only"):
        DataSource.parse(f"davis:{davis_root}")


def test_sequences_reaching_training_carry_no_masks(synthetic_got10k):
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    for seq in pool:
        fields = set(vars(seq)) | {k for t in seq.tracks for k in vars(t)}
        assert not any("mask" in f for f in fields)
    clip = ClipSampler([(pool, 1.0)], ClipConfig(frames=2, crop_size=64)).sample()
    assert set(clip) == {"images", "boxes", "valid", "motion", "has_motion", "teacher", "teacher_trusted", "taught"}
    assert not clip["taught"].any() and not clip["teacher"].any()  # no teacher run given: nothing taught
    assert clip["images"].shape == (2, 64, 64, 3) and set(np.unique(clip["boxes"])) <= {0.0, 1.0}


def straight_and_resumed(make, tmp_path: Path) -> tuple[Trainer, Trainer]:
    """3 steps in one go (in tmp_path/a), and 2 steps then 1 more after a resume (in tmp_path/b)."""
    straight = make(tmp_path / "a", 3)
    straight.run()
    make(tmp_path / "b", 2).run()
    second = make(tmp_path / "b", 3)
    assert second.resume() and second.iteration == 2
    second.run()
    return straight, second


def test_resume_continues_exactly(synthetic_got10k, tmp_path):
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])

    def make(out, iterations):
        config = replace(TINY, iterations=iterations, losses=replace(TINY.losses, affinity=0.0))
        return Trainer(config, ClipSampler([(pool, 1.0)], config.clip, seed=config.seed), out)

    straight, second = straight_and_resumed(make, tmp_path)
    for key, value in straight.net.trainable_state_dict().items():
        torch.testing.assert_close(second.net.trainable_state_dict()[key], value)
    lines = (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()
    assert len(lines) == 3  # one JSON line per step across both sessions


def test_resume_refuses_a_different_configuration(synthetic_got10k, tmp_path):
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    config = replace(TINY, losses=replace(TINY.losses, affinity=0.0))
    Trainer(config, ClipSampler([(pool, 1.0)], config.clip), tmp_path).run()
    other = replace(config, lr=0.5)
    with pytest.raises(ValueError, match="different training configuration"):
        Trainer(other, ClipSampler([(pool, 1.0)], other.clip), tmp_path).resume()


def test_teacher_must_be_a_box_only_run(tmp_path, synthetic_got10k):
    from box2mask.runs import RunInfo
    from box2mask.training.teacher import TeacherMasks

    with pytest.raises(Box2MaskError, match="not a box2mask run folder"):
        TeacherMasks([synthetic_got10k])
    run = tmp_path / "run"
    run.mkdir()
    RunInfo(dataset="got10k", root=str(synthetic_got10k), version="x", method="ground-truth").save(run / "run.json")
    with pytest.raises(Box2MaskError, match="only filled-box, grabcut, network runs can teach"):
        TeacherMasks([run])


def test_teacher_masks_reach_the_clips_with_their_qa_weight(tmp_path, synthetic_got10k):
    from tests.runbuild import build_run

    from box2mask.training.teacher import TeacherMasks

    run = build_run("got10k", synthetic_got10k, tmp_path / "teacher", method="filled-box")
    teacher = TeacherMasks([run])
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    seq = pool[0]
    mask, weight = teacher(seq, 0)
    assert mask.shape == (seq.height, seq.width) and 0.0 < weight <= 1.0
    box = seq.tracks[0].boxes[0]
    assert mask[int(box[1]):int(box[3]), int(box[0]):int(box[2])].mean() == 1.0  # the filled box
    clip = ClipSampler([(pool, 1.0)], ClipConfig(frames=2, crop_size=64), teacher=teacher).sample()
    assert clip["teacher"].shape == (2, 64, 64) and (clip["taught"] > 0).all()
    # the teacher crop lines up with the box drawn in the crop
    assert np.abs(clip["teacher"] - clip["boxes"]).mean() < 0.05


def test_teachers_covering_the_same_frame_are_averaged(tmp_path, synthetic_got10k):
    from tests.runbuild import build_run, ellipse_in_box

    from box2mask.training.teacher import TeacherMasks

    boxed = build_run("got10k", synthetic_got10k, tmp_path / "box", method="filled-box")
    ellipse = build_run("got10k", synthetic_got10k, tmp_path / "ellipse", method="filled-box", transform=ellipse_in_box)
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    seq = pool[0]
    (a, wa), (b, wb) = TeacherMasks([boxed])(seq, 0), TeacherMasks([ellipse])(seq, 0)
    assert (a != b).any()  # the box's corners
    mean, weight = TeacherMasks([boxed, ellipse])(seq, 0)
    np.testing.assert_allclose(mean, (a + b) / 2)
    assert set(np.unique(mean)) <= {0.0, 0.5, 1.0} and (mean == 0.5).any()
    assert weight == pytest.approx((wa + wb) / 2)


def test_teacher_loss_hand_computed():
    from box2mask.losses import teacher_loss

    logits = torch.tensor([[[[0.0, 2.0]]]], requires_grad=True)
    target = torch.tensor([[[[1.0, 0.0]]]])
    weight = torch.tensor([[[[1.0, 0.0]]]])  # the second pixel is not taught
    loss = teacher_loss(logits, target, weight)
    assert loss.item() == pytest.approx(np.log(2.0))  # BCE(logit 0, target 1) = log 2
    loss.backward()
    assert logits.grad[0, 0, 0, 1] == 0
    assert teacher_loss(logits, target, torch.zeros_like(weight)).item() == 0.0


def test_fine_tuning_starts_from_the_given_weights(synthetic_got10k, tmp_path):
    from pipelines.train import export_weights

    sources = [DataSource("got10k", synthetic_got10k)]
    config = replace(TINY, iterations=1, losses=replace(TINY.losses, affinity=0.0))
    first = train(sources, tmp_path / "a", config, device="cpu")
    weights = export_weights(first, tmp_path / "a.pt", sources=sources)
    frozen_lr = replace(config, lr=0.0)  # no update: the state after one step is the starting state
    tuned = train(sources, tmp_path / "b", frozen_lr, device="cpu", init_weights=weights)
    for key, value in first.net.trainable_state_dict().items():
        torch.testing.assert_close(tuned.net.trainable_state_dict()[key], value)
    # weights trained with m_t start a network without it (same parameters, other wiring)
    rewired = replace(frozen_lr, support_dropout=0.5, network=replace(TINY.network, object_path=False))
    multi = train(sources, tmp_path / "m", rewired, device="cpu", init_weights=weights)
    assert multi.net.config.object_path is False
    for key, value in first.net.trainable_state_dict().items():
        torch.testing.assert_close(multi.net.trainable_state_dict()[key], value)
    # fine-tuning keeps the wiring of the weights it starts from unless told otherwise
    rewired_weights = export_weights(multi, tmp_path / "m.pt", sources=sources)
    assert network_for_training(rewired_weights).object_path is False
    assert network_for_training(rewired_weights, object_path=True).object_path is True
    assert network_for_training(weights).object_path is True
    assert network_for_training(None) == NetworkConfig()
    assert network_for_training(None, encoder_features=False).encoder_features is False
    assert network_for_training(None, backbone="lite2").backbone == "lite2"
    assert network_for_training(rewired_weights).backbone == "lite0"  # as the weights, unless told
    with pytest.raises(Box2MaskError, match="network configuration differs"):  # another backbone, other features
        train(sources, tmp_path / "l2", replace(frozen_lr, network=replace(TINY.network, backbone="lite2")),
              device="cpu", init_weights=weights)
    other = replace(frozen_lr, network=replace(TINY.network, channels=8))
    with pytest.raises(Box2MaskError, match="network configuration differs"):
        train(sources, tmp_path / "c", other, device="cpu", init_weights=weights)


def test_box_prior_loss_hand_computed():
    from box2mask.losses import box_prior_loss

    logits = torch.tensor([[[[0.0, 2.0, -1.0]]]], requires_grad=True)
    box = torch.tensor([[[[1.0, 1.0, 0.0]]]])  # the third pixel is outside the box
    loss = box_prior_loss(logits, box)
    expected = (np.log(2.0) + np.log1p(np.exp(-2.0))) / 2  # BCE towards 1 of logits 0 and 2
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert logits.grad[0, 0, 0, 2] == 0
    valid = torch.tensor([[[[0.0, 1.0, 1.0]]]])
    assert box_prior_loss(logits, box, valid=valid).item() == pytest.approx(np.log1p(np.exp(-2.0)))
    assert box_prior_loss(logits, torch.zeros_like(box)).item() == 0.0


def test_support_dropout_leaves_boxes_out_but_keeps_one_per_clip():
    from box2mask.training.trainer import support_weights

    assert support_weights((4, 3), 0.0, torch.device("cpu")) is None
    torch.manual_seed(0)
    w = support_weights((2000, 3), 0.3, torch.device("cpu"))
    assert set(w.unique().tolist()) <= {0.0, 1.0}
    assert (w.sum(1) >= 1).all()  # every clip keeps a box to learn from
    assert 0.6 < float(w.mean()) < 0.8  # ~0.7 kept, a little more from the keep-one rule
    assert (support_weights((500, 3), 0.95, torch.device("cpu")).sum(1) == 1).float().mean() > 0.8


def test_the_teacher_band_leaves_the_pseudo_masks_boundary_out():
    from box2mask.training.clips import away_from_boundary

    teacher = np.zeros((20, 20), np.float32)
    teacher[5:15, 5:15] = 0.9
    trusted = away_from_boundary(teacher, 2)
    assert trusted[10, 10] == 1 and trusted[0, 0] == 1          # deep inside and far outside: kept
    assert trusted[5, 10] == 0 and trusted[4, 10] == 0 and trusted[6, 10] == 0  # on the boundary: left out
    assert trusted[2, 10] == 1 and trusted[8, 10] == 1          # 3 px away: kept
    assert (away_from_boundary(teacher, 0) == 1).all()


def test_training_defaults_live_in_the_pipeline_not_the_cli():
    from pipelines.train import TEACHER_WEIGHT, training_loss_weights

    w = training_loss_weights(600, terms={"projection", "pairwise", "affinity", "temporal"}, taught=True)
    assert w.teacher == TEACHER_WEIGHT == 0.5 and w.warmup_length == 150 and w.pairwise == 1.0
    w = training_loss_weights(1000, terms={"projection", "pairwise"}, overrides={"teacher": 0.2, "pairwise": 0.4},
                              taught=True, warmup=10)
    assert (w.teacher, w.pairwise, w.affinity, w.temporal, w.warmup_length) == (0.2, 0.4, 0.0, 0.0, 10)
    assert training_loss_weights(8, terms={"projection"}).teacher == 0.0  # no teacher given: no teacher term


def test_ema_teacher_moves_by_its_momentum_and_takes_over_after_its_start(synthetic_got10k, tmp_path):
    from box2mask.training.ema import EmaTeacher

    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    config = replace(TINY, iterations=3, ema_momentum=0.9, ema_start=2,
                     losses=replace(TINY.losses, affinity=0.0, teacher=0.5))
    trainer = Trainer(config, ClipSampler([(pool, 1.0)], config.clip, seed=0), tmp_path / "a")
    before = {k: v.clone() for k, v in trainer.ema.state_dict().items()}
    logs = [trainer.step() for _ in range(3)]
    # no teacher run: nothing is taught until the EMA teacher starts at step 2
    assert [("teacher" in log) for log in logs] == [False, False, True]
    # one update by hand: teacher <- 0.9 teacher + 0.1 student
    ema = EmaTeacher(trainer.net, 0.9)
    ema.load_state_dict(before)
    student = trainer.net.trainable_state_dict()
    ema.update(trainer.net)
    key = next(k for k, v in before.items() if v.is_floating_point() and not torch.equal(v, student[k]))
    torch.testing.assert_close(ema.state_dict()[key], 0.9 * before[key] + 0.1 * student[key])


def test_ema_teacher_resumes_exactly(synthetic_got10k, tmp_path):
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])

    def make(out, iterations):
        config = replace(TINY, iterations=iterations, ema_momentum=0.5, ema_start=1,
                         losses=replace(TINY.losses, affinity=0.0, teacher=0.5))
        return Trainer(config, ClipSampler([(pool, 1.0)], config.clip, seed=config.seed), out)

    straight, second = straight_and_resumed(make, tmp_path)
    for key, value in straight.ema.state_dict().items():
        torch.testing.assert_close(second.ema.state_dict()[key], value)
    for key, value in straight.net.trainable_state_dict().items():
        torch.testing.assert_close(second.net.trainable_state_dict()[key], value)


def test_tuned_backbone_blocks_train_at_their_own_rate_and_reach_the_weights_file(synthetic_got10k, tmp_path):
    """``tuned_blocks``: trained copies of the backbone's last blocks start equal to the frozen ones, learn
    at ``backbone_lr`` x the rate, go into weights files and resume exactly; the backbone never moves."""
    from box2mask.model.weights import load_weights
    from pipelines.train import export_weights

    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    sources = [DataSource("got10k", synthetic_got10k)]
    config = replace(TINY, iterations=2, backbone_lr=0.25, losses=replace(TINY.losses, affinity=0.0),
                     network=replace(TINY.network, tuned_blocks=2))

    def make(out, iterations):
        run = replace(config, iterations=iterations)
        return Trainer(run, ClipSampler([(pool, 1.0)], run.clip, seed=run.seed), out)

    straight, second = straight_and_resumed(make, tmp_path)
    net = straight.net
    frozen = net.backbone.blocks[net.tuned_from:net.tuned_from + 2]
    reloaded = load_weights(export_weights(straight, tmp_path / "w.pt", sources=sources))[0]
    assert reloaded.config.tuned_blocks == 2
    moved = []
    for trained, original, loaded in zip(net.tuned, frozen, reloaded.tuned):
        for p, q, r in zip(trained.parameters(), original.parameters(), loaded.parameters()):
            assert not q.requires_grad and p.requires_grad
            moved.append(not torch.equal(p, q))
            torch.testing.assert_close(r, p.detach())
    assert any(moved)
    fresh = load_weights(tmp_path / "w.pt")[0].backbone.blocks[net.tuned_from]._depthwise_conv.weight
    torch.testing.assert_close(frozen[0]._depthwise_conv.weight, fresh)  # the shared backbone itself never moved
    rates = [g["lr"] for g in straight.optimizer.param_groups]
    assert len(rates) == 2 and rates[1] == pytest.approx(0.25 * rates[0])
    for key, value in straight.net.trainable_state_dict().items():
        torch.testing.assert_close(second.net.trainable_state_dict()[key], value)
    with pytest.raises(ValueError, match="tuned_blocks must be 0 to 6"):
        replace(TINY.network, tuned_blocks=7)


def test_the_train_progress_line_shows_the_teacher_term_when_a_teacher_teaches(tmp_path, synthetic_got10k):
    from click.testing import CliRunner

    from cli.main import main
    from tests.runbuild import build_run

    teacher = build_run("got10k", synthetic_got10k, tmp_path / "teacher", method="filled-box")
    args = ["train", "--data", f"got10k:{synthetic_got10k}", "--iterations", "2", "--batch", "2",
            "--crop-size", "64", "--frames", "2", "--losses", "projection"]
    taught = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "taught"), "--teacher", str(teacher)])
    assert taught.exit_code == 0, taught.output
    last = [line for line in taught.output.splitlines() if line.startswith("[train] 2/2")][-1]
    assert "proj=" in last and "teac=" in last, last
    alone = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "alone")])
    assert alone.exit_code == 0, alone.output
    last = [line for line in alone.output.splitlines() if line.startswith("[train] 2/2")][-1]
    assert "proj=" in last and "teac=" not in last, last


def test_the_shipped_preset_is_the_recipe_measured_on_the_folds():
    """``--preset shipped`` must stay the recipe the folds scored (benchmarks/cv.py's r6-lite2-2k) and export the
    inference defaults the shipped file carries; the CLI offers exactly the presets the pipeline defines."""
    from benchmarks.cv import LOSSES, RECIPES
    from box2mask.model.weights import DEFAULT_WEIGHTS, inference_defaults
    from cli.commands.train import command
    from pipelines.train import PRESETS, TEACHER_WEIGHT

    preset = PRESETS["shipped"]
    args = RECIPES["r6-lite2-2k"]
    value = {flag: args[args.index(flag) + 1] for flag in ("--iterations", "--support-dropout", "--loss-weights",
                                                           "--backbone")}
    assert int(value["--iterations"]) == preset.iterations
    assert float(value["--support-dropout"]) == preset.support_dropout
    assert value["--backbone"] == preset.backbone
    assert ("--no-object-path" in args) == (not preset.object_path)
    assert set(value["--loss-weights"].split(",")) == {f"teacher={TEACHER_WEIGHT}", *preset.loss_weights.split(",")}
    assert LOSSES == value["--loss-weights"]
    shipped = inference_defaults(DEFAULT_WEIGHTS)
    assert (preset.inference().crop_size, preset.inference().edges) == (shipped.crop_size, shipped.edges)
    choice = next(p for p in command.params if p.name == "preset").type.choices
    assert sorted(choice) == sorted(PRESETS)


def test_train_preset_sets_what_is_not_given_and_exported_weights_keep_their_inference_defaults(
        tmp_path, synthetic_got10k):
    from click.testing import CliRunner

    from box2mask.model.inference import InferenceConfig
    from box2mask.model.weights import read_payload
    from cli.main import main

    args = ["train", "--data", f"got10k:{synthetic_got10k}", "--batch", "1", "--crop-size", "64", "--frames", "2",
            "--losses", "projection,pairwise"]
    run = CliRunner().invoke(main, [*args, "--preset", "shipped", "--iterations", "1", "--support-dropout", "0.5",
                                    "--out", str(tmp_path / "preset")])
    assert run.exit_code == 0, run.output
    payload = read_payload(tmp_path / "preset" / "weights.pt")
    train_config = payload["metadata"]["train_config"]
    assert payload["metadata"]["iterations"] == 1                       # given: wins over the preset's 2,000
    assert train_config["support_dropout"] == 0.5                       # given: wins over the preset's 0.3
    assert train_config["losses"]["pairwise"] == 0.4                    # not given: the preset's
    assert payload["network"]["backbone"] == "lite2" and payload["network"]["object_path"] is False
    assert (payload["inference"]["crop_size"], payload["inference"]["edges"]) == (320, "crf")
    assert payload["metadata"]["preset"] == "shipped"
    # fine-tuning keeps the inference defaults of the weights it starts from, not the library's
    assert InferenceConfig().crop_size != 320
    run = CliRunner().invoke(main, [*args, "--iterations", "1", "--init", str(tmp_path / "preset" / "weights.pt"),
                                    "--out", str(tmp_path / "tuned")])
    assert run.exit_code == 0, run.output
    tuned = read_payload(tmp_path / "tuned" / "weights.pt")
    assert tuned["inference"] == payload["inference"] and tuned["network"]["backbone"] == "lite2"
    assert "preset" not in tuned["metadata"]
