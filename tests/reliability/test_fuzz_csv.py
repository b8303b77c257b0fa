"""Fuzzed CSV readers: inputs generated from the real bundled tables, mutated the ways real
files go wrong. Property: each input is either accepted and reads back exactly as stored, or
rejected with one line naming the file and the place, with the register left as it was.

The fast profile (default run) tries FAST inputs per table; `pytest -m reliability
tests/reliability` runs LONG per table and prints the counts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st
from reliability.fuzzing import FAST, HOSTILE, LONG, Harness, finish, run

from tripwire.demo import example_path


def _base(name: str, rows: int = 12) -> bytes:
    lines = example_path(name).read_bytes().splitlines(keepends=True)
    return b"".join(lines[: rows + 1])


@st.composite
def mutated(draw: st.DrawFn, name: str) -> bytes:
    """A real table, changed by one to three mutations."""
    data = _base(name)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from([
            "truncate", "flip", "cell", "drop_col", "rename_col", "dup_col", "bom", "crlf",
            "semicolon", "dup_row", "empty_lines"]))
        text = data.decode("utf-8", errors="replace")
        rows = text.split("\n")
        if kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
            continue
        if kind == "flip":
            if data:
                i = draw(st.integers(0, len(data) - 1))
                data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
            continue
        header = rows[0].split(",")
        if kind == "cell" and len(rows) > 2:
            r = draw(st.integers(1, len(rows) - 2))
            cells = rows[r].split(",")
            c = draw(st.integers(0, len(cells) - 1))
            value = draw(st.sampled_from(HOSTILE))
            cells[c] = f'"{value}"' if ("," in value or "\n" in value) else value
            rows[r] = ",".join(cells)
        elif kind == "drop_col" and header:
            c = draw(st.integers(0, len(header) - 1))
            rows = [",".join(x for i, x in enumerate(row.split(",")) if i != c) for row in rows]
        elif kind == "rename_col" and header:
            c = draw(st.integers(0, len(header) - 1))
            header[c] = draw(st.sampled_from(["Parameters", "x", "NAME", "value", "loss", ""]))
            rows[0] = ",".join(header)
        elif kind == "dup_col" and header:
            c = draw(st.integers(0, len(header) - 1))
            rows[0] = rows[0] + "," + header[c]
        elif kind == "bom":
            rows[0] = "\ufeff" + rows[0]
        elif kind == "crlf":
            rows = [r + "\r" for r in rows]
        elif kind == "semicolon":
            rows = [r.replace(",", ";") for r in rows]
        elif kind == "dup_row" and len(rows) > 2:
            rows.insert(2, rows[1])
        elif kind == "empty_lines":
            rows.insert(1, "")
        data = "\n".join(rows).encode("utf-8", errors="surrogatepass")
    return data


def _run(tmp_path: Path, name: str, examples: int, report: bool) -> None:
    h = Harness(tmp_path, name)
    run(mutated(name), examples, lambda data: h.feed(name, data))
    finish(h, examples, report)


@pytest.mark.parametrize("name", ["models.csv", "evals.csv", "loss.csv"])
def test_csv_fuzz_fast(tmp_path: Path, name: str) -> None:
    _run(tmp_path, name, FAST, report=False)


@pytest.mark.reliability
@pytest.mark.parametrize("name", ["models.csv", "evals.csv", "loss.csv"])
def test_csv_fuzz_long(tmp_path: Path, name: str) -> None:
    _run(tmp_path, name, LONG, report=True)
