"""Lab conversion against known values; neighbour gathering and similarity on tiny images."""

from __future__ import annotations

import math

import pytest
import torch

from box2mask.losses import neighbour_offsets, neighbour_similarity, rgb_to_lab, unfold_neighbours


def _pixel(rgb: tuple[float, float, float]) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).reshape(3, 1, 1)


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),  # sRGB red, D65
        ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),  # sRGB green, D65
    ],
)
def test_rgb_to_lab_known_colours(rgb, lab):
    out = rgb_to_lab(_pixel(rgb)).flatten()
    assert out.tolist() == pytest.approx(list(lab), abs=0.02)


def test_rgb_to_lab_keeps_leading_dims_and_dtype():
    images = torch.rand(2, 4, 3, 5, 6)
    lab = rgb_to_lab(images)
    assert lab.shape == images.shape and lab.dtype == torch.float32
    # the conversion is per pixel: one pixel converted alone gives the same numbers
    single = rgb_to_lab(images[1, 2, :, 3:4, 4:5])
    assert torch.allclose(lab[1, 2, :, 3:4, 4:5], single, atol=1e-4)
    assert float(lab[:, :, 0].min()) >= 0.0 and float(lab[:, :, 0].max()) <= 100.0 + 1e-3


def test_rgb_to_lab_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="3, H, W"):
        rgb_to_lab(torch.rand(4, 5, 5))


def test_unfold_neighbours_reads_dilated_kernel_in_row_major_order():
    x = torch.arange(25, dtype=torch.float32).reshape(1, 1, 5, 5)  # value = 5 * y + x
    offsets = neighbour_offsets(3, 2)
    assert offsets == [(-2, -2), (-2, 0), (-2, 2), (0, -2), (0, 2), (2, -2), (2, 0), (2, 2)]
    out = unfold_neighbours(x, 3, 2)
    assert out.shape == (1, 1, 8, 5, 5)
    # centre pixel (2, 2): its 8 neighbours are the corners and edge midpoints of the 5x5 grid
    assert out[0, 0, :, 2, 2].tolist() == [0, 2, 4, 10, 14, 20, 22, 24]
    # corner pixel (0, 0): only the neighbours at (0, 2), (2, 0), (2, 2) exist; the rest read 0
    assert out[0, 0, :, 0, 0].tolist() == [0, 0, 0, 0, 2, 0, 10, 12]


def test_neighbour_similarity_on_a_1x3_strip():
    # Lab values set by hand: L = 10, 10, 30 with a = b = 0.
    lab = torch.zeros(1, 3, 1, 3)
    lab[0, 0] = torch.tensor([[10.0, 10.0, 30.0]])
    sim = neighbour_similarity(lab, kernel=3, dilation=1, gamma=2.0)
    assert sim.shape == (1, 8, 1, 3)
    left, right = 3, 4  # indices of offsets (0, -1) and (0, 1)
    assert float(sim[0, left, 0, 1]) == pytest.approx(1.0)  # same colour
    assert float(sim[0, right, 0, 1]) == pytest.approx(math.exp(-20.0 / 2.0))
    assert float(sim[0, right, 0, 0]) == pytest.approx(1.0)
    # neighbours outside the image (every other offset in a 1-row strip) are 0
    outside = [k for k in range(8) if k not in (left, right)]
    assert float(sim[0, outside].abs().sum()) == 0.0
    assert float(sim[0, left, 0, 0]) == 0.0 and float(sim[0, right, 0, 2]) == 0.0
