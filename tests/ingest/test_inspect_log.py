"""Inspect log reader on real logs: ones written here by Inspect with its mock model, and the
public logs from Inspect's own test suite (both formats, a cancelled run, a log without
aggregate scores)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import sys
import zipfile
from pathlib import Path

import pytest

from tripwire.errors import InputError
from tripwire.ingest import detect_format, read_file
from tripwire.ingest.inspect_log import INSTALL_HINT, model_name, read_inspect, sniff_inspect

from .conftest import MOCK_ANSWERS, MOCK_TARGETS

pytest.importorskip("inspect_ai", reason="inspect_ai not installed (tripwire[inspect])")

CORRECT = [a == t for a, t in zip(MOCK_ANSWERS, MOCK_TARGETS, strict=True)]


def read(path: Path, *, samples: bool = False):
    return read_inspect(path, path.read_bytes(), samples=samples)


@pytest.fixture(scope="module")
def public(shared_data: Path) -> Path:
    folder = shared_data / "inspect_ai"
    if not folder.is_dir():
        pytest.skip(f"Inspect logs not found at {folder} (see shared/data/SOURCES.md)")
    return folder


# -- logs written here -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_mock_run_results(inspect_logs, fmt: str) -> None:
    from inspect_ai.log import read_eval_log

    path = getattr(inspect_logs, fmt)
    b = read(path)
    assert b.kind == "inspect" and b.skipped is None and b.samples == {}
    n, k = len(CORRECT), sum(CORRECT)
    p = k / n
    stderr = math.sqrt(sum((c - p) ** 2 for c in CORRECT) / (n - 1) / n)
    rows = {r.metric: r for r in b.results}
    assert set(rows) == {"match/accuracy", "includes/accuracy"}
    for r in rows.values():
        assert r.value == pytest.approx(p, abs=1e-15) and r.stderr == pytest.approx(stderr)
        assert (r.model, r.original_model) == ("model", "mockllm/model")
        assert (r.benchmark, r.original_benchmark, r.samples) == ("tiny_arith", "tiny_arith", n)
    log = read_eval_log(str(path), header_only=True)
    created = dt.datetime.fromisoformat(log.eval.created).astimezone(dt.UTC)
    assert rows["match/accuracy"].created_at == created
    assert rows["match/accuracy"].extra["task_id"] == log.eval.task_id
    (bench,) = b.benchmarks
    assert (bench.id, bench.dataset, bench.samples, bench.metric) == (
        "tiny_arith",
        "tiny_arith_data",
        n,
        "match/accuracy",
    )


def test_both_formats_agree(inspect_logs) -> None:
    a, b = read(inspect_logs.eval, samples=True), read(inspect_logs.json, samples=True)
    key = lambda r: (r.metric, r.value, r.stderr, r.samples)  # noqa: E731
    assert [key(r) for r in a.results] == [key(r) for r in b.results]
    assert a.samples.keys() == b.samples.keys() == {0, 1}


def test_mock_run_samples(inspect_logs) -> None:
    b = read(inspect_logs.eval, samples=True)
    scores = sorted(b.samples[0], key=lambda s: int(s.sample_id))
    assert [s.sample_id for s in scores] == ["1", "2", "3", "4", "5"]
    assert [s.score for s in scores] == [float(c) for c in CORRECT]
    assert [s.raw for s in scores] == ["C" if c else "I" for c in CORRECT]
    assert {s.epoch for s in scores} == {1}


def test_two_epochs_keep_each_epochs_score(inspect_logs) -> None:
    b = read(inspect_logs.epochs, samples=True)
    scores = b.samples[0]
    assert len(scores) == 10 and {s.epoch for s in scores} == {1, 2}
    assert b.results[0].extra["epochs"] == 2
    assert b.results[0].value == pytest.approx(sum(CORRECT) / len(CORRECT))
    by_epoch = {
        e: [s.score for s in sorted(scores, key=lambda s: int(s.sample_id)) if s.epoch == e]
        for e in (1, 2)
    }
    assert by_epoch[1] == by_epoch[2] == [float(c) for c in CORRECT]


def test_failed_run_is_skipped_naming_the_status(inspect_logs) -> None:
    b = read(inspect_logs.failed)
    assert b.results == [] and b.skipped.startswith("log status is 'error'")
    assert "custom_outputs ran out" in b.skipped


def test_through_the_dispatcher(inspect_logs) -> None:
    for path in (inspect_logs.eval, inspect_logs.json):
        assert detect_format(path, path.read_bytes()[:65536]) == "inspect"
        b = read_file(path, samples=True)
        assert b.kind == "inspect" and len(b.results) == 2 and len(b.samples) == 2


# -- public logs -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["log_formats.eval", "log_formats.json"])
def test_public_log_formats(public: Path, name: str) -> None:
    b = read(public / name, samples=True)
    (r,) = b.results
    assert (r.model, r.original_model, r.benchmark) == ("llama3.1", "ollama/llama3.1", "popularity")
    assert (r.metric, r.value, r.stderr, r.samples) == ("match/accuracy", 0.0, 0.0, 1)
    assert r.created_at == dt.datetime(2024, 10, 15, 16, 53, 13, tzinfo=dt.UTC)
    assert r.extra["run_id"] == "BpiPFmbVcMCRUAXv8ovCTx"
    (bench,) = b.benchmarks
    assert (bench.dataset, bench.samples) == ("popularity", 100)
    (s,) = b.samples[0]
    assert (s.sample_id, s.epoch, s.score, s.raw) == ("1", 1, 0.0, "I")


def test_public_mmlu_task_name_is_normalised(public: Path) -> None:
    b = read(public / "mmlu-summary-choices.eval")
    (r,) = b.results
    assert (r.benchmark, r.original_benchmark) == ("mmlu_0_shot", "inspect_evals/mmlu_0_shot")
    assert (r.model, r.original_model) == ("gpt-4o", "openai/gpt-4o")
    assert (r.metric, r.value, r.stderr, r.samples) == ("choice/accuracy", 0.0, 0.0, 1)
    assert r.created_at == dt.datetime(2025, 12, 19, 12, 37, 50, tzinfo=dt.UTC)
    (bench,) = b.benchmarks
    assert (bench.name, bench.dataset, bench.samples) == (
        "inspect_evals/mmlu_0_shot",
        "cais/mmlu",
        14042,
    )


def test_public_cancelled_log_is_skipped(public: Path) -> None:
    # the log holds match accuracy 0.667 +- 0.333 over 3 samples, but the run was cancelled
    raw = json.loads((public / "2025-05-12T20-28-13-04-00_popularity.json").read_text())
    assert raw["results"]["scores"][0]["metrics"]["accuracy"]["value"] == pytest.approx(2 / 3)
    b = read(public / "2025-05-12T20-28-13-04-00_popularity.json")
    assert b.skipped == "log status is 'cancelled', not 'success'" and b.results == []


def test_public_log_without_aggregate_scores_is_skipped(public: Path) -> None:
    b = read(public / "2025-02-11T15-17-00-05-00_popularity_dPiJifoWeEQBrfWsAopzWr.eval")
    assert b.results == [] and "no aggregate scores" in b.skipped


def test_sniff_public_logs(public: Path, shared_data: Path) -> None:
    for f in sorted(public.iterdir()):
        assert sniff_inspect(f.read_bytes()[:4096], f), f.name
    lm = shared_data / "lm_eval_harness" / "llama3_8b_instruct_asdiv"
    for f in lm.iterdir():
        assert not sniff_inspect(f.read_bytes()[:4096], f)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert not sniff_inspect(buf.getvalue()[:4096], Path("report.docx"))


def test_model_name() -> None:
    assert model_name("openai/gpt-4o") == "gpt-4o"
    assert model_name("hf/EleutherAI/pythia-1.4b") == "EleutherAI/pythia-1.4b"
    assert model_name("gpt-4o") == "gpt-4o"


# -- bad input -------------------------------------------------------------------------------


def bad(tmp_path: Path, name: str, data: bytes) -> InputError:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(InputError) as e:
        read_inspect(p, data)
    assert e.value.source == str(p) and "\n" not in str(e.value)
    return e.value


def test_bad_logs(tmp_path: Path, public: Path) -> None:
    ev = (public / "log_formats.eval").read_bytes()
    js = (public / "log_formats.json").read_bytes()
    assert "truncated or corrupt" in bad(tmp_path, "t.eval", ev[: len(ev) // 2]).message
    e = bad(tmp_path, "t.json", js[: len(js) // 2])
    assert e.message.startswith("invalid JSON") and e.where.startswith("line ")
    e = bad(tmp_path, "x.json", b'{"version": 2, "status": }')
    assert e.message.startswith("invalid JSON") and e.where == "line 1 column 26"
    lm = public.parent / "lm_eval_harness" / "llama3_8b_instruct_asdiv"
    e = bad(tmp_path, "lm.json", (lm / "results_2024-08-21T03-44-09.494230.json").read_bytes())
    assert e.message.startswith("not an Inspect log") and e.where == "eval"
    e = bad(
        tmp_path,
        "w.json",
        json.dumps({"version": 2, "status": "success", "eval": {"task": 3}}).encode(),
    )
    assert e.message.startswith("not an Inspect log") and e.where.startswith("eval.")
    assert "empty" in bad(tmp_path, "e.eval", b"").message
    assert "binary" in bad(tmp_path, "b.eval", bytes(range(256)) * 4).message
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    assert "not an Inspect .eval log" in bad(tmp_path, "z.eval", buf.getvalue()).message
    assert "JSON object" in bad(tmp_path, "t.json", b"version: 2\n").message


def test_a_value_quoted_in_an_error_stays_on_one_line(tmp_path: Path, public: Path) -> None:
    """Inspect's validation quotes the offending value: a line break in it is escaped."""
    doc = json.loads((public / "log_formats.json").read_bytes())
    sample = doc["samples"][0]
    event = (sample.get("events") or sample["transcript"]["events"])[0]  # either layout
    event["event"] = "\n\u2028\t"
    e = bad(tmp_path, "n.json", json.dumps(doc).encode())
    assert e.message.startswith("not an Inspect log") and e.where.startswith("samples.0.events")
    assert "'\\n\\u2028\\t'" in e.message, e.message
    assert len(str(e).splitlines()) == 1


def test_missing_inspect_ai_says_how_to_install(
    tmp_path: Path, public: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "inspect_ai.log", None)  # import now raises ImportError
    p = public / "log_formats.eval"
    with pytest.raises(InputError) as e:
        read_inspect(p, p.read_bytes())
    assert e.value.message == INSTALL_HINT and e.value.source == str(p)
    assert INSTALL_HINT == "reading Inspect logs needs inspect_ai: pip install 'tripwire[inspect]'"


# -- one run, two formats ----------------------------------------------------------------------


def test_public_run_saved_in_both_formats_is_stored_once(public: Path, register) -> None:
    """log_formats.eval and log_formats.json are one run (one eval_id): the second adds
    nothing and says which file holds the run."""
    first = register.ingest_path(public / "log_formats.eval")
    rows = register.counts()["eval_results"]
    second = register.ingest_path(public / "log_formats.json")
    assert first.status == "stored" and first.results == rows > 0
    assert second.status == "skipped" and "same evaluation run" in second.reason
    assert str((public / "log_formats.eval").resolve()) in second.reason
    assert register.counts()["eval_results"] == rows


def test_a_rescored_run_is_stored_again(inspect_logs, register, tmp_path: Path) -> None:
    """Same eval_id, other scores (a log scored again): new evidence, stored."""
    from inspect_ai.log import read_eval_log, write_eval_log

    log = read_eval_log(str(inspect_logs.eval))
    write_eval_log(log, str(tmp_path / "same.json"), format="json")
    score = log.results.scores[0]
    name = next(iter(score.metrics))
    score.metrics[name].value = 0.123
    write_eval_log(log, str(tmp_path / "rescored.json"), format="json")
    assert register.ingest_path(inspect_logs.eval).status == "stored"
    assert register.ingest_path(tmp_path / "same.json").status == "skipped"
    again = register.ingest_path(tmp_path / "rescored.json")
    assert again.status == "stored"
    assert 0.123 in {r.value for r in register.results()}
