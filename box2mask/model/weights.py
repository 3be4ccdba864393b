"""Weights files: the trained part of the network, its inference defaults and how it was made.

One format (``box2mask-weights/1``), read with ``weights_only=True`` and loaded
with strict keys; the shipped file is package data (``box2mask/weights/``), so a
wheel install finds it through :mod:`importlib.resources`.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import asdict
from pathlib import Path

import torch

from box2mask.atomic import atomic_path
from box2mask.model.inference import InferenceConfig
from box2mask.model.network import NetworkConfig, VideoBoxToMask

# The shipped weights are package data (box2mask/weights/), so a wheel install finds them too.
WEIGHTS_DIR = Path(str(importlib.resources.files("box2mask") / "weights"))
DEFAULT_WEIGHTS = WEIGHTS_DIR / "box2mask-video.pt"
WEIGHTS_FORMAT = "box2mask-weights/1"


def save_weights(path: Path | str, network: VideoBoxToMask, inference: InferenceConfig, metadata: dict) -> None:
    """Write shippable weights: the trained part only (the backbone comes from its package)."""
    state = {k: v.detach().cpu().clone() for k, v in network.trainable_state_dict().items()}
    payload = {"format": WEIGHTS_FORMAT, "network": network.config.to_dict(), "inference": asdict(inference),
               "metadata": metadata, "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_payload(path: Path | str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights at {path}; train some with `box2mask train` or use the shipped "
                                f"{DEFAULT_WEIGHTS}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and key errors alike for a file that is not its own
        raise ValueError(f"{path} is not a box2mask weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != WEIGHTS_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} is not a box2mask weights file (format {found!r})")
    return payload


def network_config(path: Path | str) -> NetworkConfig:
    """The architecture a weights file was trained with, without building the network."""
    return NetworkConfig.from_dict(read_payload(path)["network"])


def load_weights(path: Path | str) -> tuple[VideoBoxToMask, InferenceConfig, dict]:
    """Network (strictly loaded), its inference defaults and metadata from a weights file."""
    payload = read_payload(path)
    network = VideoBoxToMask(NetworkConfig.from_dict(payload["network"]))
    network.load_trainable_state_dict(payload["state_dict"])
    return network.eval(), InferenceConfig(**payload["inference"]), payload.get("metadata", {})


def inference_defaults(path: Path | str) -> InferenceConfig:
    """The inference settings a weights file ships with, without building the network."""
    return InferenceConfig(**read_payload(path)["inference"])
