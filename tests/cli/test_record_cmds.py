"""The record commands through the CLI: keygen, checkpoint, prove, verify, record; exit 0 when
intact, 1 when tampered, 2 with one sentence for a bad file, key or entry."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from clirun import run

from tripwire.record import generate_key, key_id, load_private_key, load_public_key
from tripwire.register import open_register
from tripwire.register.record_store import append_entry


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A register with six entries and a signing key at $TRIPWIRE_KEY."""
    db = str(tmp_path / "r.db")
    key = tmp_path / "keys" / "signing.key"
    monkeypatch.setenv("TRIPWIRE_KEY", str(key))
    monkeypatch.delenv("TRIPWIRE_DB", raising=False)
    reg = open_register(db, create=True)
    with reg.transaction() as conn:
        for i in range(6):
            append_entry(conn, "policy", {"name": "rsp", "version": f"2.{i}",
                                          "sha256": f"{i:064x}"})
    reg.close()
    return db, key


def _one_line_error(r, code: int) -> str:  # noqa: ANN001
    assert r.exit_code == code, (r.exit_code, r.output)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output
    return lines[0]


def test_keygen_checkpoint_verify_prove(setup: tuple[str, Path], tmp_path: Path) -> None:
    db, key = setup
    r = run("keygen")
    assert r.exit_code == 0 and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert _one_line_error(run("keygen"), 2).endswith("(pass --force to replace it, or "
                                                      "choose another path)")
    cp = tmp_path / "cp.json"
    r = run("checkpoint", "--db", db, "--export", str(cp), "--json")
    assert r.exit_code == 0, r.output
    head = json.loads(r.stdout)
    assert head["tree_size"] == 6 and json.loads(cp.read_text()) == head
    r = run("verify", "--db", db, "--checkpoint", str(cp), "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["ok"] and report["entries"] == 6 and report["checkpoints"] == 2
    assert "record intact: 6 entries" in r.stderr

    proof_file = tmp_path / "proof.json"
    r = run("prove", "3", "--db", db, "-o", str(proof_file))
    assert r.exit_code == 0, r.output
    proof = json.loads(proof_file.read_text())
    assert proof["type"] == "inclusion" and proof["leaf_index"] == 3
    r = run("verify", "--proof", str(proof_file))  # no register needed
    assert r.exit_code == 0 and "included: entry 3" in r.stderr
    proof["path"][0] = proof["path"][0][::-1]
    proof_file.write_text(json.dumps(proof))
    assert "does not verify" in _one_line_error(run("verify", "--proof", str(proof_file)), 1)

    r = run("prove", proof["leaf_hash"][:12], "--db", db)
    assert r.exit_code == 0 and json.loads(r.stdout)["leaf_index"] == 3

    reg = open_register(db)
    with reg.transaction() as conn:
        append_entry(conn, "policy", {"name": "extra", "version": "1", "sha256": "0" * 64})
    reg.close()
    assert run("checkpoint", "--db", db).exit_code == 0
    r = run("prove", "--from-size", "6", "--db", db)
    assert r.exit_code == 0, r.output
    (tmp_path / "cons.json").write_text(r.stdout)
    r = run("verify", "--proof", str(tmp_path / "cons.json"))
    assert r.exit_code == 0 and "extends the tree of size 6" in r.stderr

    r = run("record", "--db", db, "--json", "--last", "2")
    rows = json.loads(r.stdout)
    assert [e["seq"] for e in rows] == [5, 6] and rows[1]["payload"]["name"] == "extra"
    r = run("record", "--db", db, "--kind", "policy")
    assert r.exit_code == 0 and "rsp 2.0" in r.stdout


def test_tampering_exits_1_and_names_the_entry(setup: tuple[str, Path], tmp_path: Path) -> None:
    db, _ = setup
    run("keygen")
    cp = tmp_path / "cp.json"
    assert run("checkpoint", "--db", db, "--export", str(cp)).exit_code == 0
    reg = open_register(db)
    with reg.engine.begin() as conn:  # an attacker with the database file
        conn.exec_driver_sql("DROP TRIGGER record_entries_no_update")
        conn.exec_driver_sql("UPDATE record_entries SET kind = 'ingest' WHERE seq = 2")
    reg.close()
    line = _one_line_error(run("verify", "--db", db), 1)
    assert "edited: entry 2" in line
    r = run("verify", "--db", db, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["failure"]["seq"] == 2
    assert "not signed" in _one_line_error(run("checkpoint", "--db", db), 1)


def test_bad_input_is_one_sentence_and_exit_2(setup: tuple[str, Path], tmp_path: Path) -> None:
    db, key = setup
    assert "no signing key" in _one_line_error(run("checkpoint", "--db", db), 2)
    run("keygen")
    cp = tmp_path / "cp.json"
    assert run("checkpoint", "--db", db, "--export", str(cp)).exit_code == 0
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text(cp.read_text()[:-20])
    assert "not valid JSON" in _one_line_error(
        run("verify", "--db", db, "--checkpoint", str(corrupt)), 2)
    assert "cannot read" in _one_line_error(
        run("verify", "--db", db, "--checkpoint", str(tmp_path / "absent.json")), 2)
    other, other_pub = generate_key(tmp_path / "other.key")
    line = _one_line_error(run("verify", "--db", db, "--checkpoint", str(cp),
                               "--public-key", str(other_pub)), 2)
    assert "not by the given public key" in line
    assert "not a PEM public key" in _one_line_error(
        run("verify", "--db", db, "--public-key", str(corrupt)), 2)
    assert "no entry 99" in _one_line_error(run("prove", "99", "--db", db), 2)
    assert "no entry's hash" in _one_line_error(run("prove", "deadbeefdead", "--db", db), 2)
    assert "ENTRY" in _one_line_error(run("prove", "--db", db), 2)
    assert "no checkpoint at size 3" in _one_line_error(
        run("prove", "--from-size", "3", "--db", db), 2)
    assert "not a tripwire proof" in _one_line_error(run("verify", "--proof", str(cp)), 2)


def test_verify_trusts_the_keys_a_rotation_retired(db_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoint with key A, `keygen --force`, checkpoint with key B: the default ring {A, B}
    verifies both; B alone names A's checkpoint; a checkpoint by a third key C fails."""
    key = tmp_path / "keys" / "tripwire.key"
    monkeypatch.setenv("TRIPWIRE_KEY", str(key))
    monkeypatch.delenv("TRIPWIRE_DB", raising=False)
    assert run("init", "--db", db_url).exit_code == 0
    (tmp_path / "models.csv").write_text("name,params,tokens,compute\nA,1e9,2e10,\n")
    assert run("ingest", str(tmp_path / "models.csv"), "--db", db_url).exit_code == 0
    assert run("keygen").exit_code == 0
    pub = key.with_name(key.name + ".pub")
    a_id = key_id(load_public_key(pub))
    cp_a = tmp_path / "cp_a.json"
    assert run("checkpoint", "--db", db_url, "--export", str(cp_a)).exit_code == 0
    a_size = json.loads(cp_a.read_text())["tree_size"]
    assert run("prove", "0", "--db", db_url, "-o", str(tmp_path / "inc.json")).exit_code == 0

    r = run("keygen", "--force")
    retired = key.with_name(f"tripwire.key.{a_id[:16]}.pub")
    assert r.exit_code == 0 and f"old public key kept: {retired}" in r.stderr
    assert stat.S_IMODE(retired.stat().st_mode) == 0o644
    assert key_id(load_public_key(retired)) == a_id != key_id(load_public_key(pub))
    (tmp_path / "evals.csv").write_text("model,benchmark,value,stderr\nA,mmlu,0.4,0.01\n")
    assert run("ingest", str(tmp_path / "evals.csv"), "--db", db_url).exit_code == 0
    r = run("checkpoint", "--db", db_url, "--json")
    b_size = json.loads(r.stdout)["tree_size"]
    assert r.exit_code == 0 and b_size > a_size

    r = run("verify", "--db", db_url)  # default ring: tripwire.key.pub and the retired key
    assert r.exit_code == 0 and "2 checkpoint(s)" in r.stderr, r.output
    line = _one_line_error(run("verify", "--db", db_url, "--public-key", str(pub)), 1)
    assert "bad signature" in line and f"signed by key {a_id[:16]}" in line
    r = run("verify", "--db", db_url, "--public-key", str(pub), "--public-key", str(retired),
            "--checkpoint", str(cp_a), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["checkpoints"] == 3, r.output

    # proofs: inclusion in A's checkpoint, consistency from A's head to B's
    assert run("verify", "--proof", str(tmp_path / "inc.json")).exit_code == 0
    r = run("prove", "--from-size", str(a_size), "--db", db_url)
    assert r.exit_code == 0, r.output
    (tmp_path / "cons.json").write_text(r.stdout)
    r = run("verify", "--proof", str(tmp_path / "cons.json"))
    assert r.exit_code == 0 and "extends the tree" in r.stderr
    assert "signature checked against" not in r.stderr  # the ring was used
    assert "not by the given public key" in _one_line_error(
        run("verify", "--proof", str(tmp_path / "cons.json"), "--public-key", str(pub)), 2)

    # a checkpoint by a key C outside the ring {A, B}
    other, _ = generate_key(tmp_path / "c.key")
    c_id = key_id(load_private_key(other).public_key())
    assert run("checkpoint", "--db", db_url, "--key", str(other)).exit_code == 0
    line = _one_line_error(run("verify", "--db", db_url), 1)
    assert f"bad signature: stored checkpoint at size {b_size} is signed by key " \
           f"{c_id[:16]}, not one of the given public keys" in line
