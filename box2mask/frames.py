"""Frame files: a cheap inspection for scans and the one place that turns a path into pixels.

* :func:`inspect_image` reads a file's header and its last bytes, never its pixels: the format,
  the ``(height, width)`` and why the file is unusable (not a regular file, empty, unknown
  header, cut short).  A scan can afford it on every frame of a long video.
* :func:`read_rgb` / :func:`read_gray` decode.  They raise
  :class:`~box2mask.errors.FrameReadError` naming the file, and its subclass
  :class:`~box2mask.errors.TruncatedFrameError` for a file cut short (which a lenient decoder
  would otherwise fill with grey rows).

Only regular files are opened: a FIFO, device or socket named like a frame would block the
reader (or worse), so :func:`regular_file_problem` refuses it from ``stat`` before any ``open``.
Symbolic links are followed: a frame that links to a file elsewhere is fine.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from box2mask.atomic import atomic_write_bytes
from box2mask.errors import FrameReadError, TruncatedFrameError

_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PN": "png",
    b"BM": "bmp",
    b"RIF": "webp",
}

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))
_HEAD = 4096   # bytes read from the start: JPEG frame headers sit well inside it unless EXIF is large
_TAIL = 64     # bytes read from the end for the end-marker check
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}   # JPEG start-of-frame markers
_JPEG_PAD = b"\x00\xff\r\n "                               # bytes some writers append after FF D9
_PNG_END = b"IEND\xaeB`\x82"


def regular_file_problem(path: Path | str) -> str | None:
    """Why ``path`` is not a regular file to read (``"missing"``, ``"not a regular file (a FIFO)"``, ...).

    ``None`` when it is one.  Follows symbolic links and opens nothing.
    """
    return _stat_regular(path)[0]


def _stat_regular(path: Path | str) -> tuple[str | None, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing", 0
    except OSError as exc:
        return f"unreadable ({exc.strerror})", 0
    if stat.S_ISREG(st.st_mode):
        return None, st.st_size
    kind = next((name for test, name in _KINDS if test(st.st_mode)), "special file")
    return f"not a regular file (a {kind})", 0


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for binary reading only if ``stat`` says it is a regular file; ``OSError`` otherwise.

    The open is non-blocking, so a file swapped for a FIFO after the check cannot block either
    (it reads as empty).
    """
    fd, _ = _open_fd(path)
    return os.fdopen(fd, "rb")


def _open_fd(path: Path | str) -> tuple[int, int]:
    """A read-only descriptor of the regular file ``path`` and its size (see :func:`open_regular`)."""
    problem, size = _stat_regular(path)
    if problem is not None:
        raise OSError(errno.ENOENT if problem == "missing" else errno.EINVAL, problem, str(path))
    return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)), size


@dataclass(frozen=True)
class ImageInfo:
    """What an image file's header and end say, without decoding pixels.

    ``size`` is ``(height, width)`` as the header gives it (``None`` if it gives none);
    ``problem`` says why the file is unusable (``None`` if it looks right) and ``truncated``
    whether that is because the file was cut short.
    """

    format: str | None = None
    size: tuple[int, int] | None = None
    problem: str | None = None
    truncated: bool = False


def inspect_image(path: Path | str, *, check_end: bool = True) -> ImageInfo:
    """Format, size and problem of an image file from its first 4 KiB and (``check_end``) last bytes.

    The cheap check a scan runs on every frame.  The end check looks for the JPEG end-of-image
    marker (``FF D9``, trailing padding allowed) or the PNG ``IEND`` chunk, and compares BMP/WebP
    files with the length their header announces; only a file failing the marker check is
    decoded once to tell trailing data (fine) from a cut (a problem).
    """
    try:
        fd, total = _open_fd(path)
        with io.FileIO(fd, "rb") as fh:   # unbuffered: each read is one system call
            return _inspect(fh, total, check_end)
    except OSError as exc:
        return ImageInfo(problem=_open_problem(exc))


def sniff_image(path: Path) -> str | None:
    """Why ``path`` is not a readable image file, or ``None`` if its header looks right (no end check)."""
    return inspect_image(path, check_end=False).problem


def image_size(path: Path | str) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header alone (no pixel decode)."""
    info = inspect_image(path, check_end=False)
    if info.size is None:
        raise FrameReadError(f"frame {path}: {info.problem}")
    return info.size


def read_rgb(path: Path | str, reduce: int = 1) -> np.ndarray:
    """Decode an image as ``(H, W, 3) uint8`` RGB.

    ``reduce`` in {1, 2, 4, 8} asks libjpeg for a downscaled decode, which is much
    faster than decoding at full size and resizing.  Raises
    :class:`~box2mask.errors.TruncatedFrameError` for a file cut short and
    :class:`~box2mask.errors.FrameReadError` for any other unreadable file.
    """
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    return cv2.cvtColor(_decode(path, flags), cv2.COLOR_BGR2RGB)


def read_gray(path: Path | str, reduce: int = 1) -> np.ndarray:
    """Decode an image as ``(H, W) uint8`` luminance (see :func:`read_rgb` for ``reduce`` and errors)."""
    flags = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
             4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[reduce]
    return _decode(path, flags)


def _decode(path: Path | str, flags: int) -> np.ndarray:
    try:
        with open_regular(path) as fh:
            data = fh.read()
    except OSError as exc:
        raise FrameReadError(f"frame {path}: {_open_problem(exc)}") from None
    info = _inspect(io.BytesIO(data), len(data), True)
    if info.truncated:
        raise TruncatedFrameError(path, info.problem or "cut short")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
    if image is None:
        raise FrameReadError(f"frame {path}: {info.problem or 'could not be decoded'}")
    return image


def _open_problem(exc: OSError) -> str:
    """The reason :func:`open_regular` gave (``missing``, ``not a regular file ...``) or the OS's."""
    if exc.errno == errno.EINVAL and exc.strerror:
        return exc.strerror
    return "missing" if exc.errno == errno.ENOENT else f"unreadable ({exc.strerror or exc})"


def _inspect(fh: BinaryIO, total: int, check_end: bool) -> ImageInfo:
    head = fh.read(_HEAD)
    if not head:
        return ImageInfo(problem="empty file")
    fmt = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    if fmt is None:
        return ImageInfo(problem="not an image (unknown file header)")
    size = _header_size(fmt, head, fh)
    cut = _cut_short(fmt, head, fh, total) if check_end or size is None else None
    if cut is not None:
        return ImageInfo(fmt, size, cut, truncated=True)
    if size is None:
        return ImageInfo(fmt, None, f"a corrupt {fmt.upper()} (its header gives no image size)")
    return ImageInfo(fmt, size)


def _header_size(fmt: str, head: bytes, fh: BinaryIO) -> tuple[int, int] | None:
    if fmt == "jpeg":
        return _jpeg_size(head, fh)
    if fmt == "png":
        if head[12:16] != b"IHDR" or len(head) < 24:
            return None
        width, height = struct.unpack(">II", head[16:24])
        return (height, width) if height and width else None
    return _pil_size(fh)


def _jpeg_size(head: bytes, fh: BinaryIO) -> tuple[int, int] | None:
    """Walk the marker segments to the first start-of-frame; seeks past ``head`` only for big EXIF blocks."""
    pos = 2
    for _ in range(4096):   # a real header has a few dozen segments
        seg = head[pos:pos + 9] if pos + 9 <= len(head) else _read_at(fh, pos, 9)
        if len(seg) < 2 or seg[0] != 0xFF:
            return None
        marker = seg[1]
        if marker == 0xFF:                      # fill byte before a marker
            pos += 1
        elif marker in _SOF:
            if len(seg) < 9:
                return None
            height, width = struct.unpack(">HH", seg[5:9])
            return (height, width) if height and width else None
        elif marker == 0xD8 or marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2                            # markers without a length
        elif marker in (0xD9, 0xDA) or len(seg) < 4:
            return None                         # image end or scan data before any frame header
        else:
            length = struct.unpack(">H", seg[2:4])[0]
            if length < 2:
                return None
            pos += 2 + length
    return None


def _read_at(fh: BinaryIO, pos: int, n: int) -> bytes:
    if isinstance(fh, io.FileIO) and hasattr(os, "pread"):
        return os.pread(fh.fileno(), n, pos)   # one system call instead of two
    fh.seek(pos)
    return fh.read(n)


def _pil_size(fh: BinaryIO) -> tuple[int, int] | None:
    from PIL import Image

    fh.seek(0)
    try:
        with Image.open(fh) as im:
            width, height = im.size
    except (OSError, ValueError, SyntaxError, struct.error):   # PIL's UnidentifiedImageError is an OSError
        return None
    return (int(height), int(width)) if height and width else None


def _cut_short(fmt: str, head: bytes, fh: BinaryIO, total: int) -> str | None:
    """Why the file ends too early, or ``None``; the caller's ``fh`` must be seekable."""
    if fmt in ("bmp", "webp"):
        declared = struct.unpack("<I", head[2:6])[0] if fmt == "bmp" else 8 + struct.unpack("<I", head[4:8])[0]
        if declared > total:
            return f"cut short ({total} of the {declared} bytes its {fmt.upper()} header announces)"
        return None
    tail = head[-_TAIL:] if total <= len(head) else _read_at(fh, max(0, total - _TAIL), _TAIL)
    if fmt == "jpeg":
        if tail.rstrip(_JPEG_PAD).endswith(b"\xff\xd9"):
            return None
        marker = "end-of-image marker FF D9"
    else:
        if tail.rstrip(b"\x00").endswith(_PNG_END):
            return None
        marker = "IEND chunk"
    if _decodes_fully(fh):
        return None   # data after the end marker (e.g. a video appended to a photo): the image is whole
    return f"cut short (the {fmt.upper()} ends without its {marker}); copy the file again from its source"


def _decodes_fully(fh: BinaryIO) -> bool:
    """Whether PIL decodes the whole image (it raises on data that runs out, unless
    ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is set, which box2mask never does)."""
    from PIL import Image

    fh.seek(0)
    try:
        with Image.open(fh) as im:
            im.load()
    except (OSError, ValueError, SyntaxError, struct.error):
        return False
    return True


def write_image_atomic(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    """Write ``image`` (RGB or grey) so that ``path`` is either absent or complete."""
    path = Path(path)
    data = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(path.suffix, data, params or [])
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic_write_bytes(path, buf.tobytes())
