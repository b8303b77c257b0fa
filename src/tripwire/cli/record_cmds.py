"""Record commands: keygen, checkpoint, prove, verify, record.

Exit codes: verify exits 0 when the record is intact and 1 when it was tampered with; a corrupt
checkpoint or proof file, a wrong key or an unknown entry is a usage error (exit 2).

Key rotation: `keygen --force` keeps the old public key as `<key>.<key id>.pub`, and verify trusts
`<key>.pub` together with every such retired key, so checkpoints signed before a rotation still
verify while one signed by any other key does not.
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tripwire.cli.app import DbOpt, JsonOpt, app, info, print_json, render, warn
from tripwire.errors import InputError, IntegrityError

if TYPE_CHECKING:
    from tripwire.record import Entry, SignedTreeHead, VerifyReport

KeyOpt = Annotated[
    Path | None,
    typer.Option("--key", envvar="TRIPWIRE_KEY", show_default=False,
                 help="Signing key file (default $TRIPWIRE_KEY or ./tripwire.key)."),
]
PublicKeyOpt = Annotated[
    list[Path] | None,
    typer.Option("--public-key", metavar="PATH", show_default=False,
                 help="A trusted public key; repeat for several (a key ring). Default: "
                 "<signing key>.pub and the keys `keygen --force` retired beside it "
                 "(<signing key>.<key id>.pub), those that exist."),
]


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror}", source=str(path)) from e


@app.command()
def keygen(key: KeyOpt = None,
           force: Annotated[bool, typer.Option(
               "--force", help="Replace an existing key (rotation): its public key is kept as "
               "<key>.<key id>.pub, which verify trusts by default; the old private key is "
               "not kept.")] = False,
           ) -> None:
    """Make the ed25519 key that signs checkpoints (private key mode 600, public key beside it).

    With --force the old public key stays beside the new pair, so checkpoints it signed still
    verify after the rotation."""
    from tripwire.record import generate_key, rotate_key

    retired: list[Path] = []
    if force:
        private, public, retired = rotate_key(key)
    else:
        private, public = generate_key(key)
    info(f"private key: {private} (mode 600, keep it secret)")
    info(f"public key:  {public} (give it to whoever keeps your checkpoints)")
    for old in retired:
        info(f"old public key kept: {old} (verify still trusts checkpoints it signed; the old "
             "private key is gone)")


def _head_row(head: SignedTreeHead) -> dict[str, Any]:
    return {"tree_size": head.tree_size, "root_hash": head.root_hash,
            "timestamp": head.timestamp, "key_id": head.key_id}


@app.command()
def checkpoint(
    export: Annotated[Path | None, typer.Option(
        "--export", help="Also write the signed tree head to FILE, for a third party to keep.",
        show_default=False)] = None,
    key: KeyOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Verify the record, then sign and store a tree head over all its entries.

    With an exported tree head kept elsewhere, even a complete rewrite of the register is
    detected by `tripwire verify --checkpoint FILE`."""
    from tripwire.register import open_register
    from tripwire.register import record_store as store

    head = store.make_checkpoint(open_register(db), key)
    if export is not None:
        _write(export, head.to_json())
        info(f"checkpoint exported to {export}")
    if json:
        print_json(head.to_dict())
    else:
        render([_head_row(head)], title="checkpoint")


@app.command()
def prove(
    entry: Annotated[str | None, typer.Argument(
        help="Entry number, or 8+ hex digits of its hash.", show_default=False)] = None,
    from_size: Annotated[int | None, typer.Option(
        "--from-size", help="Consistency proof from the checkpoint of this size.",
        show_default=False)] = None,
    to_size: Annotated[int | None, typer.Option(
        "--to-size", help="... to the checkpoint of this size (default: the largest).",
        show_default=False)] = None,
    checkpoint_file: Annotated[Path | None, typer.Option(
        "--checkpoint", help="Prove inclusion in this exported checkpoint (default: the newest "
        "stored one covering the entry).", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the proof to FILE instead of stdout.",
        show_default=False)] = None,
    db: DbOpt = None,
) -> None:
    """Print a proof as JSON: that ENTRY is in a signed checkpoint (inclusion), or with
    --from-size that one checkpoint's tree extends another's (consistency).

    `tripwire verify --proof FILE` checks it with nothing but the proof and the public key."""
    from tripwire.record import SignedTreeHead
    from tripwire.register import open_register
    from tripwire.register import record_store as store

    if (entry is None) == (from_size is None):
        raise InputError("give an ENTRY to prove inclusion, or --from-size for consistency")
    if to_size is not None and from_size is None:
        raise InputError("--to-size needs --from-size")
    reg = open_register(db)
    if entry is not None:
        with reg.read() as conn:
            seq = store.find_entry(conn, entry)
        head = SignedTreeHead.read(checkpoint_file) if checkpoint_file else None
        proof: Any = store.inclusion_proof(reg, seq, head)
        info(f"entry {seq} is in the checkpoint of size {proof.tree_head.tree_size} "
             f"({len(proof.path)} hashes)")
    else:
        assert from_size is not None
        proof = store.consistency_proof(reg, from_size, to_size)
        info(f"checkpoint {proof.old.tree_size} -> {proof.new.tree_size} "
             f"({len(proof.path)} hashes)")
    text = jsonlib.dumps(proof.to_dict(), indent=2) + "\n"
    if output is not None:
        _write(output, text)
    else:
        typer.echo(text, nl=False)


def _default_public_keys() -> list[Path]:
    """`<signing key>.pub` and the public keys rotation retired beside it, those that exist."""
    from tripwire.record import default_key_path, retired_public_keys

    key = default_key_path()
    pub = key.with_name(key.name + ".pub")
    return ([pub] if pub.is_file() else []) + retired_public_keys(key)


def _verify_proof(path: Path, public_key: list[Path] | None, json: bool) -> None:
    from tripwire.record import (
        ConsistencyProof,
        key_ring,
        parse_proof,
        verify_consistency,
        verify_inclusion,
    )

    try:
        text = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the proof: {e.strerror}", source=str(path)) from e
    proof = parse_proof(text, source=str(path))
    key = list(ring.values()) if (ring := key_ring(public_key)) else None
    if isinstance(proof, ConsistencyProof):
        verify_consistency(proof, key)
        message = (f"consistent: the tree of size {proof.new.tree_size} extends the tree of "
                   f"size {proof.old.tree_size}")
    else:
        verify_inclusion(proof, public_key=key)
        message = (f"included: entry {proof.leaf_index} is in the tree of size "
                   f"{proof.tree_head.tree_size}")
    signer = "" if key else " (signature checked against the key the proof carries)"
    if json:
        print_json({"ok": True, "proof": str(path), "message": message})
    info(message + signer)


@app.command()
def verify(
    checkpoint_file: Annotated[Path | None, typer.Option(
        "--checkpoint", help="An exported checkpoint to check the record against.",
        show_default=False)] = None,
    public_key: PublicKeyOpt = None,
    proof: Annotated[Path | None, typer.Option(
        "--proof", help="Check a proof from `tripwire prove` instead (no register needed).",
        show_default=False)] = None,
    fast: Annotated[bool, typer.Option(
        "--fast", help="Check the record, its checkpoints and the cited file hashes only, not "
        "every evidence row against the rows the record committed.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Recompute the record's hash chain and Merkle tree, check every checkpoint and the
    evidence: every row of models, results, samples, loss points, benchmarks, aliases and
    source files against the rows the record committed. Names the first entry that fails, and
    each evidence row changed (which columns, from what to what), added or removed outside
    tripwire. Exit 0 intact, 1 tampered.

    A checkpoint passes when a trusted public key signed it: after `keygen --force` the retired
    keys are trusted by default, so older checkpoints still verify."""
    from tripwire.record import SignedTreeHead
    from tripwire.register import open_register
    from tripwire.register import record_store as store

    public_key = public_key or _default_public_keys() or None
    if proof is not None:
        _verify_proof(proof, public_key, json)
        return
    external = SignedTreeHead.read(checkpoint_file) if checkpoint_file else None
    report: VerifyReport = store.verify_register(open_register(db), external, public_key,
                                                 fast=fast)
    if json:
        print_json(report.to_dict())
    if report.failure is not None:
        if not json:
            for change in report.changes:
                warn(str(change))
            if report.changes and report.failure.reason == "evidence":
                n = len(report.changes)
                raise IntegrityError(f"evidence tampered: {n} row(s) or entries differ from "
                                     "what the record committed (listed above)",
                                     hint="the determinations resting on them are stale")
        raise IntegrityError(f"record tampered: {report.failure}")
    for note in report.notes:
        warn(note)
    rows = ("evidence rows not compared (--fast)" if report.rows is None
            else f"{report.rows} evidence row(s) match the record")
    info(f"record intact: {report.entries} entries, root {(report.root_hash or '-')[:16]}, "
         f"{report.checkpoints} checkpoint(s), {report.evidence} evidence hash(es) checked, "
         f"{rows}")


def _summary(e: Entry) -> str:
    p = e.payload
    if e.kind == "ingest":
        return f"{p.get('path')} ({p.get('kind')}, {p.get('rows')} rows)"
    if e.kind == "determination":
        return f"{p.get('model')} under {p.get('policy')} {p.get('policy_version')}: " \
               f"level {p.get('level') or 'none'}"
    if e.kind == "attestation":
        return f"{p.get('safeguard')} for {p.get('model') or 'all models'} by {p.get('by')}"
    if e.kind == "policy":
        return f"{p.get('name')} {p.get('version')}"
    return ", ".join(f"{k}={v}" for k, v in list(p.items())[:3])


@app.command("record")
def record_cmd(
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Only entries of this kind (ingest, determination, attestation, policy).",
        show_default=False)] = None,
    last: Annotated[int | None, typer.Option(
        "--last", help="Only the newest N entries.", min=1, show_default=False)] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the record's entries: seq, time, kind, hash and what was recorded."""
    from tripwire.register import open_register
    from tripwire.register import record_store as store

    with open_register(db).read() as conn:
        rows = store.entries(conn, kind)
    if last is not None:
        rows = rows[-last:]
    if json:
        print_json([e.to_dict() for e in rows])
        return
    render([{"seq": e.seq, "at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "kind": e.kind,
             "hash": e.entry_hash[:16], "summary": _summary(e)} for e in rows],
           title="record")
