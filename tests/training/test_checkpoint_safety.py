"""Checkpoints are read with weights_only: a file carrying code is refused, and nothing runs."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from box2mask.training.trainer import CheckpointError, load_checkpoint


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_with_a_reduce_payload_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "checkpoint.pt"
    torch.save({"iteration": 1, "model": {}, "optimizer": {}, "config": {}, "evil": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="is not a box2mask training checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    with open(path.with_suffix(".pkl"), "wb") as fh:  # a plain pickle, not a torch zip
        pickle.dump(Payload(marker), fh)
    with pytest.raises(CheckpointError):
        load_checkpoint(path.with_suffix(".pkl"))
    assert not marker.exists()


def test_a_file_that_is_not_a_checkpoint_gets_one_plain_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match=f"{path.name} is not a box2mask training checkpoint"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="missing iteration, model, optimizer, config"):
        load_checkpoint(path)


def test_train_cli_refuses_a_hostile_checkpoint_in_out_with_one_line(tmp_path, synthetic_got10k):
    from click.testing import CliRunner

    from cli.main import main

    marker = tmp_path / "payload-ran"
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"iteration": 1, "model": {}, "optimizer": {}, "config": {}, "evil": Payload(marker)},
               out / "checkpoint.pt")
    result = CliRunner().invoke(main, ["train", "--data", f"got10k:{synthetic_got10k}", "--out", str(out),
                                      "--iterations", "2", "--batch", "1", "--crop-size", "64",
                                      "--losses", "projection"])
    assert result.exit_code == 2, result.output
    assert "is not a box2mask training checkpoint" in result.output
    assert "Traceback" not in result.output and not marker.exists()
