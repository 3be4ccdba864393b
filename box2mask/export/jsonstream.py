"""Writing one large JSON document piece by piece.

A COCO file for a big run can reach tens of GB, so nothing builds it as one
Python object: :class:`JsonStream` writes containers and values as they come,
and :class:`Spool` holds a section whose items arrive in the wrong order for
the document (COCO's ``annotations`` come after ``images`` in the file but are
produced in the same pass) in a temporary file that is copied in later.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, TextIO


def dumps(value: Any) -> str:
    """Compact JSON; NaN or infinity is a bug upstream, so it raises instead of writing invalid JSON."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class JsonStream:
    """A streaming writer for one JSON document on a text file handle.

    Containers are opened and closed explicitly; inside an object every call
    takes the ``key``.  Misuse (a key in an array, closing the wrong container,
    leaving one open) raises ``ValueError`` rather than writing broken JSON.
    """

    def __init__(self, fh: TextIO):
        self.fh = fh
        self._stack: list[list] = []   # [kind, items written so far]
        self._done = False

    def _prefix(self, key: str | None) -> None:
        if self._done:
            raise ValueError("the JSON document is already complete")
        if not self._stack:
            if key is not None:
                raise ValueError("the top-level value takes no key")
            return
        kind, count = self._stack[-1]
        if kind == "object" and key is None:
            raise ValueError("a value inside an object needs a key")
        if kind == "array" and key is not None:
            raise ValueError(f"a value inside an array takes no key (got {key!r})")
        if count:
            self.fh.write(",")
        if key is not None:
            self.fh.write(dumps(str(key)) + ":")
        self._stack[-1][1] += 1

    def _finish_value(self) -> None:
        if not self._stack:
            self._done = True

    def open_object(self, key: str | None = None) -> None:
        self._prefix(key)
        self.fh.write("{")
        self._stack.append(["object", 0])

    def open_array(self, key: str | None = None) -> None:
        self._prefix(key)
        self.fh.write("[")
        self._stack.append(["array", 0])

    def close(self, kind: str) -> None:
        """Close the innermost container, which must be ``kind`` (``"object"`` or ``"array"``)."""
        if not self._stack or self._stack[-1][0] != kind:
            raise ValueError(f"no open {kind} to close")
        self._stack.pop()
        self.fh.write("}" if kind == "object" else "]")
        self._finish_value()

    def value(self, value: Any, key: str | None = None) -> None:
        """Write one complete value (anything ``json.dumps`` takes)."""
        self._prefix(key)
        self.fh.write(dumps(value))
        self._finish_value()

    def items_from(self, spool: "Spool") -> None:
        """Copy a spool's already-serialised items into the innermost (array) container."""
        if not self._stack or self._stack[-1][0] != "array":
            raise ValueError("spooled items go inside an array")
        if spool.count == 0:
            return
        if self._stack[-1][1]:
            self.fh.write(",")
        spool.copy_to(self.fh)
        self._stack[-1][1] += spool.count

    def array_from(self, key: str, spool: "Spool") -> None:
        """``"key": [...]`` in the current object, holding a spool's items."""
        self.open_array(key)
        self.items_from(spool)
        self.close("array")

    def complete(self) -> bool:
        return self._done and not self._stack


class Spool:
    """Items of one JSON array, serialised to a temporary file as they arrive.

    ``directory`` should be on the same disk as the output (the spool is as big
    as its section).  Use as a context manager so the file is always removed.
    """

    def __init__(self, directory: Path | str | None = None):
        self._fh = tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonpart",
                                               dir=directory, delete=True)
        self.count = 0

    def add(self, value: Any) -> None:
        """Append one complete item."""
        self.start_item()
        self._fh.write(dumps(value))

    def start_item(self) -> None:
        """Begin an item written in pieces with :meth:`raw` (for items too long to build whole)."""
        if self.count:
            self._fh.write(",")
        self.count += 1

    def raw(self, text: str) -> None:
        """Write already-serialised JSON text into the current item."""
        self._fh.write(text)

    def copy_to(self, fh: TextIO) -> None:
        self._fh.flush()
        self._fh.seek(0)
        shutil.copyfileobj(self._fh, fh, length=1 << 20)
        self._fh.seek(0, 2)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
