"""The storage interface shared by the local and the S3 backends: errors, records, key rules."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

CHUNK_SIZE = 1024 * 1024
# Stored when a writer gives no content type, by both backends alike.
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# S3 rejects every multipart part but the last below this size; the local store enforces the
# same rule so that a browser uploader that works locally also works against S3.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
MAX_KEY_BYTES = 1024
# S3 signature version 4 refuses presigned URLs valid for longer than seven days.
MAX_EXPIRES_IN = 7 * 24 * 3600

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StorageError(Exception):
    """Base of every storage failure."""


class ObjectNotFound(StorageError):
    """The key names no object."""


class InvalidKey(StorageError):
    """The key is not a safe relative POSIX path, or collides with an existing object."""


class InvalidUpload(StorageError):
    """A multipart upload id, part number, part list or ETag is wrong."""


class TooLarge(StorageError):
    """A received body exceeded the allowed size."""


class SignatureError(StorageError):
    """A signed URL is expired, tampered with or incomplete."""


class UploadClosed(StorageError):
    """A presigned write came for a key that no longer takes one (moved, deleted, expired)."""


class StorageUnavailable(StorageError):
    """A transient failure (network, 5xx, throttling): the only kind worth retrying."""


@dataclass(frozen=True)
class ObjectInfo:
    """What is known about a stored object."""

    key: str
    size: int
    content_type: str | None
    etag: str | None


@dataclass(frozen=True)
class PartUpload:
    """A presigned URL to PUT one multipart part to."""

    part_number: int
    url: str


def validate_key(key: str) -> str:
    """Returns `key` if it is a safe relative POSIX path such as `users/u1/uploads/x/match.mp4`.

    Raises InvalidKey for empty or absolute keys, backslashes, `.`/`..`/empty segments,
    control characters, and keys over 1024 UTF-8 bytes.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("key must be a non-empty string")
    if _CONTROL.search(key):
        raise InvalidKey(f"key contains a control character: {key!r}")
    if "\\" in key:
        raise InvalidKey(f"key contains a backslash: {key!r}")
    if key.startswith("/"):
        raise InvalidKey(f"key must be relative, not absolute: {key!r}")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidKey(f"key is not valid UTF-8: {key!r}") from None
    if size > MAX_KEY_BYTES:
        raise InvalidKey(f"key is {size} bytes long, the limit is {MAX_KEY_BYTES}")
    for segment in key.split("/"):
        if segment == "":
            raise InvalidKey(f"key has an empty path segment: {key!r}")
        if segment in (".", ".."):
            raise InvalidKey(f"key has a {segment!r} path segment: {key!r}")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool = False) -> str:
    """Normalises a folder prefix to end with `/` (so `users/u1` never matches `users/u10/...`).

    The empty prefix means "everything" and is accepted only when `allow_empty` is set.
    """
    if prefix == "" and allow_empty:
        return ""
    return validate_key(prefix.removesuffix("/")) + "/"


def validate_part_numbers(part_numbers: Sequence[int]) -> list[int]:
    """Returns the part numbers if each is within 1..10000, else raises InvalidUpload."""
    numbers = list(part_numbers)
    for number in numbers:
        if not isinstance(number, int) or not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidUpload(f"part number must be 1..{MAX_PART_NUMBER}, got {number!r}")
    return numbers


def validate_sizes(part_numbers: Sequence[int], sizes: Sequence[int] | None) -> list[int] | None:
    """The part sizes if there is one positive size per part number, else raises ValueError."""
    if sizes is None:
        return None
    sizes = list(sizes)
    if len(sizes) != len(part_numbers) or any(size <= 0 for size in sizes):
        raise ValueError("sizes needs one positive size per part number")
    return sizes


def validate_expires_in(expires_in: int) -> int:
    """Returns `expires_in` (seconds) if within what S3 accepts, else raises ValueError."""
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be 1..{MAX_EXPIRES_IN} seconds, got {expires_in}")
    return expires_in


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition value that makes browsers save the body as `filename`.

    Carries an ASCII fallback plus the RFC 5987 UTF-8 form for non-ASCII names.
    """
    cleaned = _CONTROL.sub("", filename).replace("/", "_").replace("\\", "_") or "download"
    fallback = cleaned.encode("ascii", "replace").decode("ascii").replace('"', "'")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


def normalize_etag(etag: str) -> str:
    """An ETag without surrounding quotes or a weak marker, for comparisons."""
    return etag.strip().removeprefix("W/").strip('"')


class Storage(Protocol):
    """Object storage as the rest of the application sees it; every key is validated.

    Writers given no content type store DEFAULT_CONTENT_TYPE. Prefixes name folders:
    `users/u1` covers `users/u1/...` but not `users/u10/...`.
    """

    kind: str

    async def put_bytes(
        self, key: str, data: bytes, content_type: str | None = None
    ) -> ObjectInfo:
        """Stores a small object."""
        ...

    async def put_file(
        self, key: str, path: Path, content_type: str | None = None
    ) -> ObjectInfo:
        """Stores a file, streamed (never read into memory whole)."""
        ...

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str | None = None
    ) -> ObjectInfo:
        """Stores the concatenated chunks, streamed."""
        ...

    async def get_bytes(self, key: str) -> bytes:
        """Reads a small object whole (reports, JSON)."""
        ...

    async def download_to(self, key: str, path: Path) -> ObjectInfo:
        """Streams an object into `path`, which appears only once complete. The file may
        share its data with the stored object (local storage links it): only read it."""
        ...

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Streams an object's bytes in chunks of `chunk_size` bytes, the last one shorter."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """The object's metadata, or None if there is no such object."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether the object exists."""
        ...

    async def delete(self, key: str) -> None:
        """Removes the object; a missing object is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Removes every object under the folder `prefix`; returns how many."""
        ...

    async def copy(self, src: str, dst: str) -> None:
        """Copies an object, content type included."""
        ...

    async def move(self, src: str, dst: str) -> ObjectInfo:
        """Moves an object to `dst` and closes `src` to presigned writes where the backend
        can (the local store refuses them; S3 cannot, so a PUT on a URL still valid makes a
        new object at `src`). Returns the object's metadata at `dst`."""
        ...

    async def list_keys(self, prefix: str) -> list[str]:
        """Sorted keys of the objects under the folder `prefix` (`""` lists everything)."""
        ...

    async def presign_put(
        self, key: str, content_type: str, expires_in: int, size: int | None = None
    ) -> str:
        """A URL for a single PUT; the client must send exactly this Content-Type, and with
        `size` exactly that many bytes."""
        ...

    async def create_multipart(self, key: str, content_type: str) -> str:
        """Starts a multipart upload; returns its upload id."""
        ...

    async def presign_parts(
        self,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: int,
        sizes: Sequence[int] | None = None,
    ) -> list[PartUpload]:
        """One PUT URL per part number; with `sizes` (one per part number) each URL takes
        exactly that many bytes."""
        ...

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        """Joins the uploaded parts, given as (part number, ETag) in ascending order."""
        ...

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discards a multipart upload and its parts; an unknown upload is not an error."""
        ...

    async def download_url(
        self, key: str, expires_in: int, filename: str | None = None
    ) -> str:
        """A GET URL; with `filename`, browsers save the object under that name."""
        ...

    async def close(self) -> None:
        """Releases connections; safe to call more than once."""
        ...
