"""A private copy of a run *and of its dataset*, with shards that tests may rewrite.

Tests that break things (hostile sequence ids, repeated rows, truncated frames) work on
copies, so the session's shared runs stay intact and everything a test might damage lies
under its own ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from box2mask.shards import SCHEMA, shard_paths


def copy_run(run: Path, where: Path) -> tuple[Path, Path]:
    """Copy ``run`` and its dataset under ``where``; run.json points at the copy. Returns (run, data root)."""
    info = json.loads((run / "run.json").read_text())
    data = where / "data" / Path(info["root"]).name
    shutil.copytree(info["root"], data)
    out = where / "run"
    shutil.copytree(run, out)
    info["root"] = str(data.resolve())
    (out / "run.json").write_text(json.dumps(info))
    return out, data


def rewrite_shard(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    table = pq.read_table(path, schema=SCHEMA)
    pq.write_table(change(table).cast(SCHEMA), path)


def with_column(table: pa.Table, name: str, values: list) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values, SCHEMA.field(name).type))


def renamed(table: pa.Table, seq_id: str) -> pa.Table:
    return with_column(table, "sequence", [seq_id] * table.num_rows)


def add_shard(run: Path, name: str, table: pa.Table) -> Path:
    path = run / "shards" / f"{name}.parquet"
    pq.write_table(table.cast(SCHEMA), path)
    return path


def shards(run: Path) -> list[Path]:
    return shard_paths(run)


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, tuple]:
    """Every path under ``root`` (``skip`` and what is below it left out): kind, link target or
    content hash, size and mtime, so any change shows up."""
    out: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            if skip is not None and (path == skip or skip in path.parents):
                continue
            st = os.lstat(path)
            if path.is_symlink():
                out[str(path)] = ("link", os.readlink(path), st.st_mtime_ns)
            elif path.is_dir():
                out[str(path)] = ("dir", st.st_mtime_ns)
            else:
                out[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), st.st_size,
                                  st.st_mtime_ns)
    return out
