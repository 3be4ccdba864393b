"""How the network runs per device: wanted-only decoding, per-device batch and arithmetic."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from box2mask.errors import Box2MaskError
from box2mask.model.backbone import FrozenBackbone
from box2mask.model.inference import InferenceConfig, check_overrides
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.model.predictor import Predictor
from box2mask.model.runtime import CPU_CLIPS_PER_BATCH, GPU_CLIPS_PER_BATCH, resolve_runtime

SMALL = NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8)


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    net = VideoBoxToMask(SMALL, backbone=FrozenBackbone()).eval()
    # a random decoder is near-constant; scale the last layers so the logits vary per pixel
    with torch.no_grad():
        for p in net.decoder.up1.parameters():
            p.mul_(20)
    return net


def _clip_inputs(seed: int = 0, b: int = 2, t: int = 3, size: int = 64):
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.random((b, t, 3, size, size), dtype=np.float32))
    boxes = torch.zeros(b, t, 1, size, size)
    boxes[..., 16:48, 12:50] = 1.0
    return images, boxes


@pytest.mark.parametrize("refine", [True, False])
def test_decoding_only_the_wanted_frames_leaves_their_logits_unchanged(network, refine):
    images, boxes = _clip_inputs()
    wanted = torch.tensor([[True, False, True], [False, False, True]])
    with torch.inference_mode():
        every = network(images, boxes, iterations=3, refine=refine)
        some = network(images, boxes, iterations=3, refine=refine, outputs=wanted)
    key = "refined" if refine else "first"
    torch.testing.assert_close(some[key][wanted], every[key][wanted], rtol=0, atol=1e-5)
    # the others were not decoded at full resolution: they hold the coarse first pass instead
    assert not torch.allclose(some[key][~wanted], every[key][~wanted], atol=1e-3)


def test_per_device_defaults_and_explicit_values():
    auto = InferenceConfig()
    assert auto.clips_per_batch == 0 and auto.precision == "auto"
    cpu = resolve_runtime(torch.device("cpu"), auto)
    gpu = resolve_runtime(torch.device("cuda"), auto)  # resolving needs no GPU
    assert (cpu.clips_per_batch, cpu.precision) == (CPU_CLIPS_PER_BATCH, "float32")
    assert (gpu.clips_per_batch, gpu.precision) == (GPU_CLIPS_PER_BATCH, "bfloat16")
    given = resolve_runtime(torch.device("cuda"), replace(auto, clips_per_batch=3, precision="float32"))
    assert (given.clips_per_batch, given.precision) == (3, "float32")


@pytest.mark.parametrize("bad", [{"precision": "fp8"}, {"clips_per_batch": -1}, {"feature_cache": 0}])
def test_bad_runtime_options_are_refused_on_the_driver(bad):
    with pytest.raises(Box2MaskError, match=next(iter(bad))):
        check_overrides(bad)


def test_batching_clips_changes_no_mask_and_bfloat16_stays_close(network, synthetic_got10k):
    """One clip per call (the CPU default) against four, and the GPU's bfloat16 arithmetic run on CPU."""
    from box2mask.datasets import open_dataset

    reader = open_dataset("got10k", synthetic_got10k)
    seq = reader.load(reader.sequence_ids()[0])
    track = seq.tracks[0]
    config = InferenceConfig(crop_size=64, support=3, interval=2, fallback="none", threshold=0.5)

    def masks(**changes):
        predictor = Predictor(network, replace(config, **changes), device="cpu")
        return [p.mask for p in predictor.predict(lambda i: seq.read_frame(i), track.boxes, track.visible)
                if p is not None]

    one, four = masks(clips_per_batch=1), masks(clips_per_batch=4)
    differ = sum(int((a != b).sum()) for a, b in zip(one, four))
    total = sum(a.size for a in one)
    assert differ <= total * 1e-4, (differ, total)
    low = masks(precision="bfloat16")
    inter = sum(int((a & b).sum()) for a, b in zip(one, low))
    union = sum(int((a | b).sum()) for a, b in zip(one, low))
    assert union > 0 and inter / union > 0.9, inter / union
