"""Run folders as pytest fixtures, shared by tests/export, tests/eval and tests/visualize
(each conftest imports the ones it uses)."""

from __future__ import annotations

from functools import partial

import pytest

from tests.runbuild import build_run, ellipse_in_box, write_folder_dataset

HIDDEN = frozenset({2, 5})


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory, synthetic_got10k):
    """Two synthetic GOT-10k sequences (8 frames): ellipse masks, frames 2 and 5 not visible, one per shard."""
    return build_run("got10k", synthetic_got10k, tmp_path_factory.mktemp("synrun") / "run",
                     transform=partial(ellipse_in_box, hidden=HIDDEN), sequences_per_shard=1)


@pytest.fixture(scope="session")
def folder_run(tmp_path_factory):
    """One sequence with two tracks (car, person; person hidden in frame 3), filled boxes."""
    root = write_folder_dataset(tmp_path_factory.mktemp("folderdata"))
    return build_run("folder", root, tmp_path_factory.mktemp("folderrun") / "run")
