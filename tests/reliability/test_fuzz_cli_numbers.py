"""Fuzzed numeric command-line arguments: `--compute 1e25`, `--scale 4`, `--set bar=0.6`,
`--n-boot`, `--seed`, `--threshold`, `--at`, `--last` ... given NaN, inf, 1e400, negatives,
zero, empty strings, `1_000`, `0x10`, `1,5`, full-width digits and numbers past 64 bits.

Property: every command exits 0, 1, 2 or 3 without a traceback; an error is one line; a
command that accepts its arguments (exit other than 2) was given finite numbers in range (a
NaN or an infinity is never taken as a quantity), and its --json output parses.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import strategies as st
from reliability.fuzzing import FAST, LONG, Tally, run
from typer.testing import CliRunner

from tripwire import ingest
from tripwire.cli import app
from tripwire.demo import example_path
from tripwire.register import open_register

VALUES = ["1e25", "4", "0", "-1", "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "", "abc",
          "1_000", "0x10", "1,5", " 7 ", "1e-400", "２", "1e308", "-0", "0.5", "1", "2", "10",
          "99999999999999999999999", "1e-300", "3.7", "0.999", "1e26", "-1e25"]
COUNTS = ["0", "1", "2", "5", "-1", "nan", "1.5", "abc", "", "1e3", "0x10", "２",
          "99999999999999999999999", "100001", "-0", " 3"]

POSITIVE = "positive"      # a finite number > 0 when accepted
FRACTION = "fraction"      # a finite number in (0, 1] when accepted
FINITE = "finite"          # any finite number when accepted
BOOT = "boot"              # a whole number of resamples, 0 to 100,000, when accepted
SEED = "seed"              # a whole number >= 0, any size, when accepted
LAST = "last"              # a whole number >= 1, any size, when accepted


def _commands(db: str, loss: str) -> list[tuple[int, list[str], dict[str, str]]]:
    """(weight, arguments with {slots}, slot kinds): every numeric option of the commands
    that run in well under a second."""
    return [
        (6, ["compute", "--params", "{a}", "--tokens", "{b}", "--multiplier", "{c}", "--json"],
         {"a": POSITIVE, "b": POSITIVE, "c": POSITIVE}),
        (6, ["compute", "--accelerator", "H100", "--count", "{a}", "--hours", "{b}",
             "--utilization", "{c}", "--price", "{d}", "--json"],
         {"a": POSITIVE, "b": POSITIVE, "c": FRACTION, "d": POSITIVE}),
        (4, ["plan", "-p", "eu-ai-act-gpai", "--compute", "{a}", "--db", db, "--json"],
         {"a": POSITIVE}),
        (4, ["plan", "-p", "ca-sb1047", "--from", "gpt2-xl", "--scale", "{a}", "--n-boot", "{b}",
             "--seed", "{c}", "--db", db, "--json"], {"a": POSITIVE, "b": BOOT, "c": SEED}),
        (4, ["assess", "gpt2-xl", "-p", "asl", "--set", "cbrn_nonstate_bar={a}", "--map",
             "cbrn_uplift_nonstate=mmlu", "--no-record", "--no-anomalies", "--db", db, "--json"],
         {"a": FINITE}),
        (3, ["gate", "gpt2-xl", "--action", "deploy", "-p", "asl", "--set",
             "cbrn_nonstate_bar={a}", "--set", "cbrn_state_bar={b}", "--map",
             "cbrn_uplift_nonstate=mmlu", "--no-record", "--db", db, "--json"],
         {"a": FINITE, "b": FINITE}),
        (3, ["record", "--last", "{a}", "--db", db, "--json"], {"a": LAST}),
        (1, ["fit", "--from", loss, "--law", "compute", "--target-compute", "{a}", "--n-boot",
             "{b}", "--seed", "{c}", "--json"], {"a": POSITIVE, "b": BOOT, "c": SEED}),
        (1, ["fit", "--from", loss, "--params", "{a}", "--tokens", "{b}", "--holdout", "{c}",
             "--n-boot", "0", "--json"], {"a": POSITIVE, "b": POSITIVE, "c": FRACTION}),
        (1, ["forecast", "mmlu", "--threshold", "{a}", "--at", "{b}", "--n-boot", "{c}",
             "--seed", "{d}", "--db", db, "--json"],
         {"a": FINITE, "b": POSITIVE, "c": BOOT, "d": SEED}),
    ]


def _in_range(kind: str, text: str) -> bool:
    try:
        v = float(text.replace("_", ""))
    except ValueError:
        return True  # not a number at all: nothing to range-check (click or we refused it)
    if not math.isfinite(v):
        return False
    return {POSITIVE: v > 0, FRACTION: 0 < v <= 1, FINITE: True,
            BOOT: 0 <= v <= 100_000 and v == int(v), SEED: v >= 0 and v == int(v),
            LAST: v >= 1 and v == int(v)}[kind]


@st.composite
def invocation(draw: st.DrawFn, commands: list[tuple[int, list[str], dict[str, str]]]
               ) -> tuple[list[str], dict[str, tuple[str, str]]]:
    weighted = [c for c in commands for _ in range(c[0])]
    _, template, slots = draw(st.sampled_from(weighted))
    chosen = {s: (kind, draw(st.sampled_from(COUNTS if kind in (BOOT, SEED, LAST) else VALUES)))
              for s, kind in slots.items()}
    args = [a.format(**{s: v for s, (_, v) in chosen.items()}) for a in template]
    return args, chosen


def check(args: list[str], chosen: dict[str, tuple[str, str]], tally: Tally) -> None:
    r = CliRunner().invoke(app, args)
    label = " ".join(args)
    assert r.exit_code in (0, 1, 2, 3), (label, r.exit_code, r.output[-500:])
    assert r.exception is None or isinstance(r.exception, SystemExit), \
        (label, repr(r.exception))
    assert "Traceback" not in r.output, label
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    if r.exit_code == 2:
        tally.rejected += 1
        assert len(errors) <= 1, r.stderr  # our errors are one line; click's say "Usage"
        return
    tally.accepted += 1
    bad = {s: v for s, (kind, v) in chosen.items() if not _in_range(kind, v)}
    assert not bad, f"accepted out-of-range numbers {bad}: {label}"
    if r.stdout.strip():
        json.loads(r.stdout)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("cli") / "r.db")
    reg = open_register(path, create=True)
    for name in ("models.csv", "evals.csv"):
        reg.ingest(ingest.read_file(example_path(name)))
    reg.close()
    return path


def _run(db: str, examples: int, report: bool) -> None:
    tally = Tally("numeric CLI arguments")
    commands = _commands(db, str(example_path("loss.csv")))
    run(invocation(commands), examples, lambda x: check(x[0], x[1], tally))
    assert tally.total >= examples * 0.9
    if report:
        print("\n" + tally.line("0 tracebacks, 0 NaN, infinite or out-of-range numbers "
                                "accepted"))


def test_numeric_arguments_fuzz_fast(db: str) -> None:
    _run(db, FAST, report=False)


@pytest.mark.reliability
def test_numeric_arguments_fuzz_long(db: str) -> None:
    _run(db, LONG, report=True)


@pytest.mark.parametrize("args", [
    ["fit", "--from", "{loss}", "--n-boot", "0", "--seed", "-1"],            # numpy ValueError
    ["forecast", "mmlu", "--db", "{db}", "--threshold", "0.8", "--seed", "-5"],
    ["report", "gpt2-xl", "--db", "{db}", "--seed", "-1", "-o", "-"],
    ["fit", "--from", "{loss}", "--law", "compute", "--n-boot", "99999999999999999999999"],
    ["plan", "-p", "eu-ai-act-gpai", "--compute", "1e400", "--db", "{db}"],  # was accepted: inf
    ["plan", "-p", "eu-ai-act-gpai", "--from", "gpt2-xl", "--scale", "1e300", "--db", "{db}"],
    ["assess", "gpt2-xl", "-p", "asl", "--set", "cbrn_nonstate_bar=nan", "--db", "{db}",
     "--no-record"],                                                         # was accepted
    ["forecast", "mmlu", "--db", "{db}", "--threshold", "nan"],             # was exit 3
    ["serve", "--max-upload-mb", "1e400", "--db", "{db}"],                  # OverflowError
])
def test_numeric_regressions(db: str, args: list[str]) -> None:
    """Each was a traceback or an accepted NaN/infinity; now a usage or input error."""
    loss = str(example_path("loss.csv"))
    r = CliRunner().invoke(app, [a.format(db=db, loss=loss) for a in args])
    assert r.exit_code == 2, (r.exit_code, r.output[-300:], repr(r.exception))
    assert r.exception is None or isinstance(r.exception, SystemExit)
