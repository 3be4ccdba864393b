from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from tests.helpers import DAVIS, LASOT, got10k_from_davis, require  # noqa: E402


@pytest.fixture(scope="session")
def davis_root():
    return require(DAVIS)


@pytest.fixture(scope="session")
def lasot_root():
    return require(LASOT)


@pytest.fixture(scope="session")
def got10k_davis(tmp_path_factory, davis_root):
    """GOT-10k-layout split built from three davis16-dev sequences (boxes only, 20 frames each)."""
    return got10k_from_davis(tmp_path_factory.mktemp("got10k"), ["bear", "surf", "dog-agility"], max_frames=20)


@pytest.fixture(scope="session")
def synthetic_got10k(tmp_path_factory):
    """A tiny synthetic GOT-10k split with truth masks under <root>/../truth."""
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    return write_got10k(tmp_path_factory.mktemp("synthetic"), SyntheticSpec(num_sequences=2, num_frames=8))
