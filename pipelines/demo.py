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


def run_demo(out: Path | str, *, spec: SyntheticSpec | None = None, method: str | None = None,
             workers: int | None = None, on_message: Callable[[str], None] | None = None,
             on_progress=None, on_step: Callable[[str], None] | None = None) -> DemoResult:
    """Generate, annotate, export, score and report under ``out`` (default spec: :data:`DEMO_SPEC`).

    ``on_step(name)`` is called as each step starts (``data``, ``annotate``, ``export``,
    ``eval``, ``report``), ``on_message`` with what is happening, and ``on_progress``
    with annotate's :class:`~pipelines.annotate.ProgressSnapshot` while it runs.
    """
    from pipelines.annotate import DEFAULT_METHOD, AnnotateConfig, annotate
    from pipelines.evaluate import evaluate
    from pipelines.export import export
    from pipelines.report import report

    spec = spec or DEMO_SPEC
    say = on_message or (lambda _msg: None)

    def step(name: str, text: str) -> None:
        if on_step is not None:
            on_step(name)
        say(text)

    out = Path(out).resolve()
    step("data", f"generating {spec.num_sequences} synthetic videos ({spec.num_frames} frames, "
                 f"{spec.width}x{spec.height}) in GOT-10k layout")
    data = write_got10k(out / "data", spec)
    chosen = method or DEFAULT_METHOD
    config = AnnotateConfig(dataset="got10k", root=data, out=out / "run", method=chosen)
    step("annotate", f"annotating the {spec.num_sequences} videos with the {chosen} method "
                     f"(Ray, as `box2mask annotate` does)")
    annotate(config, workers=workers, on_message=say, on_progress=on_progress)
    step("export", "exporting COCO, YouTube-VIS and DAVIS PNGs")
    paths = {}
    for fmt, dest in (("coco", out / "coco.json"), ("ytvis", out / "ytvis.json"), ("davis", out / "davis")):
        export(config.out, fmt, dest)
        paths[fmt] = dest
    step("eval", "scoring the masks against the synthetic truth")
    scores = evaluate(config.out, data.parent / "truth", json_path=out / "eval.json",
                      markdown_path=out / "eval.md")
    step("report", "writing the HTML report")
    html = report(config.out, out / "report.html", eval_json=out / "eval.json", on_warning=say)
    return DemoResult(data=data, run=config.out, coco=paths["coco"], ytvis=paths["ytvis"], davis=paths["davis"],
                      report=html, scores=scores, method=chosen)
