"""Plain (non-terminal) progress lines: a resumed run's rate counts only the work it does itself."""

from cli import progress as progress_module
from cli.progress import PlainTask


def test_resumed_work_does_not_inflate_the_rate(monkeypatch, capsys):
    clock = iter([0.0, 10.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    task = PlainTask("train", total=3000, every=1.0)
    task.skip(1500)  # done by an earlier run
    task.advance(20)  # this run: 20 steps in 10 s
    line = capsys.readouterr().err
    assert "1520/3000" in line and "(2.0/s)" in line
