"""Options shared by several subcommands, defined once so they read the same everywhere."""

from __future__ import annotations

import click

from box2mask.datasets import READERS

dataset_option = click.option(
    "--dataset", "-d", required=True, type=click.Choice(sorted(READERS)),
    help="Layout of the input: got10k, lasot, davis (DAVIS-style folders) or folder (see docs/formats.md).")
root_option = click.option(
    "--root", "-r", required=True, type=click.Path(exists=True, file_okay=False),
    help="Dataset folder (GOT-10k: a split folder with list.txt, or the root with train/val/test).")
split_option = click.option(
    "--split", default=None,
    help="Split to read: GOT-10k train/val/test, LaSOT train/test (official lists), DAVIS an ImageSets name.")
every_option = click.option(
    "--every", type=click.IntRange(min=1), default=None,
    help="Annotate every n-th frame (default from the dataset preset: GOT-10k 1, LaSOT 5).")
max_frames_option = click.option(
    "--max-frames", type=click.IntRange(min=0), default=None,
    help="At most this many annotated frames per video, spread evenly (LaSOT preset 200; 0 = no limit).")
sequences_option = click.option(
    "--sequences", "-s", default=None,
    help="Comma-separated sequence ids to process instead of the whole dataset.")


def dataset_options_with(*, every=every_option, max_frames=max_frames_option):
    """A decorator adding the options that pick and sample a dataset, with a command's own
    ``--every`` / ``--max-frames`` when their meaning differs (``box2mask motion``)."""
    def decorate(func):
        for option in reversed([dataset_option, root_option, split_option, every, max_frames, sequences_option]):
            func = option(func)
        return func

    return decorate


dataset_options = dataset_options_with()
"""All options that pick and sample a dataset (annotate's sampling)."""


def parse_sequences(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None
