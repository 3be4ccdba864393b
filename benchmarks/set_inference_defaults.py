"""Change the inference defaults a weights file ships with, recording the change in its metadata.

    .venv/bin/python benchmarks/set_inference_defaults.py --weights box2mask/weights/box2mask-video.pt \
        --set flip=false --reason "folds: +0.006 J&F for 2x the network work (docs/benchmarks.md)"

The trained state dict is copied bit for bit; only ``inference`` changes, each
change is checked like ``-O`` (``box2mask.model.inference.check_overrides``), and
``metadata["inference_changes"]`` gains one entry: the date, the commit, the
command, the old and new values and the reason.  The model card's recorded
block is then regenerated with ``benchmarks/model_card.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.provenance import provenance  # noqa: E402
from box2mask.atomic import atomic_path  # noqa: E402
from box2mask.model.inference import InferenceConfig, check_overrides  # noqa: E402
from box2mask.model.weights import read_payload  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--set", dest="settings", action="append", required=True, metavar="KEY=VALUE")
    parser.add_argument("--reason", required=True)
    args = parser.parse_args()
    payload = read_payload(args.weights)
    changes = {}
    for item in args.settings:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        changes[key] = value
    check_overrides(changes)
    old = payload["inference"]
    InferenceConfig(**{**old, **changes})  # the result must still be a valid configuration
    record = {**{k: v for k, v in provenance().items() if k != "weights"},
              "changes": {k: [old.get(k), v] for k, v in changes.items()}, "reason": args.reason}
    payload["inference"] = {**old, **changes}
    payload["metadata"] = {**payload.get("metadata", {}),
                           "inference_changes": [*payload.get("metadata", {}).get("inference_changes", []), record]}
    with atomic_path(args.weights) as tmp:
        torch.save(payload, tmp)
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
