"""The direction of flow: pipelines never import the CLI's libraries; status never starts Ray."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.pipelines.procs import REPO


def loaded(code: str) -> dict:
    probe = code + "\nimport json, sys\nprint(json.dumps({m: m in sys.modules for m in ('ray', 'click', 'rich')}))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pipelines_do_not_import_click_or_rich():
    assert loaded("import pipelines.annotate.driver") == {"ray": True, "click": False, "rich": False}


def test_status_and_planning_do_not_import_ray():
    assert loaded("import pipelines.status, pipelines.annotate.plan, pipelines.annotate.stages")["ray"] is False
