"""A live recording copied to storage while it is made, so that a lost node loses seconds
of it, not the match.

Every RECORDING_FLUSH_S, what the recorder has completed since the last copy goes to storage
as one numbered object, a piece, under `<recording key>.pieces/`. Pieces end where a
fragment's `mdat` box ends (the first one holds the header, `ftyp` and `moov`, and a first
fragment), so the pieces in order are the file up to its last stored fragment: an MP4 that
plays. When the recording stops, the local file is stored whole
as before and the pieces go; when the node died, the pieces are joined into the recording.

Why pieces rather than a multipart upload of the file: S3 takes every part but the last only
from 5 MiB (40 s of a phone's 1 Mbit/s, minutes at the Low preset), and keeps an unfinished
upload's parts out of sight until someone who knows its id completes it. A piece is an
ordinary object, written the same way to the local store and to S3, and each flush can store
what little came since the last one. Joining goes through a local file because S3 cannot
copy parts under 5 MiB into one object either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import av

from storage import Storage

log = logging.getLogger(__name__)

PIECE_DIGITS = 6  # zero-padded numbers: the sorted keys are the pieces in order
# A flush stores at most this much per piece (storage down for a while leaves a backlog).
MAX_PIECE_BYTES = 32 * 1024 * 1024
# The box after which the bytes so far are an MP4 that plays (a fragment's media data).
CUT_AFTER = b"mdat"


def pieces_prefix(recording_key: str) -> str:
    """The folder the pieces of the recording stored at `recording_key` go to."""
    return f"{recording_key}.pieces/"


def piece_key(recording_key: str, number: int) -> str:
    return f"{pieces_prefix(recording_key)}{number:0{PIECE_DIGITS}d}"


def complete_fragments(path: Path, start: int, limit: int = MAX_PIECE_BYTES) -> bytes:
    """The bytes of `path` from `start` (a box boundary) to the end of its last complete
    `mdat`, at most `limit` of them unless one fragment alone is longer; b"" when no fragment
    has been completed since `start`. The writer may be mid-box at the end."""
    try:
        f = path.open("rb")
    except FileNotFoundError:  # no frame recorded yet
        return b""
    with f:
        size = f.seek(0, 2)
        at, cut = start, start
        while at + 8 <= size:
            f.seek(at)
            length, kind = struct.unpack(">I4s", f.read(8))
            if length == 1:  # 64-bit size after the type
                if at + 16 > size:
                    break
                (length,) = struct.unpack(">Q", f.read(8))
            if length < 8 or at + length > size:  # to the end of the file, or not written yet
                break
            if cut > start and at + length - start > limit:
                break
            at += length
            if kind == CUT_AFTER:
                cut = at
        f.seek(start)
        return f.read(cut - start)


class RecordingCopy:
    """Copies a recording's local file to storage in pieces while it is being written.

    Reading runs in a thread and storing is asynchronous I/O, so the event loop never waits
    for either. A failed store is logged and its bytes go with the next flush; the
    recording itself goes on regardless.
    """

    def __init__(
        self,
        storage: Storage,
        path: Path,
        key: str,
        interval_s: float,
        on_stored: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`on_stored` is awaited after each piece is stored."""
        self.storage = storage
        self.path = path
        self.key = key
        self.interval_s = interval_s
        self.pieces = 0
        self.stored_bytes = 0
        self._on_stored = on_stored
        self._task: asyncio.Task[None] | None = None

    def start(self) -> RecordingCopy:
        self._task = asyncio.create_task(self._run(), name=f"record-copy-{self.path.name}")
        return self

    async def stop(self) -> None:
        """Stops copying (the whole file is stored next, so nothing more is flushed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage down: the same bytes go with the next flush
                log.warning(
                    "recording %s: piece %d not stored yet (%s); trying again in %g s",
                    self.path.name,
                    self.pieces,
                    exc,
                    self.interval_s,
                )

    async def flush(self) -> None:
        """Stores what the recorder completed since the last piece, in as many pieces as
        MAX_PIECE_BYTES needs."""
        while True:
            data = await asyncio.to_thread(complete_fragments, self.path, self.stored_bytes)
            if not data:
                return
            await self.storage.put_bytes(piece_key(self.key, self.pieces), data, "video/mp4")
            self.pieces += 1
            self.stored_bytes += len(data)
            if self._on_stored is not None:
                await self._on_stored()


async def join_pieces(storage: Storage, recording_key: str, path: Path) -> bool:
    """Writes the stored pieces of a recording, in order, into `path`; False when there are
    none (nothing of it was stored)."""
    keys = await storage.list_keys(pieces_prefix(recording_key))
    if not keys:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    f = await asyncio.to_thread(path.open, "wb")
    try:
        for key in keys:
            async for chunk in storage.iter_chunks(key):
                await asyncio.to_thread(f.write, chunk)
    finally:
        await asyncio.to_thread(f.close)
    return True


async def cut_short(
    storage: Storage, path: Path | None, recording_key: str | None, scratch: Path
) -> tuple[Path, float | None] | None:
    """What is left of a recording whose process died: the file it was writing when this
    machine has it (the longest), else its stored pieces joined into `scratch`; with its
    playing time. None when neither holds anything."""
    if path is None or not path.exists():
        if recording_key is None or not await join_pieces(storage, recording_key, scratch):
            return None
        path = scratch
    try:
        return path, await asyncio.to_thread(playing_time, path)
    except av.FFmpegError:  # not even a header: stored as it is, its length unknown
        return path, None


def playing_time(path: Path) -> float | None:
    """Seconds from the first frame of an MP4 to the end of its last one (blocking: read
    through every packet's header, nothing decoded); None when it holds no frame."""
    first = end = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                first = packet.pts if first is None else min(first, packet.pts)
                stop = packet.pts + (packet.duration or 0)
                end = stop if end is None else max(end, stop)
        except av.FFmpegError:  # a fragment cut short at the end: the time up to it
            pass
        if first is None or end is None or stream.time_base is None:
            return None
        return float((end - first) * stream.time_base)
