"""``box2mask train``: train the video box-to-mask network from boxes only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
from click.core import ParameterSource

from box2mask.errors import Box2MaskError
from cli.progress import console, fail, track

LOSSES = ("projection", "pairwise", "affinity", "temporal")


@click.command("train")
@click.option("--data", "data", multiple=True, required=True, metavar="NAME:ROOT[:WEIGHT]",
              help="A training source, e.g. got10k:/data/GOT-10k/train or lasot:/data/LaSOT:0.5 (repeatable). "
                   "Only boxes are read.")
@click.option("--preset", type=click.Choice(["shipped"]), default=None,
              help="Start from a named recipe; any option given explicitly still wins. shipped: the options the "
                   "shipped weights' first stage trained with and the folds measured (EfficientNet-Lite2, 2,000 "
                   "steps, no single-frame path, supports dropped at 0.3, the fold-chosen loss weights), and "
                   "weights exported with the shipped inference defaults (320 px crops, CRF). Add --teacher with "
                   "a GrabCut `box2mask annotate` run of the same boxes, as the shipped weights did.")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True,
              help="Run folder: checkpoint.pt, train_log.jsonl, and the exported weights.")
@click.option("--iterations", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True,
              help="Clips per step (with --workers or --gpus: over all workers together).")
@click.option("--frames", type=click.IntRange(min=1), default=3, show_default=True, help="Frames per clip (T).")
@click.option("--crop-size", type=click.IntRange(min=64), default=192, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--losses", default=",".join(LOSSES), show_default=True,
              help="Loss terms to use (projection is always on): projection,pairwise,affinity,temporal.")
@click.option("--warmup", type=click.IntRange(min=0), default=None,
              help="Warm-up iterations of the pairwise/affinity/temporal terms (default: 1/4 of --iterations).")
@click.option("--loss-weights", default="", metavar="TERM=W,...",
              help="Override loss weights, e.g. pairwise=0.4,affinity=0.3,temporal=0.3,teacher=0.5,box_prior=0.05 "
                   "(defaults in box2mask.losses.schedule.LossWeights).")
@click.option("--teacher", "teachers", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="A `box2mask annotate` run folder whose masks (from a box-only method, e.g. GrabCut) act as "
                   "soft pseudo-labels (repeatable). Needs a teacher weight > 0 (default 0.5 when given).")
@click.option("--teacher-band", type=click.IntRange(min=0), default=0, show_default=True,
              help="Crop pixels on each side of the teacher's mask boundary left out of the teacher loss "
                   "(where GrabCut errs most); the box losses still see them.")
@click.option("--ema-teacher", "ema_momentum", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, metavar="MOMENTUM",
              help="After --ema-start, teach with an exponential moving average of the network (e.g. 0.996): its "
                   "masks averaged with the network's own, sharpened by a CRF inside the box, replace the "
                   "--teacher runs' masks. 0: off.")
@click.option("--ema-start", type=click.IntRange(min=0), default=None,
              help="Step at which the EMA teacher takes over (default: the end of the warm-up).")
@click.option("--motion-cache", type=click.Path(exists=True, file_okay=False), default=None,
              help="Output folder of `box2mask motion` to read motion maps from (else computed on the fly).")
@click.option("--sequences", default=None, help="Comma-separated sequence ids to train on (default: all).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (the single-process path).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Data-parallel workers through Ray Train (DDP over gloo), one CPU each; --batch is then the "
                   "global batch, split over them. 0: train in this process.")
@click.option("--gpus", type=click.IntRange(min=0), default=0, show_default=True,
              help="Data-parallel GPU workers through Ray Train (DDP over NCCL, mixed precision), one GPU each. "
                   "Refused when the Ray cluster has fewer GPUs.")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="An existing Ray cluster to run --workers/--gpus on (default: a local one; RAY_ADDRESS works too). "
                   "OUT and the data must be on storage every node sees.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=250, show_default=True)
@click.option("--resume/--restart", default=True, show_default=True,
              help="Continue from OUT/checkpoint.pt when it exists.")
@click.option("--object-dropout", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Chance per clip of hiding the per-frame object features from the decoder, to push it "
                   "onto the other frames (experimental: see docs/network.md).")
@click.option("--support-dropout", type=click.FloatRange(0, 0.95), default=0.0, show_default=True,
              help="Chance per frame of leaving its box out of the aggregation (the frame is still decoded and "
                   "scored), so its mask must come from the clip's other frames.")
@click.option("--object-path/--no-object-path", default=None,
              help="Whether the decoder reads the single-frame encoding m_t; without it, masks come from the "
                   "frames aggregated together (see docs/network.md). Default: as the --init weights "
                   "(the shipped ones: off), else on.")
@click.option("--box-only-targets/--frame-targets", default=None,
              help="Whether the object encoder reads only the box (not the frame), so that the aggregation "
                   "has to learn the object's appearance across the clip. Default: as the --init weights, "
                   "else --frame-targets.")
@click.option("--backbone", type=click.Choice(["lite0", "lite2"]), default=None,
              help="The frozen ImageNet backbone: EfficientNet-Lite0, or the wider and slower Lite2 "
                   "(see docs/network.md). Default: as the --init weights, else lite0.")
@click.option("--tune-backbone", "tuned_blocks", type=click.IntRange(min=0), default=None,
              help="Train the backbone's last N blocks before its stride-16 map (at most 6 for lite0, 8 for "
                   "lite2) at --backbone-lr x --lr; the rest stays frozen. Default: as the --init weights, else 0.")
@click.option("--backbone-lr", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="The tuned backbone blocks' learning rate as a share of --lr.")
@click.option("--init", "init_weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from these weights (fine-tuning, e.g. box2mask/weights/box2mask-video.pt on your own boxes).")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the trained weights (default OUT/weights.pt).")
@click.pass_context
def command(ctx, data, preset, out, iterations, batch, frames, crop_size, lr, losses, warmup, loss_weights, teachers, teacher_band,
            ema_momentum, ema_start, motion_cache, sequences, device, workers, gpus, address, seed, checkpoint_every, resume, object_dropout,
            support_dropout, object_path, box_only_targets, backbone, tuned_blocks, backbone_lr, init_weights,
            export_path):
    """Train the video box-to-mask network on box-annotated datasets.

    No mask is read: the losses use only the boxes, the frames' colours and
    their motion.  Progress shows the loss terms; logs go to OUT/train_log.jsonl
    and a checkpoint is written every --checkpoint-every steps, so an
    interrupted run continues where it stopped.

    With --workers N (CPU) or --gpus N, N data-parallel workers train through
    Ray Train: --batch clips per step in all, a lost worker restarts the group
    from the last checkpoint, and OUT holds the same checkpoint.pt and log.

    The exported weights carry the inference defaults of the --init weights
    (of the --preset without --init; else the library's).
    """
    from box2mask.losses import LossWeights
    from box2mask.model.inference import InferenceConfig
    from box2mask.model.weights import inference_defaults
    from box2mask.training.clips import ClipConfig
    from box2mask.training.trainer import LOGGED_LOSSES, TrainConfig
    from pipelines.train import (PRESETS, DataSource, export_weights, network_for_training, train,
                                 training_loss_weights)

    if preset:
        unset = {name: value for name, value in PRESETS[preset].options().items()
                 if ctx.get_parameter_source(name) is ParameterSource.DEFAULT}
        iterations = unset.get("iterations", iterations)
        backbone = unset.get("backbone", backbone)
        object_path = unset.get("object_path", object_path)
        support_dropout = unset.get("support_dropout", support_dropout)
        loss_weights = unset.get("loss_weights", loss_weights)

    if gpus and workers and workers != gpus:
        fail(f"--gpus {gpus} runs {gpus} GPU workers; --workers {workers} is for CPU workers", "give one of them")
    distributed = max(workers, gpus)
    if address and not distributed:
        fail("--address is the Ray cluster for --workers N or --gpus N", "add one of them, or drop --address")
    if distributed and device != "auto":
        fail(f"--device {device} is for training in one process", "with Ray, --gpus N gives GPU workers and "
             "--workers N CPU workers")
    if ema_momentum and not teachers:
        fail("--ema-teacher takes over from a teacher run after the warm-up", "add --teacher RUN_DIR (e.g. GrabCut's)")
    chosen = {t.strip() for t in losses.split(",") if t.strip()}
    unknown = chosen - set(LOSSES)
    if unknown:
        fail(f"unknown loss term(s) {', '.join(sorted(unknown))}", f"choose from {', '.join(LOSSES)}")
    try:
        sources = [DataSource.parse(spec) for spec in data]
    except Box2MaskError as exc:
        fail(str(exc))
    if sequences:
        ids = tuple(s.strip() for s in sequences.split(",") if s.strip())
        sources = [replace(s, sequences=ids) for s in sources]
    overrides = {}
    for item in filter(None, (x.strip() for x in loss_weights.split(","))):
        key, _, value = item.partition("=")
        if key not in LossWeights.__dataclass_fields__ or key.startswith("warmup"):
            fail(f"--loss-weights: unknown term {key!r}", f"terms: {', '.join(LossWeights().term_names())}")
        try:
            overrides[key] = float(value)
        except ValueError:
            fail(f"--loss-weights: {item!r} is not TERM=NUMBER")
    weights = training_loss_weights(iterations, terms=chosen, overrides=overrides, taught=bool(teachers),
                                    warmup=warmup)
    try:
        network = network_for_training(Path(init_weights) if init_weights else None, object_path=object_path,
                                       encoder_features=None if box_only_targets is None else not box_only_targets,
                                       backbone=backbone, tuned_blocks=tuned_blocks)
    except FileNotFoundError as exc:
        fail(f"--init: {exc}")
    except ValueError as exc:  # a file that is not weights (its path is in the message), or a bad --tune-backbone
        fail(str(exc).replace("tuned_blocks", "--tune-backbone"))
    config = TrainConfig(iterations=iterations, batch=batch, lr=lr, seed=seed, checkpoint_every=checkpoint_every,
                         object_dropout=object_dropout, support_dropout=support_dropout, backbone_lr=backbone_lr,
                         ema_momentum=ema_momentum,
                         ema_start=(weights.warmup_start + weights.warmup_length if ema_start is None else ema_start)
                         if ema_momentum else 0,
                         network=network,
                         losses=weights, clip=ClipConfig(frames=frames, crop_size=crop_size, teacher_band=teacher_band))
    # --init was read (and a bad file refused) by network_for_training above
    inference = (inference_defaults(init_weights) if init_weights else
                 PRESETS[preset].inference() if preset else InferenceConfig())
    extra = {"preset": preset} if preset else None
    teacher_runs = [Path(t) for t in teachers]
    weights_path = Path(export_path) if export_path else Path(out) / "weights.pt"
    options = dict(motion_cache=Path(motion_cache) if motion_cache else None, teacher_runs=teacher_runs,
                   resume=resume, init_weights=Path(init_weights) if init_weights else None,
                   on_problem=lambda p: console.print(f"[yellow]skipped[/] {p}"))
    with track("train", iterations) as progress:
        done = [0, 0]  # the furthest iteration counted, the last one logged

        def on_start(trainer):
            if trainer.iteration:
                console.print(f"resuming at iteration {trainer.iteration}")
                progress.skip(trainer.iteration)
            done[:] = [trainer.iteration, trainer.iteration]

        def on_log(log):
            iteration = int(log["iteration"])
            if iteration <= done[1]:  # a restarted worker group repeats the steps after its checkpoint
                console.print(f"[yellow]worker group restarted[/] from the checkpoint at iteration {iteration - 1}")
            shown = " ".join(f"{k[:4]}={log[k]:.3f}" for k in LOGGED_LOSSES if k in log)
            progress.advance(max(0, iteration - done[0]), extra=f"{shown} total={log['total']:.3f}")
            done[:] = [max(done[0], iteration), iteration]

        try:
            if distributed:
                from pipelines.train_distributed import split_batch, train_distributed

                shares = split_batch(batch, distributed)
                console.print(f"training on {distributed} {'GPU' if gpus else 'CPU'} workers through Ray Train: "
                              f"{batch} clips per step ({'+'.join(map(str, shares))})")
                trainer = train_distributed(sources, Path(out), config, workers=distributed, use_gpu=bool(gpus),
                                            address=address, export_path=weights_path, inference=inference,
                                            extra=extra, on_log=on_log, on_start=on_start, **options)
            else:
                trainer = train(sources, Path(out), config, device=device, on_log=on_log, on_start=on_start,
                                **options)
        except (Box2MaskError, ValueError) as exc:
            fail(str(exc))
    if not distributed:
        export_weights(trainer, weights_path, sources=sources, inference=inference, teacher_runs=teacher_runs,
                       extra=extra)
    console.print(f"weights: {weights_path}\nlog: {trainer.log_path}")
