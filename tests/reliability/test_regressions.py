"""The smallest inputs that showed a fault while fuzzing, kept so it stays fixed. Each was a
traceback, a wrong error place or a valid file refused before its fix."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from reliability.fuzzing import one_line_error, snapshot

from tripwire import ingest
from tripwire.errors import InputError
from tripwire.register import Register

MINIMAL_LOG = {
    "version": 2,
    "status": "success",
    "eval": {"task": "t", "task_id": "t1", "run_id": "r", "model": "openai/m",
             "created": "2025-01-01T00:00:00+00:00", "dataset": {}, "config": {}},
    "results": {"scores": [{"name": "match", "scorer": "match", "metrics": {
        "accuracy": {"name": "accuracy", "value": 0.5}}}]},
}


def _refused(path: Path, reg: Register | None = None, *, samples: bool = False) -> InputError:
    before = snapshot(reg) if reg is not None else None
    with pytest.raises(InputError) as info:
        batch = ingest.read_file(path, samples=samples)
        if reg is not None:
            reg.ingest(batch)
    one_line_error(info.value, path)
    if reg is not None:
        assert snapshot(reg) == before
    return info.value


def test_inspect_fault_inside_inspects_parser_is_one_line(tmp_path: Path) -> None:
    """Was a TypeError traceback from inspect_ai: a sample_init event with an empty sample."""
    pytest.importorskip("inspect_ai")
    event = {"event": "sample_init", "timestamp": "2025-01-01T00:00:00+00:00", "sample": {},
             "state": {}}
    doc = dict(MINIMAL_LOG, samples=[{"id": 1, "epoch": 1, "input": "q", "target": "a",
                                       "events": [event]}])
    path = tmp_path / "log.json"
    path.write_text(json.dumps(doc))
    err = _refused(path)
    assert "Inspect could not read this log: TypeError" in err.message


def test_eval_zip_with_corrupt_compressed_data(tmp_path: Path) -> None:
    """Was a zlib.error traceback: a member whose deflate stream is broken."""
    pytest.importorskip("inspect_ai")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("header.json", json.dumps(MINIMAL_LOG) * 2)
    data = bytearray(buf.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("header.json")
    n, e = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + n + e
    data[start:start + 4] = b"\xff\xff\xff\xff"
    path = tmp_path / "log.eval"
    path.write_bytes(bytes(data))
    assert "not a readable .eval zip" in _refused(path).message


def test_inspect_json_with_a_bom_is_read(tmp_path: Path) -> None:
    """Was refused as 'invalid JSON at line 1 column 1': a log saved with a UTF-8 BOM."""
    pytest.importorskip("inspect_ai")
    path = tmp_path / "log.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(MINIMAL_LOG).encode())
    batch = ingest.read_file(path)
    assert [(r.model, r.metric, r.value) for r in batch.results] == [("m", "match/accuracy", 0.5)]


def _samples_file(tmp_path: Path, lines: list[str]) -> Path:
    folder = tmp_path / "Org__model"
    folder.mkdir()
    path = folder / "samples_t_2024-01-01T00-00-00.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_lmeval_samples_with_a_line_separator_inside_a_string(tmp_path: Path) -> None:
    """Was refused as invalid JSON at line 1: lm-eval writes U+2028 inside strings as it is
    (ensure_ascii=False), and str.splitlines broke the line there."""
    rows = [{"doc_id": i, "doc": {"q": "a\u2028b\u0085c"}, "filter": "none", "metrics": ["acc"],
             "acc": float(i)} for i in (0, 1)]
    path = _samples_file(tmp_path, [json.dumps(r, ensure_ascii=False) for r in rows])
    batch = ingest.read_file(path, samples=True)
    assert [(r.metric, r.value, r.samples) for r in batch.results] == [("acc", 0.5, 2)]


def test_lmeval_samples_metric_names_that_are_not_strings(tmp_path: Path) -> None:
    """Was a TypeError traceback (unhashable list): `"metrics": [["acc"]]`."""
    path = _samples_file(tmp_path, ['{"doc_id": 0, "metrics": [["acc"]], "acc": 1}'])
    assert _refused(path).where == "line 1"


def _results(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "results_2024-01-01T00-00-00.json"
    path.write_text(json.dumps(doc))
    return path


def test_nul_in_a_name_is_stored_or_refused_in_one_line(tmp_path: Path,
                                                       register: Register) -> None:
    """Was a psycopg DataError traceback on PostgreSQL, whose text cannot hold NUL: a JSON
    log's `\\u0000` escape in the model name. SQLite holds it and reads it back exactly."""
    path = _results(tmp_path, {"results": {"mmlu": {"acc,none": 0.5}},
                               "config": {"model_args": "pretrained=ev\u0000il"}})
    if register.dialect == "sqlite":
        register.ingest(ingest.read_file(path))
        assert [r.model for r in register.results()] == ["ev\x00il"]
        return
    err = _refused(path, register)
    assert err.where == "result 1 (mmlu, acc)" and "NUL" in err.message


def test_sample_count_beyond_integer_columns(tmp_path: Path, register: Register) -> None:
    """Was an OverflowError traceback on SQLite and a DataError on PostgreSQL: a sample count
    of 10^23 in `n-samples`."""
    path = _results(tmp_path, {"results": {"mmlu": {"acc,none": 0.5}},
                               "config": {"model_args": "pretrained=m"},
                               "n-samples": {"mmlu": {"original": 5, "effective": 10**23}}})
    err = _refused(path, register)
    assert err.where == "result 1 (mmlu, acc)" and "sample count" in err.message
