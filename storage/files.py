"""File helpers for the storage backends: atomic writes, chunked copies, tree cleanup.

Everything here blocks except `write_chunks`; the backends call the blocking parts through
`asyncio.to_thread` so large files never stall the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from .base import CHUNK_SIZE, TooLarge


class AtomicFile:
    """A file written under a temporary name and renamed into place only when complete.

    Readers of the final path therefore see either the old content or the whole new one.
    The temporary file lives in `tmp_dir`, which must be on the destination's file system.
    """

    def __init__(self, tmp_dir: Path) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".incoming-")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.size = 0
        self._md5 = hashlib.md5()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._md5.update(data)
        self.size += len(data)

    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    def commit(self, dst: Path) -> None:
        """Flushes to disk and renames onto `dst`, creating its folders."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.path, dst)
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        """Drops the temporary file; safe after commit and when called twice."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def copy_into(src: Path, out: AtomicFile, chunk_size: int = CHUNK_SIZE) -> bytes:
    """Appends the whole of `src` to `out`; returns the MD5 digest of `src` alone."""
    digest = hashlib.md5()
    with src.open("rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
            out.write(chunk)
    return digest.digest()


def copy_atomic(src: Path, dst: Path, tmp_dir: Path) -> AtomicFile:
    """Copies `src` to `dst` through a temporary file; returns the committed file's record."""
    out = AtomicFile(tmp_dir)
    try:
        copy_into(src, out)
        out.commit(dst)
    except BaseException:
        out.discard()
        raise
    return out


def link_or_copy_atomic(src: Path, dst: Path, tmp_dir: Path) -> None:
    """Puts `src`'s content at `dst` as a hard link when both are on one file system (no data
    copied, no extra disk), else as a copy; either way `dst` appears only when complete.

    A link shares its data with `src`: writing into `dst` would change `src`. Replacing `src`
    (an atomic write renames a new file onto it) or deleting it leaves `dst` as it was.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=tmp_dir, prefix=".incoming-"))
    try:
        link = staging / "file"
        try:
            os.link(src, link)
        except OSError:  # another file system (EXDEV), or no links there; or no `src`
            copy_atomic(src, dst, tmp_dir)
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(link, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


async def write_chunks(
    chunks: AsyncIterator[bytes], out: AtomicFile, max_bytes: int | None = None
) -> None:
    """Writes an async stream into `out`, in threads, about a MiB at a time.

    Raises TooLarge as soon as more than `max_bytes` arrived; the caller discards `out`.
    """
    buffer = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if max_bytes is not None and received > max_bytes:
            raise TooLarge(f"body exceeds the limit of {max_bytes} bytes")
        buffer += chunk
        if len(buffer) >= CHUNK_SIZE:
            await asyncio.to_thread(out.write, bytes(buffer))
            buffer.clear()
    if buffer:
        await asyncio.to_thread(out.write, bytes(buffer))


def prune_empty_dirs(start: Path, stop: Path) -> None:
    """Removes `start` and its parents while empty, never `stop` or above it."""
    current = start
    while current != stop and stop in current.parents:
        try:
            current.rmdir()
        except FileNotFoundError:
            pass
        except OSError:  # not empty or not a folder: everything above is in use too
            return
        current = current.parent
