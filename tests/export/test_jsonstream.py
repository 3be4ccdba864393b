import io
import json

import pytest

from box2mask.export.jsonstream import JsonStream, Spool


def test_nested_document_is_valid_json(tmp_path):
    fh = io.StringIO()
    js = JsonStream(fh)
    js.open_object()
    js.value({"a": 1}, "info")
    js.open_array("items")
    for k in range(3):
        js.value({"id": k, "name": f"n{k}"})
    js.close("array")
    with Spool(tmp_path) as spool:
        spool.add({"id": 10})
        spool.start_item()
        spool.raw('{"id":11,"segs":[')
        spool.raw("null,")
        spool.raw('{"counts":"x"}')
        spool.raw("]}")
        js.open_array("spooled")
        js.value({"id": 9})
        js.items_from(spool)
        js.close("array")
    js.open_array("empty")
    js.close("array")
    js.close("object")
    assert js.complete()
    data = json.loads(fh.getvalue())
    assert data["items"][2] == {"id": 2, "name": "n2"}
    assert data["spooled"] == [{"id": 9}, {"id": 10}, {"id": 11, "segs": [None, {"counts": "x"}]}]
    assert data["empty"] == []


def test_misuse_raises_instead_of_writing_broken_json():
    js = JsonStream(io.StringIO())
    js.open_object()
    with pytest.raises(ValueError, match="needs a key"):
        js.value(1)
    js.open_array("a")
    with pytest.raises(ValueError, match="takes no key"):
        js.value(1, "k")
    with pytest.raises(ValueError, match="no open object"):
        js.close("object")
    with pytest.raises(ValueError):
        js.value(float("nan"))


def test_empty_spool_adds_nothing(tmp_path):
    fh = io.StringIO()
    js = JsonStream(fh)
    js.open_array()
    with Spool(tmp_path) as spool:
        js.items_from(spool)
    js.close("array")
    assert json.loads(fh.getvalue()) == []
