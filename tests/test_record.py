"""The record's pure core: RFC 8785 canonical JSON, RFC 6962 trees and proofs, signed tree
heads, keys, and verification that catches every kind of tampering (>= 1,000 random ones)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import stat
import struct
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tripwire.errors import InputError, IntegrityError
from tripwire.record import (
    GENESIS,
    ConsistencyProof,
    Entry,
    InclusionProof,
    MerkleTree,
    SignedTreeHead,
    StoredRow,
    canonical_json,
    entry_body,
    entry_bytes,
    format_time,
    generate_key,
    key_id,
    key_ring,
    leaf_hash,
    load_private_key,
    load_public_key,
    merkle_root,
    node_hash,
    parse_proof,
    retired_public_keys,
    rotate_key,
    scan_chain,
    sign_tree_head,
    signature_valid,
    verify_consistency,
    verify_consistency_path,
    verify_inclusion,
    verify_inclusion_path,
    verify_record,
)

# --------------------------------------------------------------------------- RFC 8785


def test_jcs_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 section 3.2.2 (input written here as the parsed value).
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
                '1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    assert canonical_json(value) == expected.encode("utf-8")


def test_jcs_sorts_members_by_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3: the emoji (a surrogate pair, 0xD83D...) sorts before U+FB33.
    value = {"\u20ac": "Euro Sign", "\r": "Carriage Return",
             "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
             "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
             "\u00f6": "Latin Small Letter O With Diaeresis"}
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# RFC 8785 appendix B: IEEE 754 bit patterns and their ECMAScript serialisation.
NUMBERS = [
    ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), NUMBERS)
def test_jcs_numbers_rfc8785_appendix_b(bits: str, text: str) -> None:
    assert canonical_json(struct.unpack(">d", bytes.fromhex(bits))[0]) == text.encode()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 2**53, {1: "x"}, {"a": {1, 2}}])
def test_jcs_refuses_what_json_cannot_carry(bad: object) -> None:
    with pytest.raises(InputError, match="canonical JSON"):
        canonical_json(bad)


def _random_json(rng: random.Random, depth: int = 0) -> object:
    pick = rng.randrange(8 if depth < 3 else 5)
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        return rng.randrange(-2**53 + 1, 2**53)
    if pick == 2:
        return rng.uniform(-1e6, 1e6) * 10 ** rng.randrange(-30, 30)
    if pick in (3, 4):
        return "".join(rng.choice("aé€\n\"\\\u0001😀z/") for _ in range(rng.randrange(6)))
    if pick == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_random_json(rng, 3).__str__(): _random_json(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def test_entry_bytes_are_the_jcs_of_the_whole_entry() -> None:
    rng = random.Random(8785)
    prev = GENESIS
    for seq in range(200):
        payload = {"v": _random_json(rng), "n": seq}
        e = Entry.create(seq, rng.choice(["ingest", "determination", "policy"]), payload, prev)
        whole = {"at": format_time(e.at), "kind": e.kind, "payload": payload, "prev": prev,
                 "seq": seq, "v": 1}
        assert e.canonical == rfc8785.dumps(whole)
        assert e.entry_hash == leaf_hash(e.canonical).hex()
        back = Entry.from_row(e.row())
        assert back.canonical == e.canonical and back.payload == json.loads(
            rfc8785.dumps(payload)) and back.at == e.at
        prev = e.entry_hash


def test_entry_refuses_bad_kind_and_payload() -> None:
    with pytest.raises(InputError, match="kind"):
        Entry.create(0, "Bad Kind", {}, GENESIS)
    with pytest.raises(InputError, match="JSON object"):
        Entry.create(0, "ingest", ["not", "an", "object"], GENESIS)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="previous hash"):
        entry_bytes(entry_body(format_time(Entry.create(0, "x", {}, GENESIS).at), "x", b"{}"),
                    "nothex", 0)


# --------------------------------------------------------------------------- RFC 6962 / 9162

# Certificate Transparency reference data (RFC 6962 test vectors, as used by
# transparency-dev/merkle proof/verify_test.go): leaf inputs and the roots of trees of size 1..8.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based leaf index, tree size, audit path)
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _ct_tree() -> tuple[list[bytes], MerkleTree]:
    leaves = [leaf_hash(bytes.fromhex(h)) for h in CT_LEAVES]
    return leaves, MerkleTree(leaves)


def test_roots_match_rfc6962_vectors() -> None:
    leaves, tree = _ct_tree()
    assert merkle_root([]).hex() == tree.root(0).hex() == EMPTY_ROOT
    for n in range(1, 9):
        assert tree.root(n).hex() == merkle_root(leaves[:n]).hex() == CT_ROOTS[n - 1]
    # domain separation: a node is never the hash of its children's bytes as a leaf
    assert node_hash(leaves[0], leaves[1]) != leaf_hash(leaves[0] + leaves[1])


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_vectors(index: int, size: int, path: list[str]) -> None:
    leaves, tree = _ct_tree()
    assert [p.hex() for p in tree.inclusion_path(index, size)] == path
    assert verify_inclusion_path(index, size, leaves[index], [bytes.fromhex(p) for p in path],
                                 bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("size1", "size2", "path"), CT_CONSISTENCY)
def test_consistency_proofs_match_vectors(size1: int, size2: int, path: list[str]) -> None:
    _, tree = _ct_tree()
    assert [p.hex() for p in tree.consistency_path(size1, size2)] == path
    assert verify_consistency_path(size1, size2, [bytes.fromhex(p) for p in path],
                                   bytes.fromhex(CT_ROOTS[size1 - 1]),
                                   bytes.fromhex(CT_ROOTS[size2 - 1]))


def _flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def _bad_inclusions(i: int, n: int, leaf: bytes, path: list[bytes], root: bytes):  # noqa: ANN202
    """The corruptions transparency-dev/merkle's verifier tests try, and a few more."""
    other = leaf_hash(b"other")
    yield i - 1, n, leaf, path, root
    yield i + 1, n, leaf, path, root
    yield i ^ 2, n, leaf, path, root
    yield i, n * 2, leaf, path, root
    yield i, n // 2, leaf, path, root
    yield i, n, other, path, root
    yield i, n, b"WrongLeaf", path, root
    yield i, n, leaf, path, bytes.fromhex(EMPTY_ROOT)
    yield i, n, leaf, path, other
    yield i, n, leaf, [*path, b""], root
    yield i, n, leaf, [*path, root], root
    yield i, n, leaf, [b"", *path], root
    yield i, n, leaf, [root, *path], root
    for k in range(len(path)):
        yield i, n, leaf, [*path[:k], _flip(path[k]), *path[k + 1:]], root
    if path:
        yield i, n, leaf, path[:-1], root
    if len(path) > 1:
        yield i, n, leaf, [path[0], other, *path[1:]], root


def _bad_consistencies(m: int, n: int, path: list[bytes], r1: bytes, r2: bytes):  # noqa: ANN202
    yield m - 1, n, path, r1, r2
    yield m + 1, n, path, r1, r2
    yield m ^ 2, n, path, r1, r2
    yield m, n * 2, path, r1, r2
    yield m, n // 2, path, r1, r2
    yield m, n, path, b"WrongRoot", r2
    yield m, n, path, r1, b"WrongRoot"
    yield m, n, path, r2, r1
    yield m, n, [], r1, r2
    yield m, n, [*path, b""], r1, r2
    yield m, n, [*path, r1], r1, r2
    yield m, n, [*path, r2], r1, r2
    yield m, n, [b"", *path], r1, r2
    yield m, n, [r1, *path], r1, r2
    yield m, n, [r2, *path], r1, r2
    yield m, n, [path[0], *path], r1, r2
    yield m, n, path[:-1], r1, r2
    for k in range(len(path)):
        yield m, n, [*path[:k], _flip(path[k], 4), *path[k + 1:]], r1, r2


def test_every_proof_round_trips_and_every_corruption_fails() -> None:
    checked = 0
    for n in range(1, 34):
        leaves = [leaf_hash(b"entry %d" % i) for i in range(n)]
        tree = MerkleTree(leaves)
        root = tree.root()
        assert root == merkle_root(leaves)
        for i in range(n):
            path = tree.inclusion_path(i)
            assert verify_inclusion_path(i, n, leaves[i], path, root)
            for probe in _bad_inclusions(i, n, leaves[i], path, root):
                assert not verify_inclusion_path(*probe), (n, i, probe[:2])
                checked += 1
        for m in range(1, n + 1):
            path = tree.consistency_path(m)
            r1 = tree.root(m)
            assert verify_consistency_path(m, n, path, r1, root), (m, n)
            if m == n:
                assert path == []
                continue
            for probe in _bad_consistencies(m, n, path, r1, root):
                assert not verify_consistency_path(*probe), (m, n, probe[:2])
                checked += 1
    assert checked > 10_000


def test_consistency_edge_cases_follow_rfc9162() -> None:
    r1, r2, e = b"don't care 1", b"don't care 2", bytes.fromhex(EMPTY_ROOT)
    assert not verify_consistency_path(0, 0, [], r1, r2)
    assert verify_consistency_path(0, 0, [], r1, r1)
    assert verify_consistency_path(0, 1, [], r1, r2)
    assert verify_consistency_path(1, 1, [], r2, r2)
    assert not verify_consistency_path(1, 0, [], r1, r2)
    assert not verify_consistency_path(2, 1, [], r1, r2)
    assert not verify_consistency_path(1, 2, [], r1, r2)
    for m, n in ((0, 0), (0, 1), (1, 1)):
        assert not verify_consistency_path(m, n, [e], e, e)
    for i, n in ((0, 0), (1, 0), (2, 1)):
        assert not verify_inclusion_path(i, n, e, [], e)


# --------------------------------------------------------------------------- keys, heads


def test_keygen_writes_a_private_key_only_the_owner_reads(tmp_path: Path) -> None:
    key, pub = generate_key(tmp_path / "k" / "signing.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert pub.name == "signing.key.pub" and b"PUBLIC KEY" in pub.read_bytes()
    private = load_private_key(key)
    assert key_id(load_public_key(pub)) == key_id(private.public_key())
    with pytest.raises(InputError, match="already exists"):
        generate_key(key)
    os.chmod(key, 0o644)
    with pytest.raises(InputError, match="readable by others"):
        load_private_key(key)
    key2, _ = generate_key(key, overwrite=True)
    assert stat.S_IMODE(key2.stat().st_mode) == 0o600
    assert key_id(load_private_key(key2).public_key()) != key_id(private.public_key())


def test_rotation_keeps_the_old_public_key_and_never_the_private_one(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    assert rotate_key(path)[2] == [] and retired_public_keys(path) == []  # nothing to keep
    keys = [load_private_key(path).public_key()]
    (tmp_path / "signing.key.backup.pub").write_bytes((tmp_path / "signing.key.pub").read_bytes())
    for _ in range(2):
        private, pub, retired = rotate_key(path)
        keys.append(load_private_key(private).public_key())
        old = keys[-2]
        assert [p.name for p in retired] == [f"signing.key.{key_id(old)[:16]}.pub"]
        assert stat.S_IMODE(retired[0].stat().st_mode) == 0o644
        assert key_id(load_public_key(retired[0])) == key_id(old)
        assert key_id(load_public_key(pub)) == key_id(keys[-1]) != key_id(old)
    assert sorted(retired_public_keys(path)) == sorted(
        tmp_path / f"signing.key.{key_id(k)[:16]}.pub" for k in keys[:2])
    private_files = [f.name for f in tmp_path.iterdir() if b"PRIVATE" in f.read_bytes()]
    assert private_files == ["signing.key"]
    # generate_key(overwrite=True), as `keygen --force` used it, rotates the same way
    generate_key(path, overwrite=True)
    assert len(retired_public_keys(path)) == 3
    # a .pub that no longer matches the private key: both public keys are kept
    mismatched = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "signing.key.pub").write_text(
        mismatched.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex())
    _, _, retired = rotate_key(path)
    assert len(retired) == 2 and len(retired_public_keys(path)) == 5


def test_key_rings_accept_keys_or_files_and_refuse_an_empty_one(tmp_path: Path) -> None:
    a, b = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    _, b_pub = generate_key(tmp_path / "b.key")
    b = load_public_key(b_pub)
    assert key_ring(None) is None
    assert list(key_ring(a)) == [key_id(a)]
    assert list(key_ring(str(b_pub))) == list(key_ring(b_pub)) == [key_id(b)]
    assert list(key_ring([a, b_pub, b, a])) == [key_id(a), key_id(b)]
    with pytest.raises(InputError, match="empty key ring"):
        key_ring([])
    with pytest.raises(InputError, match="cannot read the public key"):
        key_ring([a, tmp_path / "absent.pub"])


def test_keys_that_are_not_keys_are_input_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_text("not a key")
    junk.chmod(0o600)
    with pytest.raises(InputError, match="PEM private key"):
        load_private_key(junk)
    with pytest.raises(InputError, match="PEM public key"):
        load_public_key(junk)
    with pytest.raises(InputError, match="no signing key"):
        load_private_key(tmp_path / "absent.key")
    raw = tmp_path / "raw.pub"
    k = Ed25519PrivateKey.generate().public_key()
    from cryptography.hazmat.primitives import serialization as s
    raw.write_text(k.public_bytes(s.Encoding.Raw, s.PublicFormat.Raw).hex())
    assert key_id(load_public_key(raw)) == key_id(k)


def test_signed_tree_head_detects_any_change_and_round_trips() -> None:
    key = Ed25519PrivateKey.generate()
    head = sign_tree_head(42, leaf_hash(b"root"), key)
    assert signature_valid(head) and signature_valid(head, key.public_key())
    assert SignedTreeHead.from_json(head.to_json()) == head
    other = Ed25519PrivateKey.generate()
    assert not signature_valid(head, other.public_key())
    for change in ({"tree_size": 41}, {"root_hash": "0" * 64}, {"timestamp": "x"},
                   {"signature": sign_tree_head(42, leaf_hash(b"r"), key).signature},
                   {"key_id": key_id(other.public_key())}):
        assert not signature_valid(dataclasses.replace(head, **change)), change


@pytest.mark.parametrize("text", ["", "{", "[]", '{"version": 1}', "null",
                                  '{"version":1,"tree_size":-1,"root_hash":"","timestamp":"",'
                                  '"key_id":"","public_key":"","signature":""}'])
def test_corrupt_checkpoint_text_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="checkpoint"):
        SignedTreeHead.from_json(text, source="cp.json")


def test_checkpoint_with_bad_hex_is_an_input_error() -> None:
    head = sign_tree_head(1, leaf_hash(b""), Ed25519PrivateKey.generate()).to_dict()
    head["signature"] = head["signature"][:-2] + "zz"
    with pytest.raises(InputError, match="signature"):
        SignedTreeHead.from_dict(head)


# --------------------------------------------------------------------------- records

KINDS = ["ingest", "determination", "attestation", "policy"]


def _record(n: int, rng: random.Random, tag: str = "") -> list[StoredRow]:
    rows, prev = [], GENESIS
    for i in range(n):
        payload = {"i": i, "tag": tag, "x": rng.random(), "note": "é" * rng.randrange(3)}
        e = Entry.create(i, rng.choice(KINDS), payload, prev)
        rows.append(e.row())
        prev = e.entry_hash
    return rows


def _root(rows: list[StoredRow], size: int | None = None) -> bytes:
    leaves, bad = scan_chain(rows)
    assert bad is None
    return MerkleTree(leaves).root(size)


def test_an_intact_record_verifies_and_notes_what_checkpoints_miss() -> None:
    rng = random.Random(1)
    rows = _record(50, rng)
    key = Ed25519PrivateKey.generate()
    report = verify_record(rows)
    assert report.ok and report.entries == 50 and "no checkpoint" in report.notes[0]
    heads = [sign_tree_head(20, _root(rows, 20), key)]
    report = verify_record(rows, heads, public_key=key.public_key())
    assert report.ok and report.checkpoints == 1 and "20..49" in report.notes[0]
    assert verify_record([]).ok


def test_proofs_from_a_record_verify_standalone_and_fail_when_they_must() -> None:
    rng = random.Random(2)
    rows = _record(37, rng)
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    leaves, _ = scan_chain(rows)
    tree = MerkleTree(leaves)
    old, new = (sign_tree_head(20, tree.root(20), key), sign_tree_head(37, tree.root(), key))
    for seq in (0, 5, 19, 36):
        e = Entry.from_row(rows[seq])
        proof = InclusionProof(seq, e.entry_hash, [p.hex() for p in tree.inclusion_path(seq)],
                               new, e.canonical.decode())
        verify_inclusion(proof)
        verify_inclusion(proof, new, key.public_key())
        again = parse_proof(json.dumps(proof.to_dict()))
        assert again == proof
        with pytest.raises(IntegrityError, match="does not hash"):
            verify_inclusion(dataclasses.replace(proof, entry=proof.entry.replace("0", "1", 1)))
        with pytest.raises(IntegrityError, match="not in the tree"):
            verify_inclusion(dataclasses.replace(proof, leaf_index=(seq + 1) % 37, entry=None))
        with pytest.raises(IntegrityError, match="bad signature"):
            verify_inclusion(dataclasses.replace(
                proof, tree_head=dataclasses.replace(new, root_hash=old.root_hash)))
        with pytest.raises(IntegrityError, match="not this tree head"):
            verify_inclusion(proof, old)
        with pytest.raises(InputError, match="not by the given public key"):
            verify_inclusion(proof, public_key=stranger.public_key())
    proof = ConsistencyProof(old, new, [p.hex() for p in tree.consistency_path(20)])
    verify_consistency(proof, key.public_key())
    assert parse_proof(json.dumps(proof.to_dict())) == proof
    with pytest.raises(IntegrityError, match="does not extend"):
        verify_consistency(dataclasses.replace(proof, path=proof.path[:-1]))
    forged = sign_tree_head(37, _root(_record(37, random.Random(3))), key)
    with pytest.raises(IntegrityError, match="does not extend"):
        verify_consistency(dataclasses.replace(proof, new=forged))


def test_a_key_ring_trusts_heads_signed_by_any_of_its_keys_and_no_other() -> None:
    rng = random.Random(4)
    rows = _record(30, rng)
    a, b, c = (Ed25519PrivateKey.generate() for _ in range(3))
    pa, pb, pc = a.public_key(), b.public_key(), c.public_key()
    leaves, _ = scan_chain(rows)
    tree = MerkleTree(leaves)
    old, new = sign_tree_head(12, tree.root(12), a), sign_tree_head(30, tree.root(), b)
    for ring in ([pa, pb], (pb, pa), [pa, pb, pc]):  # the order and extra keys do not matter
        report = verify_record(rows, [old, new], external=new, public_key=ring)
        assert report.ok and report.checkpoints == 3, report.failure
    report = verify_record(rows, [old, new], public_key=pb)  # A's head outside the ring
    assert report.failure.reason == "bad signature"
    assert f"signed by key {key_id(pa)[:16]}, not the given public key {key_id(pb)[:16]}" \
        in report.failure.detail
    report = verify_record(rows, [old, new], public_key=[pb, pc])
    assert report.failure.reason == "bad signature" and key_id(pa)[:16] in report.failure.detail
    assert "not one of the given public keys" in report.failure.detail
    intruder = sign_tree_head(30, tree.root(), c)  # a head by an unknown key C
    report = verify_record(rows, [old, intruder], public_key=[pa, pb])
    assert report.failure.reason == "bad signature" and key_id(pc)[:16] in report.failure.detail
    # C's signature under A's key id: the ring's key A does not verify it
    posing = dataclasses.replace(sign_tree_head(30, tree.root(), c), key_id=key_id(pa),
                                 public_key=old.public_key)
    report = verify_record(rows, [old, posing], public_key=[pa, pb])
    assert report.failure.reason == "bad signature" and "does not verify" in report.failure.detail
    with pytest.raises(InputError, match="not by one of the given public keys"):
        verify_record(rows, [old], external=intruder, public_key=[pa, pb])
    # proofs: each head checked against the key of the ring it names
    proof = ConsistencyProof(old, new, [p.hex() for p in tree.consistency_path(12)])
    verify_consistency(proof, [pa, pb])
    with pytest.raises(InputError, match=f"old tree head was signed by key {key_id(pa)[:16]}"):
        verify_consistency(proof, [pb, pc])
    with pytest.raises(IntegrityError, match="bad signature on the new tree head"):
        verify_consistency(dataclasses.replace(proof, new=dataclasses.replace(
            intruder, key_id=key_id(pb))), [pa, pb])
    e = Entry.from_row(rows[7])
    inclusion = InclusionProof(7, e.entry_hash, [p.hex() for p in tree.inclusion_path(7, 12)],
                               old, e.canonical.decode())
    verify_inclusion(inclusion, public_key=[pb, pa])
    with pytest.raises(InputError, match="not by the given public key"):
        verify_inclusion(inclusion, public_key=[pb])


@pytest.mark.parametrize("text", ["", "[]", '{"type": "inclusion"}', '{"type": "other"}',
                                  '{"type": "inclusion", "path": ["zz"]}',
                                  '{"type": "consistency", "path": [], "old": {}}'])
def test_corrupt_proofs_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_proof(text, source="proof.json")


# --------------------------------------------------------------------------- tampering


class Tamperer:
    """Random tamperings of a record, each with the reasons `verify` may give for it."""

    def __init__(self, rng: random.Random, rows: list[StoredRow], key: Ed25519PrivateKey) -> None:
        self.rng, self.rows, self.key = rng, rows, key
        self.n = len(rows)
        self.needs_checkpoint = False
        """The last mutation leaves the chain whole: only a checkpoint can tell."""

    def _renumber(self, rows: list[StoredRow]) -> list[StoredRow]:
        return [r._replace(seq=k) for k, r in enumerate(rows)]

    def edit(self) -> tuple[list[StoredRow], set[str]]:
        rows, i = list(self.rows), self.rng.randrange(self.n)
        r = rows[i]
        what = self.rng.randrange(7)
        self.needs_checkpoint = what == 6 and i == self.n - 1
        if what == 0:  # a payload value, the stored hash left as it was
            body = r.body.replace(b'"i":%d' % i, b'"i":%d' % (i + 1000))
            rows[i] = r._replace(body=body)
        elif what == 1:  # the time
            rows[i] = r._replace(body=r.body.replace(b'"at":"2', b'"at":"1', 1))
        elif what == 2:  # the kind column
            rows[i] = r._replace(kind=self.rng.choice([k for k in KINDS if k != r.kind]))
        elif what == 3:  # the prev column
            rows[i] = r._replace(prev=leaf_hash(os.urandom(8)).hex())
        elif what == 4:  # the hash column
            rows[i] = r._replace(hash=leaf_hash(os.urandom(8)).hex())
        elif what == 5:  # one byte of the payload
            k = self.rng.randrange(60, len(r.body))
            rows[i] = r._replace(body=r.body[:k] + bytes([r.body[k] ^ 1]) + r.body[k + 1:])
        else:  # a payload value, and the entry's own hash recomputed to match
            body = r.body.replace(b'"i":%d' % i, b'"i":%d' % (i + 1000))
            rows[i] = r._replace(body=body, hash=leaf_hash(entry_bytes(body, r.prev, i)).hex())
        return rows, {"edited"}

    def delete(self) -> tuple[list[StoredRow], set[str]]:
        rows, i = list(self.rows), self.rng.randrange(self.n - 1)  # the last: see truncate
        del rows[i]
        return (self._renumber(rows) if self.rng.random() < 0.5 else rows), {"missing"}

    def insert(self) -> tuple[list[StoredRow], set[str]]:
        rows, i = list(self.rows), self.rng.randrange(self.n)
        prev = rows[i - 1].hash if i else GENESIS
        forged = Entry.create(i, self.rng.choice(KINDS), {"forged": True}, prev).row()
        rows.insert(i, forged)
        if self.rng.random() < 0.7:
            return self._renumber(rows), {"inserted"}
        return rows, {"inserted"}  # two rows stored under one seq

    def reorder(self) -> tuple[list[StoredRow], set[str]]:
        rows = list(self.rows)
        i, j = sorted(self.rng.sample(range(self.n), 2))
        if self.rng.random() < 0.5:
            rows[i], rows[j] = rows[j], rows[i]
        else:
            rows.insert(j, rows.pop(i))
        return self._renumber(rows), {"reordered"}

    def truncate(self) -> tuple[list[StoredRow], set[str]]:
        return self.rows[: self.rng.randrange(self.n)], {"truncated"}

    def rewrite(self) -> tuple[list[StoredRow], set[str]]:
        """Every entry rebuilt and re-chained from a changed payload on: only a checkpoint
        kept elsewhere can tell."""
        i = self.rng.randrange(self.n)
        rows, prev = list(self.rows[:i]), (self.rows[i - 1].hash if i else GENESIS)
        for r in self.rows[i:]:
            e = Entry.from_row(r)
            payload = {**e.payload, "x": 0.5} if r.seq == i else e.payload
            f = Entry.create(r.seq, r.kind, payload, prev, e.at)
            rows.append(f.row())
            prev = f.entry_hash
        return rows, {"edited"}


def test_a_thousand_random_tamperings_are_all_detected() -> None:
    rng = random.Random(20240531)
    key, attacker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    bystander = Ed25519PrivateKey.generate().public_key()  # a retired key, say
    seen: dict[str, int] = {}
    total = 0
    for _round in range(25):
        n = rng.randrange(12, 48)
        rows = _record(n, rng, tag=str(_round))
        mid = rng.randrange(1, n)
        stored = [sign_tree_head(mid, _root(rows, mid), key), sign_tree_head(n, _root(rows), key)]
        exported = stored[1]
        trusted = key.public_key() if _round % 2 else [bystander, key.public_key()]
        assert verify_record(rows, stored, external=exported, public_key=trusted).ok
        t = Tamperer(rng, rows, key)
        for _ in range(44):
            kind = rng.choice(["edit", "delete", "insert", "reorder", "truncate", "rewrite",
                               "signature"])
            heads, external = list(stored), exported
            if kind == "signature":
                mutated, expected = rows, {"bad signature"}
                k = rng.randrange(3)
                if k == 0:  # two stored heads swap signatures
                    heads = [dataclasses.replace(stored[0], signature=stored[1].signature),
                             stored[1]]
                elif k == 1:  # the exported head's signature replaced by another valid one
                    external = dataclasses.replace(exported, signature=stored[0].signature)
                else:  # a stored head re-signed by someone else
                    heads = [stored[0], sign_tree_head(n, _root(rows), attacker)]
            else:
                mutated, expected = getattr(t, kind)()
                if kind in ("truncate", "rewrite") and rng.random() < 0.5:
                    heads = []  # the attacker also deleted the stored checkpoints
            assert mutated != rows or heads != stored or external != exported
            report = verify_record(mutated, heads, external=external, public_key=trusted)
            assert report.failure is not None, (kind, n)
            assert report.failure.reason in expected, (kind, str(report.failure))
            seen[kind] = seen.get(kind, 0) + 1
            total += 1
            if kind in ("edit", "delete", "insert", "reorder") and not t.needs_checkpoint:
                # the chain alone catches these: no checkpoint needed
                alone = verify_record(mutated)
                assert alone.failure is not None, (kind, n)
    assert total >= 1000
    assert len(seen) == 7 and min(seen.values()) > 80, seen


def test_diagnosis_names_the_entry_at_fault() -> None:
    rng = random.Random(5)
    rows = _record(30, rng)
    t = Tamperer(rng, rows, Ed25519PrivateKey.generate())
    # deleting entry 7 (no renumbering) names entry 7
    report = verify_record(rows[:7] + rows[8:])
    assert (report.failure.reason, report.failure.seq) == ("missing", 7)
    # swapping 4 and 12 names entry 4
    swapped = list(rows)
    swapped[4], swapped[12] = swapped[12], swapped[4]
    report = verify_record(t._renumber(swapped))
    assert (report.failure.reason, report.failure.seq) == ("reordered", 4)
    # editing entry 9 and rewriting its hash names entry 9, found through entry 10's link
    r = rows[9]
    body = r.body.replace(b'"i":9', b'"i":99')
    edited = list(rows)
    edited[9] = r._replace(body=body, hash=leaf_hash(entry_bytes(body, r.prev, 9)).hex())
    report = verify_record(edited)
    assert (report.failure.reason, report.failure.seq) == ("edited", 9)
    # a forged entry at 3 names entry 3
    forged = Entry.create(3, "policy", {"forged": 1}, rows[2].hash).row()
    report = verify_record(t._renumber([*rows[:3], forged, *rows[3:]]))
    assert (report.failure.reason, report.failure.seq) == ("inserted", 3)


def test_canonical_json_is_rfc8785_for_every_plain_value() -> None:
    """Plain payloads (no floats) are written by Python's C encoder: the bytes must be the
    RFC 8785 bytes, for escapes, non-ASCII and astral text, key order, integer limits, and
    refused where RFC 8785 refuses (lone surrogates, integers beyond 2**53)."""
    from tripwire.record import canonical_json

    rng = random.Random(8785)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x00",
                "\x1f", "\x7f", "é", "\u2028", "\ud7ff", "\ue000", "\uffff", "😀", "\U0010ffff"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))

    def value(depth: int) -> object:
        kind = rng.randrange(7 if depth < 3 else 5)
        if kind == 0:
            return text()
        if kind == 1:
            return rng.choice([0, 1, -1, 2**53 - 1, -(2**53) + 1, 2**53, -(2**53), 10**20])
        if kind == 2:
            return rng.choice([True, False, None])
        if kind in (3, 4):
            return rng.choice(["", "x", "\ud800", "a\udfffb"]) if kind == 4 else text()
        if kind == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {text(): value(depth + 1) for _ in range(rng.randrange(5))}

    for _ in range(3000):
        v = value(0)
        try:
            want: bytes | None = rfc8785.dumps(v)
        except rfc8785.CanonicalizationError:
            want = None
        try:
            got: bytes | None = canonical_json(v)
        except InputError:
            got = None
        assert got == want, v
