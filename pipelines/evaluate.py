"""Evaluation and QA jobs: score a run against ground truth; summarise its QA signals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from box2mask.atomic import atomic_write_json, atomic_write_text
from box2mask.eval.evaluate import evaluate_run, to_markdown
from box2mask.eval.qa_summary import QASummary, summarise_run


def _clean(obj):
    """NaN -> None so the JSON is valid everywhere."""
    if isinstance(obj, float):
        return None if obj != obj else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def evaluate(run_dir: Path | str, gt: Path | str, *, json_path: Path | str | None = None,
             markdown_path: Path | str | None = None, sampled_only: bool = False, all_gt: bool = False,
             sequences: list[str] | None = None, per_frame: bool = False,
             on_sequence: Callable[[str], None] | None = None) -> dict:
    """Score the run, write the JSON and Markdown reports (default ``OUT/eval.json``, ``OUT/eval.md``)."""
    result = evaluate_run(run_dir, gt, sampled_only=sampled_only, all_gt=all_gt, sequences=sequences,
                          on_sequence=on_sequence)
    summary = _clean(result.summary(per_frame=per_frame))
    json_path = Path(json_path) if json_path is not None else Path(run_dir) / "eval.json"
    markdown_path = Path(markdown_path) if markdown_path is not None else Path(run_dir) / "eval.md"
    atomic_write_json(json_path, summary)
    atomic_write_text(markdown_path, to_markdown(result.summary(), sampled_only=sampled_only))
    summary["_paths"] = {"json": str(json_path), "markdown": str(markdown_path)}
    return summary


def qa_summary(run_dir: Path | str, *, worst: int = 20, json_path: Path | str | None = None) -> QASummary:
    """Per-sequence QA of the run (and the worst masks); written as JSON when ``json_path`` is given."""
    summary = summarise_run(run_dir, worst=worst)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(_clean(summary.to_json()), indent=2) + "\n")
    return summary
