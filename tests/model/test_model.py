"""The network's parts: pretrained backbone, aggregation, clips, weights files, predictor."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from box2mask.frames import read_rgb
from box2mask.model.aggregation import SteepestDescentAggregation
from box2mask.model.backbone import LITE0, LITE2, EfficientNetLite, FrozenBackbone, load_pretrained, pretrained_weights_path
from box2mask.model.clips import plan_clips
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.model.inference import InferenceConfig
from box2mask.model.predictor import Predictor
from box2mask.model.weights import load_weights, save_weights

SMALL = NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8)


@pytest.fixture(scope="module")
def backbone():
    return FrozenBackbone()


@pytest.mark.parametrize("spec", [LITE0, LITE2], ids=lambda s: s.name)
def test_pretrained_backbone_recognises_real_frames(davis_root, spec):
    """Architecture and packaged weights agree: ImageNet classes of DAVIS frames come out right."""
    net = load_pretrained(spec)
    expected = {"bear": 294, "flamingo": 130, "tennis": 752}  # brown bear, flamingo, racket
    frames = [read_rgb(davis_root / "JPEGImages" / "480p" / seq / "00010.jpg") for seq in expected]
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    x = torch.nn.functional.interpolate(x, size=(240, 427), mode="bilinear", align_corners=False)
    with torch.no_grad():
        top5 = net(x).topk(5, dim=1).indices
    for k, cls in enumerate(expected.values()):
        assert cls in top5[k].tolist(), (list(expected)[k], top5[k].tolist())


def test_weights_load_strictly():
    state = torch.load(pretrained_weights_path(LITE0), map_location="cpu", weights_only=True)
    state["_blocks.0._bn1.weight_extra"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        EfficientNetLite(LITE0).load_state_dict(state, strict=True)
    with pytest.raises(RuntimeError, match="size mismatch"):  # one variant's weights never fit the other
        EfficientNetLite(LITE2).load_state_dict(torch.load(pretrained_weights_path(LITE0), weights_only=True))


def test_folded_backbone_matches_and_is_frozen(backbone):
    plain = load_pretrained()
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        ref = plain.features(x)
    out = backbone(x)
    assert {s: tuple(v.shape[1:]) for s, v in out.items()} == {2: (16, 48, 64), 4: (24, 24, 32), 8: (40, 12, 16),
                                                                16: (112, 6, 8)}
    for s in out:
        torch.testing.assert_close(out[s], ref[s], atol=1e-3, rtol=1e-3)
    assert not any(p.requires_grad for p in backbone.parameters())


def test_steepest_descent_lowers_the_objective_and_learns_lambda():
    torch.manual_seed(0)
    agg = SteepestDescentAggregation(8, 4)
    x, e, w = torch.randn(2, 3, 8, 6, 6), torch.randn(2, 3, 4, 6, 6), torch.rand(2, 3, 4, 6, 6)
    values = [agg.objective(x, e, w, agg.solve(agg.unfold(x), e, w, n)) for n in (0, 1, 5, 15)]
    for before, after in zip(values, values[1:]):
        assert torch.all(after < before)
    s = agg(x, e, w, iterations=3)
    s.sum().backward()
    assert agg.log_lambda.grad is not None and agg.log_lambda.grad.abs() > 0


def test_padding_frames_do_not_change_the_solution():
    torch.manual_seed(1)
    agg = SteepestDescentAggregation(8, 4)
    x, e, w = torch.randn(1, 2, 8, 5, 5), torch.randn(1, 2, 4, 5, 5), torch.rand(1, 2, 4, 5, 5)
    padded = [torch.cat([v, torch.randn_like(v[:, :1])], dim=1) for v in (x, e, w)]
    z = agg.solve(agg.unfold(x), e, w, 5)
    z_pad = agg.solve(agg.unfold(padded[0]), padded[1], padded[2].abs(), 5,
                      frame_weights=torch.tensor([[1.0, 1.0, 0.0]]))
    torch.testing.assert_close(z, z_pad, atol=1e-5, rtol=1e-4)


def test_network_shapes_and_coarse_first_pass(backbone):
    net = VideoBoxToMask(SMALL, backbone=backbone)
    images, boxes = torch.rand(2, 3, 3, 64, 64), torch.zeros(2, 3, 1, 64, 64)
    boxes[..., 16:48, 20:44] = 1
    out = net(images, boxes)
    assert out["first"].shape == out["refined"].shape == (2, 3, 1, 64, 64)
    single = net(images, boxes, refine=False)
    assert set(single) == {"first"}
    assert not any(k.startswith("backbone.") for k in net.trainable_state_dict())


def test_object_dropout_hides_the_per_frame_object_features(backbone):
    torch.manual_seed(0)
    net = VideoBoxToMask(SMALL, backbone=backbone)
    images, boxes = torch.rand(2, 3, 3, 64, 64), torch.zeros(2, 3, 1, 64, 64)
    boxes[..., 16:48, 20:44] = 1
    net.train()
    kept = net(images, boxes, object_dropout=0.0)["refined"]
    hidden = net(images, boxes, object_dropout=1.0)["refined"]
    no_path = VideoBoxToMask(replace(SMALL, object_path=False), backbone=backbone).train()
    no_path.load_trainable_state_dict(net.trainable_state_dict())  # same parameters, m_t never reaches the decoder
    torch.testing.assert_close(hidden, no_path(images, boxes)["refined"])
    assert not torch.allclose(kept, hidden)
    net.eval()  # never at inference
    torch.testing.assert_close(net(images, boxes, object_dropout=1.0)["refined"], net(images, boxes)["refined"])


def test_without_object_path_a_frame_is_segmented_from_the_clip(backbone):
    """With m_t off the decoder, a frame's mask depends on the other frames' boxes."""
    torch.manual_seed(0)
    with_m = VideoBoxToMask(SMALL, backbone=backbone).eval()
    without_m = VideoBoxToMask(replace(SMALL, object_path=False), backbone=backbone).eval()
    without_m.load_trainable_state_dict(with_m.trainable_state_dict())  # same parameters either way
    images, boxes = torch.rand(1, 3, 3, 64, 64), torch.zeros(1, 3, 1, 64, 64)
    boxes[..., 16:48, 20:44] = 1
    moved = boxes.clone()
    moved[:, 1:] = 0
    moved[:, 1:, :, 4:20, 4:20] = 1  # the other frames' boxes elsewhere; frame 0 unchanged
    for net in (with_m, without_m):
        a, b = net(images, boxes)["first"][:, 0], net(images, moved)["first"][:, 0]
        assert not torch.allclose(a, b)  # the aggregation always sees the clip
    # left out of the aggregation (weight 0), frame 0's own box reaches its mask only through m_t
    weights = torch.tensor([[0.0, 1.0, 1.0]])
    changed = boxes.clone()
    changed[:, 0] = 0
    changed[:, 0, :, 30:60, 30:60] = 1
    for net, reaches in ((with_m, True), (without_m, False)):
        a = net(images, boxes, frame_weights=weights)["first"][:, 0]
        b = net(images, changed, frame_weights=weights)["first"][:, 0]
        assert torch.allclose(a, b) != reaches


def test_clip_plan_covers_each_target_once():
    visible = np.ones(40, bool)
    visible[[7, 8]] = False
    targets = np.flatnonzero(visible)
    clips = plan_clips(targets, visible, size=5, interval=5)
    outputs = [int(f) for c in clips for f, t in zip(c.frames, c.is_target) if t]
    assert sorted(outputs) == targets.tolist()
    for c in clips:
        assert len(c.frames) == 5 and visible[c.frames].all()
    sparse = plan_clips(np.array([0, 20]), np.ones(30, bool), size=3, interval=5)
    assert all(c.weights.sum() == 3 for c in sparse)  # filled with non-target visible frames
    only = np.zeros(10, bool)
    only[2] = True
    lonely = plan_clips(np.array([2]), only, size=3, interval=5)
    assert lonely[0].frames.tolist() == [2, 2, 2] and lonely[0].weights.tolist() == [1.0, 0.0, 0.0]
    assert lonely[0].is_target.tolist() == [True, False, False]


def test_weights_round_trip_and_predictor_agrees_with_method(tmp_path, backbone, synthetic_got10k):
    from box2mask.datasets import open_dataset
    from box2mask.methods import get_method, run_method

    torch.manual_seed(0)
    path = tmp_path / "w.pt"
    save_weights(path, VideoBoxToMask(SMALL, backbone=backbone), InferenceConfig(crop_size=64, support=3), {"x": 1})
    network, config, meta = load_weights(path)
    assert meta == {"x": 1} and config.crop_size == 64
    reader = open_dataset("got10k", synthetic_got10k)
    seq = reader.load(reader.sequence_ids()[0])
    track = seq.tracks[0]
    predictor = Predictor(network, config, device="cpu")
    preds = predictor.predict(lambda i: seq.read_frame(i), track.boxes, track.visible, targets=np.arange(4))
    results = list(run_method(get_method("network", weights=path, device="cpu"), seq, track, np.arange(4)))
    for p, r in zip(preds, results):
        assert p.mask.shape == (seq.height, seq.width) and 0.0 <= p.score <= 1.0
        np.testing.assert_array_equal(p.mask, r.mask)


def test_a_lite2_network_keeps_its_backbone_through_a_weights_file(tmp_path, backbone):
    """The backbone is part of the architecture: a weights file rebuilds the one it was trained on,
    and a network is never wired to the other variant's features."""
    from box2mask.model.weights import network_config

    lite2 = replace(SMALL, backbone="lite2")
    network = VideoBoxToMask(lite2)
    assert network.deep.p8.in_channels == 48 and network.deep.p16.in_channels == 120
    path = tmp_path / "w2.pt"
    save_weights(path, network, InferenceConfig(crop_size=64), {})
    assert network_config(path).backbone == "lite2"
    loaded, _, _ = load_weights(path)
    assert loaded.backbone.spec.name == "lite2"
    for key, value in network.trainable_state_dict().items():
        torch.testing.assert_close(loaded.trainable_state_dict()[key], value)
    x = torch.rand(1, 2, 3, 64, 64)
    boxes = torch.zeros(1, 2, 1, 64, 64)
    boxes[..., 16:48, 16:48] = 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, boxes)["refined"], network.eval()(x, boxes)["refined"])
    with pytest.raises(ValueError, match="lite2 backbone"):
        VideoBoxToMask(lite2, backbone=backbone)
    with pytest.raises(ValueError, match="unknown backbone"):
        replace(SMALL, backbone="lite9")


def test_a_small_feature_cache_gives_the_same_masks(backbone, synthetic_got10k):
    """Frames reused across clip groups must survive cache eviction (T = 9 once lost one: KeyError)."""
    from box2mask.datasets import open_dataset

    torch.manual_seed(0)
    network = VideoBoxToMask(SMALL, backbone=backbone).eval()
    reader = open_dataset("got10k", synthetic_got10k)
    seq = reader.load(reader.sequence_ids()[0])
    track = seq.tracks[0]
    config = InferenceConfig(crop_size=64, support=5, interval=2, clips_per_batch=2, feature_cache=64)
    roomy = Predictor(network, config, device="cpu").predict(lambda i: seq.read_frame(i), track.boxes, track.visible)
    tight = Predictor(network, replace(config, feature_cache=3), device="cpu").predict(
        lambda i: seq.read_frame(i), track.boxes, track.visible)
    assert len(roomy) == len(tight) == len(seq)
    for a, b in zip(roomy, tight):
        np.testing.assert_array_equal(a.mask, b.mask)


def test_flip_averaging_makes_predictions_mirror_symmetric(backbone):
    """With ``flip`` the probabilities of a mirrored clip are the mirror of the clip's own."""
    from box2mask.model.predictor import FrameItem

    torch.manual_seed(0)
    network = VideoBoxToMask(SMALL, backbone=backbone).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    box = np.zeros((64, 64), np.float32)
    box[10:50, 8:40] = 1.0  # off-centre, so the mirrored box is a different input
    items = {f: FrameItem(None, images[f], box) for f in range(3)}
    mirrored = {f: FrameItem(None, np.ascontiguousarray(it.image[:, ::-1]), np.ascontiguousarray(it.box[:, ::-1]))
                for f, it in items.items()}
    clips = plan_clips(np.arange(3), np.ones(3, bool), size=3, interval=1)
    config = InferenceConfig(crop_size=64, support=3, iterations=3)
    for flip, symmetric in ((False, False), (True, True)):
        predictor = Predictor(network, replace(config, flip=flip), device="cpu")
        plain, of_mirror = predictor.run_clips(items, clips), predictor.run_clips(mirrored, clips)
        gap = max(float(np.abs(plain[f] - of_mirror[f][:, ::-1]).max()) for f in plain)
        assert (gap < 1e-5) == symmetric, (flip, gap)


def test_clip_to_box_keeps_the_mask_inside_the_box():
    from box2mask.crops import square_window
    from box2mask.model.postprocess import to_mask

    box = np.array([20.0, 10.0, 40.0, 30.0])  # x0, y0, x1, y1: pixels 10:30, 20:40
    window = square_window(box, context=2.6)
    probability = np.ones((32, 32), np.float32)  # "object" over the whole crop, far beyond the box
    loose = to_mask(probability, window, box, 60, 80, InferenceConfig(clip_to_box=False))
    tight = to_mask(probability, window, box, 60, 80, InferenceConfig(clip_to_box=True))
    assert loose[0:5, 0:15].any()  # the crop reaches well outside the box
    assert not tight[:10].any() and not tight[:, :20].any() and not tight[30:].any() and not tight[:, 40:].any()
    np.testing.assert_array_equal(tight[10:30, 20:40], loose[10:30, 20:40])
    assert tight[10:30, 20:40].all()


def test_unknown_weights_file_is_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"format": "something-else"}, bad)
    with pytest.raises(ValueError, match="not a box2mask weights file"):
        load_weights(bad)
    with pytest.raises(FileNotFoundError, match="box2mask train"):
        load_weights(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pt is not a box2mask weights file"):
        load_weights(junk)  # the unpickling error becomes the same plain message


def test_shipped_weights_segment_real_video_better_than_the_box(davis_root):
    """The weights in box2mask/weights/ load strictly, carry their provenance and beat the filled box on a
    dev sequence (a few frames, to stay quick): held out when the file holds one out, else a sequence
    whose boxes (never its masks) it trained on, its settings having been chosen on the folds."""
    from box2mask.boxes import box_to_mask
    from box2mask.datasets import open_dataset
    from box2mask.eval.metrics import frame_scores
    from box2mask.model.weights import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.is_file():
        pytest.fail(f"shipped weights missing: {DEFAULT_WEIGHTS}")
    network, config, meta = load_weights(DEFAULT_WEIGHTS)
    assert "boxes only" in meta["supervision"] and meta["iterations"] > 0
    held_out = meta["heldout_sequences"]
    if held_out:
        assert "car-turn" in held_out and not any("car-turn" in str(s) for s in meta["sources"])
    else:
        assert "cross-validation" in meta["settings_chosen_on"]
    reader = open_dataset("davis", davis_root)
    seq = reader.load("car-turn")
    gts, track = reader.masks(seq), seq.tracks[0]
    targets = np.arange(0, len(seq), 16)
    preds = Predictor(network, config, device="cpu").predict(lambda i: seq.read_frame(i), track.boxes,
                                                              track.visible, targets=targets)
    net = np.mean([frame_scores(p.mask, gts[t] > 0) for p, t in zip(preds, targets)], axis=0)
    box = np.mean([frame_scores(box_to_mask(track.boxes[t], seq.height, seq.width), gts[t] > 0)
                   for t in targets], axis=0)
    assert net.mean() > box.mean() + 0.1, (net, box)


def test_pipeline_method_and_predictor_give_the_same_masks(synthetic_got10k):
    """`box2mask annotate` (NetworkMethod's prepare/infer/finalize) and the benchmarks' Predictor.predict
    run one code: identical masks, scores and fallback records on the same video."""
    from box2mask.datasets import open_dataset
    from box2mask.methods import get_method, run_method

    reader = open_dataset("got10k", synthetic_got10k)
    seq = reader.load(reader.sequence_ids()[0])
    track = seq.tracks[0]
    method = get_method("network", device="cpu")
    piped = list(run_method(method, seq, track))
    predictor = Predictor.load(device="cpu")
    direct = predictor.predict(seq.read_frame, track.boxes, track.visible)
    assert len(piped) == len(direct) == len(seq)
    for a, b in zip(piped, direct):
        if b is None:
            assert a.mask is None
            continue
        assert np.array_equal(a.mask, b.mask) and a.score == b.score
        assert (a.source, a.note) == (b.source, b.note)


def test_the_model_card_block_matches_what_the_weights_record():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "benchmarks/model_card.py", "--check"], cwd=repo, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
