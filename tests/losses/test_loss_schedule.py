"""Warm-up ramp and the weighted combination the training loop logs."""

from __future__ import annotations

import pytest
import torch

from box2mask.losses import LossWeights, combine, warmup


def test_warmup_endpoints_and_midpoint():
    assert warmup(0, length=10_000) == 0.0
    assert warmup(5_000, length=10_000) == 0.5
    assert warmup(10_000, length=10_000) == 1.0
    assert warmup(50_000, length=10_000) == 1.0


def test_warmup_with_a_start():
    assert warmup(100, start=500, length=1_000) == 0.0
    assert warmup(500, start=500, length=1_000) == 0.0
    assert warmup(1_000, start=500, length=1_000) == 0.5
    assert warmup(1_500, start=500, length=1_000) == 1.0


def test_zero_length_is_a_step_and_negative_is_an_error():
    assert warmup(9, start=10, length=0) == 0.0
    assert warmup(10, start=10, length=0) == 1.0
    with pytest.raises(ValueError, match="length"):
        warmup(0, length=-1)


def _terms() -> dict[str, torch.Tensor]:
    return {
        "projection": torch.tensor(0.5, requires_grad=True),
        "pairwise": torch.tensor(0.2, requires_grad=True),
        "temporal": torch.tensor(0.4, requires_grad=True),
    }


def test_projection_is_not_warmed_up():
    weights = LossWeights(projection=2.0, pairwise=1.0, temporal=3.0, warmup_length=100)
    total, log = combine(_terms(), weights, iteration=0)
    assert total.item() == pytest.approx(2.0 * 0.5)
    assert log["warmup"] == 0.0 and log["pairwise_weight"] == 0.0 and log["projection_weight"] == 2.0


def test_halfway_and_after_warmup():
    weights = LossWeights(projection=2.0, pairwise=1.0, temporal=3.0, warmup_length=100)
    terms = _terms()
    total, log = combine(terms, weights, iteration=50)
    assert total.item() == pytest.approx(2.0 * 0.5 + 0.5 * (1.0 * 0.2 + 3.0 * 0.4))
    assert log == pytest.approx(
        {
            "warmup": 0.5,
            "projection": 0.5,
            "projection_weight": 2.0,
            "pairwise": 0.2,
            "pairwise_weight": 0.5,
            "temporal": 0.4,
            "temporal_weight": 1.5,
            "total": 1.0 + 0.1 + 0.6,
        }
    )
    assert all(isinstance(v, float) for v in log.values())
    total.backward()
    assert terms["temporal"].grad.item() == pytest.approx(1.5)
    after, _ = combine(_terms(), weights, iteration=1_000)
    assert after.item() == pytest.approx(1.0 + 0.2 + 1.2)


def test_unknown_term_names_the_known_ones():
    with pytest.raises(ValueError, match="known terms"):
        combine({"pairwize": torch.tensor(1.0)}, LossWeights(), iteration=0)
