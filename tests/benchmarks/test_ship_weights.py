"""benchmarks/ship_weights.py: each stage's data and teachers come from what its run recorded."""

from __future__ import annotations

from pathlib import Path

import torch

from benchmarks.model_card import recorded_block
from benchmarks.ship_weights import recorded_data
from box2mask.model.inference import InferenceConfig
from box2mask.model.network import NetworkConfig, VideoBoxToMask
from box2mask.model.weights import save_weights


def tiny_weights(path: Path, metadata: dict) -> Path:
    torch.manual_seed(0)
    network = VideoBoxToMask(NetworkConfig(feat_dim=16, channels=4, encoder_width=8, decoder_width=8))
    save_weights(path, network, InferenceConfig(), metadata)
    return path


def test_a_stage_reports_the_sources_and_teachers_its_run_recorded(tmp_path):
    run = tmp_path / "r6-A"
    run.mkdir()
    tiny_weights(run / "weights.pt", {"sources": [
        {"dataset": "got10k", "root": "/work/cv/data/fold-A/train", "weight": 1.0, "sequences": None},
        {"dataset": "lasot", "root": "../shared/data/lasot", "weight": 0.25, "sequences": None}],
        "teachers": ["/work/cv/teacher/davis"]})
    assert recorded_data(run) == {"data": ["got10k fold-A x1", "lasot lasot x0.25"], "teacher_runs": ["davis"]}
    assert recorded_data(tmp_path) == {}  # a run that exported no weights records nothing

    stages = [{"run": "r6-A", "iterations": 5, "seconds": 2.0, "lr": 1e-3, "support_dropout": 0.3,
               **recorded_data(run)},
              {"run": "older", "iterations": 3, "seconds": None, "lr": 3e-4, "support_dropout": 0.0}]
    block = recorded_block(tiny_weights(tmp_path / "shipped.pt", {"iterations": 8, "stages": stages}))
    assert "| r6-A | 5 | 2 | 0.001 | 0.3 | got10k fold-A x1, lasot lasot x0.25 | davis |" in block
    assert "| older | 3 | ? | 0.0003 | 0.0 | ? | none |" in block
