"""How the network runs on a device: batch size and arithmetic, resolved once per predictor.

These settings change how fast masks come, not what they are meant to be, so they
are chosen per device rather than shipped as one number:

* ``clips_per_batch``: on CPU one clip at a time (batching clips there was slower:
  bigger tensors fall out of cache and the worker's memory doubles), on a GPU
  several, so the device sees enough work per launch;
* ``precision``: bfloat16 autocast on a GPU (tensor cores; bf16 needs no loss
  scaling and keeps float32's range), float32 on CPU (bf16 on CPUs without
  AMX is slower, and CPU masks stay bit-for-bit reproducible).

``InferenceConfig.clips_per_batch = 0`` and ``precision = "auto"`` ask for these
per-device values; any other value is used as given (``-O clips_per_batch=4``).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from box2mask.model.inference import InferenceConfig

CPU_CLIPS_PER_BATCH = 1
GPU_CLIPS_PER_BATCH = 16
DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class DeviceRuntime:
    device: torch.device
    clips_per_batch: int
    precision: str          # float32 | bfloat16 | float16

    def autocast(self):
        """The autocast context of ``precision`` (none for float32)."""
        dtype = DTYPES[self.precision]
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)


def resolve_runtime(device: torch.device, config: InferenceConfig) -> DeviceRuntime:
    """The per-device values for ``config``'s ``0`` / ``"auto"`` settings."""
    gpu = device.type == "cuda"
    clips = config.clips_per_batch or (GPU_CLIPS_PER_BATCH if gpu else CPU_CLIPS_PER_BATCH)
    precision = config.precision if config.precision != "auto" else ("bfloat16" if gpu else "float32")
    return DeviceRuntime(device, clips, precision)
