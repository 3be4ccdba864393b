"""Entry point of the ``box2mask`` command.

Subcommands are imported only when used, so ``box2mask --help`` answers at
once instead of waiting for torch and Ray to import.  Add a command by writing
``cli/commands/<name>.py`` with a click command called ``command`` and listing
it in :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import os

import click

from box2mask import __version__

# name -> (module, one-line help shown by `box2mask --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("cli.commands.scan", "Check a dataset and write its manifest (one row per sequence)."),
    "demo": ("cli.commands.demo", "Generate a small synthetic dataset and run the whole job on it."),
    "motion": ("cli.commands.motion", "Write box-guided, camera-compensated motion maps per frame."),
    "annotate": ("cli.commands.annotate", "Turn a dataset's boxes into masks (Ray, sharded, resumable)."),
    "status": ("cli.commands.status", "Summarise a run folder: done, pending and failed shards."),
    "export": ("cli.commands.export", "Export a run's masks as COCO, YouTube-VIS or DAVIS PNGs."),
    "eval": ("cli.commands.eval", "Score a run against ground-truth masks (J, F, J&F)."),
    "qa": ("cli.commands.qa", "List the least trustworthy sequences and frames of a run."),
    "show": ("cli.commands.show", "Render overlays of masks and boxes as MP4 or PNG contact sheet."),
    "report": ("cli.commands.report", "Write a static HTML quality report for a run."),
    "train": ("cli.commands.train", "Train the box-to-mask network from boxes only."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="box2mask")
@click.option("--debug", is_flag=True, help="On an error, also print the Python traceback behind the message.")
def main(debug: bool) -> None:
    """box2mask: masks from the boxes of video tracking datasets.

    \b
    Typical run:
      box2mask scan --dataset lasot --root /data/LaSOT --out run/
      box2mask annotate --dataset lasot --root /data/LaSOT --out run/ --gpus 8
      box2mask export run/ --format coco --dest run/coco.json
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if debug:
        os.environ["BOX2MASK_DEBUG"] = "1"


if __name__ == "__main__":
    main()
