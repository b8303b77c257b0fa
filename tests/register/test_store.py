"""The register on SQLite and PostgreSQL: ingest, idempotency, versions, conflicts,
all-or-nothing files, migrations that upgrade in place."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import write

from tripwire import ingest
from tripwire.errors import ConflictError, InputError, RegisterError
from tripwire.register import engine as eng
from tripwire.register import open_register
from tripwire.register.core import Register

MODELS = """name,organization,release_date,params,tokens,compute,multiplier,family,parent,variant,source
Llama-2-7b,Meta AI,2023-07-18,7e9,2e12,8.4e22,1,llama-2,,,Touvron et al. 2023
Mistral-7B,Mistral AI,2023-09-27,7.3e9,,,1,mistral,,,model card
tiny,Lab,2024-01-01,1e9,2e10,,2,,,,test
"""
EVALS = """model,benchmark,metric,value,stderr,samples
Llama-2-7b,MMLU,acc,0.458,0.004,14042
Mistral-7B,mmlu,acc,0.625,,14042
Llama-2-7b,gsm8k,exact_match,0.146,,1319
"""


def ingest_text(reg: Register, tmp_path: Path, name: str, text: str, *,
                new_models: bool = False, **kw):
    batch = ingest.read_file(write(tmp_path / name, text))
    batch.new_models = new_models
    return reg.ingest(batch, **kw)


def test_models_ingest_and_estimates(register: Register, tmp_path: Path) -> None:
    out = ingest_text(register, tmp_path, "models.csv", MODELS)
    assert (out.status, out.models) == ("stored", 3)
    by = {m.name: m for m in register.models()}
    assert by["Llama-2-7b"].compute_flop == pytest.approx(8.4e22)
    assert by["Llama-2-7b"].compute_method == "given" and not by["Llama-2-7b"].compute_estimated
    assert by["Mistral-7B"].compute_flop is None  # no D: nothing to estimate from
    assert by["tiny"].compute_flop == pytest.approx(6 * 1e9 * 2e10)
    assert by["tiny"].compute_estimated and by["tiny"].compute_method == "6ND"
    assert by["tiny"].effective_compute_flop == pytest.approx(2 * 6 * 1e9 * 2e10)
    assert str(by["Llama-2-7b"].release_date) == "2023-07-18"


def test_results_with_provenance_and_benchmark_catalogue(
    register: Register, tmp_path: Path
) -> None:
    ingest_text(register, tmp_path, "models.csv", MODELS)
    out = ingest_text(register, tmp_path, "evals.csv", EVALS)
    assert out.results == 3
    res = register.results(model="Llama-2-7b", benchmark="mmlu")
    assert len(res) == 1
    r = res[0]
    assert (r.value, r.stderr, r.samples, r.metric) == (0.458, 0.004, 14042, "acc")
    assert r.original_benchmark == "MMLU" and r.source_sha256 == out.sha256
    assert Path(r.source_file).name == "evals.csv"
    mmlu = register.get_benchmark("mmlu")
    assert mmlu.chance == 0.25 and mmlu.samples == 14042


def test_same_bytes_twice_adds_nothing(register: Register, tmp_path: Path) -> None:
    ingest_text(register, tmp_path, "models.csv", MODELS)
    first = ingest_text(register, tmp_path, "evals.csv", EVALS)
    before = register.counts()
    again = ingest_text(register, tmp_path, "evals.csv", EVALS)
    assert (first.status, again.status) == ("stored", "unchanged")
    assert register.counts() == before


def test_changed_file_is_a_new_version_and_old_evidence_stays(
    register: Register, tmp_path: Path
) -> None:
    ingest_text(register, tmp_path, "models.csv", MODELS)
    v1 = ingest_text(register, tmp_path, "evals.csv", EVALS)
    v2 = ingest_text(register, tmp_path, "evals.csv", EVALS.replace("0.458", "0.461"))
    assert (v1.version, v2.version) == (1, 2)
    values = sorted(r.value for r in register.results(model="Llama-2-7b", benchmark="mmlu"))
    assert values == [0.458, 0.461]
    assert [f.version for f in register.source_files() if f.path.endswith("evals.csv")] == [1, 2]


def test_conflicting_model_is_an_error_naming_the_field(register: Register, tmp_path: Path) -> None:
    ingest_text(register, tmp_path, "models.csv", MODELS)
    before = register.counts()
    changed = MODELS.replace("8.4e22", "9e22").replace("tiny,Lab", "tiny2,Lab")
    with pytest.raises(ConflictError) as e:
        ingest_text(register, tmp_path, "models2.csv", changed)
    assert "compute_flop" in str(e.value) and "Llama-2-7b" in str(e.value)
    assert "models2.csv:2" in str(e.value) and "--update" in str(e.value)
    assert register.counts() == before  # tiny2 was not stored either
    ingest_text(register, tmp_path, "models2.csv", changed, update=True)
    assert register.get_model("Llama-2-7b").compute_flop == pytest.approx(9e22)
    assert register.get_model("tiny2").params == 1e9


def test_a_failing_file_stores_nothing(
    register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after every row of a file was written (its results, the model it created,
    its record entry and evidence blocks: a results-only file's rows are written with its
    chunk's) rolls all of them back."""
    from tripwire.register import evidence

    ingest_text(register, tmp_path, "models.csv", MODELS)
    before = register.counts()
    written = evidence.Deferred.write

    def fail(self, conn):  # noqa: ANN001
        written(self, conn)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM eval_results")).scalar() == 4
        assert conn.execute(sa.text("SELECT COUNT(*) FROM record_entries")).scalar() == (
            before["record_entries"] + 1)
        raise RuntimeError("disk gone")

    monkeypatch.setattr(evidence.Deferred, "write", fail)
    with pytest.raises(RuntimeError):
        ingest_text(
            register, tmp_path, "evals.csv", EVALS + "brand-new-model,hellaswag,acc,0.5,,\n",
            new_models=True,
        )
    assert register.counts() == before


def test_unknown_names_list_close_ones(register: Register, tmp_path: Path) -> None:
    ingest_text(register, tmp_path, "models.csv", MODELS)
    with pytest.raises(InputError, match="Llama-2-7b"):
        register.get_model("Llama-2-7")
    with pytest.raises(InputError, match="no benchmark"):
        register.get_benchmark("mmlux")


def test_aliases_map_log_names(register: Register, tmp_path: Path) -> None:
    ingest_text(register, tmp_path, "models.csv", MODELS)
    register.add_alias("model", "meta-llama/Llama-2-7b-hf", "Llama-2-7b")
    ingest_text(
        register,
        tmp_path,
        "e.csv",
        "model,benchmark,value\nmeta-llama/Llama-2-7b-hf,arc_challenge,0.53\n"
        "mistralai/Mistral-7B,arc_challenge,0.6\n",
    )
    assert register.results(model="Llama-2-7b", benchmark="arc_challenge")[0].value == 0.53
    # An org-prefixed name whose bare form is registered maps without an alias.
    assert register.results(model="Mistral-7B", benchmark="arc_challenge")[0].value == 0.6
    assert (
        register.results(benchmark="arc_challenge")[0].original_model == "meta-llama/Llama-2-7b-hf"
    )


def test_results_table_naming_an_unknown_model_is_an_error(
    register: Register, tmp_path: Path
) -> None:
    """A typo in an evaluation table (Llama-2-7c) would file a score under a phantom model:
    it is an error naming the file, the row, the name and the closest names; nothing of the
    file is stored."""
    ingest_text(register, tmp_path, "models.csv", MODELS)
    before = (len(register.models()), len(register.results()))
    bad = "model,benchmark,value\nLlama-2-7b,arc_challenge,0.53\nLlama-2-7c,mmlu,0.46\n" \
          "Mistral-8B,mmlu,0.6\n"
    with pytest.raises(InputError) as e:
        ingest_text(register, tmp_path, "evals.csv", bad)
    text = str(e.value)
    assert text.startswith(f"{tmp_path / 'evals.csv'}:3: model 'Llama-2-7c' is not in the "
                           "register, not in this ingest and not an alias (also unknown: "
                           "Mistral-8B)"), text
    assert "did you mean Llama-2-7b" in text and "--new-models" in text
    assert (len(register.models()), len(register.results())) == before
    with pytest.raises(InputError, match="no model named"):
        register.get_model("Llama-2-7c")
    # A quoted, slow-path table names its row too (the row's line, not its index).
    quoted = 'model,benchmark,value,source\n"Llama-2-7b",mmlu,0.46,x\n\n"Llama-2-7c",mmlu,0.4,x\n'
    with pytest.raises(InputError, match=r"evals2\.csv:4: model 'Llama-2-7c'"):
        ingest_text(register, tmp_path, "evals2.csv", quoted)
    # Asked for, the models are created (without compute), with the closest names shown.
    out = register.ingest_path(write(tmp_path / "evals3.csv", bad), new_models=True)
    assert out.models == 2 and out.results == 3
    assert "Llama-2-7c (closest: Llama-2-7b" in out.warnings[-1]
    assert register.get_model("Llama-2-7c").compute_flop is None


def test_results_table_may_name_the_models_of_the_same_ingest(
    register: Register, tmp_path: Path
) -> None:
    """`ingest evals.csv models.csv` (or a folder where the results sort first): model tables
    are stored first, so the results find their models."""
    evals = write(tmp_path / "a-evals.csv", EVALS)
    models = write(tmp_path / "b-models.csv", MODELS)
    outs = dict(register.ingest_paths([evals, models]))
    assert all(not isinstance(o, Exception) for o in outs.values()), outs
    assert outs[evals].results == 3 and outs[evals].models == 0
    assert register.get_model("Llama-2-7b").compute_flop == 8.4e22
    # An alias counts as a known name.
    register.add_alias("model", "llama2-7b", "Llama-2-7b")
    out = ingest_text(register, tmp_path, "c.csv", "model,benchmark,value\nllama2-7b,piqa,0.7\n")
    assert out.models == 0 and register.results(model="Llama-2-7b", benchmark="piqa")


def test_a_log_naming_an_unknown_model_creates_it_and_names_the_closest(
    register: Register, tmp_path: Path
) -> None:
    from difflogs import write_lmeval

    ingest_text(register, tmp_path, "models.csv", MODELS)
    path = write_lmeval(tmp_path / "logs", "Llama-2-7b-chat", {"arc_easy": [1.0, 0.0, 1.0]})
    out = register.ingest_path(path)
    assert out.models == 1 and out.results == 1
    assert "Llama-2-7b-chat (closest: Llama-2-7b)" in out.warnings[-1]


def test_loss_points(register: Register, tmp_path: Path) -> None:
    out = ingest_text(
        register,
        tmp_path,
        "loss.csv",
        "params_N,tokens_D,flops_C,loss\n1e8,2e9,1.2e18,3.1\n4e8,8e9,1.92e19,2.8\n",
    )
    assert out.loss == 2
    pts = register.loss_observations()
    assert [p.loss for p in pts] == [3.1, 2.8] and pts[1].compute_flop == 1.92e19


def test_old_register_is_upgraded_in_place_not_recreated(db_url: str) -> None:
    url = eng.resolve_url(db_url)
    engine = eng.create_engine(url)
    eng.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO models (name, multiplier, updated_at) VALUES ('old', 1, "
            "'2024-01-01 00:00:00+00:00')"
        )
    engine.dispose()
    reg = open_register(db_url)
    with reg.read() as conn:
        assert eng.current_revision(conn) == eng.head_revision()
    assert [m.name for m in reg.models()] == ["old"]
    assert "model_aliases" in reg.counts()
    reg.close()


def test_tables_match_the_migrations(register: Register) -> None:
    from tripwire.register.tables import metadata

    with register.read() as conn:
        insp = sa.inspect(conn)
        for table in metadata.sorted_tables:
            cols = {c["name"] for c in insp.get_columns(table.name)}
            assert cols == {c.name for c in table.columns}, table.name


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_register: Register) -> None:
    with sqlite_register.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_missing_or_bad_register_paths_say_so(tmp_path: Path) -> None:
    with pytest.raises(RegisterError, match="tripwire init"):
        open_register(str(tmp_path / "none.db"))
    with pytest.raises(RegisterError, match="does not exist"):
        open_register(str(tmp_path / "no" / "such" / "dir.db"), create=True)
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite at all")
    with pytest.raises(RegisterError, match="not a tripwire register"):
        open_register(str(tmp_path / "junk.db"))
    with pytest.raises(RegisterError, match="unsupported"):
        open_register("mysql://u@localhost/x")
    with pytest.raises(RegisterError, match="cannot open"):
        open_register("postgresql+psycopg://nobody:pw@127.0.0.1:1/none")


def test_samples_can_be_added_to_a_file_stored_without_them(register: Register,
                                                            shared_data: Path) -> None:
    results = (shared_data / "lm_eval_harness" / "llama3_8b_instruct_asdiv"
               / "results_2024-08-21T03-44-09.494230.json")
    first = register.ingest_path(results)
    assert first.status == "stored" and first.samples == 0
    again = register.ingest_path(results, samples=True)
    assert again.status == "unchanged" and again.samples == 50
    acc = [r for r in register.results() if r.metric == "acc"][0]
    assert len(register.samples(acc.id)) == 50
    before = register.counts()
    assert register.ingest_path(results, samples=True).samples == 0  # not added twice
    assert register.counts() == before


# -- many files: chunks of one transaction, a savepoint per file ------------------------------


def _evals(tmp_path: Path, n: int) -> list[Path]:
    """n distinct eval-results files, each naming a model of its own."""
    return [
        write(tmp_path / f"e{i}.csv", f"model,benchmark,value\nm{i},mmlu,0.{i + 1}\nm{i},gsm8k,0.5\n")
        for i in range(n)
    ]


def _check_record(register: Register, stored: list[Path]) -> None:
    """The record holds one ingest entry per stored file, in order, and verifies."""
    from tripwire.register.record_store import entries, verify_register

    with register.read() as conn:
        got = [e.payload["path"] for e in entries(conn, "ingest")]
    assert got == [str(p.resolve()) for p in stored]
    assert verify_register(register).ok


@pytest.mark.parametrize("chunk", [2, 256])
def test_many_files_each_whole_or_not_at_all(
    register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """With --keep-going a bad file in the middle of a chunk is left out alone: the files
    around it are stored, in one transaction or across chunk boundaries alike."""
    from tripwire.register import store

    monkeypatch.setattr(store, "CHUNK_FILES", chunk)
    files = _evals(tmp_path, 5)
    bad = write(tmp_path / "bad.csv", "model,benchmark,value\nx,mmlu,abc\n")
    dup = write(tmp_path / "dup.csv", files[0].read_text())  # same bytes as e0, another path
    paths = files[:2] + [bad] + files[2:] + [dup]
    got = list(register.ingest_paths(paths, keep_going=True, new_models=True))
    assert [p for p, _ in got] == paths
    status = [o.status if not isinstance(o, Exception) else "failed" for _, o in got]
    assert status == ["stored", "stored", "failed", "stored", "stored", "stored", "unchanged"]
    assert "'abc' is not a number" in str(got[2][1])
    assert sorted(m.name for m in register.models()) == [f"m{i}" for i in range(5)]
    assert register.counts()["eval_results"] == 10
    _check_record(register, files)


def _stored(register: Register) -> list[tuple]:
    """Every result as (file, model, benchmark, value), in key order."""
    with register.read() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT f.path, m.name, r.benchmark_id, r.value FROM eval_results r "
            "JOIN source_files f ON f.id = r.source_file_id JOIN models m ON m.id = r.model_id "
            "ORDER BY r.id"))]


def test_a_chunk_commits_while_the_next_is_read(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk's commit runs on a thread while the next chunk is read and written: the same
    outcomes, in the same order, the same rows and the same record as committing each chunk
    before reading the next; every chunk but the last (nothing left to read meanwhile) is
    committed so."""
    from tripwire.register import store

    monkeypatch.setattr(store, "CHUNK_FILES", 2)
    files = _evals(tmp_path, 7)
    dup = write(tmp_path / "dup.csv", files[1].read_text())  # e1's bytes, 2 chunks later
    paths = files[:5] + [dup] + files[5:]
    made: list[object] = []
    threaded = store._Commit

    def counted(*args):  # noqa: ANN002
        made.append(threaded(*args))
        return made[-1]

    got = {}
    for on_thread in (False, True):
        url = db_url if on_thread else f"sqlite:///{tmp_path / 'one-by-one.db'}"
        reg = open_register(url, create=True)
        monkeypatch.setattr(store, "_Commit", counted if on_thread else None)
        monkeypatch.setattr(store.BatchStore, "_commits_on_thread", lambda self, t=on_thread: t)
        outcomes = [(p, o.status, o.version) for p, o in reg.ingest_paths(paths, new_models=True)]
        got[on_thread] = outcomes, _stored(reg)
        _check_record(reg, files)
        reg.close()
    assert len(made) == 3  # 4 chunks: the last one commits as it is written
    assert got[True] == got[False]
    assert [s for _, s, _ in got[True][0]] == ["stored"] * 5 + ["unchanged"] + ["stored"] * 2


def test_a_commit_that_fails_on_its_thread_reports_none_of_its_chunk(
    register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error of a commit made on a thread is raised where the ingest waits for it: the
    chunk before is stored and reported, the failed one holds nothing and is not reported,
    the record verifies, and the same ingest run again stores the rest."""
    from tripwire.register import store

    monkeypatch.setattr(store, "CHUNK_FILES", 2)
    files = _evals(tmp_path, 6)
    commit = store._commit_and_close
    calls = []

    def second_fails(conn, trans):  # noqa: ANN001
        calls.append(1)
        if len(calls) == 2:
            conn.close()  # rolled back
            raise OSError("disk full")
        commit(conn, trans)

    monkeypatch.setattr(store, "_commit_and_close", second_fails)
    seen = []
    with pytest.raises(OSError, match="disk full"):
        for p, out in register.ingest_paths(files, new_models=True):
            seen.append((p, out.status))
    assert seen == [(files[0], "stored"), (files[1], "stored")]
    assert {row[0] for row in _stored(register)} == {str(f.resolve()) for f in files[:2]}
    _check_record(register, files[:2])
    monkeypatch.setattr(store, "_commit_and_close", commit)
    again = [o.status for _, o in register.ingest_paths(files, new_models=True)]
    assert again == ["unchanged"] * 2 + ["stored"] * 4
    _check_record(register, files)


def test_an_error_while_the_next_chunk_is_read_leaves_the_last_one_whole(
    register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted while reading a chunk, with the one before committing on a thread: the
    interruption propagates once that commit has ended, which stored its chunk whole."""
    import time

    from tripwire.register import store

    monkeypatch.setattr(store, "CHUNK_FILES", 2)
    files = _evals(tmp_path, 5)
    commit = store._commit_and_close

    def slow(conn, trans):  # noqa: ANN001
        time.sleep(0.5)  # still committing when the interruption comes
        commit(conn, trans)

    monkeypatch.setattr(store, "_commit_and_close", slow)

    def interrupt(p: Path) -> None:
        if p == files[3]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        list(register.ingest_paths(files, new_models=True, progress=interrupt))
    assert {row[0] for row in _stored(register)} == {str(f.resolve()) for f in files[:2]}
    _check_record(register, files[:2])


def test_without_keep_going_the_first_failure_ends_the_run(
    register: Register, tmp_path: Path
) -> None:
    files = _evals(tmp_path, 4)
    bad = write(tmp_path / "bad.csv", "")
    got = list(register.ingest_paths(files[:2] + [bad] + files[2:], new_models=True))
    assert len(got) == 3 and isinstance(got[2][1], InputError)
    assert sorted(m.name for m in register.models()) == ["m0", "m1"]
    _check_record(register, files[:2])


def test_a_file_failing_after_its_rows_leaves_no_trace_for_the_next(
    register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that created a model and then failed is rolled back to its savepoint; the next
    file of the same transaction naming that model creates it again (what the transaction
    had learnt of the register's names is forgotten with the rollback)."""
    first = write(tmp_path / "a.csv", "model,benchmark,value\nnew-model,mmlu,0.4\n")
    second = write(tmp_path / "b.csv", "model,benchmark,value\nnew-model,mmlu,0.5\n")
    original = Register._on_ingest

    def flaky(self, conn, batch, out, *rest):  # noqa: ANN001, ANN002
        if batch.path.endswith("a.csv"):
            raise InputError("refused after writing", source=batch.path)
        return original(self, conn, batch, out, *rest)

    monkeypatch.setattr(Register, "_on_ingest", flaky)
    got = list(register.ingest_paths([first, second], keep_going=True, new_models=True))
    assert isinstance(got[0][1], InputError) and got[1][1].status == "stored"
    assert [r.value for r in register.results()] == [0.5]
    with register.read() as conn:
        files = conn.execute(sa.text("SELECT path FROM source_files")).scalars().all()
        owner = conn.execute(
            sa.text(
                "SELECT f.path FROM models m JOIN source_files f ON f.id = m.source_file_id "
                "WHERE m.name = 'new-model'"
            )
        ).scalar_one()
    assert files == [str(second.resolve())] and owner == str(second.resolve())
    _check_record(register, [second])


def test_results_only_files_between_others_in_one_transaction(
    register: Register, tmp_path: Path
) -> None:
    """Results-only files choose their rows' keys themselves (and commit them from the values);
    a loss table or compute ledger between them lets the database choose (the ledger creates
    models too): keys never collide and every row is committed as stored."""
    from tripwire.demo import example_path
    from tripwire.register.record_store import verify_register

    paths = [
        write(tmp_path / "a.csv", "model,benchmark,value\nnew-a,mmlu,0.4\n"),
        example_path("loss.csv"),
        write(tmp_path / "b.csv", "model,benchmark,value\nnew-b,mmlu,0.5\n"),
        example_path("ledger.csv"),
        write(tmp_path / "c.csv", "model,benchmark,value\nnew-c,gsm8k,0.2\nnew-a,gsm8k,0.1\n"),
    ]
    got = list(register.ingest_paths(paths, new_models=True))
    assert [o.status for _, o in got] == ["stored"] * 5
    assert {"new-a", "new-b", "new-c"} <= {m.name for m in register.models()}
    assert register.counts()["eval_results"] == 4
    report = verify_register(register)
    assert report.ok, report


def test_a_chunks_commitments_made_together_are_those_made_one_by_one(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk written straight through makes the lines of all its results-only files at
    once (`Deferred.commit_later`); a chunk written with a savepoint per file makes each
    file's own. Both commit the same rows to the same roots, in the same blocks."""
    import datetime as dt
    import json

    from tripwire.register import store
    from tripwire.register.evidence import _unpack

    monkeypatch.setattr(store, "_now", lambda: dt.datetime(2026, 1, 2, 3, 4, 5, 6789,
                                                           tzinfo=dt.UTC))
    files = sorted((shared_data / "lm_eval_harness").rglob("*results_*.json"))[:6]
    files += sorted((shared_data / "inspect_ai").iterdir())
    files += [write(tmp_path / "e.csv", "model,benchmark,value,stderr\nnew-a,mmlu,0.4,\n"
                    "new-b,mmlu,-0.0,0.01\n")]
    got = {}
    for savepoints in (False, True):
        reg = open_register(f"sqlite:///{tmp_path / f'{savepoints}.db'}", create=True)
        batches = [ingest.read_file(f) for f in files]
        batches[-1].new_models = True
        outs = reg._store_chunk(batches, False, None, True, savepoints)
        assert not [o for o in outs if isinstance(o, Exception)], outs
        with reg.read() as conn:
            payloads = [json.loads(b + b"}")["payload"] for (b,) in conn.exec_driver_sql(
                "SELECT body FROM record_entries WHERE kind = 'ingest' ORDER BY seq")]
            blocks = [(*r[:-1], _unpack(r[-1])) for r in conn.exec_driver_sql(
                "SELECT tbl, part, first_key, last_key, rows, data FROM evidence_blocks "
                "ORDER BY seq, tbl, part")]
        reg.close()
        got[savepoints] = [o.status for o in outs], payloads, blocks
    assert got[False][0].count("stored") == len(got[False][1]) > 8
    assert got[False] == got[True]


def test_later_dated_export_wins_on_both_databases(register: Register,
                                                    tmp_path: Path) -> None:
    """Two dated exports of one database, the later-dated ingested first: its figures stay
    current, the earlier one's are kept as history and only fill gaps."""
    import datetime as dt

    from epoch_exports import FRONTIER_HEADER, FRONTIER_ROWS, table

    later = write(tmp_path / "frontier_2025-08-01.csv", table(FRONTIER_HEADER, FRONTIER_ROWS))
    rows = [dict(FRONTIER_ROWS[0], **{"Training compute (FLOP)": "3e26", "Parameters": ""}),
            dict(FRONTIER_ROWS[1], **{"Publication date": "2025-04-01"})]
    earlier = write(tmp_path / "frontier_2025-07-15.csv", table(FRONTIER_HEADER, rows))
    register.ingest_path(later)
    out = register.ingest_path(earlier)
    assert out.export_date == dt.date(2025, 7, 15)
    assert any("keep the figures of a later-dated export (2025-08-01)" in w
               for w in out.warnings)
    by = {m.name: m for m in register.models()}
    assert by["Grok 4"].compute_flop == 5.0000000000001e26
    assert by["Llama 4 Behemoth (preview)"].release_date == dt.date(2025, 4, 5)
    files = {Path(f.path).name: f for f in register.source_files()}
    assert files["frontier_2025-08-01.csv"].export_date == dt.date(2025, 8, 1)
    d = register.figure_diff(str(later), str(earlier))
    assert d["old_export_date"] == dt.date(2025, 7, 15)
    assert {"model": "Grok 4", "field": "compute_flop", "old": 3e26,
            "new": 5.0000000000001e26} in d["changed"]
