"""Tiny synthetic videos with a *known* camera homography per frame, for the motion tests.

A large textured world is viewed through a camera that pans, rotates and zooms
(``camera[t]`` maps world to view); a textured object moves on its own path in
view coordinates.  The true frame-to-frame camera motion is
``camera[t] @ inv(camera[t - 1])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from box2mask.boxes import box_from_mask
from box2mask.structures import Sequence, Track
from box2mask.synthetic.video import smooth_noise, texture


@dataclass
class Clip:
    frames: list[np.ndarray]      # (H, W, 3) uint8 RGB
    masks: list[np.ndarray]       # (H, W) bool, the moving object
    cameras: list[np.ndarray]     # (3, 3) world -> view

    def camera_motion(self, t: int) -> np.ndarray:
        """True homography frame t-1 -> frame t (pixel-index coordinates)."""
        h = self.cameras[t] @ np.linalg.inv(self.cameras[t - 1])
        return h / h[2, 2]


def make_clip(*, n: int = 8, height: int = 120, width: int = 160, seed: int = 0, pan=(3.0, 1.5),
              rotate_deg: float = 0.4, zoom: float = 0.004, object_step=(4.0, 2.0), object_size: int = 30) -> Clip:
    rng = np.random.default_rng(seed)
    detail = smooth_noise(rng, height * 2, width * 2, scales=(2, 5, 11, 23))[..., None]
    c0, c1 = rng.uniform(20, 70, 3), rng.uniform(180, 235, 3)
    world = cv2.GaussianBlur((c0 * (1 - detail) + c1 * detail).astype(np.float32), (0, 0), 0.7)
    obj = texture(rng, object_size, object_size, striped=True) * 0.6 + 60
    cx, cy = width, height  # world centre
    frames, masks, cameras = [], [], []
    for t in range(n):
        m = cv2.getRotationMatrix2D((cx, cy), rotate_deg * t, 1.0 + zoom * t)
        m[:, 2] += (width / 2 - cx - pan[0] * t, height / 2 - cy - pan[1] * t)
        cam = np.vstack([m, [0, 0, 1]])
        view = cv2.warpPerspective(world, cam, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        x0 = int(np.clip(width * 0.3 + object_step[0] * t, 0, width - object_size))
        y0 = int(np.clip(height * 0.3 + object_step[1] * t, 0, height - object_size))
        mask = np.zeros((height, width), bool)
        mask[y0:y0 + object_size, x0:x0 + object_size] = True
        view[y0:y0 + object_size, x0:x0 + object_size] = obj
        noise = rng.normal(0, 1.5, view.shape)
        frames.append(np.clip(view + noise, 0, 255).astype(np.uint8))
        masks.append(mask)
        cameras.append(cam)
    return Clip(frames, masks, cameras)


def write_sequence(clip: Clip, folder: Path, *, seq_id: str = "synthetic", boxes: bool = True) -> Sequence:
    """Write ``clip`` as JPEG frames under ``folder`` and return its :class:`Sequence`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, frame in enumerate(clip.frames):
        path = folder / f"{t:05d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        paths.append(path)
    tracks = ()
    if boxes:
        b = np.array([box_from_mask(m) for m in clip.masks])
        tracks = (Track(1, b, ~np.isnan(b).any(axis=1)),)
    h, w = clip.frames[0].shape[:2]
    return Sequence(id=seq_id, dataset="synthetic", frames=tuple(paths), tracks=tracks, image_size=(h, w))
