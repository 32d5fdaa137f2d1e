"""Behaviour both backends share, run against LocalStorage and S3Storage (moto over HTTP)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from storage import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
)


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_put_get_head_exists(storage):
    info = await storage.put_bytes("users/u1/report.json", b'{"shots": 3}', "application/json")
    expected = ObjectInfo("users/u1/report.json", 12, "application/json", md5_etag(b'{"shots": 3}'))
    assert info == expected
    assert await storage.head("users/u1/report.json") == expected
    assert await storage.exists("users/u1/report.json")
    assert await storage.get_bytes("users/u1/report.json") == b'{"shots": 3}'


async def test_missing_content_type_is_stored_as_octet_stream(storage):
    await storage.put_bytes("blob.bin", b"\x00\x01")
    assert (await storage.head("blob.bin")).content_type == DEFAULT_CONTENT_TYPE


async def test_overwrite_replaces_content_and_type(storage):
    await storage.put_bytes("a/b.txt", b"first", "text/plain")
    await storage.put_bytes("a/b.txt", b"second!", "text/csv")
    assert await storage.get_bytes("a/b.txt") == b"second!"
    assert (await storage.head("a/b.txt")).content_type == "text/csv"


async def test_missing_objects(storage, tmp_path):
    assert await storage.head("no/such.mp4") is None
    assert not await storage.exists("no/such.mp4")
    with pytest.raises(ObjectNotFound):
        await storage.get_bytes("no/such.mp4")
    with pytest.raises(ObjectNotFound):
        await storage.download_to("no/such.mp4", tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    with pytest.raises(ObjectNotFound):
        [chunk async for chunk in storage.iter_chunks("no/such.mp4")]
    with pytest.raises(ObjectNotFound):
        await storage.copy("no/such.mp4", "copy.mp4")


async def test_delete_removes_and_tolerates_missing(storage):
    await storage.put_bytes("x/y.txt", b"y")
    await storage.delete("x/y.txt")
    assert not await storage.exists("x/y.txt")
    await storage.delete("x/y.txt")
    await storage.delete("never/was.txt")


async def test_delete_prefix_counts_and_spares_neighbours(storage):
    for key in (
        "users/u1/a.mp4",
        "users/u1/jobs/1/report.json",
        "users/u1/jobs/2/h.png",
        "users/u10/a.mp4",
        "users/u1.txt",
    ):
        await storage.put_bytes(key, key.encode())
    assert await storage.delete_prefix("users/u1") == 3
    assert await storage.list_keys("") == ["users/u1.txt", "users/u10/a.mp4"]
    assert await storage.delete_prefix("users/u1/") == 0
    assert await storage.delete_prefix("nothing/here") == 0


async def test_delete_prefix_refuses_everything(storage):
    await storage.put_bytes("keep.txt", b"k")
    with pytest.raises(InvalidKey):
        await storage.delete_prefix("")
    assert await storage.exists("keep.txt")


async def test_list_keys_is_sorted_and_folder_scoped(storage):
    for key in ("jobs/2/report.json", "jobs/10/report.json", "jobs/1/h.png", "jobsx/a"):
        await storage.put_bytes(key, b".")
    assert await storage.list_keys("jobs") == [
        "jobs/1/h.png",
        "jobs/10/report.json",
        "jobs/2/report.json",
    ]
    assert await storage.list_keys("jobs/1/") == ["jobs/1/h.png"]
    assert await storage.list_keys("") == [
        "jobs/1/h.png",
        "jobs/10/report.json",
        "jobs/2/report.json",
        "jobsx/a",
    ]
    assert await storage.list_keys("none") == []


async def test_copy_keeps_bytes_and_content_type(storage):
    await storage.put_bytes("src/match.mp4", b"video bytes", "video/mp4")
    await storage.copy("src/match.mp4", "dst/copy.mp4")
    assert await storage.get_bytes("dst/copy.mp4") == b"video bytes"
    assert (await storage.head("dst/copy.mp4")).content_type == "video/mp4"
    assert await storage.exists("src/match.mp4")


async def test_big_file_round_trip(storage, big_data, tmp_path):
    source = tmp_path / "match.mp4"
    source.write_bytes(big_data)
    info = await storage.put_file("users/u1/match.mp4", source, "video/mp4")
    assert (info.key, info.size, info.content_type) == (
        "users/u1/match.mp4",
        len(big_data),
        "video/mp4",
    )
    head = await storage.head("users/u1/match.mp4")
    assert (head.size, head.content_type) == (len(big_data), "video/mp4")

    target = tmp_path / "down" / "copy.mp4"
    downloaded = await storage.download_to("users/u1/match.mp4", target)
    assert downloaded.size == len(big_data)
    assert target.read_bytes() == big_data
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.mp4"]  # no temp left

    chunks = [chunk async for chunk in storage.iter_chunks("users/u1/match.mp4")]
    assert [len(c) for c in chunks[:-1]] == [CHUNK_SIZE] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= CHUNK_SIZE
    assert b"".join(chunks) == big_data


async def test_put_stream_of_uneven_chunks(storage, big_data):
    info = await storage.put_stream("live/rec.mp4", pieces(big_data, 700_001), "video/mp4")
    assert (info.size, info.content_type) == (len(big_data), "video/mp4")
    assert (await storage.head("live/rec.mp4")).size == len(big_data)
    assert await storage.get_bytes("live/rec.mp4") == big_data


async def test_small_stream_and_empty_file(storage, tmp_path):
    info = await storage.put_stream("s.txt", pieces(b"hello world", 3), "text/plain")
    assert info == ObjectInfo("s.txt", 11, "text/plain", md5_etag(b"hello world"))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert (await storage.put_file("empty.bin", empty)).size == 0
    assert await storage.get_bytes("empty.bin") == b""
    assert [c async for c in storage.iter_chunks("empty.bin")] == []


async def test_iter_chunks_with_small_chunk_size(storage):
    await storage.put_bytes("n.txt", b"0123456789")
    assert [c async for c in storage.iter_chunks("n.txt", chunk_size=4)] == [
        b"0123",
        b"4567",
        b"89",
    ]


CALLS = {
    "put_bytes": lambda s, key: s.put_bytes(key, b"x"),
    "get_bytes": lambda s, key: s.get_bytes(key),
    "head": lambda s, key: s.head(key),
    "exists": lambda s, key: s.exists(key),
    "delete": lambda s, key: s.delete(key),
    "delete_prefix": lambda s, key: s.delete_prefix(key),
    "list_keys": lambda s, key: s.list_keys(key),
    "copy_src": lambda s, key: s.copy(key, "ok.txt"),
    "copy_dst": lambda s, key: s.copy("ok.txt", key),
    "presign_put": lambda s, key: s.presign_put(key, "video/mp4", 60),
    "create_multipart": lambda s, key: s.create_multipart(key, "video/mp4"),
    "download_url": lambda s, key: s.download_url(key, 60),
}


@pytest.mark.parametrize("key", ["../escape.txt", "/abs.txt", "a\\b", "a//b", "a/\x00"])
async def test_every_operation_validates_keys(storage, key):
    await storage.put_bytes("ok.txt", b"ok")
    for name, call in CALLS.items():
        with pytest.raises(InvalidKey):
            await call(storage, key)
            pytest.fail(f"{name} accepted {key!r}")
    assert await storage.list_keys("") == ["ok.txt"]


@pytest.mark.parametrize("key", ["../escape.txt", "a//b"])
async def test_streaming_operations_validate_keys(storage, tmp_path, key):
    with pytest.raises(InvalidKey):
        await storage.download_to(key, tmp_path / "out")
    with pytest.raises(InvalidKey):
        [chunk async for chunk in storage.iter_chunks(key)]
    with pytest.raises(InvalidKey):
        await storage.put_stream(key, pieces(b"data", 2))


async def test_close_twice(storage):
    await storage.put_bytes("k.txt", b"k")
    await storage.close()
    await storage.close()
