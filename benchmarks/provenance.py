"""What every results JSON records: the commit, the weights' SHA-256, the command and the date."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    """``HEAD``'s hash, with ``+dirty`` when tracked files differ from it (``unknown`` outside git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def provenance(weights: list[Path | str] | None = None) -> dict:
    from box2mask.atomic import file_sha256

    return {
        "commit": git_commit(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "weights": {str(p): file_sha256(p) for p in (weights or [])},
    }
