"""Which device to compute on: one rule for the predictor, the pipeline's workers and training."""

from __future__ import annotations


def pick_device(device: str = "auto") -> str:
    """``"cuda"`` for ``"auto"`` when torch sees a GPU in this process, else ``"cpu"``; other names as given.

    torch is imported only when the choice needs it, so methods without a model
    (GrabCut, the filled box) never pull it in.
    """
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
