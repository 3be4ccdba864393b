"""Synthetic box-annotated videos with known masks, in the GOT-10k layout.

For the demo, tests and benchmarks that must run anywhere: textured objects
with irregular outlines move, turn and change scale over textured, cluttered
backgrounds while the camera pans, rotates and zooms.  Frames are JPEG
compressed like real data.  The object shares one of its colours with the
background, some clutter shares the object's colours, and each video carries a
distractor of the same palette that has no box, so neither "everything that
differs from the background" nor a colour model of the box alone is enough.

Ground-truth masks go to ``<out>/truth/Annotations/<sequence>/<frame stem>.png``,
so ``<out>/truth`` is a DAVIS-style ground truth for ``box2mask eval --gt`` (an
evaluation aid; nothing reads them for training).  The boxes in the GOT-10k
files are the masks' tight boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from box2mask.atomic import atomic_write_text
from box2mask.boxes import box_from_mask
from box2mask.frames import write_image_atomic
from box2mask.masks.png import write_label_png

CLASSES = ("blob", "star", "capsule")


@dataclass(frozen=True)
class SyntheticSpec:
    num_sequences: int = 4
    num_frames: int = 24
    height: int = 240
    width: int = 320
    seed: int = 0
    split: str = "train"


def smooth_noise(rng: np.random.Generator, height: int, width: int, scales=(4, 16, 64)) -> np.ndarray:
    """``(H, W) float32`` in [0, 1]: octaves of bilinearly upsampled white noise."""
    out = np.zeros((height, width), np.float32)
    total = 0.0
    for k, cell in enumerate(scales):
        gh, gw = max(2, height // cell + 2), max(2, width // cell + 2)
        grid = rng.random((gh, gw)).astype(np.float32)
        weight = 0.5 ** k
        out += weight * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += weight
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def texture(rng: np.random.Generator, height: int, width: int, *, striped: bool,
            palette: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``(H, W, 3) float32`` RGB texture from two colours mixed by noise (and stripes).

    ``palette`` fixes the two colours (random otherwise), so objects can share
    colours with the background or with each other.
    """
    c0, c1 = palette if palette is not None else (rng.uniform(0, 255, 3), rng.uniform(0, 255, 3))
    t = smooth_noise(rng, height, width, scales=tuple(int(s) for s in rng.choice([3, 6, 12, 24, 48], 3)))
    if striped:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
        stripes = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        t = 0.5 * t + 0.5 * stripes
    return (c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]).astype(np.float32)


def shape_mask(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """``(size, size) float32`` soft mask of an irregular shape centred in the square."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    ang = np.arctan2(yy - c, xx - c)
    rad = np.hypot(yy - c, xx - c) / (size / 2)
    if kind == "star":
        arms = rng.integers(3, 7)
        r = 0.62 + 0.3 * np.cos(arms * ang + rng.uniform(0, 2 * np.pi))
    elif kind == "capsule":
        a, b = 0.9, rng.uniform(0.35, 0.55)
        r = a * b / np.sqrt((b * np.cos(ang)) ** 2 + (a * np.sin(ang)) ** 2)
    else:
        r = 0.75 * np.ones_like(ang)
        for k in range(2, 6):
            r += rng.uniform(-0.12, 0.12) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    return np.clip((r - rad) * size / 2 + 0.5, 0, 1).astype(np.float32)


@dataclass
class _Actor:
    """An object: its sprite, texture and a smooth trajectory over the video."""

    sprite: np.ndarray
    texture: np.ndarray
    start: np.ndarray
    velocity: np.ndarray
    wobble: np.ndarray
    spin: float
    scale_rate: float

    def place(self, t: int, height: int, width: int, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Soft coverage ``(H, W)`` and colour ``(H, W, 3)`` of the object at frame ``t``."""
        size = self.sprite.shape[0]
        pos = self.start + self.velocity * t + self.wobble[:2] * np.sin(self.wobble[2] * t)
        scale = np.exp(self.scale_rate * t)
        rot = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), self.spin * t, scale)
        rot[:, 2] += pos - (size - 1) / 2
        world_to_view = camera @ np.vstack([rot, [0, 0, 1]])
        alpha = cv2.warpPerspective(self.sprite, world_to_view, (width, height), flags=cv2.INTER_LINEAR)
        colour = cv2.warpPerspective(self.texture, world_to_view, (width, height), flags=cv2.INTER_LINEAR)
        return alpha, colour


def _camera(t: int, params: np.ndarray) -> np.ndarray:
    """World-to-view homography of a panning, slowly rotating and zooming camera."""
    tx, ty, rot_rate, zoom_rate, cx, cy = params
    m = cv2.getRotationMatrix2D((cx, cy), rot_rate * t, float(np.exp(zoom_rate * t)))
    m[:, 2] += (-tx * t, -ty * t)
    return np.vstack([m, [0, 0, 1]])


def render_sequence(rng: np.random.Generator, spec: SyntheticSpec) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Frames ``(H, W, 3) uint8`` and masks ``(H, W) bool`` of one video, and its class."""
    h, w, n = spec.height, spec.width, spec.num_frames
    margin = 0.5
    world_h, world_w = int(h * (1 + 2 * margin)), int(w * (1 + 2 * margin))
    background = (rng.uniform(0, 255, 3), rng.uniform(0, 255, 3))
    # camouflage: the object shares one of its two colours with the background, and
    # some clutter shares the object's colours, so colour alone does not separate them
    target_palette = (background[int(rng.integers(2))] + rng.normal(0, 12, 3), rng.uniform(0, 255, 3))
    world = texture(rng, world_h, world_w, striped=bool(rng.random() < 0.3), palette=background)
    for _ in range(int(rng.integers(6, 14))):  # clutter: patches of other textures
        ph, pw = int(rng.integers(h // 10, h // 3)), int(rng.integers(w // 10, w // 3))
        y, x = int(rng.integers(0, world_h - ph)), int(rng.integers(0, world_w - pw))
        patch_alpha = shape_mask(rng, str(rng.choice(CLASSES)), max(ph, pw))[:ph, :pw]
        patch = texture(rng, ph, pw, striped=bool(rng.random() < 0.5),
                        palette=target_palette if rng.random() < 0.3 else None)
        world[y:y + ph, x:x + pw] = world[y:y + ph, x:x + pw] * (1 - patch_alpha[..., None]) + patch * patch_alpha[..., None]
    world = cv2.GaussianBlur(world, (0, 0), 0.8)

    kind = str(rng.choice(CLASSES))
    size = int(min(h, w) * rng.uniform(0.35, 0.55))
    actors = []
    for is_target in (True, False):
        start = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h]) + np.array([margin * w, margin * h])
        if not is_target:  # the distractor starts half-overlapping the target, then drifts its own way
            angle = rng.uniform(0, 2 * np.pi)
            start = actors[0].start + 0.45 * size * np.array([np.cos(angle), np.sin(angle)])
        actors.append(_Actor(
            sprite=shape_mask(rng, kind if is_target else str(rng.choice(CLASSES)), size if is_target else int(size * 0.7)),
            texture=texture(rng, size if is_target else int(size * 0.7), size if is_target else int(size * 0.7),
                            striped=bool(rng.random() < 0.5), palette=target_palette),
            start=start, velocity=rng.uniform(-2.0, 2.0, 2) * (w / 320),
            wobble=np.array([rng.uniform(0, 12), rng.uniform(0, 12), rng.uniform(0.1, 0.4)]),
            spin=rng.uniform(-2.0, 2.0), scale_rate=rng.uniform(-0.01, 0.01),
        ))
    cam = np.array([rng.uniform(-2, 2) * (w / 320), rng.uniform(-1.5, 1.5) * (h / 240), rng.uniform(-0.3, 0.3),
                    rng.uniform(-0.006, 0.006), world_w / 2, world_h / 2])
    offset = np.array([[1, 0, -margin * w], [0, 1, -margin * h], [0, 0, 1]], dtype=np.float64)

    frames, masks = [], []
    for t in range(n):
        camera = offset @ _camera(t, cam)
        view = cv2.warpPerspective(world, camera, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        target_alpha = None
        for k, actor in enumerate(reversed(actors)):  # distractor first, target on top
            alpha, colour = actor.place(t, h, w, camera)
            shade = 0.85 + 0.15 * smooth_noise(rng, h, w, scales=(32,))[..., None]
            view = view * (1 - alpha[..., None]) + colour * shade * alpha[..., None]
            if k == len(actors) - 1:
                target_alpha = alpha
        noise = rng.normal(0, 3.0, view.shape).astype(np.float32)
        frame = np.clip(view + noise, 0, 255).astype(np.uint8)
        frames.append(frame)
        masks.append(target_alpha >= 0.5)
    return frames, masks, kind


def write_got10k(out: Path | str, spec: SyntheticSpec = SyntheticSpec()) -> Path:
    """Write ``spec.num_sequences`` videos as a GOT-10k split folder under ``out``; returns it.

    Deterministic for a given ``spec``.  Existing complete sequences are kept.
    """
    out = Path(out)
    split_dir = out / spec.split
    names = [f"GOT-10k_{spec.split.capitalize()}_{k + 1:06d}" for k in range(spec.num_sequences)]
    for k, name in enumerate(names):
        folder = split_dir / name
        if (folder / "meta_info.ini").is_file():
            continue
        rng = np.random.default_rng([spec.seed, k])
        frames, masks, kind = render_sequence(rng, spec)
        lines, absence, cover, cut = [], [], [], []
        for t, (frame, mask) in enumerate(zip(frames, masks)):
            stem = f"{t + 1:08d}"
            write_image_atomic(folder / f"{stem}.jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            write_label_png(out / "truth" / "Annotations" / name / f"{stem}.png", mask.astype(np.uint8))
            box = box_from_mask(mask)
            if np.isnan(box).any():
                lines.append("0,0,0,0")
                absence.append("1")
                cover.append("0")
                cut.append("0")
            else:
                x0, y0, x1, y1 = box
                lines.append(f"{x0:.4f},{y0:.4f},{x1 - x0:.4f},{y1 - y0:.4f}")
                absence.append("0")
                cover.append("8")
                touches = x0 <= 0 or y0 <= 0 or x1 >= spec.width or y1 >= spec.height
                cut.append("1" if touches else "0")
        atomic_write_text(folder / "groundtruth.txt", "\n".join(lines) + "\n")
        atomic_write_text(folder / "absence.label", "\n".join(absence) + "\n")
        atomic_write_text(folder / "cover.label", "\n".join(cover) + "\n")
        atomic_write_text(folder / "cut_by_image.label", "\n".join(cut) + "\n")
        atomic_write_text(folder / "meta_info.ini", "\n".join([
            "[METAINFO]", f"url: synthetic://box2mask/{spec.seed}/{k}", "begin_s: 0", "end_s: 0",
            f"resolution: ({spec.width}, {spec.height})", f"object_class: {kind}", "motion_class: moving",
            "major_class: synthetic", "root_class: object", "motion_adverb: smoothly", "anno_fps: 10Hz",
        ]) + "\n")
    atomic_write_text(split_dir / "list.txt", "\n".join(names) + "\n")
    return split_dir
