"""Loss weights and the warm-up that phases in the colour/motion/temporal terms.

Why warm up: early in training the network should first learn filled masks from the projection
loss; the pairwise-type terms, applied to a random network, mostly reward all-0/all-1 outputs.
Seed 003 §4.3 and BoxInst both ramp them in linearly over the first 10k iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

__all__ = ["warmup", "LossWeights", "combine", "WARMED_TERMS"]

WARMED_TERMS = frozenset({"pairwise", "affinity", "temporal"})


def warmup(iteration: int, *, start: int = 0, length: int) -> float:
    """Linear ramp: 0 up to ``start``, 1 from ``start + length`` on. ``length`` 0 is a step."""
    if length < 0:
        raise ValueError(f"warm-up length must be >= 0, got {length}")
    if length == 0:
        return 1.0 if iteration >= start else 0.0
    return float(min(max((iteration - start) / length, 0.0), 1.0))


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term; pairwise/affinity/temporal are also scaled by the warm-up factor.

    The box terms (projection, pairwise, affinity, temporal) are 1.0 by default (BoxInst and seed 003
    add them unweighted); the teacher and the box prior are 0 (off) unless asked for; warm-up 10k
    iterations from 0 (seed 003 §4.3, BoxInst). A weight of 0 switches a term off. The training job
    sets its own defaults on top (``pipelines.train.training_loss_weights``: teacher 0.5 when a
    teacher is given, warm-up over a quarter of the run).
    """

    projection: float = 1.0
    box_prior: float = 0.0
    teacher: float = 0.0
    pairwise: float = 1.0
    affinity: float = 1.0
    temporal: float = 1.0
    warmup_start: int = 0
    warmup_length: int = 10_000

    def term_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if not f.name.startswith("warmup_"))


def combine(terms: dict[str, Tensor], weights: LossWeights, iteration: int) -> tuple[Tensor, dict[str, float]]:
    """Weighted sum of the given loss terms -> (total, log).

    terms: name -> scalar tensor, names from ``LossWeights`` (any subset). The log holds each raw
    term (``"pairwise"``), its applied weight times warm-up (``"pairwise_weight"``), the warm-up
    factor (``"warmup"``) and ``"total"``, all as floats, so a training loop can print or store it.
    """
    if not terms:
        raise ValueError("combine() needs at least one loss term")
    known = weights.term_names()
    unknown = sorted(set(terms) - set(known))
    if unknown:
        raise ValueError(f"unknown loss term(s) {unknown}; known terms: {list(known)}")
    ramp = warmup(iteration, start=weights.warmup_start, length=weights.warmup_length)
    total: Tensor | None = None
    log: dict[str, float] = {"warmup": ramp}
    for name, value in terms.items():
        if value.dim() != 0:
            raise ValueError(f"loss term {name!r} must be a scalar, got shape {tuple(value.shape)}")
        factor = getattr(weights, name) * (ramp if name in WARMED_TERMS else 1.0)
        weighted = value * factor
        total = weighted if total is None else total + weighted
        log[name] = float(value.detach())
        log[f"{name}_weight"] = float(factor)
    assert total is not None
    log["total"] = float(total.detach())
    return total, log
