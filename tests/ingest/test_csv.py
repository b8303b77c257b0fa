"""CSV readers: tripwire's own tables, Epoch AI's export unedited, and bad input that says
where it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write

from tripwire import ingest
from tripwire.errors import InputError
from tripwire.ingest.csv import benchmark_id, csv_kind, read_loss_csv


def test_kind_is_told_from_the_header() -> None:
    assert csv_kind(["name", "params"]) == "models-csv"
    assert csv_kind(["model", "benchmark", "value"]) == "evals-csv"
    assert csv_kind(["params_N", "tokens_D", "flops_C", "loss"]) == "loss-csv"
    assert csv_kind(["Model", "Domain", "Publication date", "Parameters"]) == "epoch-csv"
    assert csv_kind(["foo", "bar"]) is None


def test_epoch_export_reads_unedited(shared_data: Path) -> None:
    b = ingest.read_file(shared_data / "epoch_ai" / "notable_ai_models_2025-02-24.csv")
    assert b.kind == "epoch-csv" and len(b.models) == 895
    by = {m.name: m for m in b.models}
    assert by["Grok-3"].compute_flop == 4.64e26 and by["Grok-3"].compute_method == "given"
    assert by["GPT-4o"].compute_flop == 3.810001e25  # as exported (SOURCES.md rounds to 3.8e25)
    assert str(by["Grok-3"].release_date) == "2025-02-17"
    assert by["DeepSeek-R1"].parent == "DeepSeek-V3" and by["DeepSeek-R1"].cost_usd == 6.77e6
    over = [m for m in b.models if m.compute_method == "given" and m.compute_flop > 1e25]
    # Epoch's own count for this snapshot: 17 models at or above 1e25 given (SOURCES.md).
    assert (
        len([m for m in b.models if m.compute_method == "given" and m.compute_flop >= 1e25]) == 17
    )
    assert len(over) <= 17
    # every Epoch column is recognised; the one note is about blank Confidence labels
    assert [w for w in b.warnings
            if "have no Confidence" not in w and "Finetune compute" not in w] == []
    # Finetune compute becomes a ledger: Epoch's training compute is the total (its docs),
    # so pre-training is the rest; rows whose total is no larger than the fine-tuning are named.
    r1 = [e for e in b.ledger if e.model == "DeepSeek-R1"]
    assert [(e.component, e.flop) for e in r1] == [("pre-training", pytest.approx(5.17e24 - 6.1e23)),
                                                    ("fine-tuning", 6.1e23)]
    assert sum(e.flop for e in r1) == pytest.approx(by["DeepSeek-R1"].compute_flop)
    skipped = next(w for w in b.warnings if "Finetune compute" in w)
    assert "PeptideBERT" in skipped and "DeepSeek-R1" not in skipped


def test_eci_export_reads_unedited(shared_data: Path) -> None:
    b = ingest.read_file(shared_data / "epoch_ai" / "epoch_capabilities_index_2026-03-09.csv")
    assert b.kind == "epoch-csv" and len(b.models) == 583


def test_chinchilla_points(shared_data: Path) -> None:
    pts = read_loss_csv(shared_data / "epoch_chinchilla" / "chinchilla_fig4_N_D_C_loss.csv")
    assert len(pts) == 245 and min(p.loss for p in pts) == pytest.approx(2.077, abs=1e-3)
    svg = ingest.read_file(shared_data / "epoch_chinchilla" / "svg_extracted_data.csv")
    assert len(svg.loss) == 245
    p = svg.loss[0]
    assert p.tokens == pytest.approx(p.compute_flop / (6 * p.params))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name,params\nfoo,abc\n",
            "x.csv:2: column 'params': 'abc' is not a number (write e.g. 7e9)",
        ),
        (
            "name,Parameters\na,1\nfoo,abc\n",
            "x.csv:3: column 'Parameters': 'abc' is not a number (write e.g. 7e9)",
        ),
        ("name,compute\nfoo,-1e25\n", "x.csv:2: column 'compute': '-1e25' is negative"),
        ("name,compute\nfoo,nan\n", "is not a finite number"),
        ("name,compute\nfoo,1e400\n", "is not a finite number"),
        (
            "name,release_date\nfoo,March 2023\n",
            "x.csv:2: column 'release_date': 'March 2023' is not a date (write YYYY-MM-DD",
        ),
        ("name,variant\nfoo,helpful\n", "is not a variant"),
        ("name,params\n,1e9\n", "x.csv:2: column 'name' is empty"),
        ("model,benchmark,value\nm,mmlu,\n", "x.csv:2: column 'value' is empty"),
        ("model,benchmark,value,samples\nm,mmlu,0.5,12.5\n", "is not a count"),
        ("name,params\nfoo,1e9\nfoo,2e9\n", "appears twice with different values (lines 2 and 3)"),
        ("name,name\nfoo,bar\n", "column 'name' appears more than once"),
        ("a,b\n1,2\n", "x.csv:1: the header matches no known table"),
        ("name,params\n", "header but no data rows"),
        ("params,loss\n1e9,\n", "column 'loss' is empty"),
        ('name,params\n"foo,1e9\n', "x.csv"),
    ],
)
def test_bad_cells_name_file_line_column_and_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        ingest.read_file(write(tmp_path / "x.csv", text))
    assert message in str(e.value).replace(str(tmp_path.resolve()) + "/", "").replace(
        str(tmp_path) + "/", ""
    )


def test_bom_crlf_and_semicolons(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_bytes("\ufeffname;params;tokens\r\nfoo;1e9;2e10\r\n".encode())
    b = ingest.read_file(p)
    assert b.models[0].name == "foo" and b.models[0].compute_flop == 6 * 1e9 * 2e10


def test_unknown_columns_are_a_warning(tmp_path: Path) -> None:
    b = ingest.read_file(write(tmp_path / "m.csv", "name,params,colour\nfoo,1e9,red\n"))
    assert b.warnings == ["unknown columns ignored: colour"]


def test_empty_binary_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        ingest.read_file(write(tmp_path / "e.csv", ""))
    (tmp_path / "b.csv").write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(InputError, match="b.csv"):
        ingest.read_file(tmp_path / "b.csv")
    with pytest.raises(InputError, match="no such file"):
        ingest.walk([tmp_path / "nope.csv"])


def test_benchmark_ids_are_normalised() -> None:
    assert benchmark_id("ARC-Challenge") == "arc_challenge"
    assert benchmark_id(" GPQA Diamond ") == "gpqa_diamond"


def test_benchmarks_table_declares_and_restates_chance_levels(tmp_path: Path) -> None:
    from tripwire.register import open_register

    assert csv_kind(["benchmark", "chance", "name"]) == "benchmarks-csv"
    db = str(tmp_path / "t.db")
    reg = open_register(db, create=True)
    try:
        reg.ingest_path(write(tmp_path / "e.csv", "model,benchmark,value\nm1,mybench,0.4\n"
                                                  "m1,truthfulqa,0.4\n"), new_models=True)
        assert reg.get_benchmark("mybench").chance is None
        reg.ingest_path(write(tmp_path / "b.csv",
                              "benchmark,chance,ceiling,samples,higher_is_better,source\n"
                              "mybench,0.25,0.9,400,true,our paper\n"
                              "truthfulqa,0.2,,,,\n"
                              "newbench,0.5,,,,\n"))
        b = reg.get_benchmark("mybench")
        assert (b.chance, b.ceiling, b.samples, b.source) == (0.25, 0.9, 400, "our paper")
        t = reg.get_benchmark("truthfulqa")  # the table's chance; the catalogue's other facts
        assert t.chance == 0.2 and t.samples == 817 and t.name == "TruthfulQA (MC2)"
        assert reg.get_benchmark("newbench").chance == 0.5
    finally:
        reg.close()


@pytest.mark.parametrize(("text", "message"), [
    ("benchmark,chance\nx,abc\n", "'chance': 'abc' is not a number"),
    ("benchmark,chance\nx,0.2\nx,0.3\n", "listed twice"),
    ("benchmark,chance,ceiling\nx,0.5,0.4\n", "not above the chance level"),
    ("benchmark,chance,higher_is_better\nx,0.5,maybe\n", "is not true or false"),
])
def test_bad_benchmarks_table_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    f = write(tmp_path / "b.csv", text)
    with pytest.raises(InputError, match=message) as e:
        ingest.read_file(f)
    assert e.value.where is not None
