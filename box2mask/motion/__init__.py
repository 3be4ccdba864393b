"""Motion stage: box-guided camera-motion compensation and temporally matched motion maps.

* :func:`~box2mask.motion.registration.register` estimates the camera motion
  between two frames from background points only (Box Filter + Bi-Directional
  Filter + robust homography), with flagged fallbacks instead of failures.
* :func:`~box2mask.motion.stream.motion_maps` streams per-frame maps in [0, 1]
  over a :class:`~box2mask.structures.Sequence` with bounded memory.
* :class:`~box2mask.motion.config.MotionConfig` holds every constant; ``PRESETS``
  has the four ablation configurations (none, bf, bf-bdf, full).

See ``docs/motion.md`` for the method, colour space, normalisation and speed.
"""

from box2mask.motion.config import PRESETS, MotionConfig, preset
from box2mask.motion.registration import Registration, register
from box2mask.motion.stream import MotionDiagnostics, MotionFrame, motion_maps

__all__ = ["PRESETS", "MotionConfig", "preset", "Registration", "register", "MotionDiagnostics", "MotionFrame",
           "motion_maps"]
