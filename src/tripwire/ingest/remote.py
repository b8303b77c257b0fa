"""Logs in object storage (`s3://`, `gs://`, `az://`, any fsspec URL), read through fsspec, the
layer inspect_ai itself reads and writes its log directories with.

A prefix is listed once (one recursive listing); each object comes with its size and ETag, so
the register can tell an object it stored already without downloading it. An Inspect `.eval`
object read without `--samples` is not downloaded: its zip central directory and the
`header.json` member are fetched by ranged reads and rebuilt into a small zip holding only
that member, which Inspect's reader reads like the whole log (header only). Everything else is
downloaded whole.

Credentials and endpoint come from the object store's own configuration: for S3 botocore's
environment variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_PROFILE`, `AWS_MAX_ATTEMPTS`) and its files
(`~/.aws/credentials`, `~/.aws/config`). fsspec and the store's package (s3fs, gcsfs, adlfs)
are imported only when a URL is read: `pip install 'tripwire[s3]'`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from tripwire.errors import InputError

__all__ = ["RemoteObject", "fetch", "is_url", "list_objects", "url_error"]

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
PACKAGES = {"s3": "s3fs (pip install 'tripwire[s3]')", "gs": "gcsfs", "gcs": "gcsfs",
            "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}
HEAD_MEMBERS = ("header.json", "_journal/start.json")
"""Members of an Inspect .eval zip its header-only reader needs (the second for a log still
being written, which has no header yet)."""


def is_url(text: str) -> bool:
    """True for an object-store URL (`s3://...`); local paths and `file://` are not."""
    m = _SCHEME.match(text)
    return m is not None and m.group(1).lower() != "file"


@dataclass(frozen=True)
class RemoteObject:
    """One object of a listing: its URL, size and ETag, and the filesystem it lives on."""

    url: str
    size: int
    etag: str | None
    fs: Any = field(compare=False, repr=False)
    key: str = field(compare=False, repr=False)
    """The object's path as its filesystem names it (`bucket/key`)."""

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix.lower()

    def __str__(self) -> str:
        return self.url


_CLIENTS: dict[tuple[Any, ...], Any] = {}
"""Filesystems made, by scheme and the store's configuration in the environment: a second
listing in the same process (a watch loop, a rerun) reuses the client and its connections."""
_CONFIG = ("AWS_", "BOTO", "GOOGLE_", "GCS", "AZURE_", "FSSPEC_")


def _filesystem(url: str) -> tuple[Any, str]:
    scheme = _SCHEME.match(url).group(1).lower()  # type: ignore[union-attr]
    key = (scheme, *sorted((k, v) for k, v in os.environ.items() if k.startswith(_CONFIG)))
    fs = _CLIENTS.get(key)
    if fs is not None:
        return fs, fs._strip_protocol(url)
    fs, root = _new_filesystem(url, scheme)
    _CLIENTS[key] = fs
    return fs, root


def _new_filesystem(url: str, scheme: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise InputError(
            "reading object storage needs fsspec", source=url,
            hint="pip install 'tripwire[s3]'",
        ) from None
    options: dict[str, Any] = {}
    if scheme in ("s3", "s3a"):
        # No caching of listings or blocks: an object is read once, in the ranges asked for.
        options = dict(default_fill_cache=False, default_cache_type="none",
                       use_listings_cache=False, skip_instance_cache=True)
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as e:
        package = PACKAGES.get(scheme, str(e).splitlines()[0])
        raise InputError(f"reading {scheme}:// URLs needs {package}", source=url) from None
    except ValueError as e:
        if "Protocol not known" in str(e):
            raise InputError(f"unknown URL scheme {scheme}://", source=url,
                             hint="use s3://, gs:// or az://") from None
        raise url_error(url, e) from None
    except Exception as e:  # noqa: BLE001  (a store's client failing to start: say which)
        raise url_error(url, e) from None


def list_objects(url: str, suffixes: set[str]) -> list[RemoteObject]:
    """The objects under a prefix URL (or the one object it names) whose names end in one of
    `suffixes`, hidden names (a part starting with `.`) skipped, sorted by key; listed once."""
    fs, root = _filesystem(url)
    root = root.rstrip("/")
    scheme = _SCHEME.match(url).group(1)  # type: ignore[union-attr]
    try:
        found = fs.find(root, detail=True, withdirs=False)
        if not found and not url.endswith("/"):
            info = fs.info(root)  # a URL naming one object
            found = {root: info} if info.get("type") != "directory" else {}
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        raise url_error(url, e) from None
    objects = []
    for key, info in sorted(found.items()):
        rel = key[len(root):].lstrip("/") if key.startswith(root) else key
        parts = PurePosixPath(rel or PurePosixPath(key).name).parts
        if any(part.startswith(".") for part in parts):
            continue
        if PurePosixPath(key).suffix.lower() not in suffixes and key != root:
            continue
        etag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
        objects.append(RemoteObject(
            url=f"{scheme}://{key}", size=int(info.get("size") or 0),
            etag=str(etag).strip('"') if etag else None, fs=fs, key=key,
        ))
    if not objects:
        raise InputError(
            "no CSV, JSON or .eval objects under this prefix", source=url,
            hint="check the bucket and prefix (a prefix ends with /)",
        )
    return objects


def fetch(obj: RemoteObject, *, samples: bool = False) -> tuple[bytes, str]:
    """An object's bytes to read, and their sha256: an `.eval` without `samples` as its
    header rebuilt into a small zip (ranged reads; see the module), anything else whole.
    Failures are InputErrors naming the URL."""
    try:
        data = None
        if obj.suffix == ".eval" and not samples:
            data = eval_head(obj)
        if data is None:
            data = obj.fs.cat_file(obj.key)
    except InputError:
        raise
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        raise url_error(obj.url, e) from None
    return data, hashlib.sha256(data).hexdigest()


class _Ranged(io.RawIOBase):
    """A seekable read-only view of an object that fetches each read as one ranged GET."""

    def __init__(self, obj: RemoteObject) -> None:
        self.obj, self.pos = obj, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = (offset, self.pos + offset, self.obj.size + offset)[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        end = self.obj.size if n is None or n < 0 else min(self.obj.size, self.pos + n)
        if end <= self.pos:
            return b""
        data = self.obj.fs.cat_file(self.obj.key, start=self.pos, end=end)
        self.pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def eval_head(obj: RemoteObject) -> bytes | None:
    """The header member of a remote `.eval` zip as a zip of its own, fetched by ranged reads
    (the end of the zip and its central directory, then the member); None when the object is
    not such a zip or has no header member (the caller then downloads it whole)."""
    raw = io.BufferedReader(_Ranged(obj), buffer_size=1 << 16)
    try:
        zf = zipfile.ZipFile(raw)
    except zipfile.BadZipFile:
        return None
    info = next((zf.NameToInfo[n] for n in HEAD_MEMBERS if n in zf.NameToInfo), None)
    if info is None or info.compress_size >= 1 << 32 or info.file_size >= 1 << 32:
        return None
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        return None
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    rest = raw.read(name_len + extra_len + info.compress_size)
    name = rest[:name_len]
    data = rest[name_len + extra_len :]
    # The local header again, without extras and with the sizes and CRC the central
    # directory gives (a streamed member leaves them zero and appends a data descriptor).
    flags = info.flag_bits & ~0x08
    dosdate = (info.date_time[0] - 1980) << 9 | info.date_time[1] << 5 | info.date_time[2]
    dostime = info.date_time[3] << 11 | info.date_time[4] << 5 | info.date_time[5] // 2
    common = struct.pack(
        "<HHHHHLLLH", info.extract_version, flags, info.compress_type, dostime, dosdate,
        info.CRC, info.compress_size, info.file_size, len(name),
    )
    local_hdr = b"PK\x03\x04" + common + struct.pack("<H", 0) + name
    central = (
        b"PK\x01\x02"
        + struct.pack("<BB", info.create_version, info.create_system)
        + common
        + struct.pack("<HHHHLL", 0, 0, 0, info.internal_attr, info.external_attr, 0)
        + name
    )
    body = local_hdr + data
    end = b"PK\x05\x06" + struct.pack("<HHHHLLH", 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end


def url_error(url: str, e: BaseException) -> InputError:
    """One line naming the URL and what to fix, for a failure of the object store."""
    text = f"{type(e).__name__}: {e}"
    low = text.lower()
    if "credential" in low or "nocredentials" in low.replace(" ", ""):
        return InputError(
            "no credentials to read it", source=url,
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile "
            "of ~/.aws/credentials",
        )
    if isinstance(e, PermissionError) or "accessdenied" in low or "forbidden" in low:
        return InputError(
            "access denied", source=url,
            hint="the credentials in use may not read it (s3:ListBucket on the bucket, "
            "s3:GetObject on the objects): grant that, or use other credentials (AWS_PROFILE)",
        )
    if "nosuchbucket" in low or "bucket does not exist" in low or "specified bucket" in low:
        return InputError(
            "no such bucket", source=url,
            hint="check the bucket's name, and AWS_ENDPOINT_URL / AWS_REGION for where it is",
        )
    if isinstance(e, FileNotFoundError):
        return InputError(
            "no such object or prefix", source=url,
            hint="check the key (a prefix ends with /); list it with your store's tools",
        )
    if isinstance(e, OSError | TimeoutError) or any(
        w in low for w in ("connect", "connection", "endpoint", "timeout", "timed out",
                           "disconnected", "broken pipe", "reset by peer")
    ):
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        return InputError(
            f"the connection failed ({first})", source=url,
            hint="check the network and AWS_ENDPOINT_URL, then run the same command again: "
            "objects stored already stay stored and are skipped",
        )
    first = text.strip().splitlines()[0][:200]
    return InputError(f"the object store refused: {first}", source=url)
