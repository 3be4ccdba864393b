"""Variant names of benchmarks/network.py, as docs/benchmarks.md uses them, resolve to inference overrides."""

from __future__ import annotations

import pytest

from benchmarks.network import parse_variant


def test_documented_variant_names_resolve():
    assert parse_variant("T5") == {"support": 5}
    assert parse_variant("T1-norefine") == {"support": 1, "refine": False}
    assert parse_variant("T9-grabcut") == {"support": 9, "edges": "grabcut"}
    assert parse_variant("T5-crop288-context2.0") == {"support": 5, "crop_size": 288, "context": 2.0}
    assert parse_variant("T5-interval10") == {"support": 5, "interval": 10}
    assert parse_variant("T5-flip") == {"support": 5, "flip": True}
    assert parse_variant("T5-flip-clip") == {"support": 5, "flip": True, "clip_to_box": True}
    assert parse_variant("T1-noflip-noclip") == {"support": 1, "flip": False, "clip_to_box": False}


@pytest.mark.parametrize("name", ["5", "T5-foo", "T5-crop", "T5-norefine2", "T5-flip1", "T-crop256"])
def test_unknown_variant_names_are_refused(name):
    with pytest.raises(ValueError, match="variant"):
        parse_variant(name)
