"""Fuzzed log readers: Inspect logs (`.json` and `.eval`) and lm-evaluation-harness results and
samples, generated from the real public files in shared/data and from logs written here by
Inspect's own writer and in lm-eval's layouts, then mutated: truncated at any byte, bytes
flipped, keys dropped, renamed or repeated, values of the wrong type, NaN / inf / 1e400 /
huge integers, hostile strings, a BOM, CRLF, zip members dropped or repeated.

Property (tests/reliability/fuzzing.py): accepted and read back exactly, or rejected with
one line naming the file (and the line and column when the bytes are not JSON), the register
unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from reliability.fuzzing import (
    FAST,
    LONG,
    Bases,
    Harness,
    Raw,
    dump,
    finish,
    json_syntax_place,
    make_zip,
    mutate_bytes,
    mutate_json,
    run,
    zip_members,
)

from tripwire.errors import TripwireError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
INSPECT_FOCUS = ("status", "eval", "results", "samples", "error", "version")
LMEVAL_FOCUS = ("results", "config", "groups", "group_subtasks", "n-samples", "configs",
                "higher_is_better", "n-shot", "versions", "date", "model_name")
TS = "2024-05-06T07-08-09.101112"


def _shared(sub: str) -> Path:
    folder = (SHARED / sub).resolve()
    if not folder.is_dir():
        pytest.skip(f"real public logs not found at {folder} (see shared/data/SOURCES.md); "
                    "the [generated] cases still fuzz logs written here")
    return folder


# ------------------------------------------------------------------------------ base files

def generated_inspect(folder: Path) -> dict[str, bytes]:
    """An Inspect log written by Inspect's own writer in both formats: two scorers, stderr,
    three samples with letter scores."""
    pytest.importorskip("inspect_ai", reason="inspect_ai not installed (tripwire[inspect])")
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalMetric,
        EvalResults,
        EvalSample,
        EvalScore,
        EvalSpec,
        write_eval_log,
    )
    from inspect_ai.scorer import Score

    spec = EvalSpec(created="2025-01-02T03:04:05+00:00", task="inspect_evals/tiny_arith",
                    task_id="t1", run_id="r1", dataset=EvalDataset(name="tiny", samples=3),
                    model="openai/gpt-4o-mini", config=EvalConfig(epochs=1))
    scores = [EvalScore(name=n, scorer=n, scored_samples=3, metrics={
        "accuracy": EvalMetric(name="accuracy", value=v),
        "stderr": EvalMetric(name="stderr", value=0.27)}) for n, v in (("match", 2 / 3),
                                                                      ("includes", 1.0))]
    samples = [EvalSample(id=i, epoch=1, input=f"{i}+{i}?", target=str(2 * i),
                          scores={"match": Score(value="C" if i != 2 else "I"),
                                  "includes": Score(value="C")}) for i in (1, 2, 3)]
    log = EvalLog(eval=spec, status="success", samples=samples,
                  results=EvalResults(total_samples=3, completed_samples=3, scores=scores))
    out = {}
    for fmt in ("json", "eval"):
        path = folder / f"generated.{fmt}"
        write_eval_log(log, str(path), format=fmt)
        out[f"generated.{fmt}"] = path.read_bytes()
    return out


def generated_lmeval() -> dict[str, Any]:
    """lm-eval results in the v0.4 layout (a group with two subtasks, filters, stderr,
    n-samples, configs with literal choices) and the v0.3 layout (plain metric keys, the model
    only in model_args)."""
    v04 = {
        "results": {
            "tiny": {"alias": "tiny", "acc,none": 0.5, "acc_stderr,none": 0.1},
            "tiny_add": {"alias": " - tiny_add", "acc,none": 0.6, "acc_stderr,none": 0.14,
                         "exact_match,strict": 0.25, "exact_match_stderr,strict": "N/A"},
            "tiny_mul": {"alias": " - tiny_mul", "acc,none": 0.4, "acc_stderr,none": 0.2},
        },
        "groups": {"tiny": {"alias": "tiny", "acc,none": 0.5, "acc_stderr,none": 0.1}},
        "group_subtasks": {"tiny": ["tiny_add", "tiny_mul"]},
        "configs": {"tiny_add": {"task": "tiny_add", "output_type": "multiple_choice",
                                 "doc_to_choice": ["A", "B", "C", "D"],
                                 "dataset_path": "json"},
                    "tiny_mul": {"task": "tiny_mul", "output_type": "multiple_choice",
                                 "doc_to_choice": "{{options}}"}},
        "versions": {"tiny": 1.0, "tiny_add": 2.0, "tiny_mul": 1.0},
        "n-shot": {"tiny_add": 0, "tiny_mul": 5},
        "higher_is_better": {"tiny_add": {"acc": True, "exact_match": True}},
        "n-samples": {"tiny_add": {"original": 12, "effective": 12},
                      "tiny_mul": {"original": 7, "effective": 7}},
        "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m,"
                   "revision=step143000", "model_num_parameters": 162322944,
                   "num_fewshot": None},
        "model_name": "EleutherAI/pythia-160m",
        "date": 1715000000.5,
        "lm_eval_version": "0.4.3",
    }
    v03 = {
        "results": {"lambada_openai": {"ppl": 3.9, "ppl_stderr": 0.08, "acc": 0.7,
                                       "acc_stderr": 0.006},
                    "piqa": {"acc": 0.76, "acc_stderr": 0.01, "acc_norm": 0.77,
                             "acc_norm_stderr": 0.0098}},
        "versions": {"lambada_openai": 0, "piqa": 0},
        "config": {"model": "gpt2", "model_args": "pretrained=EleutherAI/pythia-v1.1-12b,"
                   "revision=step143000", "num_fewshot": 0, "batch_size": 16},
    }
    return {"v04": v04, "v03": v03}


def generated_samples() -> list[dict[str, Any]]:
    """Sample lines in lm-eval's samples_<task>_<timestamp>.jsonl layout."""
    return [{"doc_id": i, "doc": {"question": f"{i}+{i}=?", "answer": 0},
             "target": "0", "arguments": [[f"{i}+{i}=?", " A"]], "resps": [[["-1.5", False]]],
             "filtered_resps": [["-1.5", False]], "filter": "none", "metrics": ["acc"],
             "doc_hash": "ab" * 32, "prompt_hash": "cd" * 32, "target_hash": "ef" * 32,
             "acc": float(i % 3 == 0)} for i in range(12)]


@pytest.fixture(scope="module")
def inspect_bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    made = generated_inspect(tmp_path_factory.mktemp("inspect_gen"))
    return {"json": {k: v for k, v in made.items() if k.endswith(".json")},
            "eval": {k: v for k, v in made.items() if k.endswith(".eval")}}


# ------------------------------------------------------------------------------ strategies

@st.composite
def json_log(draw: st.DrawFn, bases: dict[str, bytes], focus: tuple[str, ...]) -> bytes:
    """A JSON document from one of `bases`, mutated as a tree and then as bytes."""
    name = draw(st.sampled_from(sorted(bases)))
    doc = json.loads(bases[name])
    if draw(st.integers(0, 5)):
        doc = draw(mutate_json(doc, focus))
    text = dump(doc, pretty=draw(st.booleans()), ascii=draw(st.booleans()))
    data = text.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        data = draw(mutate_bytes(data))
    return data


@st.composite
def eval_zip(draw: st.DrawFn, bases: dict[str, bytes]) -> bytes:
    """An .eval zip from one of `bases`: a member's JSON mutated, a member dropped, repeated,
    renamed or replaced by non-JSON, or the zip's bytes truncated or flipped."""
    name = draw(st.sampled_from(sorted(bases)))
    members = zip_members(bases[name])
    kind = draw(st.sampled_from(["json", "json", "json", "drop", "repeat", "rename", "garbage",
                                 "bytes", "none"]))
    if kind in ("json", "garbage"):
        names = [n for n, _ in members]
        pick = "header.json" if "header.json" in names and draw(st.booleans()) else \
            draw(st.sampled_from(names))
        i = names.index(pick)
        if kind == "json":
            doc = draw(mutate_json(json.loads(members[i][1]), INSPECT_FOCUS))
            members[i] = (pick, dump(doc, pretty=False).encode("utf-8"))
        else:
            members[i] = (pick, draw(st.sampled_from([b"", b"{", b"null", b"[]", b"\x00\xff"])))
    elif kind == "drop":
        del members[draw(st.integers(0, len(members) - 1))]
    elif kind == "repeat":
        members.append(members[draw(st.integers(0, len(members) - 1))])
    elif kind == "rename":
        i = draw(st.integers(0, len(members) - 1))
        members[i] = ("x/" + members[i][0], members[i][1])
    data = make_zip(members)
    if kind == "bytes":
        data = draw(mutate_bytes(data))
    return data


@st.composite
def samples_jsonl(draw: st.DrawFn, bases: dict[str, list[dict[str, Any]]]) -> bytes:
    """A samples JSONL from one of `bases`: a line's object mutated, lines dropped, repeated or
    replaced by non-objects, then byte faults."""
    lines: list[Any] = list(bases[draw(st.sampled_from(sorted(bases)))])
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        kind = draw(st.sampled_from(["mutate", "mutate", "drop", "repeat", "garbage", "blank"]))
        if not lines:
            break
        if kind == "mutate" and isinstance(lines[i], dict):
            lines[i] = Raw(dump(draw(mutate_json(lines[i], ("doc_id", "metrics", "filter",
                                                            "acc", "exact_match"))),
                                pretty=False))
        elif kind == "drop":
            del lines[i]
        elif kind == "repeat":
            lines.insert(i, lines[i])
        elif kind == "garbage":
            lines[i] = Raw(draw(st.sampled_from(["{", "[]", "null", "1", '"x"', "{}",
                                                 '{"doc_id": 1, "acc": NaN}'])))
        else:
            lines.insert(i, Raw(""))
    ascii = draw(st.booleans())
    text = "\n".join(dump(x, pretty=False, ascii=ascii) for x in lines) + "\n"
    data = text.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        data = draw(mutate_bytes(data))
    return data


def jsonl_place(e: TripwireError, data: bytes) -> None:
    """A samples line that is not JSON is named by its line number, counted as an editor
    counts lines (by newline); a file whose every line is JSON is never called invalid JSON."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    if "\x00" in text[:8192]:
        return
    bad = None
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError:
            bad = n
            break
    if "invalid JSON" in e.message:
        assert bad is not None, f"every line is JSON, yet: {e}"
        assert e.where == f"line {bad}", f"wrong line: {e} (the first bad line is {bad})"


# ------------------------------------------------------------------------------ tests

def _inspect_json(tmp_path: Path, bases: dict[str, bytes], examples: int, report: bool) -> None:
    h = Harness(tmp_path, "Inspect .json")
    run(st.tuples(json_log(Bases(bases), INSPECT_FOCUS), st.booleans()), examples,
        lambda x: h.feed("log.json", x[0], samples=x[1], place=json_syntax_place))
    finish(h, examples, report)


def _inspect_eval(tmp_path: Path, bases: dict[str, bytes], examples: int, report: bool) -> None:
    h = Harness(tmp_path, "Inspect .eval")
    run(st.tuples(eval_zip(Bases(bases)), st.booleans()), examples,
        lambda x: h.feed("log.eval", x[0], samples=x[1]))
    finish(h, examples, report)


def _lmeval_results(tmp_path: Path, bases: dict[str, bytes], siblings: dict[str, bytes],
                    examples: int, report: bool) -> None:
    """Results files named as lm-eval names them; with --samples the samples file of the same
    run lies beside them."""
    h = Harness(tmp_path, "lm-eval results")
    run(st.tuples(json_log(Bases(bases), LMEVAL_FOCUS), st.booleans()), examples,
        lambda x: h.feed(f"results_{TS}.json", x[0], samples=x[1],
                         siblings=siblings if x[1] else None, place=json_syntax_place))
    finish(h, examples, report)


def _lmeval_samples(tmp_path: Path, bases: dict[str, list[dict[str, Any]]], examples: int,
                    report: bool) -> None:
    """Samples files on their own (the model is the folder name, lm-eval's layout)."""
    h = Harness(tmp_path, "lm-eval samples")
    run(samples_jsonl(Bases(bases)), examples,
        lambda data: h.feed(f"samples_tiny_add_{TS}.jsonl", data,
                            folder="EleutherAI__pythia-160m", samples=True, place=jsonl_place))
    finish(h, examples, report)


def _real_inspect(ext: str) -> dict[str, bytes]:
    folder = _shared("inspect_ai")
    return {p.name: p.read_bytes() for p in sorted(folder.glob(f"*.{ext}"))}


def _real_lmeval() -> tuple[dict[str, bytes], dict[str, bytes], dict[str, list[Any]]]:
    """Real results (v0.4 Mamba-2 and Llama-3 asdiv, v0.3 Pythia), the asdiv samples file
    (its first 40 lines) renamed to the fuzzed results' timestamp, and those lines."""
    lm = _shared("lm_eval_harness")
    results = {p.name: p.read_bytes() for p in sorted(lm.glob("*/*results_*.json"))}
    pythia = (SHARED / "pythia").resolve()
    for p in sorted(pythia.glob("pythia-v1/pythia-70m*/*/*.json"))[:3]:
        results[p.name] = p.read_bytes()
    asdiv = next(lm.glob("llama3_8b_instruct_asdiv/samples_asdiv_*.jsonl"))
    lines = asdiv.read_bytes().splitlines()[:40]
    sibling = {f"samples_asdiv_{TS}.jsonl": b"\n".join(lines) + b"\n"}
    return results, sibling, {"asdiv": [json.loads(x) for x in lines]}


def _generated_lmeval() -> tuple[dict[str, bytes], dict[str, bytes], dict[str, list[Any]]]:
    docs = generated_lmeval()
    rows = generated_samples()
    sibling = {f"samples_tiny_add_{TS}.jsonl":
               ("\n".join(json.dumps(r) for r in rows) + "\n").encode()}
    return ({k: json.dumps(v, indent=2).encode() for k, v in docs.items()}, sibling,
            {"tiny_add": rows})


@pytest.mark.parametrize("source", ["real", "generated"])
def test_inspect_json_fuzz_fast(tmp_path: Path, inspect_bases, source: str) -> None:
    bases = _real_inspect("json") if source == "real" else inspect_bases["json"]
    _inspect_json(tmp_path, bases, FAST // 2, report=False)


@pytest.mark.parametrize("source", ["real", "generated"])
def test_inspect_eval_fuzz_fast(tmp_path: Path, inspect_bases, source: str) -> None:
    bases = _real_inspect("eval") if source == "real" else inspect_bases["eval"]
    _inspect_eval(tmp_path, bases, FAST // 2, report=False)


@pytest.mark.parametrize("source", ["real", "generated"])
def test_lmeval_results_fuzz_fast(tmp_path: Path, source: str) -> None:
    results, sibling, _ = _real_lmeval() if source == "real" else _generated_lmeval()
    _lmeval_results(tmp_path, results, sibling, FAST // 2, report=False)


@pytest.mark.parametrize("source", ["real", "generated"])
def test_lmeval_samples_fuzz_fast(tmp_path: Path, source: str) -> None:
    _, _, lines = _real_lmeval() if source == "real" else _generated_lmeval()
    _lmeval_samples(tmp_path, lines, FAST // 2, report=False)


@pytest.mark.reliability
def test_inspect_json_fuzz_long(tmp_path: Path, inspect_bases) -> None:
    bases = {**inspect_bases["json"], **_real_inspect("json")}
    _inspect_json(tmp_path, bases, LONG, report=True)


@pytest.mark.reliability
def test_inspect_eval_fuzz_long(tmp_path: Path, inspect_bases) -> None:
    bases = {**inspect_bases["eval"], **_real_inspect("eval")}
    _inspect_eval(tmp_path, bases, LONG, report=True)


@pytest.mark.reliability
def test_lmeval_results_fuzz_long(tmp_path: Path) -> None:
    real, real_sib, _ = _real_lmeval()
    gen, gen_sib, _ = _generated_lmeval()
    _lmeval_results(tmp_path, {**real, **gen}, {**real_sib, **gen_sib}, LONG, report=True)


@pytest.mark.reliability
def test_lmeval_samples_fuzz_long(tmp_path: Path) -> None:
    _, _, real = _real_lmeval()
    _, _, gen = _generated_lmeval()
    _lmeval_samples(tmp_path, {**real, **gen}, LONG, report=True)
