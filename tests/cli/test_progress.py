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


def test_adapt_lines_name_the_teacher_run_they_report(monkeypatch, capsys):
    from cli.commands import annotate as annotate_command
    from pipelines.annotate.adapt import AdaptProgress

    monkeypatch.setattr(annotate_command, "interactive", lambda: False)
    display = annotate_command.Display(every=0.0)
    display.adapt(AdaptProgress("teacher", 3, 10, teacher="grabcut"))
    display.adapt(AdaptProgress("teacher", 10, 10, teacher="network"))
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["[annotate] adapt teacher 3/10  grabcut teacher", "[annotate] adapt teacher 10/10  network teacher"]
