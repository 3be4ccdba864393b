"""The demo job: a small synthetic GOT-10k dataset, annotated end to end and scored.

Everything the product does, on data generated on the spot (no download, no
``../shared``): synthetic videos in the GOT-10k layout -> ``annotate`` (the
default method, the video network) -> COCO, YouTube-VIS and DAVIS exports ->
J&F against the synthetic truth -> the HTML report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from box2mask.synthetic.video import SyntheticSpec, write_got10k

DEMO_SPEC = SyntheticSpec(num_sequences=4, num_frames=24, height=240, width=320, seed=2026)


@dataclass
class DemoResult:
    data: Path
    run: Path
    coco: Path
    ytvis: Path
    davis: Path
    report: Path
    scores: dict
    method: str


def run_demo(out: Path | str, *, spec: SyntheticSpec = DEMO_SPEC, method: str | None = None,
             workers: int | None = None, on_message: Callable[[str], None] | None = None,
             on_progress=None) -> DemoResult:
    from pipelines.annotate import DEFAULT_METHOD, AnnotateConfig, annotate
    from pipelines.evaluate import evaluate
    from pipelines.export import export
    from pipelines.report import report

    say = on_message or (lambda _msg: None)
    out = Path(out).resolve()
    say(f"generating {spec.num_sequences} synthetic videos ({spec.num_frames} frames, "
        f"{spec.width}x{spec.height}) in GOT-10k layout")
    data = write_got10k(out / "data", spec)
    chosen = method or DEFAULT_METHOD
    config = AnnotateConfig(dataset="got10k", root=data, out=out / "run", method=chosen)
    annotate(config, workers=workers, on_message=say, on_progress=on_progress)
    paths = {}
    for fmt, dest in (("coco", out / "coco.json"), ("ytvis", out / "ytvis.json"), ("davis", out / "davis")):
        export(config.out, fmt, dest)
        paths[fmt] = dest
    scores = evaluate(config.out, data.parent / "truth", json_path=out / "eval.json",
                      markdown_path=out / "eval.md")
    html = report(config.out, out / "report.html", eval_json=out / "eval.json")
    return DemoResult(data=data, run=config.out, coco=paths["coco"], ytvis=paths["ytvis"], davis=paths["davis"],
                      report=html, scores=scores, method=chosen)
