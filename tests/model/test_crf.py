"""The box-restricted mean-field CRF: what it keeps, what it moves, and where it never reaches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from box2mask.losses import rgb_to_lab
from box2mask.model.crf import CRFConfig, box_crf
from box2mask.model.edges import refine_edges


def _scene(size=40):
    """A red square on grey, and a box around it with background margin."""
    image = np.full((size, size, 3), 128, np.uint8)
    image[10:30, 10:30] = (220, 30, 30)
    box = np.zeros((size, size), bool)
    box[6:34, 6:34] = True
    lab = rgb_to_lab(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0)
    return image, box, lab


def test_crf_pulls_a_blurred_guess_onto_the_colour_edge():
    image, box, lab = _scene()
    truth = np.zeros((40, 40), bool)
    truth[10:30, 10:30] = True
    guess = np.zeros((40, 40), np.float32)
    guess[8:32, 8:32] = 0.55        # too large and unsure at the border ring
    guess[12:28, 12:28] = 0.9
    q = box_crf(torch.from_numpy(guess)[None, None], lab, torch.from_numpy(box)[None, None],
                CRFConfig(iterations=8, weight=4.0))[0, 0].numpy()
    before = ((guess >= 0.5) != truth).sum()
    after = ((q >= 0.5) != truth).sum()
    assert before > 0 and after < before / 4


def test_crf_is_exactly_zero_outside_the_box_and_keeps_confident_interiors():
    image, box, lab = _scene()
    p = np.full((40, 40), 0.99, np.float32)
    q = box_crf(torch.from_numpy(p)[None, None], lab, torch.from_numpy(box)[None, None])[0, 0].numpy()
    assert (q[~box] == 0).all()
    assert (q[12:28, 12:28] > 0.9).all()


def test_zero_weight_returns_the_unary_inside_the_box():
    image, box, lab = _scene()
    p = np.random.default_rng(0).uniform(0.05, 0.95, (40, 40)).astype(np.float32)
    q = box_crf(torch.from_numpy(p)[None, None], lab, torch.from_numpy(box)[None, None],
                CRFConfig(weight=0.0))[0, 0].numpy()
    np.testing.assert_allclose(q[box], p[box], atol=1e-5)


def test_edges_crf_mode_refines_at_full_resolution():
    image, box, _ = _scene()
    full = np.zeros((40, 40), np.float32)
    full[8:32, 8:32] = 0.6
    mask = refine_edges(image, full, np.array([6, 6, 33, 33], np.float32), mode="crf",
                        crf=CRFConfig(iterations=8, weight=4.0))
    truth = np.zeros((40, 40), bool)
    truth[10:30, 10:30] = True
    assert ((mask != truth).sum()) < ((full >= 0.5) != truth).sum() / 4


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        CRFConfig(colour_sigma=0)
    with pytest.raises(ValueError):
        CRFConfig(iterations=-1)


def test_an_unknown_edge_mode_is_refused_by_the_options_and_the_refiner():
    from box2mask.errors import Box2MaskError
    from box2mask.model.inference import check_overrides

    assert check_overrides({"edges": "crf"}) == {"edges": "crf"}
    with pytest.raises(Box2MaskError, match="choose one of none, guided, grabcut, crf"):
        check_overrides({"edges": "crff"})
    image, _, _ = _scene()
    with pytest.raises(ValueError, match="unknown edge refinement"):
        refine_edges(image, np.zeros((40, 40), np.float32), np.array([6, 6, 33, 33], np.float32), mode="crff")
