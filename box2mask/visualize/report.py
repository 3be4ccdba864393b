"""A static, offline HTML report of a run: one self-contained file (pictures inlined).

What it answers: how are the QA scores spread (histograms), which sequences
look best and worst (strips of overlaid thumbnails), which single masks are
least trustworthy, and, when ``eval.json`` from ``box2mask eval`` sits in the
run folder, how the QA ranking compares with the measured J.

Best and worst strips: the ``worst`` lowest and ``best`` highest sequences by
mean QA; when the run has fewer than ``best + worst`` scored sequences, the
lower half is pictured as worst and the upper half as best (a run of one
sequence shows it in both).  The least trustworthy masks are thumbnails cropped
around the object (its box and its mask's box, with context) before resizing.
What cannot be read (a frame file, a shard, a sequence's rows) is left out,
listed in a "Skipped" section and passed to ``on_skip``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from box2mask.atomic import atomic_write_text
from box2mask.eval.qa_summary import HISTOGRAM_BINS, LOW_SCORE, QASummary, SequenceQA, summarise_run
from box2mask.export.source import RunSource, Skipped, describe_skipped
from box2mask.visualize.render import RENDER_COLUMNS, UNREADABLE, render_sequence
from box2mask.visualize.sheet import crop_around, evenly, fit_width

THUMB_WIDTH = 220

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;background:#fafafa;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:13px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#666}
.hists{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-end}.hist{font-size:12px;color:#555}
.seq{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:8px;margin:8px 0}
.seq .title{font-size:13px;margin-bottom:6px}.strip{display:flex;gap:4px;overflow-x:auto}
.strip img{height:124px;border-radius:3px}.frames{display:flex;flex-wrap:wrap;gap:8px}
.frames figure{margin:0;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:4px;font-size:11px}
.frames img{width:220px;display:block;border-radius:3px}
table{border-collapse:collapse;font-size:12px;background:#fff}td,th{border:1px solid #e3e3e3;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.low{color:#b00020;font-weight:600}
"""


def _img(image: np.ndarray, width: int = THUMB_WIDTH, quality: int = 80) -> str:
    small = fit_width(image, width)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError("could not encode a thumbnail")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def histogram_svg(counts: list[int], *, title: str, width: int = 360, height: int = 140,
                  mark: float | None = LOW_SCORE) -> str:
    """Inline SVG bar chart of ``counts`` over equal bins of [0, 1]."""
    n = len(counts)
    top = max(max(counts), 1)
    pad_l, pad_b, pad_t = 34, 18, 8
    plot_w, plot_h = width - pad_l - 6, height - pad_b - pad_t
    bw = plot_w / n
    bars = []
    for k, c in enumerate(counts):
        h = plot_h * c / top
        colour = "#c0392b" if mark is not None and (k + 1) / n <= mark else "#2e86c1"
        bars.append(f'<rect x="{pad_l + k * bw + 1:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bw - 2:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{k / n:.2f}–{(k + 1) / n:.2f}: {c}</title></rect>')
    ticks = "".join(f'<text x="{pad_l + plot_w * v:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">'
                    f'{v:.1f}</text>' for v in (0, 0.25, 0.5, 0.75, 1.0))
    return (f'<div class="hist"><div>{html.escape(title)}</div><svg width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg" role="img">'
            f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" stroke="#999"/>'
            f'<text x="{pad_l - 4}" y="{pad_t + 10}" font-size="10" text-anchor="end">{top}</text>'
            f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" font-size="10" text-anchor="end">0</text>'
            + "".join(bars) + ticks + "</svg></div>")


def _num(v: float | None, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def split_best_worst(summary: QASummary, best: int, worst: int) -> tuple[list[SequenceQA], list[SequenceQA]]:
    """``(worst, best)`` sequences to picture: the ``worst`` lowest and ``best`` highest by mean QA,
    never the same sequence twice; with fewer than ``best + worst`` scored sequences the lower half
    is worst and the upper half best, and a single sequence is shown in both."""
    n = len([s for s in summary.sequences if s.masks])
    if n >= best + worst:
        w, b = worst, best
    elif n == 1:
        w, b = min(worst, 1), min(best, 1)
    else:
        w = min(worst, (n + 1) // 2 if best else n)
        b = min(best, n - w)
    low = summary.worst_sequences(w)
    if n == 1:
        return low, summary.best_sequences(b)
    taken = {s.sequence for s in low}
    return low, [s for s in summary.best_sequences(n) if s.sequence not in taken][:b]


def _unreadable(skip: Callable[[Skipped], None]) -> Callable[[Path, str], None]:
    return lambda path, reason: skip(Skipped("shard", f"shards/{path.name}", " ".join(reason.split())))


def _sequence_block(source: RunSource, s: SequenceQA, frames: int, j: float | None,
                    warn: Callable[[str], None], skip: Callable[[Skipped], None]) -> str:
    seq = source.sequence(s.sequence, RENDER_COLUMNS, on_unreadable=_unreadable(skip))
    if seq is None:
        return ""
    refs = seq.frames()
    positions = set(evenly(len(refs), frames))
    if s.worst_frame is not None:
        positions.update(k for k, r in enumerate(refs) if r.stem == s.worst_frame)
    try:
        imgs = [f'<img src="{_img(r.image)}" title="{html.escape(r.frame.stem)} QA {_num(r.qa, 2)}">'
                for r in render_sequence(source, seq, positions=sorted(positions), captions=False, on_skip=skip)]
    except UNREADABLE as exc:
        warn(f"{s.sequence}: thumbnails failed ({exc})")
        imgs = []
    jtext = f" · J {_num(j)}" if j is not None else ""
    return (f'<div class="seq"><div class="title"><b>{html.escape(s.sequence)}</b> · mean QA {_num(s.mean)} · '
            f'p10 {_num(s.p10)} · low {_num(s.low * 100 if not math.isnan(s.low) else s.low, 0)} % · '
            f'{s.masks} masks{jtext}</div><div class="strip">{"".join(imgs)}</div></div>')


def _eval_by_sequence(path: Path | None) -> tuple[dict | None, dict[str, float]]:
    if path is None or not path.is_file():
        return None, {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None, {}
    per = {}
    for row in data.get("sequences", []):
        per.setdefault(row["sequence"], []).append(row["J"])
    return data, {k: float(np.mean(v)) for k, v in per.items()}


def report_destination(dest: Path | str) -> Path:
    """The file a report for ``dest`` goes to: ``dest`` itself when it names an ``.html`` file,
    else ``dest/report.html`` (also when ``dest`` is an existing folder)."""
    dest = Path(dest)
    if dest.suffix.lower() not in (".html", ".htm") or dest.is_dir():
        return dest / "report.html"
    return dest


def write_report(run_dir: Path | str, dest: Path | str, *, best: int = 4, worst: int = 4, frames: int = 6,
                 worst_frames: int = 12, eval_json: Path | str | None = None, max_rows: int = 500,
                 summary: QASummary | None = None,
                 on_warning: Callable[[str], None] | None = None,
                 on_skip: Callable[[Skipped], None] | None = None) -> Path:
    """Write the report to ``dest`` (a ``.html`` file, or a folder to hold ``report.html``).

    What cannot be read is left out, listed in the report and passed to ``on_skip``."""
    warn = on_warning or (lambda message: None)
    skipped: list[Skipped] = []

    def skip(item: Skipped) -> None:
        if any((k.kind, k.name) == (item.kind, item.name) for k in skipped):
            return                       # a frame in a strip and among the worst masks is listed once
        skipped.append(item)
        if on_skip is not None:
            on_skip(item)

    dest = report_destination(dest)
    source = RunSource(run_dir)
    summary = summary or summarise_run(run_dir, worst=worst_frames)
    for item in summary.skipped:
        skip(item)
    eval_path = Path(eval_json) if eval_json is not None else source.paths.root / "eval.json"
    eval_data, eval_j = _eval_by_sequence(eval_path)
    info = source.info
    scored = [s for s in summary.sequences if s.masks]
    all_scores = np.repeat(np.linspace(0.025, 0.975, HISTOGRAM_BINS), summary.histogram)
    cards = [("sequences", str(len(summary.sequences))), ("masks", str(summary.masks)),
             ("median QA", _num(float(np.median(all_scores)) if all_scores.size else None)),
             (f"masks with QA < {LOW_SCORE}", f"{100 * np.mean(all_scores < LOW_SCORE):.1f} %" if all_scores.size else "—")]
    if eval_data is not None:
        cards += [("J", _num(eval_data.get("J"))), ("F", _num(eval_data.get("F"))), ("J&F", _num(eval_data.get("JF")))]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>box2mask report</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>box2mask run report</h1><div class='meta'>{html.escape(str(source.paths.root))} · method "
             f"<b>{html.escape(info.method if info else '?')}</b> · dataset {html.escape(info.dataset if info else '?')}"
             f" · box2mask {html.escape(info.version if info else '?')}</div>",
             "<div class='cards'>" + "".join(f"<div class='card'><b>{v}</b><span>{html.escape(k)}</span></div>"
                                            for k, v in cards) + "</div>",
             "<h2>QA score distribution</h2><div class='hists'>",
             histogram_svg(summary.histogram, title="combined QA score (red: below 0.5)", width=420, height=160)]
    for name, title in (("box_iou", "box IoU"), ("fill", "fill ratio (capped at 1)"),
                        ("temporal", "temporal IoU"), ("confidence", "confidence")):
        parts.append(histogram_svg(summary.signal_histograms.get(name, [0] * HISTOGRAM_BINS), title=title,
                                   width=220, height=110, mark=None))
    parts.append("</div>")
    low, high = split_best_worst(summary, best, worst)
    parts.append("<h2>Worst sequences (lowest mean QA)</h2>")
    for s in low:
        parts.append(_sequence_block(source, s, frames, eval_j.get(s.sequence), warn, skip))
    parts.append("<h2>Best sequences (highest mean QA)</h2>")
    for s in high:
        parts.append(_sequence_block(source, s, frames, eval_j.get(s.sequence), warn, skip))
    parts.append("<h2>Least trustworthy masks</h2><div class='frames'>")
    by_seq: dict[str, list[dict]] = {}
    for item in summary.worst_frames:
        by_seq.setdefault(item["sequence"], []).append(item)
    figures = []
    for seq_id, items in by_seq.items():
        seq = source.sequence(seq_id, RENDER_COLUMNS, on_unreadable=_unreadable(skip))
        if seq is None:
            continue
        refs = seq.frames()
        pos = {r.index: k for k, r in enumerate(refs)}
        try:
            rendered = {r.frame.index: r for r in render_sequence(
                source, seq, positions=sorted({pos[i["frame_index"]] for i in items if i["frame_index"] in pos}),
                captions=False, on_skip=skip)}
        except UNREADABLE as exc:
            warn(f"{seq_id}: thumbnails failed ({exc})")
            continue
        for item in items:
            r = rendered.get(item["frame_index"])
            if r is None:          # its frame could not be read: listed under "Skipped"
                continue
            thumb = crop_around(r.image, r.boxes.get(item["track_id"], (None, None)))
            figures.append((item["qa_score"], f"<figure><img src='{_img(thumb)}'><figcaption>"
                            f"{html.escape(seq_id)} {html.escape(item['frame_stem'])} track {item['track_id']}<br>"
                            f"QA {_num(item['qa_score'])} · box IoU {_num(item['box_iou'])}"
                            f" · fill {_num(item['fill'])} · temporal {_num(item['temporal'])}</figcaption></figure>"))
    parts += [f for _, f in sorted(figures, key=lambda x: x[0])]
    parts.append("</div>")
    head = ["sequence", "masks", "mean QA", "p10", "min", "low %", "box IoU", "fill", "temporal", "confidence"]
    if eval_j:
        head.append("J")
    rows = []
    for s in sorted(scored, key=lambda s: s.mean)[:max_rows]:
        low_cls = " class='low'" if s.mean < LOW_SCORE else ""
        cells = [html.escape(s.sequence), str(s.masks), f"<span{low_cls}>{_num(s.mean)}</span>", _num(s.p10),
                 _num(s.min), _num(100 * s.low, 1), _num(s.box_iou), _num(s.fill), _num(s.temporal),
                 _num(s.confidence)]
        if eval_j:
            cells.append(_num(eval_j.get(s.sequence)))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = f" (the {max_rows} lowest of {len(scored)})" if len(scored) > max_rows else ""
    parts.append(f"<h2>All sequences by mean QA{more}</h2><table><tr>"
                 + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")
    if skipped:
        parts.append("<h2>Skipped (could not be read)</h2><ul class='meta'>"
                     + "".join(f"<li>{html.escape(line)}</li>" for line in describe_skipped(skipped, limit=50))
                     + "</ul>")
    parts.append("<p class='meta'>QA signals: box IoU = IoU of the mask's tight box with the given box; fill = "
                 "mask area / box area; temporal = IoU with the previous and the next visible mask of the track "
                 "after aligning their boxes (the earlier mask scaled and shifted so its box lands on the later "
                 "box, which takes out the object's own motion and size change), averaged; confidence = the "
                 "method's own score. The combined score is their weighted geometric mean "
                 "(docs/evaluation.md). Mask thumbnails are cropped around the object's box.</p></body></html>")
    atomic_write_text(dest, "\n".join(parts))
    return dest
