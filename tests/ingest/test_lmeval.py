"""lm-evaluation-harness readers on real files: the public v0.4 results (Mamba-2, Llama-3
asdiv with its samples), the v0.3 Pythia evals, and a run of lm-eval's dummy model made here."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tripwire.errors import InputError
from tripwire.ingest import detect_format, read_file
from tripwire.ingest.lmeval import (
    benchmark_id,
    model_name,
    read_lmeval_results,
    read_lmeval_samples,
    sniff_lmeval,
    sniff_lmeval_samples,
)
from tripwire.register import open_register

ZERO_SHOT_130M = (
    "mamba2_zero_shot/state-spaces__mamba2-130m_results_2025-03-02T06-44-13.841373.json"
)
MMLU_130M = "mamba2_mmlu_5shot/state-spaces__mamba2-130m_results_2025-03-05T23-57-44.248635.json"
ASDIV = "llama3_8b_instruct_asdiv/results_2024-08-21T03-44-09.494230.json"
ASDIV_SAMPLES = "llama3_8b_instruct_asdiv/samples_asdiv_2024-08-21T03-44-09.494230.jsonl"
PYTHIA_12B = "pythia-v1/pythia-12b/zero-shot/12b_step143000.json"


def read(path: Path, *, samples: bool = False):
    return read_lmeval_results(path, path.read_bytes(), samples=samples)


def by_key(batch):
    return {(r.benchmark, r.metric, r.filter): r for r in batch.results}


@pytest.fixture(scope="module")
def lm(shared_data: Path) -> Path:
    folder = shared_data / "lm_eval_harness"
    if not folder.is_dir():
        pytest.skip(f"lm-eval result files not found at {folder} (see shared/data/SOURCES.md)")
    return folder


@pytest.fixture(scope="module")
def pythia(shared_data: Path) -> Path:
    folder = shared_data / "pythia"
    if not folder.is_dir():
        pytest.skip(f"Pythia eval files not found at {folder} (see shared/data/SOURCES.md)")
    return folder


# -- v0.4, public files ----------------------------------------------------------------------


def test_mamba2_zero_shot_values_and_glue_hierarchy(lm: Path) -> None:
    b = read(lm / ZERO_SHOT_130M)
    assert b.kind == "lm-eval" and b.skipped is None and b.warnings == []
    r = by_key(b)
    wino = r[("winogrande", "acc", "none")]
    assert wino.value == 0.5256511444356748 and wino.stderr == 0.014033980956108557
    assert wino.samples == 1267 and wino.model == "state-spaces/mamba2-130m"
    assert wino.created_at == dt.datetime.fromtimestamp(1740897440.8710754, dt.UTC)
    assert wino.extra["model_num_parameters"] == 128_989_632 and wino.extra["n_shot"] == 0
    ppl = r[("lambada_openai", "perplexity", "none")]
    assert ppl.value == 16.828895401520434 and ppl.stderr == 0.5460126284644389
    assert ppl.extra["higher_is_better"] is False
    glue = r[("glue", "acc", "none")]
    assert glue.value == 0.37075690805145306 and glue.extra["group"] is True
    assert r[("mrpc", "f1", "none")].value == 0.8134110787172012
    assert r[("cola", "mcc", "none")].value == 0.0
    # every metric of the 17 result keys, no stderr rows
    raw = json.loads((lm / ZERO_SHOT_130M).read_text())["results"]
    expected = sum(1 for res in raw.values() for k in res if "," in k and "_stderr," not in k)
    assert len(b.results) == expected == 27
    bench = {x.id: x for x in b.benchmarks}
    assert len(bench) == 17
    glue_subtasks = {"cola", "mnli", "mnli_mismatch", "mrpc", "qnli", "qqp", "rte", "sst2", "wnli"}
    assert {k for k, x in bench.items() if x.parent == "glue"} == glue_subtasks
    assert bench["glue"].parent is None and bench["lambada_openai"].higher_is_better is False
    assert bench["hellaswag"].samples == 10042 and bench["arc_challenge"].dataset == (
        "allenai/ai2_arc:ARC-Challenge"
    )


def test_mamba2_mmlu_groups_subtasks_and_chance(lm: Path) -> None:
    b = read(lm / MMLU_130M)
    r = by_key(b)
    mmlu = r[("mmlu", "acc", "none")]
    assert mmlu.value == 0.260361771827375 and mmlu.stderr == 0.0036910911166508076
    assert mmlu.samples == 14042 and mmlu.extra["n_shot"] == 5  # the file says 0 for the group
    assert r[("mmlu_humanities", "acc", "none")].value == 0.24484590860786398
    logic = r[("mmlu_formal_logic", "acc", "none")]
    assert (logic.value, logic.stderr, logic.samples) == (
        0.23015873015873015,
        0.03764950879790606,
        126,
    )
    bench = {x.id: x for x in b.benchmarks}
    assert len(bench) == len(b.results) == 62
    assert bench["mmlu_anatomy"].parent == "mmlu_stem" and bench["mmlu_stem"].parent == "mmlu"
    assert (
        sum(
            x.parent in {"mmlu_stem", "mmlu_other", "mmlu_social_sciences", "mmlu_humanities"}
            for x in bench.values()
        )
        == 57
    )
    assert bench["mmlu"].chance == 0.25 and bench["mmlu_anatomy"].chance == 0.25
    assert bench["mmlu_anatomy"].dataset == "hails/mmlu_no_train:anatomy"
    assert bench["mmlu"].samples == 14042


def test_mamba2_series_model_sizes(lm: Path) -> None:
    sizes = {}
    for f in sorted((lm / "mamba2_zero_shot").glob("*.json")):
        res = read(f).results[0]
        sizes[res.model] = res.extra["model_num_parameters"]
    assert sizes == {
        "state-spaces/mamba2-130m": 128_989_632,
        "state-spaces/mamba2-370m": 368_346_624,
        "state-spaces/mamba2-780m": 780_161_280,
        "state-spaces/mamba2-1.3b": 1_343_757_312,
        "state-spaces/mamba2-2.7b": 2_702_599_680,
    }


def test_asdiv_results_with_samples_beside(lm: Path) -> None:
    b = read(lm / ASDIV, samples=True)
    assert len(b.results) == 1
    acc = b.results[0]
    assert (acc.model, acc.benchmark, acc.metric, acc.filter) == (
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "asdiv",
        "acc",
        "none",
    )
    assert acc.value == 0.92 and acc.stderr == 0.0387561713321444
    assert acc.samples == 50 and b.benchmarks[0].samples == 2305 and acc.extra["n_shot"] == 8
    scores = b.samples[0]
    assert len(scores) == 50 and {s.sample_id for s in scores} == {str(i) for i in range(50)}
    assert math.fsum(s.score for s in scores) / 50 == pytest.approx(0.92, abs=1e-12)
    assert read(lm / ASDIV).samples == {}


def test_samples_file_beside_its_results_is_skipped(lm: Path) -> None:
    p = lm / ASDIV_SAMPLES
    b = read_lmeval_samples(p, p.read_bytes())
    assert b.kind == "lm-eval-samples" and b.results == []
    assert "results_2024-08-21T03-44-09.494230.json" in b.skipped and "--samples" in b.skipped


def test_samples_file_alone_gives_lm_evals_mean_and_stderr(lm: Path, tmp_path: Path) -> None:
    folder = tmp_path / "meta-llama__Meta-Llama-3-8B-Instruct"
    folder.mkdir()
    p = folder / Path(ASDIV_SAMPLES).name
    shutil.copyfile(lm / ASDIV_SAMPLES, p)
    b = read_lmeval_samples(p, p.read_bytes())
    (acc,) = b.results
    assert acc.model == "meta-llama/Meta-Llama-3-8B-Instruct" and acc.benchmark == "asdiv"
    # the same figures lm-eval wrote into the results file of that run
    assert acc.value == pytest.approx(0.92, abs=1e-12)
    assert acc.stderr == pytest.approx(0.0387561713321444, rel=1e-12)
    assert acc.samples == 50 and len(b.samples[0]) == 50
    assert any("folder name" in w for w in b.warnings)
    assert read_lmeval_samples(p, p.read_bytes(), samples=False).samples == {}


# -- v0.3, Pythia ----------------------------------------------------------------------------


def test_pythia_v03_values_and_checkpoint_model(pythia: Path) -> None:
    b = read(pythia / PYTHIA_12B)
    assert b.skipped is None
    r = by_key(b)
    arc = r[("arc_easy", "acc", None)]
    assert arc.model == "EleutherAI/pythia-v1.1-12b@step143000"
    assert arc.original_model == arc.model and arc.extra["revision"] == "step143000"
    assert arc.value == 0.7024410774410774 and arc.stderr == 0.009381226721815544
    assert r[("arc_easy", "acc_norm", None)].value == 0.6359427609427609
    ppl = r[("lambada_openai", "ppl", None)]
    assert ppl.value == 3.9236415916124625 and ppl.extra["higher_is_better"] is False
    assert r[("sciq", "acc", None)].value == 0.902 and r[("winogrande", "acc", None)].value == (
        0.6393054459352802
    )
    hs = r[("hendryckstest-high_school_government_and_politics", "acc", None)]
    assert hs.value == 0.22279792746113988 and hs.original_benchmark == (
        "hendrycksTest-high_school_government_and_politics"
    )
    assert len(b.results) == 172 and len(b.benchmarks) == 87
    assert arc.created_at is None and arc.samples is None and arc.extra["n_shot"] == 0


def test_every_pythia_file_reads(pythia: Path) -> None:
    files = sorted(pythia.rglob("*.json"))
    assert len(files) == 123
    models = set()
    for f in files:
        b = read(f)
        assert b.results and not b.warnings, f
        models.add(b.results[0].model)
    assert "EleutherAI/pythia-v1.1-1.4b@step0" in models and "facebook/opt-125m" in models
    assert "bigscience/bloom-560m" in models
    # 27 checkpoints x 3 trajectories, the other 13 final models, 8 OPT, 5 BLOOM
    assert len(models) == 27 * 3 + 13 + 8 + 5


# -- a real run made here ----------------------------------------------------------------------


def test_dummy_run_group_results_and_samples(lmeval_run) -> None:
    raw = json.loads(lmeval_run.results.read_text())
    b = read(lmeval_run.results, samples=True)
    assert b.warnings == []
    r = by_key(b)
    for task in ("tiny_add", "tiny_mul", "tiny_arith"):
        res = raw["results"][task]
        got = r[(task, "acc", "none")]
        assert got.value == res["acc,none"] and got.stderr == res["acc_stderr,none"]
        assert got.model == raw["model_name"]
    assert r[("tiny_mul", "acc_norm", "none")].value == raw["results"]["tiny_mul"]["acc_norm,none"]
    bench = {x.id: x for x in b.benchmarks}
    assert bench["tiny_add"].parent == bench["tiny_mul"].parent == "tiny_arith"
    assert bench["tiny_add"].chance == 0.25  # four literal choices
    assert bench["tiny_mul"].chance is None and bench["tiny_arith"].chance is None
    group = r[("tiny_arith", "acc", "none")]
    assert group.samples == 19 and group.extra["group"] is True
    # per-sample scores: each result's mean is the file's figure; the group is size-weighted
    idx = {(x.benchmark, x.metric): i for i, x in enumerate(b.results)}
    for task, n in (("tiny_add", 12), ("tiny_mul", 7)):
        scores = b.samples[idx[(task, "acc")]]
        assert len(scores) == n
        assert math.fsum(s.score for s in scores) / n == pytest.approx(
            raw["results"][task]["acc,none"], abs=1e-12
        )
    weighted = (
        12 * r[("tiny_add", "acc", "none")].value + 7 * r[("tiny_mul", "acc", "none")].value
    ) / 19
    assert group.value == pytest.approx(weighted, abs=1e-12)
    assert idx[("tiny_arith", "acc")] not in b.samples  # a group has no samples file of its own


def test_dummy_run_through_the_dispatcher(lmeval_run) -> None:
    head = lmeval_run.results.read_bytes()[:65536]
    assert detect_format(lmeval_run.results, head) == "lm-eval"
    sample = lmeval_run.samples["tiny_add"]
    assert detect_format(sample, sample.read_bytes()[:65536]) == "lm-eval-samples"
    b = read_file(lmeval_run.results, samples=True)
    assert b.kind == "lm-eval" and len(b.samples) == 3  # tiny_add acc; tiny_mul acc, acc_norm
    skipped = read_file(sample)
    assert skipped.skipped and lmeval_run.results.name in skipped.skipped


# -- naming and detection --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("inspect_evals/mmlu_0_shot", "mmlu_0_shot"),
        ("hendrycksTest-anatomy", "hendryckstest-anatomy"),
        ("mmlu_stem", "mmlu_stem"),
        (" GPQA Diamond ", "gpqa_diamond"),
    ],
)
def test_benchmark_id(task: str, expected: str) -> None:
    assert benchmark_id(task) == expected


def test_model_name_rules() -> None:
    assert model_name(
        {"model_args": "pretrained=EleutherAI/pythia-v1.1-12b,revision=step143000"}
    ) == (
        "EleutherAI/pythia-v1.1-12b@step143000",
        "step143000",
    )
    v04 = {"model_args": "pretrained=state-spaces/mamba2-130m", "model_revision": "main"}
    assert model_name(v04, "state-spaces/mamba2-130m") == ("state-spaces/mamba2-130m", None)
    assert model_name({"model_args": {"model": "gpt-4o"}}) == ("gpt-4o", None)
    assert model_name({"model_args": "engine=davinci"}) == ("davinci", None)
    with pytest.raises(InputError) as e:
        model_name({"model": "hf", "model_args": "dtype=float32"}, source="r.json")
    assert "--model" in str(e.value) and e.value.where == "config.model_args"


def test_sniffers(lm: Path, pythia: Path, shared_data: Path) -> None:
    for f in [lm / ZERO_SHOT_130M, lm / ASDIV, pythia / PYTHIA_12B]:
        head = f.read_bytes()[:4096]
        assert sniff_lmeval(head, f) and not sniff_lmeval_samples(head, f)
    s = lm / ASDIV_SAMPLES
    assert sniff_lmeval_samples(s.read_bytes()[:4096], s) and not sniff_lmeval(
        s.read_bytes()[:4096]
    )
    inspect_json = shared_data / "inspect_ai" / "log_formats.json"
    assert not sniff_lmeval(inspect_json.read_bytes()[:4096])
    assert not sniff_lmeval_samples(inspect_json.read_bytes()[:4096])
    assert sniff_lmeval(b'{"config": {"model": "hf", "model_args": "pretrained=x"}, "results": {}}')
    assert not sniff_lmeval(b"model,benchmark,value\nx,y,1\n")


# -- bad input -------------------------------------------------------------------------------


def bad(tmp_path: Path, name: str, data: bytes, *, reader=read_lmeval_results) -> InputError:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(InputError) as e:
        reader(p, data)
    assert e.value.source == str(p)
    assert "\n" not in str(e.value)
    return e.value


def test_bad_results_files(tmp_path: Path, lm: Path) -> None:
    e = bad(tmp_path, "results_empty.json", b"")
    assert "empty" in e.message
    e = bad(tmp_path, "results_bin.json", bytes(range(256)) * 8)
    assert "binary" in e.message
    e = bad(tmp_path, "results_bad.json", b'{"results": {"a": {"acc,none": 0.5,}}}')
    assert e.message.startswith("invalid JSON") and e.where == "line 1 column 36"
    text = (lm / ASDIV).read_bytes()
    e = bad(tmp_path, "results_trunc.json", text[: len(text) // 2])
    assert e.message.startswith("invalid JSON") and e.where.startswith("line ")
    e = bad(tmp_path, "results_list.json", b"[1, 2]")
    assert "top level is a list" in e.message
    e = bad(tmp_path, "results_none.json", b'{"version": 2, "status": "success"}')
    assert e.where == "results" and "no `results`" in e.message
    e = bad(tmp_path, "results_schema.json", b'{"results": {"asdiv": [0.92]}}')
    assert e.where == "results.asdiv" and "not an lm-eval results file" in e.message
    e = bad(tmp_path, "results_shots.json", b'{"results": {}, "group_subtasks": {"g": "abc"}}')
    assert e.where == "group_subtasks.g"
    e = bad(
        tmp_path,
        "results_nomodel.json",
        b'{"results": {"t": {"acc,none": 0.5}}, "config": {"model": "hf", "model_args": ""}}',
    )
    assert e.where == "config.model_args" and "--model" in str(e)


def test_bad_samples_files(tmp_path: Path) -> None:
    name = "samples_t_2024-01-01T00-00-00.000000.jsonl"
    e = bad(tmp_path, name, b"", reader=read_lmeval_samples)
    assert "empty" in e.message
    lines = b'{"doc_id": 0, "acc": 1}\n{"doc_id": 1, "acc": 0}\n{"doc_id": 2, "acc": \n'
    e = bad(tmp_path, name, lines, reader=read_lmeval_samples)
    assert e.where == "line 3" and e.message.startswith("invalid JSON")
    e = bad(tmp_path, name, b'{"doc_id": 0, "acc": 1}\n[1]\n', reader=read_lmeval_samples)
    assert e.where == "line 2" and "doc_id" in e.message
    e = bad(tmp_path, "renamed.jsonl", b'{"doc_id": 0, "acc": 1}\n', reader=read_lmeval_samples)
    assert "samples_<task>_<timestamp>.jsonl" in e.message


def test_non_numeric_metric_is_a_warning_not_a_row(tmp_path: Path) -> None:
    doc = {
        "results": {"t": {"acc,none": 0.5, "acc_stderr,none": "N/A", "bleu,none": "oops"}},
        "config": {"model_args": "pretrained=org/m"},
    }
    p = tmp_path / "results_2024-01-01T00-00-00.000000.json"
    data = json.dumps(doc).encode()
    b = read_lmeval_results(p, data)
    (acc,) = b.results
    assert acc.value == 0.5 and acc.stderr is None and acc.model == "org/m"
    assert b.warnings == ["t bleu,none: 'oops' is not a number; not stored"]


# -- storage -----------------------------------------------------------------------------------


def _stored(reg) -> list[tuple]:  # noqa: ANN001
    q = sa.text(
        "SELECT m.name, e.benchmark_id, e.metric, e.value, e.stderr, e.samples, e.created_at, "
        "e.original_model, e.original_benchmark, e.filter, e.variant, e.extra "
        "FROM eval_results e JOIN models m ON m.id = e.model_id"
    )
    with reg.read() as conn:
        return sorted((tuple(r) for r in conn.execute(q)), key=repr)


@pytest.mark.parametrize("source", ["dummy run", "public mmlu"])
def test_columns_and_objects_store_the_same_rows(
    source: str, lmeval_run, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The reader's columns (the bulk path) and the same results as objects are stored as
    identical rows: time, filter and extra included."""
    path = lmeval_run.results if source == "dummy run" else request.getfixturevalue("lm") / MMLU_130M
    columns = read(path)
    assert columns.table is not None
    objects = read(path)
    objects.results  # noqa: B018 - turns the columns into objects
    assert objects.table is None
    stored = []
    for name, batch in (("columns", columns), ("objects", objects)):
        reg = open_register(str(tmp_path / f"{name}.db"), create=True)
        reg.ingest(batch)
        stored.append(_stored(reg))
        reg.close()
    assert stored[0] == stored[1]
    rows = stored[0]
    assert len(rows) == len(objects.results) > 0
    raw = json.loads(path.read_text())
    created = dt.datetime.fromtimestamp(raw["date"], dt.UTC).replace(tzinfo=None)
    for r in rows:
        assert r[6] == created.strftime("%Y-%m-%d %H:%M:%S.%f")
        assert r[9] is not None and r[7] == r[0]
        extra = json.loads(r[11])
        assert extra["higher_is_better"] is True and "n_shot" in extra


def test_a_list_where_a_shot_count_belongs_is_no_shot_count(tmp_path: Path) -> None:
    """Was a TypeError traceback (found by fuzzing): a subtask's `n-shot` that is a list,
    inside a group whose shots are its subtasks'."""
    doc = {
        "results": {"a": {"acc,none": 0.6}, "b": {"acc,none": 0.4}, "g": {"acc,none": 0.5}},
        "group_subtasks": {"g": ["a", "b"]},
        "n-shot": {"a": [], "b": 5},
        "config": {"model_args": "pretrained=m"},
    }
    p = tmp_path / "results_x.json"
    p.write_text(json.dumps(doc))
    extra = {r.benchmark: r.extra for r in read(p).results}
    assert "n_shot" not in extra["a"] and extra["b"]["n_shot"] == 5
    assert "n_shot" not in extra["g"]
