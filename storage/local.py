"""LocalStorage: objects as files under one folder, uploaded through the server's signed URLs.

Layout under `root`:

    objects/<key>                 the objects themselves
    .meta/<key>.json              content type and ETag of each object
    .multipart/<upload id>/       upload.json (key, content type) and one file per part
    .open/<key>.json              keys that take presigned PUTs, and until when
    .tmp/                         files being written, renamed into place when complete

Keeping objects in their own folder means no key can collide with the bookkeeping folders.
A key takes presigned PUTs from `presign_put` until it is moved or deleted or its URL
expires; afterwards a PUT on a URL still signed is refused, so nothing can replace or
recreate an upload once the server has taken it over.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from .base import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    MIN_PART_SIZE,
    InvalidKey,
    InvalidUpload,
    ObjectInfo,
    ObjectNotFound,
    PartUpload,
    StorageError,
    TooLarge,
    UploadClosed,
    normalize_etag,
    validate_expires_in,
    validate_key,
    validate_part_numbers,
    validate_prefix,
    validate_sizes,
)
from .files import (
    AtomicFile,
    copy_into,
    link_or_copy_atomic,
    prune_empty_dirs,
    write_chunks,
)
from .signing import UrlSigner

T = TypeVar("T")

_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStorage:
    """The Storage interface on the local file system, with HMAC-signed expiring URLs.

    Presigned URLs are relative (`{url_prefix}/{key}?op=...&sig=...`); the server makes them
    absolute, checks them with `verify` and feeds request bodies to `write_signed_put` and
    `write_part`, so browsers upload exactly as they would to S3.
    """

    kind = "local"

    def __init__(self, root: Path, secret: bytes, url_prefix: str = "/api/v1/files") -> None:
        self.root = Path(root)
        self.url_prefix = url_prefix.rstrip("/")
        self._signer = UrlSigner(secret)
        for folder in ("objects", ".meta", ".multipart", ".open", ".tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        # Resolved once so that containment checks compare real paths on both sides.
        self._objects = (self.root / "objects").resolve()
        self._meta = (self.root / ".meta").resolve()
        self._uploads = (self.root / ".multipart").resolve()
        self._open = (self.root / ".open").resolve()
        self._tmp = (self.root / ".tmp").resolve()
        # Held (in threads) while a presigned PUT is committed and while a key is closed, so
        # that a PUT arriving as its key is moved or deleted lands before or not at all.
        self._gate = threading.Lock()

    async def remove_leftovers(self) -> int:
        """Removes what an earlier run left half-done: files being written when it stopped,
        and the records of keys whose presigned PUT URLs have expired. Call it before the
        store is used; returns how many entries went."""

        def remove() -> int:
            removed = 0
            for entry in self._tmp.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
            now = time.time()
            for marker in [p for p in self._open.rglob("*.json") if p.is_file()]:
                if _open_until(marker) < now:
                    marker.unlink(missing_ok=True)
                    prune_empty_dirs(marker.parent, self._open)
                    removed += 1
            return removed

        return await _run(remove)

    # -- signed URLs ---------------------------------------------------------------------

    def verify(
        self, op: str, key: str, query: Mapping[str, str], now: float | None = None
    ) -> dict[str, str]:
        """The signed parameters of a URL for (`op`, `key`); raises SignatureError if invalid.

        The caller must still compare the request's Content-Type with the signed `ct`.
        """
        return self._signer.verify(op, validate_key(key), query, now)

    async def presign_put(
        self, key: str, content_type: str, expires_in: int, size: int | None = None
    ) -> str:
        """Signs a PUT URL and opens `key` to presigned PUTs until the URL expires."""
        validate_key(key)
        _check_content_type(content_type)
        params = {"ct": content_type} | ({"len": str(size)} if size is not None else {})
        query = self._signer.sign("put", key, params, validate_expires_in(expires_in))
        marker = self._open_path(key)

        def open_key() -> None:
            record = AtomicFile(self._tmp)
            try:
                record.write(json.dumps({"until": int(query["expires"])}).encode())
                with self._gate:
                    record.commit(marker)
            finally:
                record.discard()

        await _run(open_key)
        return self._url(key, query)

    async def presign_parts(
        self,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: int,
        sizes: Sequence[int] | None = None,
    ) -> list[PartUpload]:
        validate_key(key)
        _check_upload_id(upload_id)
        validate_expires_in(expires_in)
        numbers = validate_part_numbers(part_numbers)
        lengths = validate_sizes(numbers, sizes)
        urls = []
        for i, number in enumerate(numbers):
            params = {"upload": upload_id, "part": str(number)}
            if lengths is not None:
                params["len"] = str(lengths[i])
            query = self._signer.sign("part", key, params, expires_in)
            urls.append(PartUpload(number, self._url(key, query)))
        return urls

    async def download_url(self, key: str, expires_in: int, filename: str | None = None) -> str:
        """A signed GET URL; the server adds the attachment header when `filename` is signed."""
        validate_key(key)
        params = {"filename": filename} if filename else {}
        query = self._signer.sign("get", key, params, validate_expires_in(expires_in))
        return self._url(key, query)

    def _url(self, key: str, query: Mapping[str, str]) -> str:
        return f"{self.url_prefix}/{quote(key, safe='/')}?{urlencode(query)}"

    # -- writing -------------------------------------------------------------------------

    async def put_bytes(
        self, key: str, data: bytes, content_type: str | None = None
    ) -> ObjectInfo:
        path = self._object_path(key)

        def write() -> ObjectInfo:
            out = AtomicFile(self._tmp)
            try:
                out.write(data)
                return self._commit(key, path, out, content_type, f'"{out.md5_hex()}"')
            finally:
                out.discard()

        return await _run(write)

    async def put_file(
        self, key: str, path: Path, content_type: str | None = None
    ) -> ObjectInfo:
        target = self._object_path(key)

        def write() -> ObjectInfo:
            out = AtomicFile(self._tmp)
            try:
                copy_into(Path(path), out)
                return self._commit(key, target, out, content_type, f'"{out.md5_hex()}"')
            finally:
                out.discard()

        return await _run(write)

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str | None = None
    ) -> ObjectInfo:
        path = self._object_path(key)
        out = await _run(AtomicFile, self._tmp)
        try:
            await write_chunks(chunks, out)
            return await _run(self._commit, key, path, out, content_type, f'"{out.md5_hex()}"')
        finally:
            out.discard()

    async def write_signed_put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        content_type: str | None,
        max_bytes: int | None,
        size: int | None = None,
    ) -> ObjectInfo:
        """Stores a request body received on a verified `put` URL.

        UploadClosed if the key no longer takes presigned PUTs; with `size` (the URL's
        signed length) TooLarge as soon as more arrives and InvalidUpload for less, else
        TooLarge past `max_bytes`.
        """
        path = self._object_path(key)
        marker = self._open_path(key)
        if not await _run(_is_open, marker):
            raise UploadClosed(f"{key!r} takes no more uploads: request a new upload URL")
        out = await _run(AtomicFile, self._tmp)
        try:
            await _receive(chunks, out, max_bytes, size)

            def commit() -> ObjectInfo:
                with self._gate:
                    if not _is_open(marker):
                        raise UploadClosed(f"{key!r} was closed while its upload arrived")
                    return self._commit(key, path, out, content_type, f'"{out.md5_hex()}"')

            return await _run(commit)
        finally:
            out.discard()

    def _commit(
        self, key: str, path: Path, out: AtomicFile, content_type: str | None, etag: str
    ) -> ObjectInfo:
        try:
            out.commit(path)
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            # A file system cannot hold both "a" and "a/b"; S3 can, but nothing here needs it.
            raise InvalidKey(f"key {key!r} collides with an existing object or folder") from None
        content_type = content_type or DEFAULT_CONTENT_TYPE
        meta = {"content_type": content_type, "etag": etag}
        meta_out = AtomicFile(self._tmp)
        try:
            meta_out.write(json.dumps(meta).encode())
            meta_out.commit(self._meta_path(key))
        finally:
            meta_out.discard()
        return ObjectInfo(key, out.size, content_type, etag)

    # -- multipart -----------------------------------------------------------------------

    async def create_multipart(self, key: str, content_type: str) -> str:
        validate_key(key)
        _check_content_type(content_type)
        upload_id = secrets.token_urlsafe(24)

        def create() -> None:
            folder = self._uploads / upload_id
            folder.mkdir()
            manifest = json.dumps({"key": key, "content_type": content_type})
            (folder / "upload.json").write_text(manifest)

        await _run(create)
        return upload_id

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterator[bytes],
        max_bytes: int | None,
        size: int | None = None,
    ) -> str:
        """Stores one part received on a verified `part` URL; returns its quoted MD5 ETag.
        With `size` (the URL's signed length) the part must have exactly that many bytes."""
        validate_key(key)
        validate_part_numbers([part_number])
        folder, _ = await _run(self._open_upload, key, upload_id)
        out = await _run(AtomicFile, self._tmp)
        try:
            await _receive(chunks, out, max_bytes, size)
            await _run(self._commit_part, folder, part_number, out)
        finally:
            out.discard()
        return f'"{out.md5_hex()}"'

    @staticmethod
    def _commit_part(folder: Path, part_number: int, out: AtomicFile) -> None:
        if not folder.is_dir():  # aborted while the part was arriving
            raise InvalidUpload("the multipart upload was aborted")
        out.commit(_part_path(folder, part_number))

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        validate_key(key)
        return await _run(self._complete, key, upload_id, list(parts))

    def _complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        folder, manifest = self._open_upload(key, upload_id)
        numbers = validate_part_numbers([number for number, _ in parts])
        if not numbers:
            raise InvalidUpload("a multipart upload needs at least one part")
        if numbers != sorted(set(numbers)):
            raise InvalidUpload("part numbers must be unique and in ascending order")
        files = [_part_path(folder, number) for number in numbers]
        for number, file in zip(numbers, files):
            if not file.is_file():
                raise InvalidUpload(f"part {number} was not uploaded")
        for number, file in zip(numbers[:-1], files[:-1]):
            if file.stat().st_size < MIN_PART_SIZE:
                raise InvalidUpload(f"part {number} is smaller than {MIN_PART_SIZE} bytes")
        out = AtomicFile(self._tmp)
        try:
            digests = []
            for (number, etag), file in zip(parts, files):
                digest = copy_into(file, out)
                if digest.hex() != normalize_etag(etag):
                    raise InvalidUpload(f"ETag of part {number} does not match its content")
                digests.append(digest)
            # The same ETag form as S3 gives a multipart object: md5 of part digests, count.
            etag = f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'
            path = self._object_path(key)
            info = self._commit(key, path, out, manifest["content_type"], etag)
        finally:
            out.discard()
        shutil.rmtree(folder, ignore_errors=True)
        return info

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)

        def abort() -> None:
            folder = self._uploads / _check_upload_id(upload_id)
            if folder.is_dir():
                self._open_upload(key, upload_id)  # refuses another key's upload
                shutil.rmtree(folder, ignore_errors=True)

        await _run(abort)

    def _open_upload(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        folder = self._uploads / _check_upload_id(upload_id)
        try:
            manifest = json.loads((folder / "upload.json").read_text())
        except _MISSING:
            raise InvalidUpload("unknown or finished multipart upload") from None
        if manifest.get("key") != key:
            raise InvalidUpload("the multipart upload belongs to another key")
        return folder, manifest

    # -- reading -------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectInfo | None:
        path = self._object_path(key)
        return await _run(self._info, key, path)

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def open_for_read(self, key: str) -> tuple[Path, ObjectInfo]:
        """The object's file and metadata, for serving a verified `get` with FileResponse."""
        path = self._object_path(key)
        info = await _run(self._info, key, path)
        if info is None:
            raise ObjectNotFound(key)
        return path, info

    async def get_bytes(self, key: str) -> bytes:
        path = self._object_path(key)

        def read() -> bytes:
            try:
                return path.read_bytes()
            except _MISSING:
                raise ObjectNotFound(key) from None

        return await _run(read)

    async def download_to(self, key: str, path: Path) -> ObjectInfo:
        """A hard link to the object's file where `path` is on the same file system: an
        hour of video is then ready at once and takes no second copy of the disk space."""
        source = self._object_path(key)
        target = Path(path)

        def link() -> ObjectInfo:
            info = self._info(key, source)
            if info is None:
                raise ObjectNotFound(key)
            try:
                link_or_copy_atomic(source, target, target.parent)
            except _MISSING:  # deleted meanwhile
                raise ObjectNotFound(key) from None
            return info

        return await _run(link)

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        path = self._object_path(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except _MISSING:
            raise ObjectNotFound(key) from None
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            file.close()

    async def list_keys(self, prefix: str) -> list[str]:
        folder_prefix = validate_prefix(prefix, allow_empty=True)
        folder = self._objects if not folder_prefix else self._object_path(folder_prefix[:-1])
        return await _run(_regular_files, folder, folder_prefix)

    def _info(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            status = path.stat()
        except _MISSING:
            return None
        if not stat.S_ISREG(status.st_mode):
            return None
        try:
            meta = json.loads(self._meta_path(key).read_text())
        except _MISSING:
            meta = {}
        return ObjectInfo(key, status.st_size, meta.get("content_type"), meta.get("etag"))

    # -- removing and copying ------------------------------------------------------------

    async def delete(self, key: str) -> None:
        """Removes the object and closes its key to presigned PUTs."""
        path = self._object_path(key)
        meta = self._meta_path(key)

        def remove() -> None:
            with self._gate:
                self._close(key)
                if path.is_file():
                    path.unlink(missing_ok=True)
                meta.unlink(missing_ok=True)
            prune_empty_dirs(path.parent, self._objects)
            prune_empty_dirs(meta.parent, self._meta)

        await _run(remove)

    async def move(self, src: str, dst: str) -> ObjectInfo:
        """Renames the object (no data copied) and closes `src` to presigned PUTs."""
        source, target = self._object_path(src), self._object_path(dst)
        source_meta, target_meta = self._meta_path(src), self._meta_path(dst)

        def move() -> ObjectInfo:
            with self._gate:
                self._close(src)
                info = self._info(src, source)
                if info is None:
                    raise ObjectNotFound(src)
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
                except (NotADirectoryError, IsADirectoryError, FileExistsError):
                    raise InvalidKey(f"key {dst!r} collides with an existing object") from None
                if source_meta.is_file():
                    target_meta.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source_meta, target_meta)
            prune_empty_dirs(source.parent, self._objects)
            prune_empty_dirs(source_meta.parent, self._meta)
            return ObjectInfo(dst, info.size, info.content_type, info.etag)

        return await _run(move)

    def _close(self, key: str) -> None:
        """Stops presigned PUTs to `key` (the caller holds the gate)."""
        marker = self._open_path(key)
        marker.unlink(missing_ok=True)
        prune_empty_dirs(marker.parent, self._open)

    async def delete_prefix(self, prefix: str) -> int:
        folder_prefix = validate_prefix(prefix)
        folder = self._object_path(folder_prefix[:-1])
        meta_folder = _inside(self._meta, folder_prefix[:-1])

        def remove() -> int:
            if not folder.is_dir():
                return 0
            count = len(_regular_files(folder, ""))
            shutil.rmtree(folder)
            shutil.rmtree(meta_folder, ignore_errors=True)
            prune_empty_dirs(folder.parent, self._objects)
            prune_empty_dirs(meta_folder.parent, self._meta)
            return count

        return await _run(remove)

    async def copy(self, src: str, dst: str) -> None:
        source = self._object_path(src)
        target = self._object_path(dst)

        def copy() -> None:
            info = self._info(src, source)
            if info is None:
                raise ObjectNotFound(src)
            out = AtomicFile(self._tmp)
            try:
                copy_into(source, out)
                self._commit(dst, target, out, info.content_type, f'"{out.md5_hex()}"')
            finally:
                out.discard()

        await _run(copy)

    async def close(self) -> None:
        """Nothing to release; present for the Storage interface."""

    # -- paths ---------------------------------------------------------------------------

    def _object_path(self, key: str) -> Path:
        return _inside(self._objects, validate_key(key))

    def _meta_path(self, key: str) -> Path:
        return _inside(self._meta, validate_key(key) + ".json")

    def _open_path(self, key: str) -> Path:
        return _inside(self._open, validate_key(key) + ".json")


def _open_until(marker: Path) -> float:
    """Until when (unix time) a key's marker lets presigned PUTs in; 0 when absent."""
    try:
        return float(json.loads(marker.read_text())["until"])
    except (*_MISSING, ValueError, KeyError, TypeError):
        return 0.0


def _is_open(marker: Path) -> bool:
    return _open_until(marker) >= time.time()


async def _receive(
    chunks: AsyncIterator[bytes], out: AtomicFile, max_bytes: int | None, size: int | None
) -> None:
    """Writes a request body into `out`: exactly `size` bytes when given, else at most
    `max_bytes`. Reading stops as soon as the body runs over."""
    if size is None:
        await write_chunks(chunks, out, max_bytes)
        return
    try:
        await write_chunks(chunks, out, size)
    except TooLarge:
        raise TooLarge(f"the body is longer than the {size} bytes of this URL") from None
    if out.size != size:
        raise InvalidUpload(f"the body has {out.size} bytes, this URL takes exactly {size}")


def _inside(base: Path, relative: str) -> Path:
    """`base / relative` with symlinks resolved, refused unless it stays strictly below base."""
    resolved = (base / relative).resolve()
    if base not in resolved.parents:
        raise InvalidKey(f"key {relative!r} leads outside the store")
    return resolved


def _part_path(folder: Path, part_number: int) -> Path:
    return folder / f"{part_number:05d}.part"


def _regular_files(folder: Path, prefix: str) -> list[str]:
    """Sorted `prefix + relative path` of the regular files below folder (links skipped)."""
    keys = []
    for parent, _, names in os.walk(folder):
        for name in names:
            full = Path(parent) / name
            if not full.is_symlink() and full.is_file():
                keys.append(prefix + full.relative_to(folder).as_posix())
    return sorted(keys)


def _check_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise InvalidUpload("malformed multipart upload id")
    return upload_id


def _check_content_type(content_type: str) -> None:
    if not content_type or _CONTROL.search(content_type):
        raise ValueError(f"invalid content type {content_type!r}")


async def _run(function: Callable[..., T], *args: Any) -> T:
    """Runs blocking file work in a thread; unexpected OS errors become StorageError."""
    try:
        return await asyncio.to_thread(function, *args)
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(f"local storage failed: {exc}") from exc
