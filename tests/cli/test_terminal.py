"""What the CLI prints does not depend on the terminal width, and `box2mask demo` shows its progress."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def narrow_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE",
                                                            "TTY_INTERACTIVE", "TERM")}
    env.update({"COLUMNS": "40", "LINES": "24", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}, **extra)
    return env


def run_on_pty(args: list[str], env: dict[str, str], timeout: float = 120.0) -> tuple[int, bytes]:
    """Run ``args`` with stdout and stderr on a 40-column pseudo-terminal; returns (status, raw bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    raw, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                raw += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"{args} did not finish in {timeout} s: {raw[-2000:]!r}")
        return proc.wait(timeout=10), raw
    finally:
        os.close(master)


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "tty"])
def test_an_error_is_one_line_whatever_the_width_and_the_path_length(tmp_path, terminal):
    out = tmp_path / ("a-rather-long-folder-name-for-a-run-" * 4) / "and-then-the-run-itself"
    (out / "progress").mkdir(parents=True)  # results of an unknown configuration: annotate refuses the folder
    args = [sys.executable, "-m", "cli.main", "annotate", "--dataset", "got10k", "--root", str(tmp_path),
            "--out", str(out), "--method", "filled-box"]
    if terminal:
        status, raw = run_on_pty(args, narrow_env(TERM="xterm-256color"))
        text = raw.decode(errors="replace")
        assert ANSI.search(text), "on a terminal the error is styled by rich"
        text = ANSI.sub("", text).replace("\r\n", "\n")
    else:
        proc = subprocess.run(args, cwd=REPO, env=narrow_env(), capture_output=True, text=True, timeout=120)
        status, text = proc.returncode, proc.stdout + proc.stderr
        assert not ANSI.search(text), f"piped output carries styling codes: {text!r}"
    assert status == 2, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    line = errors[0]
    assert len(str(out)) > 3 * 40 and str(out) in line, text
    assert "holds shards but no run.json" in line and "choose another --out" in line and "--force" in line, text


def test_a_piped_table_is_not_cut_to_the_terminal_width(tmp_path):
    from box2mask.synthetic.video import SyntheticSpec, write_got10k

    root = write_got10k(tmp_path / "data", SyntheticSpec(num_sequences=2, num_frames=3, height=48, width=64))
    proc = subprocess.run([sys.executable, "-m", "cli.main", "scan", "--dataset", "got10k", "--root", str(root),
                           "--out", str(tmp_path / "scan")], cwd=REPO, env=narrow_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stderr.splitlines() if "sequences" in line)
    assert re.findall(r"[a-z]+", header) == ["sequences", "valid", "invalid", "frames", "sampled", "seconds"], header
    assert "…" not in proc.stderr and len(header) > 40


def test_messages_keep_brackets_and_colons_as_written(capsys):
    from cli.progress import say

    say("[bold]note:[/] " + "sequence \\[GOT-10k_Train_000001] :warning: kept " * 3)
    err = capsys.readouterr().err  # pytest's capture is not a terminal: plain text
    assert err == "note: " + "sequence [GOT-10k_Train_000001] :warning: kept " * 3 + "\n"


def test_demo_shows_annotate_progress_then_where_the_results_are(tmp_path, monkeypatch):
    import pipelines.demo
    from box2mask.synthetic.video import SyntheticSpec
    from cli.main import main

    monkeypatch.setattr(pipelines.demo, "DEMO_SPEC", SyntheticSpec(num_sequences=2, num_frames=5, height=72,
                                                                   width=96, seed=9))
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--method", "filled-box", "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    progress = [i for i, line in enumerate(lines) if line.startswith("[annotate] ")]
    assert progress and "[annotate] 10/10 " in lines[progress[-1]], result.output
    exporting = next(i for i, line in enumerate(lines) if "exporting" in line)
    assert progress[-1] < exporting, result.output
    for path in (out / "coco.json", out / "ytvis.json", out / "davis", out / "report.html", out / "eval.json"):
        assert path.exists() and any(line.rstrip().endswith(str(path)) for line in lines), (path, result.output)


def test_the_demo_bar_counts_a_resumed_run_once_and_closes_before_the_next_step(monkeypatch):
    from cli.commands import demo
    from pipelines.annotate.driver import ProgressSnapshot

    calls = []

    class Recorder:
        def skip(self, n):
            calls.append(("skip", n))

        def advance(self, n=1, extra=""):
            calls.append(("advance", n, extra))

    class Track:
        def __init__(self, description, total):
            calls.append(("open", description, total))

        def __enter__(self):
            return Recorder()

        def __exit__(self, *exc):
            calls.append(("close",))

    def snap(done, session, seqs):
        return ProgressSnapshot(shards_total=4, shards_done=seqs, shards_failed=0, sequences_total=4,
                                sequences_done=seqs, frames_total=40, frames_done=done, frames_session=session,
                                failures=0, elapsed=1.0)

    monkeypatch.setattr(demo, "track", Track)
    with demo.AnnotateBar() as bar:
        bar.step("annotate")
        bar.update(snap(20, 0, 2))    # two shards committed by an earlier run
        bar.update(snap(30, 10, 3))
        bar.update(snap(40, 20, 4))
        bar.step("export")
        assert calls[-1] == ("close",)
    assert calls == [("open", "annotate", 40), ("skip", 20), ("advance", 0, "videos 2/4"),
                     ("advance", 10, "videos 3/4"), ("advance", 10, "videos 4/4"), ("close",)]


def test_debug_adds_the_traceback_behind_an_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{not json")
    plain = subprocess.run([sys.executable, "-m", "cli.main", "status", str(out)], cwd=REPO, env=narrow_env(),
                           capture_output=True, text=True, timeout=120)
    debug = subprocess.run([sys.executable, "-m", "cli.main", "--debug", "status", str(out)], cwd=REPO,
                           env=narrow_env(), capture_output=True, text=True, timeout=120)
    assert plain.returncode == debug.returncode == 2
    assert "is not valid JSON" in plain.stderr and "Traceback" not in plain.stderr
    assert "is not valid JSON" in debug.stderr and "Traceback (most recent call last)" in debug.stderr
