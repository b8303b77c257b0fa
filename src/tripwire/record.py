"""The record: canonical JSON entries in a hash chain, a Merkle tree over them, proofs, and
signed tree heads. Pure: bytes and objects in, bytes and objects out; the register stores the
entries and calls these functions to append and to verify.

Entries. An entry is the RFC 8785 (JSON Canonicalization Scheme) serialisation of

    {"at": <UTC time>, "kind": <kind>, "payload": <object>, "prev": <hash of entry seq-1>,
     "seq": <0, 1, 2, ...>, "v": 1}

and its hash is the RFC 6962 leaf hash SHA-256(0x00 || canonical bytes). The same 32 bytes serve
as the link the next entry records in "prev" (the hash chain) and as the Merkle leaf, so one
SHA-256 per entry both re-links the chain and feeds the tree. JCS sorts the members, so an
entry's bytes are always ``{"at":"…","kind":"…","payload":…`` (its body, as stored) followed by
``,"prev":"…","seq":N,"v":1}``, which the seq and prev columns determine: verification rebuilds
every entry's canonical bytes from its columns and re-hashes them, without parsing any JSON.

Merkle tree. RFC 6962 section 2.1 / RFC 9162 section 2.1: leaves hashed with a 0x00 prefix,
interior nodes with 0x01 (domain separation, so no leaf can pass for a node), the tree split at
the largest power of two below its size. Inclusion and consistency proofs, and their
verification, follow RFC 9162 sections 2.1.3 and 2.1.4; the verify functions need only a proof and
a tree head. Tree heads are signed with ed25519 (RFC 8032). An exported signed tree head held by a
third party detects any later rewrite of the first ``tree_size`` entries, even a consistent one.

Keys. A verifier trusts a key ring: one public key or several (the current one and those retired
by rotation, which `rotate_key` keeps beside the signing key). A head is trusted when its key_id
names a key of the ring and its signature verifies under that key, so checkpoints signed before a
rotation still verify while a head signed by any other key fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice, repeat
from pathlib import Path
from typing import Any, Literal, NamedTuple

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tripwire.errors import InputError, IntegrityError

__all__ = [
    "ENTRY_VERSION",
    "GENESIS",
    "ConsistencyProof",
    "Entry",
    "Failure",
    "InclusionProof",
    "KeySource",
    "MerkleTree",
    "PublicKeys",
    "SignedTreeHead",
    "StoredRow",
    "VerifyReport",
    "canonical_json",
    "default_key_path",
    "entry_body",
    "entry_bytes",
    "format_time",
    "generate_key",
    "key_id",
    "key_ring",
    "leaf_hash",
    "load_private_key",
    "load_public_key",
    "merkle_root",
    "node_hash",
    "parse_proof",
    "retired_public_keys",
    "rotate_key",
    "scan_blocks",
    "scan_chain",
    "sign_tree_head",
    "signature_valid",
    "verify_consistency",
    "verify_consistency_path",
    "verify_inclusion",
    "verify_inclusion_path",
    "verify_blocks",
    "verify_record",
]

ENTRY_VERSION = 1
"""Entry format; bump when a member changes meaning."""
GENESIS = "0" * 64
"""The "prev" of entry 0."""
HASH_SIZE = 32
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_WIDTH = 27  # len("2025-01-31T12:00:00.000000Z")
_KIND_AT = 7 + _TIME_WIDTH + 9  # offset of the kind value: {"at":"<time>","kind":
_KIND_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RETIRED_ID = 16  # hex digits of the key id in a retired public key's file name
_SIGNING_CONTEXT = b"tripwire tree head v1\n"
_sha256 = hashlib.sha256

KeySource = Ed25519PublicKey | str | os.PathLike[str]
"""A public key, or the path of a file holding one (`load_public_key`)."""
PublicKeys = KeySource | Sequence[KeySource]
"""One trusted public key or several: a key ring (see `key_ring`)."""

Reason = Literal["edited", "missing", "inserted", "reordered", "truncated", "bad signature",
                 "evidence"]


# --------------------------------------------------------------------------- canonical JSON

def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value (sorted members, ECMAScript numbers, UTF-8).

    Raises InputError for what JSON cannot carry exactly: NaN and infinities, integers beyond
    +-(2**53 - 1) (I-JSON, RFC 7493), non-string keys, other Python types.
    """
    if _plain_json(value):  # the same bytes, by the C encoder (RFC 8785's rules agree there)
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 says so below
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise InputError(f"value cannot be written as canonical JSON: {e}",
                         hint="use finite floats, integers within 2**53 and string keys") from e


_SAFE_INT = 2**53 - 1


def _plain_json(v: Any) -> bool:
    """True for JSON made only of objects with keys below U+D800 (where code-point order is
    RFC 8785's UTF-16 order), arrays, strings, booleans, null and integers within 2**53:
    Python's encoder (sorted keys, no spaces, UTF-8, `ensure_ascii` off) writes exactly the
    RFC 8785 bytes for these (the same escapes; no floats, whose forms differ)."""
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is int:
        return -_SAFE_INT <= v <= _SAFE_INT
    if t is dict:
        return all(type(k) is str and (not k or max(k) < "\ud800") and _plain_json(x)
                   for k, x in v.items())
    if t is list:
        return all(map(_plain_json, v))
    return False


def format_time(at: dt.datetime) -> str:
    """UTC ISO 8601 with microseconds and a Z, always 27 characters (naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    text = at.astimezone(dt.UTC).strftime(_TIME_FORMAT)
    if len(text) != _TIME_WIDTH:
        raise InputError(f"time {at!r} is outside years 1000-9999")
    return text


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=dt.UTC)


# --------------------------------------------------------------------------- hashing

def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def entry_body(at: str, kind: str, payload_json: bytes) -> bytes:
    """An entry's canonical bytes up to the end of its payload: ``{"at":…,"kind":…,"payload":…``.

    What the register stores per entry; the chain members follow from the seq and prev columns
    (see `entry_bytes`). `payload_json` must already be canonical (`canonical_json`).
    """
    if not _KIND_RE.fullmatch(kind):
        raise InputError(f"entry kind {kind!r} must be lower-case letters, digits, - or _")
    if len(at) != _TIME_WIDTH:
        raise InputError(f"entry time {at!r} is not in the record's format")
    return b'{"at":"%s","kind":"%s","payload":%s' % (at.encode(), kind.encode(), payload_json)


def entry_bytes(body: bytes, prev_hash: str, seq: int) -> bytes:
    """The whole canonical entry: `body` closed by its chain members prev, seq and v.

    Equal to ``canonical_json`` of the entry object, because JCS is compositional (an object's
    canonical form embeds its members' canonical forms) and these members sort last.
    """
    if not _HEX64.fullmatch(prev_hash) or seq < 0:
        raise InputError(f"entry {seq}: malformed previous hash {prev_hash!r}")
    return _TAIL % (body, prev_hash.encode(), seq)


_TAIL = b'%s,"prev":"%s","seq":%d,"v":1}'
_LEAF = b"\x00" + _TAIL  # leaf hash input, built in one step


class StoredRow(NamedTuple):
    """One entry as the register stores it (columns of `record_entries`)."""

    seq: int
    kind: str
    body: bytes
    """`entry_body`: the canonical entry up to the end of its payload."""
    prev: str
    hash: str
    """Hex SHA-256(0x00 || entry_bytes(body, prev, seq))."""


@dataclass(frozen=True)
class Entry:
    """One record entry: what was recorded, when, where in the chain, and its hash."""

    seq: int
    at: dt.datetime
    kind: str
    """`ingest`, `determination`, `attestation`, `policy`, ..."""
    payload: dict[str, Any]
    prev_hash: str
    """Hex hash of entry seq-1 (GENESIS for entry 0)."""
    entry_hash: str
    """Hex SHA-256(0x00 || canonical): the chain link and the Merkle leaf."""
    canonical: bytes = field(repr=False)
    """The RFC 8785 bytes that were hashed."""

    @classmethod
    def create(cls, seq: int, kind: str, payload: dict[str, Any], prev_hash: str,
               at: dt.datetime | None = None, *, payload_json: bytes | None = None) -> Entry:
        """Build entry `seq` after the entry whose hash is `prev_hash` (`payload_json`: the
        payload's canonical bytes, when already computed)."""
        if not isinstance(payload, dict):
            raise InputError(f"{kind} entry payload must be a JSON object, not "
                             f"{type(payload).__name__}")
        moment = at if at is not None else dt.datetime.now(dt.UTC)
        at_text = format_time(moment)
        if payload_json is None:
            payload_json = canonical_json(payload)
        body = entry_body(at_text, kind, payload_json)
        canonical = entry_bytes(body, prev_hash, seq)
        moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
        return cls(seq, moment.astimezone(dt.UTC), kind, payload, prev_hash,
                   leaf_hash(canonical).hex(), canonical)

    @classmethod
    def from_row(cls, row: StoredRow) -> Entry:
        """Read a stored entry back (IntegrityError if its bytes are not an entry)."""
        d = _decode_body(row.body)
        if d is None:
            raise IntegrityError(f"entry {row.seq}: stored bytes are not a record entry")
        canonical = _TAIL % (row.body, row.prev.encode(), row.seq)
        return cls(row.seq, _parse_time(d["at"]), d["kind"], d["payload"], row.prev,
                   row.hash, canonical)

    def row(self) -> StoredRow:
        """The columns the register stores for this entry."""
        body = self.canonical[: self.canonical.rindex(b',"prev":"')]
        return StoredRow(self.seq, self.kind, body, self.prev_hash, self.entry_hash)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with stable keys."""
        return {"seq": self.seq, "at": format_time(self.at), "kind": self.kind,
                "hash": self.entry_hash, "prev": self.prev_hash, "payload": self.payload}


def _decode_body(body: bytes) -> dict[str, Any] | None:
    """The at, kind and payload of a stored body, or None when it is not one."""
    try:
        d = json.loads(body + b"}")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(d, dict) or set(d) != {"at", "kind", "payload"}:
        return None
    if not (isinstance(d["kind"], str) and isinstance(d["payload"], dict)
            and isinstance(d["at"], str) and len(d["at"]) == _TIME_WIDTH):
        return None
    try:
        _parse_time(d["at"])
    except ValueError:
        return None
    return d


def _decode_entry(canonical: bytes) -> tuple[int, str] | None:
    """(seq, prev) of a whole canonical entry, or None."""
    try:
        d = json.loads(canonical)
    except (ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(d, dict) or set(d) != {"at", "kind", "payload", "prev", "seq", "v"}
            or not isinstance(d["seq"], int) or not isinstance(d["prev"], str)):
        return None
    return d["seq"], d["prev"]


# --------------------------------------------------------------------------- Merkle tree

def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


_NODE = _sha256(b"\x01")


def _parents(level: list[bytes]) -> list[bytes]:
    """Node hashes of each pair (0,1), (2,3), ... of a level (an odd last node is left out)."""
    out: list[bytes] = []
    push, start = out.append, _NODE.copy  # copying a primed hash beats building one per node
    for a, b in zip(level[0::2], level[1::2], strict=False):
        h = start()
        h.update(a)
        h.update(b)
        push(h.digest())
    return out


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash of a list of leaf hashes (SHA-256 of nothing when empty)."""
    if not leaves:
        return _sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        nxt = _parents(level)
        if len(level) & 1:
            nxt.append(level[-1])  # an unpaired node moves up unchanged (RFC 6962, not Bitcoin)
        level = nxt
    return level[0]


class MerkleTree:
    """All levels of an RFC 6962 tree over leaf hashes: roots, inclusion and consistency proofs
    for this size or any smaller one, each in O(log n) after one O(n) build."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        levels = [list(leaves)]
        while len(levels[-1]) > 1:
            levels.append(_parents(levels[-1]))
        self._levels = levels  # level j holds the full aligned blocks of 2**j leaves

    def _hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) for the ranges RFC 6962's recursion visits."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            j = n.bit_length() - 1
            return self._levels[j][lo >> j]
        k = _split(n)
        return node_hash(self._hash(lo, lo + k), self._hash(lo + k, hi))

    def _check_size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise InputError(f"tree size {size} is outside 0..{self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Root of the first `size` leaves (all by default)."""
        size = self._check_size(size)
        return self._hash(0, size) if size else _sha256(b"").digest()

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.3.1 PATH(index, D[size]), ordered from the leaf up."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise InputError(f"entry {index} is not in a tree of {size} entries")
        path: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                path.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._hash(lo, lo + k))
                lo = lo + k
        path.reverse()
        return path

    def consistency_path(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 2.1.4.1 PROOF(size1, D[size2]), ordered from the leaves up."""
        size2 = self._check_size(size2)
        if not 0 <= size1 <= size2:
            raise InputError(f"cannot prove size {size1} consistent with smaller size {size2}")
        if size1 == 0 or size1 == size2:
            return []
        path: list[bytes] = []
        lo, hi, m, whole = 0, size2, size1, True
        while m != hi - lo:
            k = _split(hi - lo)
            if m <= k:
                path.append(self._hash(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._hash(lo, lo + k))
                lo, m, whole = lo + k, m - k, False
        if not whole:
            path.append(self._hash(lo, hi))
        path.reverse()
        return path


def verify_inclusion_path(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                          root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `path` prove leaf hash `leaf` is entry `index` of the tree of
    `size` entries whose root is `root`?"""
    if not 0 <= index < size or len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if len(p) != HASH_SIZE or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency_path(size1: int, size2: int, path: Sequence[bytes], root1: bytes,
                            root2: bytes) -> bool:
    """RFC 9162 2.1.4.2: does `path` prove the tree (size1, root1) is a prefix of the tree
    (size2, root2)?"""
    if size1 < 0 or size2 < size1:
        return False
    if size1 == size2:
        return not path and root1 == root2
    if size1 == 0:
        return not path
    if not path or any(len(p) != HASH_SIZE for p in path):
        return False
    proof = list(path)
    if size1 & (size1 - 1) == 0:
        proof.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


# --------------------------------------------------------------------------- keys

def default_key_path() -> Path:
    """`$TRIPWIRE_KEY`, else ./tripwire.key; the public key sits beside it as `<path>.pub`."""
    return Path(os.environ.get("TRIPWIRE_KEY") or "tripwire.key")


def _pub_path(path: Path) -> Path:
    return path.with_name(path.name + ".pub")


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw 32-byte public key: names the key in tree heads."""
    return _sha256(_raw_public(public_key)).hexdigest()


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _retired_path(path: Path, public_key: Ed25519PublicKey) -> Path:
    return path.with_name(f"{path.name}.{key_id(public_key)[:_RETIRED_ID]}.pub")


def retired_public_keys(path: str | Path | None = None) -> list[Path]:
    """The public keys `rotate_key` retired from the signing key at `path` (default
    `default_key_path()`): the files ``<path>.<16 hex digits of the key id>.pub`` beside it."""
    path = Path(path) if path is not None else default_key_path()
    pattern = re.compile(re.escape(path.name) + rf"\.[0-9a-f]{{{_RETIRED_ID}}}\.pub")
    try:
        names = [p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file()]
    except OSError:
        return []
    return sorted(names)


def _old_public_keys(path: Path, pub: Path) -> list[Ed25519PublicKey]:
    """The public keys of the pair about to be replaced: the private key's own and the `.pub`
    file's, when they parse (a file that is not a key has nothing to keep)."""
    found: dict[str, Ed25519PublicKey] = {}
    for file, private in ((path, True), (pub, False)):
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise InputError(f"cannot read the key being replaced: {e.strerror}",
                             source=str(file), hint="its public key would be lost; fix or "
                             "remove the file first") from e
        key: Any
        try:
            if private:
                key = serialization.load_pem_private_key(data, password=None)
                key = key.public_key() if isinstance(key, Ed25519PrivateKey) else None
            else:
                key = load_public_key(file)
        except (ValueError, TypeError, InputError):
            key = None
        if isinstance(key, Ed25519PublicKey):
            found.setdefault(key_id(key), key)
    return list(found.values())


def _write_public(path: Path, public_key: Ed25519PublicKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, _public_pem(public_key))
    finally:
        os.close(fd)


def rotate_key(path: str | Path | None = None) -> tuple[Path, Path, list[Path]]:
    """Replace the signing key at `path` with a new pair, keeping the old public key.

    Before the old pair is overwritten its public key is written (mode 0644) to
    ``<path>.<16 hex digits of its key id>.pub``, so checkpoints it signed still verify
    (`retired_public_keys` finds these files; the CLI trusts them by default). The old private
    key is never kept. Returns the private key, public key and retired public key paths.
    """
    path = Path(path) if path is not None else default_key_path()
    retired: list[Path] = []
    try:
        for old in _old_public_keys(path, _pub_path(path)):
            kept = _retired_path(path, old)
            _write_public(kept, old)
            retired.append(kept)
    except OSError as e:
        raise InputError(f"cannot keep the old public key: {e.strerror}", source=str(path)) from e
    private, public = _new_key(path, overwrite=True)
    return private, public, retired


def generate_key(path: str | Path | None = None, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Create an ed25519 key pair: PKCS#8 PEM private key written with mode 0600, and the
    SubjectPublicKeyInfo PEM public key at `<path>.pub`. Returns both paths.

    With `overwrite`, an existing pair is replaced by `rotate_key`, which keeps the old public
    key as ``<path>.<key id>.pub``."""
    if overwrite:
        private, public, _ = rotate_key(path)
        return private, public
    return _new_key(Path(path) if path is not None else default_key_path(), overwrite=False)


def _new_key(path: Path, *, overwrite: bool) -> tuple[Path, Path]:
    pub = _pub_path(path)
    if not overwrite and (path.exists() or pub.exists()):
        raise InputError("a key already exists here", source=str(path),
                         hint="pass --force to replace it, or choose another path")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        fd = os.open(path, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)  # also when replacing a file that had wider permissions
            os.write(fd, private_pem)
        finally:
            os.close(fd)
        pub.write_bytes(_public_pem(key.public_key()))
    except OSError as e:
        raise InputError(f"cannot write the key: {e.strerror}", source=str(path)) from e
    return path, pub


def load_private_key(path: str | Path | None = None) -> Ed25519PrivateKey:
    """Read an ed25519 private key (PEM); refuses files others can read, as ssh does."""
    path = Path(path) if path is not None else default_key_path()
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError as e:
        raise InputError("no signing key here", source=str(path),
                         hint="run `tripwire keygen` or set TRIPWIRE_KEY") from e
    except OSError as e:
        raise InputError(f"cannot read the key: {e.strerror}", source=str(path)) from e
    if os.name == "posix" and mode & 0o077:
        raise InputError(f"private key is readable by others (mode {mode & 0o777:o})",
                         source=str(path), hint=f"chmod 600 {path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise InputError("not an unencrypted PEM private key", source=str(path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError("not an ed25519 key", source=str(path))
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read an ed25519 public key: a PEM public key, or the hex of its 32 raw bytes."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the public key: {e.strerror}", source=str(path)) from e
    text = data.strip()
    try:
        if re.fullmatch(rb"[0-9a-fA-F]{64}", text):
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode()))
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise InputError("not a PEM public key", source=str(path),
                         hint="pass the `.pub` file `tripwire keygen` wrote") from e
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an ed25519 public key", source=str(path))
    return key


def key_ring(keys: PublicKeys | None) -> dict[str, Ed25519PublicKey] | None:
    """The trusted keys by key id: one public key or several, each a key or a key file's path.

    None means no key was given (a head is then checked against the key it carries); an empty
    sequence is refused (InputError), since a ring trusting nothing would pass for one unset.
    """
    if keys is None:
        return None
    if isinstance(keys, Ed25519PublicKey | str | os.PathLike):
        keys = [keys]
    ring: dict[str, Ed25519PublicKey] = {}
    for k in keys:
        key = k if isinstance(k, Ed25519PublicKey) else load_public_key(k)
        ring.setdefault(key_id(key), key)
    if not ring:
        raise InputError("no public key given: an empty key ring trusts no checkpoint",
                         hint="pass at least one public key, or none to use the key each "
                         "head carries")
    return ring


def _ring_text(ring: dict[str, Ed25519PublicKey]) -> str:
    """Names the ring in a message: the given public key <id>, or one of the given public
    keys (<id>, <id>, ...)."""
    ids = [k[:16] for k in ring]
    if len(ids) == 1:
        return f"the given public key {ids[0]}"
    shown = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
    return f"one of the given public keys ({shown})"


# --------------------------------------------------------------------------- tree heads

@dataclass(frozen=True)
class SignedTreeHead:
    """A checkpoint: the size and root of the record's tree at a time, signed with ed25519."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    public_key: str
    """Hex of the raw 32-byte ed25519 public key (for convenience; trust comes from the key the
    verifier holds, checked against `key_id`)."""
    signature: str
    """Hex ed25519 signature over `signed_message()`."""
    version: int = 1

    def signed_message(self) -> bytes:
        """What the signature covers: a context string and the canonical head without keys."""
        return _SIGNING_CONTEXT + canonical_json({
            "key_id": self.key_id, "root_hash": self.root_hash, "timestamp": self.timestamp,
            "tree_size": self.tree_size, "version": self.version})

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "tree_size": self.tree_size,
                "root_hash": self.root_hash, "timestamp": self.timestamp,
                "key_id": self.key_id, "public_key": self.public_key,
                "signature": self.signature}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> SignedTreeHead:
        """Validate and build; InputError naming the first bad member."""
        if not isinstance(d, dict):
            raise InputError("checkpoint is not a JSON object", source=source)
        want = {"version": int, "tree_size": int, "root_hash": str, "timestamp": str,
                "key_id": str, "public_key": str, "signature": str}
        for name, typ in want.items():
            v = d.get(name)
            if not isinstance(v, typ) or isinstance(v, bool):
                raise InputError(f"checkpoint member {name!r} is missing or not a "
                                 f"{typ.__name__}", source=source)
        if d["version"] != 1 or d["tree_size"] < 0:
            raise InputError("checkpoint version or tree_size is not valid", source=source)
        for name, length in (("root_hash", 64), ("key_id", 64), ("public_key", 64),
                             ("signature", 128)):
            if not re.fullmatch(f"[0-9a-f]{{{length}}}", d[name]):
                raise InputError(f"checkpoint member {name!r} is not {length} hex digits",
                                 source=source)
        return cls(d["tree_size"], d["root_hash"], d["timestamp"], d["key_id"], d["public_key"],
                   d["signature"], d["version"])

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str | None = None) -> SignedTreeHead:
        try:
            d = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(f"checkpoint is not valid JSON ({e})", source=source) from e
        return cls.from_dict(d, source=source)

    @classmethod
    def read(cls, path: str | Path) -> SignedTreeHead:
        """Load an exported checkpoint file."""
        try:
            text = Path(path).read_bytes()
        except OSError as e:
            raise InputError(f"cannot read the checkpoint: {e.strerror}", source=str(path)) from e
        return cls.from_json(text, source=str(path))


def sign_tree_head(tree_size: int, root: bytes, private_key: Ed25519PrivateKey,
                   timestamp: dt.datetime | None = None) -> SignedTreeHead:
    """Sign (tree_size, root) now (or at `timestamp`)."""
    public = private_key.public_key()
    unsigned = SignedTreeHead(tree_size, root.hex(),
                              format_time(timestamp or dt.datetime.now(dt.UTC)),
                              key_id(public), _raw_public(public).hex(), "0" * 128)
    sig = private_key.sign(unsigned.signed_message())
    return SignedTreeHead(unsigned.tree_size, unsigned.root_hash, unsigned.timestamp,
                          unsigned.key_id, unsigned.public_key, sig.hex())


def signature_valid(head: SignedTreeHead, public_key: Ed25519PublicKey | None = None) -> bool:
    """Does the signature verify, under `public_key` (or the key the head carries), and does
    `key_id` name that key?"""
    try:
        key = public_key or Ed25519PublicKey.from_public_bytes(bytes.fromhex(head.public_key))
        if key_id(key) != head.key_id:
            return False
        key.verify(bytes.fromhex(head.signature), head.signed_message())
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- proofs

@dataclass(frozen=True)
class InclusionProof:
    """Entry `leaf_index` is in the tree of `tree_head` (RFC 9162 inclusion proof)."""

    leaf_index: int
    leaf_hash: str
    path: list[str]
    tree_head: SignedTreeHead
    entry: str | None = None
    """The entry's canonical JSON text, so a verifier can see what was recorded."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "inclusion", "version": 1, "leaf_index": self.leaf_index,
                "tree_size": self.tree_head.tree_size, "leaf_hash": self.leaf_hash,
                "path": self.path, "entry": self.entry, "tree_head": self.tree_head.to_dict()}


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of `old` is a prefix of the tree of `new` (RFC 9162 consistency proof)."""

    old: SignedTreeHead
    new: SignedTreeHead
    path: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "consistency", "version": 1, "old_size": self.old.tree_size,
                "new_size": self.new.tree_size, "path": self.path, "old": self.old.to_dict(),
                "new": self.new.to_dict()}


def _hexes(v: Any, what: str, source: str | None) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) and _HEX64.fullmatch(x) for x in v):
        raise InputError(f"proof member {what!r} must be a list of 64-hex-digit hashes",
                         source=source)
    return v


def parse_proof(text: str | bytes, *, source: str | None = None
                ) -> InclusionProof | ConsistencyProof:
    """Read a proof written by `tripwire prove` (InputError when malformed)."""
    try:
        d = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"proof is not valid JSON ({e})", source=source) from e
    if not isinstance(d, dict) or d.get("type") not in ("inclusion", "consistency"):
        raise InputError("not a tripwire proof (type must be inclusion or consistency)",
                         source=source)
    path = _hexes(d.get("path"), "path", source)
    if d["type"] == "consistency":
        return ConsistencyProof(SignedTreeHead.from_dict(d.get("old"), source=source),
                                SignedTreeHead.from_dict(d.get("new"), source=source), path)
    idx, leaf, entry = d.get("leaf_index"), d.get("leaf_hash"), d.get("entry")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise InputError("proof member 'leaf_index' must be a non-negative integer",
                         source=source)
    leaf = _hexes([leaf], "leaf_hash", source)[0]
    if entry is not None and not isinstance(entry, str):
        raise InputError("proof member 'entry' must be a string", source=source)
    return InclusionProof(idx, leaf, path, SignedTreeHead.from_dict(d.get("tree_head"),
                                                                    source=source), entry)


def _check_head(head: SignedTreeHead, ring: dict[str, Ed25519PublicKey] | None,
                what: str) -> None:
    key = None
    if ring is not None:
        key = ring.get(head.key_id)
        if key is None:
            raise InputError(f"{what} was signed by key {head.key_id[:16]}, not by "
                             f"{_ring_text(ring)}", hint="pass the matching public key")
    if not signature_valid(head, key):
        raise IntegrityError(f"bad signature on {what} (size {head.tree_size})")


def verify_inclusion(proof: InclusionProof, head: SignedTreeHead | None = None,
                     public_key: PublicKeys | None = None) -> None:
    """Check an inclusion proof against a tree head (the proof's own by default): the head's
    signature, the entry text against the leaf hash, and the audit path against the root.
    `public_key`: one trusted key or a ring of several (`key_ring`). Raises IntegrityError when
    any check fails, InputError when the head names a key outside the ring."""
    head = head or proof.tree_head
    _check_head(head, key_ring(public_key), "the tree head")
    if proof.tree_head.tree_size != head.tree_size or proof.tree_head.root_hash != head.root_hash:
        raise IntegrityError(f"the proof is for the tree of size {proof.tree_head.tree_size}, "
                             f"not this tree head (size {head.tree_size})")
    if proof.entry is not None:
        if leaf_hash(proof.entry.encode()).hex() != proof.leaf_hash:
            raise IntegrityError("the entry text does not hash to the proof's leaf hash")
        d = _decode_entry(proof.entry.encode())
        if d is None or d[0] != proof.leaf_index:
            raise IntegrityError(f"the entry is not entry {proof.leaf_index} of the record")
    if not verify_inclusion_path(proof.leaf_index, head.tree_size, bytes.fromhex(proof.leaf_hash),
                                 [bytes.fromhex(p) for p in proof.path],
                                 bytes.fromhex(head.root_hash)):
        raise IntegrityError(f"entry {proof.leaf_index} is not in the tree of size "
                             f"{head.tree_size}: the inclusion proof does not verify")


def verify_consistency(proof: ConsistencyProof, public_key: PublicKeys | None = None) -> None:
    """Check a consistency proof: both heads' signatures and the RFC 9162 path between them.
    The heads may be signed by different keys of the ring `public_key` (a rotation between
    them). Raises IntegrityError when any check fails, InputError when a head names a key
    outside the ring."""
    ring = key_ring(public_key)
    _check_head(proof.old, ring, "the old tree head")
    _check_head(proof.new, ring, "the new tree head")
    if not verify_consistency_path(proof.old.tree_size, proof.new.tree_size,
                                   [bytes.fromhex(p) for p in proof.path],
                                   bytes.fromhex(proof.old.root_hash),
                                   bytes.fromhex(proof.new.root_hash)):
        raise IntegrityError(f"the tree of size {proof.new.tree_size} does not extend the tree "
                             f"of size {proof.old.tree_size}: the consistency proof fails")


# --------------------------------------------------------------------------- verification

@dataclass(frozen=True)
class Failure:
    """The first thing found wrong with the record."""

    reason: Reason
    seq: int | None
    """The entry at fault, where it can be named."""
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.seq}: " if self.seq is not None else ""
        return f"{self.reason}: {where}{self.detail}"


@dataclass
class VerifyReport:
    """What `verify` found: the size and root recomputed, checkpoints checked, the failure."""

    entries: int
    root_hash: str | None
    checkpoints: int = 0
    """Stored checkpoints checked (plus the exported one, when given)."""
    external: bool = False
    """An exported checkpoint was checked."""
    evidence: int = 0
    """Distinct source-file hashes the record cites, checked against stored source files."""
    failure: Failure | None = None
    notes: list[str] = field(default_factory=list)
    rows: int | None = None
    """Committed evidence rows compared with the tables (None: not checked, `verify --fast`)."""
    changes: list[Any] = field(default_factory=list)
    """Evidence rows changed, added or removed outside tripwire (objects with `to_dict`), and
    entries whose committed rows were altered, each named."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        f = self.failure
        return {"ok": self.ok, "entries": self.entries, "root_hash": self.root_hash,
                "checkpoints": self.checkpoints, "external_checkpoint": self.external,
                "evidence_checked": self.evidence,
                "evidence_rows_checked": self.rows,
                "failure": None if f is None else {"reason": f.reason, "seq": f.seq,
                                                   "detail": f.detail},
                "evidence_changes": [c.to_dict() for c in self.changes],
                "notes": self.notes}


def scan_chain(rows: Iterable[StoredRow], chunk: int = 256) -> tuple[list[bytes], int | None]:
    """Re-hash and re-link every entry in order; stop at the first that fails.

    Returns the leaf hashes of the entries that passed and the position of the first failure
    (None when all pass). See `scan_blocks`.
    """
    it = iter(rows)
    return scan_blocks(iter(lambda: list(islice(it, chunk)), []))


def scan_blocks(blocks: Iterable[Sequence[tuple[int, str, bytes, str, str]]],
                on_block: Callable[[tuple[str, ...], tuple[bytes, ...]], None] | None = None,
                ) -> tuple[list[bytes], int | None]:
    """`scan_chain` over consecutive blocks of (seq, kind, body, prev, hash) rows.

    Entry i passes when its seq column is i, its prev column is the stored hash of entry i-1
    (GENESIS for 0), the canonical bytes rebuilt from its body, prev and seq hash to its stored
    hash (so, by induction, every hash is recomputed and none is trusted), and its body's kind
    equals its kind column. The work runs in C over each block (a few hundred entries, small
    enough to stay in cache): one SHA-256 per entry and no JSON parsing, so verifying costs little
    more than hashing the bytes once. `on_block(kinds, bodies)` sees each block that passed.
    """
    sha, digest, hexed, leaf = _sha256, _DIGEST, bytes.hex, _LEAF.__mod__
    leaves: list[bytes] = []
    prev, start = GENESIS, 0
    kinds: dict[str, bytes] = {}
    for block in blocks:
        seqs, kind_col, bodies, prevs, stored = zip(*block, strict=True)
        end = start + len(block)
        digests = list(map(digest, map(sha, map(leaf, zip(
            bodies, map(str.encode, prevs), seqs, strict=True)))))
        ok = (seqs == tuple(range(start, end)) and prevs == (prev, *stored[:-1])
              and tuple(map(hexed, digests)) == stored)
        if ok:
            missing = set(kind_col).difference(kinds)
            kinds.update((k, b'"%s","payload":' % k.encode()) for k in missing)
            ok = all(map(bytes.startswith, bodies, map(kinds.__getitem__, kind_col),
                         repeat(_KIND_AT)))
        if ok:
            if on_block is not None:
                on_block(kind_col, bodies)
            leaves.extend(digests)
            prev, start = stored[-1], end
            continue
        for j, (seq, kind, body, p, h) in enumerate(block):  # the first bad entry of the block
            expected_kind = kinds.get(kind) or b'"%s","payload":' % kind.encode()
            if not (seq == start + j and p == prev and hexed(digests[j]) == h
                    and body.startswith(expected_kind, _KIND_AT)):
                return leaves, start + j
            leaves.append(digests[j])
            prev = h
        start = end
    return leaves, None


_DIGEST = type(hashlib.sha256()).digest


class _Claim(NamedTuple):
    seq: int
    prev: str


class _Diagnosis:
    """Works out where each stored entry really belongs, for explaining a failure."""

    def __init__(self, rows: Sequence[StoredRow]) -> None:
        self.rows = rows
        self.by_hash = {r.hash: j for j, r in enumerate(rows)}
        self.offset = 0
        self.cache: dict[int, _Claim | None] = {}

    def _hashes_as(self, r: StoredRow, seq: int, prev: str) -> bool:
        return seq >= 0 and _sha256(_LEAF % (r.body, prev.encode(), seq)).hexdigest() == r.hash

    def claim(self, j: int) -> _Claim | None:
        """(seq, prev) under which row j's content hashes to its stored hash: where the entry
        was written. None when no such place is found: its bytes or hash were changed."""
        if j in self.cache:
            return self.cache[j]
        r = self.rows[j]
        candidates = [r.seq, r.seq + self.offset]
        if r.prev in self.by_hash:
            candidates.append(self.rows[self.by_hash[r.prev]].seq + 1)
        if r.prev == GENESIS:
            candidates.append(0)
        candidates += [r.seq + d for d in range(-64, 65)]
        found = None
        for s in dict.fromkeys(candidates):
            if self._hashes_as(r, s, r.prev):
                found = _Claim(s, r.prev)
                self.offset = s - r.seq
                break
        self.cache[j] = found
        return found

    def later_claiming(self, i: int, prev: str | None = None) -> int | None:
        """First position after i whose entry was written as seq i (and after `prev`)."""
        for j in range(i + 1, len(self.rows)):
            c = self.claim(j)
            if c is not None and c.seq == i and (prev is None or c.prev == prev):
                return j
        return None

    def explain(self, i: int, expected_prev: str) -> Failure:
        """Why position i failed, given that positions 0..i-1 verified.

        An entry whose bytes hash to its stored hash nowhere was edited; an entry written as a
        later seq with nothing written as the seqs between means entries are missing; two
        entries written as the same seq mean one was inserted; an entry written as another seq
        whose own place is taken by another entry was reordered.
        """
        row = self.rows[i]
        col = row.seq
        if col < i:
            return Failure("inserted", col, f"a second entry is stored as seq {col}")
        if _decode_body(row.body) is None:
            return Failure("edited", col, "its stored bytes are not a well-formed entry")
        c = self.claim(i)
        if c is None:
            return Failure("edited", col, "its content no longer hashes to its stored hash "
                           f"{row.hash[:16]}…")
        s, p = c
        if s == i and p == expected_prev:
            if col != i:
                return Failure("edited", i, f"its seq column says {col}")
            return Failure("edited", i, f"its kind column says {row.kind!r}, its bytes say "
                           "otherwise")
        if s == i:
            if self.later_claiming(i, expected_prev) is not None:
                return Failure("inserted", i, f"it does not link to entry {i - 1}; the genuine "
                               f"entry {i} follows it")
            j = self.by_hash.get(p)
            if j is not None and j > i:
                return Failure("reordered", i, f"it links to the entry stored at seq "
                               f"{self.rows[j].seq}")
            if i == 0:
                return Failure("edited", 0, "the first entry does not start the chain")
            return Failure("edited", i - 1, f"entry {i} records a different hash for it: it "
                           "was changed and its stored hash rewritten")
        if s < i:
            c0 = self.claim(s) if s < len(self.rows) else None
            if c0 is not None and c0.seq == s and c0.prev == p:
                return Failure("inserted", s, f"entry {s} was inserted: the genuine entry {s} "
                               f"now sits at seq {col}")
            return Failure("reordered", i, f"entry {s} is stored at seq {col}")
        j = self.later_claiming(i)
        if j is not None:
            return Failure("reordered", i, f"entry {s} is stored at seq {col}; entry {i} is "
                           f"stored at seq {self.rows[j].seq}")
        gap = f"{i}" if s == i + 1 else f"{i}..{s - 1}"
        return Failure("missing", i, f"entry {gap} is absent: the entry stored at seq {col} "
                       f"was written as entry {s}")


def verify_record(rows: Sequence[StoredRow], checkpoints: Sequence[SignedTreeHead] = (), *,
                  external: SignedTreeHead | None = None,
                  public_key: PublicKeys | None = None) -> VerifyReport:
    """Verify a record held in memory: the chain, every stored checkpoint, the exported one.

    See `verify_blocks`, which does the work (the register streams its rows through it).
    """
    it = iter(rows)
    blocks = iter(lambda: list(islice(it, 256)), [])
    return verify_blocks(blocks, lambda: rows, checkpoints, external=external,
                         public_key=public_key)


def verify_blocks(blocks: Iterable[Sequence[tuple[int, str, bytes, str, str]]],
                  reload: Callable[[], Sequence[StoredRow]],
                  checkpoints: Sequence[SignedTreeHead] = (), *,
                  external: SignedTreeHead | None = None,
                  public_key: PublicKeys | None = None,
                  on_block: Callable[[tuple[str, ...], tuple[bytes, ...]], None] | None = None,
                  ) -> VerifyReport:
    """Verify a record: the chain (`scan_blocks`), then every stored checkpoint in order of
    size, then the exported checkpoint `external`.

    `blocks` yields the rows in seq order; on a chain failure `reload()` must return them all
    (as StoredRows) for the diagnosis. `public_key` is one trusted key or a ring of several
    (`key_ring`; None: each head's own key). A checkpoint fails with "bad signature" when its
    key_id names no key of the ring or its signature does not verify under the key it names;
    with "truncated" when it covers more entries than remain; with "edited" when the entries it
    covers no longer hash to its root (a rewrite, however consistent, lands here). An exported
    checkpoint signed by a key outside the ring is a usage error (InputError), not tampering.
    """
    ring = key_ring(public_key)
    if external is not None and ring is not None and external.key_id not in ring:
        raise InputError(f"the checkpoint was signed by key {external.key_id[:16]}, not by "
                         f"{_ring_text(ring)}", hint="pass the public key that signed the "
                         "checkpoint")
    leaves, bad = scan_blocks(blocks, on_block)
    if bad is not None:
        all_rows = reload()
        expected = leaves[-1].hex() if leaves else GENESIS
        failure = _Diagnosis(all_rows).explain(bad, expected)
        return VerifyReport(len(all_rows), None, failure=failure)
    tree = MerkleTree(leaves)
    n = tree.size
    report = VerifyReport(n, tree.root().hex() if n else None)
    heads = sorted(checkpoints, key=lambda c: c.tree_size)
    labelled = [(c, f"stored checkpoint at size {c.tree_size}") for c in heads]
    if external is not None:
        labelled.append((external, f"exported checkpoint at size {external.tree_size}"))
        report.external = True
    good_below = 0  # largest size proven authentic by a checkpoint so far
    for head, what in labelled:
        report.checkpoints += 1
        key = None
        if ring is not None:
            key = ring.get(head.key_id)
            if key is None:
                report.failure = Failure("bad signature", None, f"{what} is signed by key "
                                         f"{head.key_id[:16]}, not {_ring_text(ring)}")
                break
        if not signature_valid(head, key):
            report.failure = Failure("bad signature", None, f"{what}: signature does not verify")
            break
        if head.tree_size > n:
            report.failure = Failure("truncated", n, f"{what} covers {head.tree_size} entries; "
                                     f"only {n} remain (entries {n}..{head.tree_size - 1} are "
                                     "gone)")
            break
        if tree.root(head.tree_size).hex() != head.root_hash:
            lo = good_below if good_below < head.tree_size else 0
            report.failure = Failure("edited", lo, f"the first {head.tree_size} entries no "
                                     f"longer hash to the root of the {what}: an entry in "
                                     f"{lo}..{head.tree_size - 1} was changed and the chain "
                                     "rebuilt")
            break
        good_below = max(good_below, head.tree_size)
    if report.ok:
        covered = max((c.tree_size for c, _ in labelled), default=0)
        if not labelled:
            report.notes.append("no checkpoint: deleting the newest entries, or rewriting the "
                                "whole record, cannot be detected without one")
        elif covered < n:
            report.notes.append(f"entries {covered}..{n - 1} are not covered by a checkpoint yet")
    return report
