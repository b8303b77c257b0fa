"""Fuzzed CSV readers: inputs generated from the real bundled tables, mutated the ways real
files go wrong. Property: each input is either accepted and reads back exactly as stored, or
rejected with one line naming the file and the place, with the register left as it was.

The fast profile (default run) tries FAST_EXAMPLES inputs per table; `pytest -m reliability
tests/reliability` runs RELIABILITY_EXAMPLES per table and prints the counts.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tripwire import ingest
from tripwire.demo import example_path
from tripwire.errors import TripwireError
from tripwire.register import open_register

FAST_EXAMPLES = int(os.environ.get("TRIPWIRE_FUZZ_FAST", "120"))
RELIABILITY_EXAMPLES = int(os.environ.get("TRIPWIRE_FUZZ_LONG", "2500"))

HOSTILE = [
    "", "nan", "NaN", "inf", "-inf", "-1", "1e400", "-0", "0", "abc", "1,5", "7e9 ",
    "<script>alert(1)</script>", "'; drop table models; --", "x" * 10_000, "\u202egnp.exe",
    "a\u0000b", '"quoted"', "\ufeff", "1e-400", "２", "0x10", "1_000", "  ", "\n",
]


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


PLACE = re.compile(r"^(error: )?[^\n]*\.csv(:\S+)?: \S")


def _check(reg, path: Path, data: bytes, tally: dict[str, int]) -> None:  # noqa: ANN001
    path.write_bytes(data)
    before = reg.counts()
    try:
        batch = ingest.read_file(path)
        out = reg.ingest(batch)
    except TripwireError as e:
        msg = str(e)
        assert "\n" not in msg.strip(), f"multi-line error: {msg!r}"
        assert "Traceback" not in msg
        assert PLACE.match(msg), f"error does not name the file and place: {msg!r}"
        assert reg.counts() == before, "a rejected file changed the register"
        tally["rejected"] += 1
        return
    tally["accepted"] += 1
    if out.status != "stored":
        assert reg.counts() == before
        return
    # Read back exactly as stored.
    stored = [r for r in reg.results() if r.source_sha256 == batch.sha256]
    assert len(stored) == len(batch.results)
    for got, want in zip(stored, batch.results, strict=True):
        assert got.value == want.value or (math.isnan(got.value) and math.isnan(want.value))
        assert (got.stderr, got.samples, got.metric) == (want.stderr, want.samples, want.metric)
        assert got.original_benchmark == want.original_benchmark
    names = {m.name for m in reg.models()}
    assert {m.name for m in batch.models} <= names
    if batch.loss:
        pts = reg.loss_observations()[-len(batch.loss):]
        assert [(p.params, p.tokens, p.loss) for p in pts] == \
            [(p.params, p.tokens, p.loss) for p in batch.loss]


def _run(tmp_path: Path, name: str, examples: int, report: bool) -> None:
    reg = open_register(str(tmp_path / "fuzz.db"), create=True)
    tally = {"accepted": 0, "rejected": 0}
    counter = iter(range(10**9))

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=mutated(name))
    def prop(data: bytes) -> None:
        _check(reg, tmp_path / f"{name[:-4]}-{next(counter)}.csv", data, tally)

    prop()
    reg.close()
    total = tally["accepted"] + tally["rejected"]
    assert total >= examples * 0.9
    if report:
        print(f"\n{name}: {total} inputs ({tally['accepted']} accepted, "
              f"{tally['rejected']} rejected), 0 tracebacks, 0 partial writes")


@pytest.mark.parametrize("name", ["models.csv", "evals.csv", "loss.csv"])
def test_csv_fuzz_fast(tmp_path: Path, name: str) -> None:
    _run(tmp_path, name, FAST_EXAMPLES, report=False)


@pytest.mark.reliability
@pytest.mark.parametrize("name", ["models.csv", "evals.csv", "loss.csv"])
def test_csv_fuzz_long(tmp_path: Path, name: str) -> None:
    _run(tmp_path, name, RELIABILITY_EXAMPLES, report=True)
