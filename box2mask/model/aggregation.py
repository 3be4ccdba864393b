"""Spatio-temporal aggregation by unrolled steepest descent (seed 001 §3.2, Eq. 2).

For each clip of T frames we look for the filter ``z`` (K x K x D x C) that best
predicts every frame's object embedding from its deep features::

    z* = argmin_z  1/T sum_t || w_t * (x_t conv z - e_t) ||^2  +  lambda ||z||^2

The objective is quadratic, so steepest descent with the exact step length
(``alpha = |g|^2 / (g^T H g)``) converges quickly and every step is
differentiable; we unroll a fixed number of steps (5 in training, 15 at
inference) from ``z = 0``.  ``lambda`` is learned (kept positive through its
logarithm).  The output ``s_t = x_t conv z*`` carries what is consistent about
the object over all T frames.

The convolution is written as a matrix product: the K x K neighbourhoods of
``x`` are unfolded once per clip into ``X (T*h*w, K*K*D)``, after which ``x conv z``
is ``X @ z`` and its adjoint is ``X^T @ r``.  On CPU this is several times faster
than grouped convolutions and their backward passes, and batches clips with
``bmm``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SteepestDescentAggregation(nn.Module):
    def __init__(self, feat_dim: int, channels: int, *, kernel: int = 3, init_lambda: float = 1e-2):
        super().__init__()
        self.feat_dim, self.channels, self.kernel = feat_dim, channels, kernel
        self.log_lambda = nn.Parameter(torch.tensor(math.log(init_lambda)))

    def unfold(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D, h, w)`` -> neighbourhoods ``(B, T*h*w, D*K*K)``."""
        b, t, d, h, w = x.shape
        cols = F.unfold(x.flatten(0, 1), self.kernel, padding=self.kernel // 2)  # (B*T, D*K*K, h*w)
        return cols.view(b, t, d * self.kernel ** 2, h * w).transpose(2, 3).reshape(b, t * h * w, -1)

    @staticmethod
    def _flat(v: torch.Tensor) -> torch.Tensor:
        """``(B, T, C, h, w)`` -> ``(B, T*h*w, C)`` in the row order of :meth:`unfold`."""
        b, t, c, h, w = v.shape
        return v.permute(0, 1, 3, 4, 2).reshape(b, t * h * w, c)

    def solve(self, cols: torch.Tensor, e: torch.Tensor, w: torch.Tensor, iterations: int,
              frame_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Filters ``z* (B, K*K*D, C)`` from ``cols`` (:meth:`unfold`) and ``e, w (B, T, C, h, w)``.

        ``frame_weights (B, T)`` (0 or 1) removes padded frames from the objective.
        """
        b, t = e.shape[:2]
        hw = e.shape[-2] * e.shape[-1]
        ef, wf = self._flat(e), self._flat(w)
        if frame_weights is not None:
            wf = wf * frame_weights.repeat_interleave(hw, dim=1).unsqueeze(-1)
            count = frame_weights.sum(1).clamp(min=1).view(b, 1, 1)
        else:
            count = torch.full((b, 1, 1), float(t), device=e.device, dtype=e.dtype)
        w2 = wf * wf
        lam = self.log_lambda.exp()
        z = cols.new_zeros(b, cols.shape[-1], self.channels)
        cols_t = cols.transpose(1, 2)
        residual = -ef  # X z - e at z = 0; then updated with X g, which the step length needs anyway
        for _ in range(iterations):
            grad = 2.0 * torch.bmm(cols_t, w2 * residual) / count + 2.0 * lam * z
            g_sq = grad.pow(2).sum((1, 2), keepdim=True)
            x_grad = torch.bmm(cols, grad)
            hg = 2.0 * (wf * x_grad).pow(2).sum((1, 2), keepdim=True) / count + 2.0 * lam * g_sq
            alpha = g_sq / hg.clamp(min=1e-12)
            z = z - alpha * grad
            residual = residual - alpha * x_grad
        return z

    def forward(self, x: torch.Tensor, e: torch.Tensor, w: torch.Tensor, *, iterations: int,
                frame_weights: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> torch.Tensor:
        """Segmentation encodings ``s (B, T, C, h, w)`` for ``x (B, T, D, h, w)``.

        Always solved in float32, also under autocast: each descent step updates the residual
        in place of recomputing it, and bfloat16's 8-bit mantissa would compound over the steps.
        """
        b, t, _, h, wd = x.shape
        with torch.autocast(x.device.type, enabled=False):
            cols = (self.unfold(x.float()) if cols is None else cols).float()
            z = self.solve(cols, e.float(), w.float(), iterations,
                           None if frame_weights is None else frame_weights.float())
            s = torch.bmm(cols, z)  # (B, T*h*w, C)
        return s.view(b, t, h, wd, self.channels).permute(0, 1, 4, 2, 3)

    @torch.no_grad()
    def objective(self, x: torch.Tensor, e: torch.Tensor, w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Value of Eq. 2b per clip (for tests and diagnostics)."""
        t = e.shape[1]
        cols = self.unfold(x)
        r = (self._flat(w) * (torch.bmm(cols, z) - self._flat(e))).pow(2).sum((1, 2)) / t
        return r + self.log_lambda.exp() * z.pow(2).sum((1, 2))
