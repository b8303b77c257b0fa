"""The signing key: created mode 0600 whatever the umask, replaced as 0600, refused when others
can read it, never printed by any command nor put in a report; `verify` needs only the public
key (a checkpoint or a proof checked with the private key gone)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from tripwire.cli import app
from tripwire.errors import InputError
from tripwire.record import generate_key, load_private_key

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(app, list(args), env=env)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


def _secrets(key: Path) -> list[str]:
    """Every form in which the private key could leak: its PEM body, lines of it, the raw
    32 bytes in hex and base64."""
    pem = key.read_text()
    body = "".join(line for line in pem.splitlines() if "PRIVATE KEY" not in line)
    raw = load_private_key(key).private_bytes(serialization.Encoding.Raw,
                                              serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())
    return [body, *[x for x in pem.splitlines() if "PRIVATE" not in x and len(x) > 20],
            raw.hex(), base64.b64encode(raw).decode()]


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_keygen_writes_the_private_key_0600(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        r = _invoke("keygen", "--key", str(tmp_path / "k"))
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    for s in _secrets(tmp_path / "k"):
        assert s not in r.output


def test_replacing_a_wide_key_makes_it_0600_and_wide_keys_are_refused(tmp_path: Path) -> None:
    key = tmp_path / "k"
    generate_key(key)
    os.chmod(key, 0o644)
    with pytest.raises(InputError, match="readable by others"):
        load_private_key(key)
    generate_key(key, overwrite=True)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    load_private_key(key)


def test_no_command_prints_the_key_and_verify_needs_only_the_public_one(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    key = tmp_path / "keys" / "tripwire.key"
    env = {"TRIPWIRE_KEY": str(key)}
    outputs = [_invoke("init", "--db", db).output, _invoke("keygen", "--key", str(key)).output]
    secrets = _secrets(key)
    (tmp_path / "m.csv").write_text("name,release_date,compute\nbig,2024-01-01,3e25\n")
    outputs.append(_invoke("ingest", str(tmp_path / "m.csv"), "--db", db).output)
    outputs.append(_invoke("assess", "big", "-p", "eu-ai-act-gpai", "--db", db).output)
    head = tmp_path / "head.json"
    r = _invoke("checkpoint", "--db", db, "--export", str(head), "--json", env=env)
    assert r.exit_code == 0, r.output
    outputs += [r.output, head.read_text()]
    proof = tmp_path / "proof.json"
    r = _invoke("prove", "1", "--db", db, "-o", str(proof))
    assert r.exit_code == 0, r.output
    outputs += [r.output, proof.read_text()]
    for fmt in ("json", "md", "html"):
        r = _invoke("report", "big", "--db", db, "--format", fmt, "-o", "-", "--policy",
                    "eu-ai-act-gpai", "--n-boot", "10", env=env)
        assert r.exit_code == 0, r.output[-500:]
        outputs.append(r.output)
    outputs.append(_invoke("record", "--db", db, "--json").output)
    for text in outputs:
        for s in secrets:
            assert s not in text
    # The private key gone: the public key alone checks the record, the checkpoint, the proof.
    pub = tmp_path / "public.pem"
    pub.write_bytes(key.with_name(key.name + ".pub").read_bytes())
    key.unlink()
    key.with_name(key.name + ".pub").unlink()
    r = _invoke("verify", "--db", db, "--checkpoint", str(head), "--public-key", str(pub))
    assert r.exit_code == 0, r.output
    r = _invoke("verify", "--proof", str(proof), "--public-key", str(pub))
    assert r.exit_code == 0 and "included" in r.output, r.output
    # Another key's public half does not vouch for them (a usage error: the wrong key given).
    other = tmp_path / "other.key"
    generate_key(other)
    r = _invoke("verify", "--proof", str(proof), "--public-key", str(other) + ".pub")
    assert r.exit_code == 2 and "not by the given public key" in r.output, r.output
