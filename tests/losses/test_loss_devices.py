"""The losses give the same numbers on CUDA as on CPU (skipped without a GPU), and run without
autograd for evaluation."""

from __future__ import annotations

import pytest
import torch

from box2mask.losses import motion_affinity_loss, pairwise_colour_loss, projection_loss, rgb_to_lab, temporal_loss


def _batch(device: str):
    generator = torch.Generator().manual_seed(0)
    # blocky colour field moving 2 px per frame, so every term finds pairs
    coarse = torch.rand(2, 3, 5, 5, generator=generator)
    field = torch.nn.functional.interpolate(coarse, size=(30, 30), mode="nearest")
    rgb = torch.stack([field[..., 2 * k : 2 * k + 24, 2 * k : 2 * k + 24] for k in range(3)], dim=1)
    lab = rgb_to_lab(rgb.to(device))
    box = torch.zeros(2, 3, 1, 24, 24, device=device)
    box[..., 4:18, 6:20] = 1.0
    motion = (torch.rand(2, 3, 1, 24, 24, generator=generator) > 0.5).float().to(device)
    logits = torch.randn(2, 3, 1, 24, 24, generator=generator).to(device).requires_grad_(True)
    return logits, lab, box, motion


def _all_losses(logits, lab, box, motion):
    flat = logits.flatten(0, 1)
    return {
        "projection": projection_loss(flat, box.flatten(0, 1)),
        "pairwise": pairwise_colour_loss(flat, lab.flatten(0, 1), box.flatten(0, 1)),
        "affinity": motion_affinity_loss(flat, lab.flatten(0, 1), motion.flatten(0, 1), box.flatten(0, 1)),
        "temporal": temporal_loss(logits, lab, box, threshold=0.3),
    }


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    cpu = _all_losses(*_batch("cpu"))
    gpu_inputs = _batch("cuda")
    gpu = _all_losses(*gpu_inputs)
    for name, value in cpu.items():
        assert gpu[name].device.type == "cuda"
        assert gpu[name].item() == pytest.approx(value.item(), rel=1e-4, abs=1e-6), name
    sum(gpu.values()).backward()
    assert torch.isfinite(gpu_inputs[0].grad).all()


def test_cpu_batch_finds_pairs_and_runs_under_no_grad():
    values = _all_losses(*_batch("cpu"))
    assert all(v.item() > 0 for v in values.values())  # every term has pairs on this batch
    with torch.no_grad():
        again = _all_losses(*_batch("cpu"))
    for name, value in values.items():
        assert again[name].item() == pytest.approx(value.item()), name
