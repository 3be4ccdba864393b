"""The boundary stage: crops between windows, its starting point, its clips and its trainer."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from box2mask.crops import CropWindow, extract, paste, square_window, transfer
from box2mask.model.boundary import BoundaryConfig, BoundaryStage, boundary_window, fine_crop, run_boundary
from box2mask.training.boundary import BoundaryTrainConfig, BoundaryTrainer
from box2mask.training.clips import ClipSampler
from pipelines.train import DataSource, load_sources
from tests.training.test_training import straight_and_resumed

SMALL = BoundaryConfig(crop_size=64, width=8)


def test_transfer_is_paste_then_extract_in_one_warp():
    rng = np.random.default_rng(0)
    crop = cv2.GaussianBlur(rng.random((96, 96)).astype(np.float32), (0, 0), 3)
    source, target = CropWindow(40.0, 30.0, 200.0), CropWindow(70.0, 55.0, 120.0)
    two_steps = extract(paste(crop, source, 300, 400), target, 80)
    one = transfer(crop, source, target, 80)
    # the frame between the two warps is the only difference: a resampling step
    assert np.abs(one - two_steps)[4:-4, 4:-4].max() < 0.03


def test_the_boundary_window_covers_the_box_by_its_factor():
    box = np.array([100.0, 50.0, 220.0, 110.0])
    window = boundary_window(box, BoundaryConfig(cover=1.25))
    assert window.side == 1.25 * 120
    assert abs(window.x0 + window.side / 2 - 160) < 1e-9 and abs(window.y0 + window.side / 2 - 80) < 1e-9


def test_an_untrained_stage_returns_its_input():
    stage = BoundaryStage(SMALL).eval()
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    box = np.array([40.0, 30.0, 110.0, 90.0])
    probability = rng.uniform(0.05, 0.95, (64, 64)).astype(np.float32)
    first = square_window(box, context=2.6)
    crop = fine_crop(image, box, SMALL)
    out, = run_boundary(stage, [crop], [probability], [first])
    assert out.shape == (64, 64)
    np.testing.assert_allclose(out, np.clip(transfer(probability, first, crop.window, 64), 0.01, 0.99), atol=1e-5)


def test_extra_maps_are_cropped_and_flipped_with_the_frames(synthetic_got10k):
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])

    def box_map(sequence, frame):  # the frame's own box drawn full-frame: must land on the clip's box
        x0, y0, x1, y1 = sequence.tracks[0].boxes[frame]
        out = np.zeros((sequence.height, sequence.width), np.float32)
        out[int(np.ceil(y0)):int(y1), int(np.ceil(x0)):int(x1)] = 1.0
        return out

    config = BoundaryTrainConfig(boundary=SMALL).clip
    sampler = ClipSampler([(pool, 1.0)], config, maps={"coarse": box_map}, seed=3)
    for _ in range(6):
        clip = sampler.sample()
        assert clip["coarse"].shape == clip["boxes"].shape == (1, 64, 64)
        agree = (clip["coarse"] >= 0.5) == (clip["boxes"] >= 0.5)
        assert agree.mean() > 0.97


def test_boundary_training_resumes_exactly(synthetic_got10k, tmp_path):
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])

    def coarse(sequence, frame):
        x0, y0, x1, y1 = sequence.tracks[0].boxes[frame]
        out = np.zeros((sequence.height, sequence.width), np.float32)
        out[int(y0):int(y1), int(x0):int(x1)] = 0.8
        return out

    def make(out, iterations):
        config = BoundaryTrainConfig(iterations=iterations, batch=2, checkpoint_every=1, teacher=0.0,
                                     anchor_band=2, boundary=SMALL)
        sampler = ClipSampler([(pool, 1.0)], config.clip, maps={"coarse": coarse}, seed=config.seed)
        return BoundaryTrainer(config, sampler, out)

    straight, second = straight_and_resumed(make, tmp_path)
    a, b = straight.trainable_state_dict(), second.trainable_state_dict()
    assert set(a) == set(b) and not any(k.startswith("backbone.") for k in a)
    for key, value in a.items():
        torch.testing.assert_close(b[key], value)
    assert not torch.equal(a["out.2.weight"], torch.zeros_like(a["out.2.weight"]))  # it did learn something
    other = replace(make(tmp_path / "c", 1).config, anchor=0.5)
    with pytest.raises(ValueError, match="different training configuration"):
        BoundaryTrainer(other, ClipSampler([(pool, 1.0)], other.clip, maps={"coarse": coarse}), tmp_path / "b").resume()


def test_the_stage_learns_to_pull_a_spilled_mask_back_to_the_object(synthetic_got10k):
    """A first stage whose masks spill 4 px past the object on every side (the truth dilated and blurred:
    the fixture's truth only builds that input and scores the result; the losses see boxes, colours and
    the spilled mask) is corrected by 50 steps of training: the colour pairs inside the spill pull it back."""
    (pool, _), = load_sources([DataSource("got10k", synthetic_got10k)])
    truth = synthetic_got10k.parent / "truth" / "Annotations"

    def object_mask(sequence, frame):
        path = truth / sequence.id / f"{sequence.frame_stem(frame)}.png"
        return (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0).astype(np.float32)

    def spilled(sequence, frame):
        grown = cv2.dilate(object_mask(sequence, frame).astype(np.uint8), np.ones((9, 9), np.uint8))
        return cv2.GaussianBlur(grown.astype(np.float32), (0, 0), 2)

    config = BoundaryTrainConfig(iterations=50, batch=4, lr=3e-3, teacher=0.0, anchor_band=3, checkpoint_every=1000,
                                 boundary=SMALL)
    trainer = BoundaryTrainer(config, ClipSampler([(pool, 1.0)], config.clip, maps={"coarse": spilled}, seed=0),
                              synthetic_got10k.parent / "boundary-run")
    trainer.run()
    held = ClipSampler([(pool, 1.0)], config.clip, maps={"coarse": spilled, "truth": object_mask}, seed=99).batch(24)
    data = trainer._tensors(held)
    with torch.no_grad():
        out = torch.sigmoid(trainer.stage.eval()(data["images"], data["coarse"], data["boxes"]))[:, 0].numpy() >= 0.5
    target, before = held["truth"][:, 0] >= 0.5, held["coarse"][:, 0] >= 0.5

    def iou(mask):
        return float(((mask & target).sum((1, 2)) / np.maximum((mask | target).sum((1, 2)), 1)).mean())

    assert iou(before) < 0.8
    assert iou(out) > iou(before) + 0.1


def test_weights_with_a_boundary_stage_run_it_in_the_predictor_and_the_pipeline(tmp_path, synthetic_got10k):
    """A weights file holding a boundary stage round-trips strictly; the Predictor and the pipeline's
    method both run the stage on the targets (the same masks), and ``-O boundary=false`` skips it."""
    from box2mask.datasets import open_dataset
    from box2mask.methods import get_method, run_method
    from box2mask.model.inference import InferenceConfig
    from box2mask.model.network import NetworkConfig, VideoBoxToMask
    from box2mask.model.predictor import Predictor
    from box2mask.model.weights import load_weights, save_weights

    torch.manual_seed(0)
    config = NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8, boundary=SMALL)
    network = VideoBoxToMask(config)
    assert network.boundary.backbone is network.backbone  # shared, and kept out of the file
    torch.nn.init.normal_(network.boundary.out[-1].weight, std=0.5)  # a stage that changes its input
    path = tmp_path / "w.pt"
    save_weights(path, network, InferenceConfig(crop_size=64, support=3, edges="none"), {})
    assert not any(".backbone." in f".{k}" for k in torch.load(path, weights_only=True)["state_dict"])
    loaded, inference, _ = load_weights(path)
    assert loaded.config.boundary == SMALL and loaded.boundary is not None

    reader = open_dataset("got10k", synthetic_got10k)
    seq = reader.load(reader.sequence_ids()[0])
    track = seq.tracks[0]
    targets = np.arange(4)
    with_stage = Predictor(loaded, inference, device="cpu").predict(seq.read_frame, track.boxes, track.visible,
                                                                     targets=targets)
    without = Predictor(loaded, replace(inference, boundary=False), device="cpu").predict(
        seq.read_frame, track.boxes, track.visible, targets=targets)
    assert any((a.mask != b.mask).any() for a, b in zip(with_stage, without))
    piped = list(run_method(get_method("network", weights=path, device="cpu"), seq, track, targets))
    for a, b in zip(piped, with_stage):
        np.testing.assert_array_equal(a.mask, b.mask)
        assert a.score == b.score
    skipped = list(run_method(get_method("network", weights=path, device="cpu", boundary=False), seq, track, targets))
    for a, b in zip(skipped, without):
        np.testing.assert_array_equal(a.mask, b.mask)
