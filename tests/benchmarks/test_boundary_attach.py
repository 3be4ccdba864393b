"""benchmarks/boundary_cv.py attach: a stage file joins a first stage in one weights file, with its record."""

from __future__ import annotations

import pytest
import torch

from benchmarks.boundary_cv import attach, load_stage, save_stage
from benchmarks.model_card import recorded_block
from box2mask.model.boundary import BoundaryConfig, BoundaryStage
from box2mask.model.inference import InferenceConfig
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.model.weights import load_weights, save_weights


def test_attach_keeps_the_first_stage_and_records_the_stage(tmp_path):
    torch.manual_seed(0)
    first = VideoBoxToMask(NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8))
    save_weights(tmp_path / "first.pt", first, InferenceConfig(edges="crf"), {"iterations": 7, "stages": []})
    stage = BoundaryStage(BoundaryConfig(crop_size=64, width=8), backbone=first.backbone)
    torch.nn.init.normal_(stage.out[-1].weight)
    meta = {"fold": "all", "trained_on": ["bear", "bus"], "iterations": 3, "seconds": 1.5, "train_config": {},
            "supervision": "boxes only", "provenance": {"commit": "0123456789abcdef", "date": "2026-12-02"}}
    save_stage(tmp_path / "stage.pt", stage, meta)
    assert torch.equal(load_stage(tmp_path / "stage.pt").out[-1].weight, stage.out[-1].weight)
    with pytest.raises(SystemExit, match="fold 'all', not 'A'"):
        attach(tmp_path / "first.pt", tmp_path / "stage.pt", tmp_path / "both.pt", "A")
    attach(tmp_path / "first.pt", tmp_path / "stage.pt", tmp_path / "both.pt", "all")
    both, inference, record = load_weights(tmp_path / "both.pt")
    assert inference.edges == "crf" and record["iterations"] == 7
    assert record["boundary_stage"]["trained_on"] == ["bear", "bus"]
    assert torch.equal(both.boundary.out[-1].weight, stage.out[-1].weight)
    for key, value in first.trainable_state_dict().items():
        assert torch.equal(both.trainable_state_dict()[key], value)
    assert "Boundary stage" in recorded_block(tmp_path / "both.pt")
