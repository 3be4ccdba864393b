"""Errors of export, report and qa name the file and the real cause, in one line each."""

from __future__ import annotations

import errno
import os

import pytest
from click.testing import CliRunner

from box2mask.export.failures import RUN_HINT, explain


def _invoke(*args: str):
    from cli.main import main

    return CliRunner().invoke(main, list(args))


def _lines(result) -> tuple[str, str]:
    """The error line and the hint line; everything the command printed has exactly one of each."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    hints = [line for line in result.output.splitlines() if line.startswith("hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.output
    return errors[0], hints[0]


def _raise(code: int, filename: str | None = None):
    def boom(*args, **kwargs):
        raise OSError(code, os.strerror(code), filename)

    return boom


@pytest.mark.parametrize("fmt", ["coco", "ytvis"])
def test_full_disk_says_so(synthetic_run, tmp_path, monkeypatch, fmt):
    from box2mask.export.jsonstream import JsonStream

    monkeypatch.setattr(JsonStream, "value", _raise(errno.ENOSPC))
    dest = tmp_path / "out" / "export.json"
    error, hint = _lines(_invoke("export", str(synthetic_run), "--format", fmt, "--dest", str(dest)))
    assert error == f"error: cannot write {dest}: the disk is full (No space left on device)"
    assert hint == "hint: free space on that disk, or write to another disk"
    assert not dest.exists() and not list((tmp_path / "out").glob(".*"))


@pytest.mark.parametrize("code, cause, advice", [
    (errno.EROFS, "the file system is read-only", "writable disk"),
    (errno.EACCES, "permission denied", "you may write to"),
])
def test_read_only_or_forbidden_destination(synthetic_run, tmp_path, monkeypatch, code, cause, advice):
    import tempfile

    dest = tmp_path / "ro" / "coco.json"
    monkeypatch.setattr(tempfile, "mkstemp",
                        _raise(code, str(tmp_path / "ro" / ".coco.json.x1y2.tmp")))   # where atomic_path fails
    error, hint = _lines(_invoke("export", str(synthetic_run), "--format", "coco", "--dest", str(dest)))
    assert error.startswith(f"error: cannot write {dest}: {cause}")
    assert advice in hint and RUN_HINT not in hint


def test_destination_that_is_a_folder(synthetic_run, tmp_path):
    error, hint = _lines(_invoke("export", str(synthetic_run), "--format", "coco", "--dest", str(tmp_path)))
    assert error == f"error: --dest {tmp_path} is a folder; the coco export is one JSON file"
    assert hint == f"hint: give a file name, e.g. --dest {tmp_path / 'coco.json'}"


def test_not_a_run_folder_keeps_its_hint(tmp_path):
    error, hint = _lines(_invoke("export", str(tmp_path), "--format", "coco", "--dest", str(tmp_path / "c.json")))
    assert "has no committed shards" in error and hint == f"hint: {RUN_HINT}"
    error, hint = _lines(_invoke("report", str(tmp_path)))
    assert hint == f"hint: {RUN_HINT}"
    error, hint = _lines(_invoke("qa", str(tmp_path)))
    assert hint == f"hint: {RUN_HINT}"


def test_report_on_a_full_disk_names_the_report(synthetic_run, tmp_path, monkeypatch):
    from box2mask.visualize import report

    monkeypatch.setattr(report, "atomic_write_text", _raise(errno.ENOSPC))
    error, hint = _lines(_invoke("report", str(synthetic_run), "--dest", str(tmp_path), "--frames", "1"))
    assert error.startswith(f"error: cannot write {tmp_path / 'report.html'}: the disk is full")
    assert "free space" in hint


def test_report_into_an_existing_folder_writes_report_html(synthetic_run, tmp_path):
    (tmp_path / "r.html").mkdir()
    result = _invoke("report", str(synthetic_run), "--dest", str(tmp_path / "r.html"), "--frames", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html" / "report.html").is_file()


def test_qa_json_on_a_read_only_disk(synthetic_run, tmp_path, monkeypatch):
    from pipelines import evaluate

    target = tmp_path / "qa.json"
    monkeypatch.setattr(evaluate, "atomic_write_text", _raise(errno.EROFS, str(target)))
    error, hint = _lines(_invoke("qa", str(synthetic_run), "--json", str(target)))
    assert error.startswith(f"error: cannot write {target}: the file system is read-only")
    assert "writable disk" in hint


def test_explain_names_other_files_as_they_are(tmp_path):
    frame = tmp_path / "data" / "00001.jpg"
    why = explain(PermissionError(errno.EACCES, "Permission denied", str(frame)), target=tmp_path / "out.json")
    assert why.message == f"{frame}: permission denied" and "permissions" in why.hint
    why = explain(OSError(errno.EIO, "Input/output error"), target=tmp_path / "out.json")
    assert why.message == f"cannot write {tmp_path / 'out.json'}: Input/output error"
    assert explain(ValueError("bad\nvalue")).message == "bad value"
