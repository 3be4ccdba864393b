"""A wheel install (not editable) carries everything `box2mask annotate` needs, the weights included.

The wheel is built from a copy of the sources (so no ``build/`` folder in the
repository can leak stale files into it), installed into a fresh venv that sees
this environment's dependencies through a ``.pth`` line but not the repository,
and run from a folder outside the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile
from pathlib import Path

import pytest

from box2mask.model.weights import DEFAULT_WEIGHTS
from tests.pipelines.procs import MARK, short_tmp, stop_marked

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "box2mask", "pipelines", "cli")


def build_wheel(dest: Path) -> Path:
    src = dest / "src"
    src.mkdir(parents=True)
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif path.is_file():
            shutil.copy2(path, src / name)
    wheels = dest / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(wheels), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = wheels.glob("box2mask-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_the_weights_and_the_presets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"box2mask/weights/box2mask-video.pt", "box2mask/weights/MODEL_CARD.md",
            "pipelines/presets.toml", "cli/main.py"} <= names
    packed = zipfile.ZipFile(wheel).read("box2mask/weights/box2mask-video.pt")
    assert hashlib.sha256(packed).hexdigest() == hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    # nothing from outside the three packages (tests, benchmarks, a top-level weights/ folder)
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"box2mask", "pipelines", "cli"}, tops


def test_a_wheel_install_annotates_with_the_shipped_weights(wheel, tmp_path):
    from box2mask.shards import iter_rows
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # This environment's dependencies (torch, ray, ...), as a plain path line: the .pth files in
    # there (the editable install's finder among them) are not processed, so the repository
    # stays off sys.path and only the wheel's copy of box2mask can be imported.
    here = Path(sysconfig.get_paths()["purelib"]).resolve()
    (site / "zz_box2mask_test_deps.pth").write_text(f"{here}\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    work = tmp_path / "elsewhere"  # cwd outside the repository
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    token = uuid.uuid4().hex
    ray_tmp = short_tmp()
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": str(ray_tmp),
                MARK: token, "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"})

    where = subprocess.run(
        [str(python), "-c", "import sys, box2mask, pipelines, cli; from box2mask.model.weights import "
                            "DEFAULT_WEIGHTS; print(box2mask.__file__); print(DEFAULT_WEIGHTS); "
                            "import json; print(json.dumps(sys.path))"],
        cwd=work, env=env, check=True, capture_output=True, text=True).stdout.splitlines()
    package_file, weights_path, sys_path = Path(where[0]), Path(where[1]), json.loads(where[2])
    assert package_file.is_relative_to(venv), package_file
    assert weights_path.is_relative_to(venv) and weights_path.is_file(), weights_path
    assert REPO not in {(work / p).resolve() for p in sys_path}, sys_path

    root = write_got10k(tmp_path / "data", SyntheticSpec(num_sequences=1, num_frames=4, height=96, width=128,
                                                         seed=5))
    out = tmp_path / "run"
    try:
        proc = subprocess.run([str(venv / "bin" / "box2mask"), "annotate", "--dataset", "got10k", "--root",
                               str(root), "--out", str(out), "--workers", "1"],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)
    finally:
        stop_marked(token)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = list(iter_rows(out))
    assert len(rows) == 4 and all(r["rle"] and r["area"] > 0 for r in rows), rows[:1]
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "network"
    assert run["weights_sha256"] == hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()

