"""Presigned uploads end where the server says: a key takes PUTs only until it is moved or
deleted, a URL takes only the length it was issued for, and a restart clears half-written
files. Over real HTTP, against the local store's signed URLs and moto's S3."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest

from storage import MIN_PART_SIZE, LocalStorage, ObjectNotFound, S3Storage, UploadClosed
from tests.storage.conftest import SECRET
from tests.storage.test_presigned import put


async def test_move_keeps_bytes_and_type_and_empties_the_source(storage):
    await storage.put_bytes("users/u1/uploads/j/a.mp4", b"video bytes", "video/mp4")
    info = await storage.move("users/u1/uploads/j/a.mp4", "users/u1/videos/j/a.mp4")
    assert (info.key, info.size, info.content_type) == ("users/u1/videos/j/a.mp4", 11, "video/mp4")
    assert await storage.get_bytes("users/u1/videos/j/a.mp4") == b"video bytes"
    assert await storage.list_keys("users/u1") == ["users/u1/videos/j/a.mp4"]
    with pytest.raises(ObjectNotFound):
        await storage.move("users/u1/uploads/j/a.mp4", "users/u1/videos/j/b.mp4")


async def test_a_moved_or_deleted_key_takes_no_more_presigned_puts(local_backend, http):
    storage = local_backend.storage
    moved_url = local_backend.absolute(await storage.presign_put("up/a.mp4", "video/mp4", 300))
    status, _, _ = await put(http, moved_url, b"first", "video/mp4")
    assert status == 200
    status, _, _ = await put(http, moved_url, b"again", "video/mp4")  # a retry is fine
    assert status == 200
    await storage.move("up/a.mp4", "final/a.mp4")
    status, _, text = await put(http, moved_url, b"replaced", "video/mp4")
    assert status == 409, text
    assert await storage.list_keys("") == ["final/a.mp4"]
    assert await storage.get_bytes("final/a.mp4") == b"again"

    deleted_url = local_backend.absolute(await storage.presign_put("up/b.mp4", "video/mp4", 300))
    await storage.delete("up/b.mp4")  # before anything arrived
    status, _, _ = await put(http, deleted_url, b"late", "video/mp4")
    assert status == 409
    assert await storage.list_keys("up") == []


async def test_a_put_arriving_while_its_key_is_closed_is_not_stored(local_storage):
    await local_storage.presign_put("up/c.mp4", "video/mp4", 300)

    async def body():
        yield b"half"
        await local_storage.delete("up/c.mp4")  # the job is deleted mid-transfer
        yield b"rest"

    with pytest.raises(UploadClosed, match="closed"):
        await local_storage.write_signed_put("up/c.mp4", body(), "video/mp4", None)
    assert await local_storage.list_keys("") == []
    assert list((local_storage.root / ".tmp").iterdir()) == []


async def test_local_put_takes_exactly_the_signed_length(local_backend, http):
    storage = local_backend.storage
    url = local_backend.absolute(await storage.presign_put("up/d.mp4", "video/mp4", 300, 1000))
    assert parse_qs(urlsplit(url).query)["len"] == ["1000"]
    status, _, text = await put(http, url, b"x" * 5_000_000, "video/mp4")  # announced: unread
    assert status == 413, text

    async def endless():  # chunked, no length announced: reading stops past 1000 bytes
        for _ in range(150):
            yield b"y" * 1024 * 1024

    async with http.put(url, data=endless(), headers={"Content-Type": "video/mp4"}) as response:
        assert response.status == 413
    status, _, text = await put(http, url, b"z" * 999, "video/mp4")
    assert status == 400 and "999" in text
    assert not await storage.exists("up/d.mp4")
    status, _, _ = await put(http, url, b"v" * 1000, "video/mp4")
    assert status == 200
    assert (await storage.head("up/d.mp4")).size == 1000
    assert list((storage.root / ".tmp").iterdir()) == []


async def test_local_parts_take_exactly_their_signed_length(local_backend, http):
    storage = local_backend.storage
    upload_id = await storage.create_multipart("up/e.mp4", "video/mp4")
    first, last = await storage.presign_parts(
        "up/e.mp4", upload_id, [1, 2], 300, sizes=[MIN_PART_SIZE, 10]
    )
    status, _, _ = await put(http, local_backend.absolute(last.url), b"p" * 11)
    assert status == 413
    status, _, _ = await put(http, local_backend.absolute(first.url), b"p" * (MIN_PART_SIZE + 1))
    assert status == 413
    status, etag2, _ = await put(http, local_backend.absolute(last.url), b"p" * 10)
    assert status == 200
    status, etag1, _ = await put(http, local_backend.absolute(first.url), b"p" * MIN_PART_SIZE)
    assert status == 200
    info = await storage.complete_multipart("up/e.mp4", upload_id, [(1, etag1), (2, etag2)])
    assert info.size == MIN_PART_SIZE + 10


async def test_s3_urls_sign_the_declared_length(s3_storage):
    url = await s3_storage.presign_put("up/f.mp4", "video/mp4", 300, size=1000)
    signed = parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-length", "content-type"} <= set(signed)
    upload_id = await s3_storage.create_multipart("up/f.mp4", "video/mp4")
    [part] = await s3_storage.presign_parts("up/f.mp4", upload_id, [1], 300, sizes=[77])
    assert "content-length" in parse_qs(urlsplit(part.url).query)["X-Amz-SignedHeaders"][0]
    await s3_storage.abort_multipart("up/f.mp4", upload_id)


async def test_s3_moves_large_objects_in_parts(moto_endpoint, aio_session, big_data, raw_s3):
    storage = S3Storage(
        "parts-copy",
        "eu-west-1",
        endpoint_url=moto_endpoint,
        max_single_copy=MIN_PART_SIZE,
        copy_part_size=MIN_PART_SIZE,
        session=aio_session,
        access_key_id="testing",
        secret_access_key="testing",
    )
    try:
        await storage.ensure_bucket([])
        await storage.put_bytes("up/big.mp4", big_data, "video/mp4")
        info = await storage.move("up/big.mp4", "videos/big.mp4")
        assert (info.size, info.content_type) == (len(big_data), "video/mp4")
        assert info.etag.endswith('-3"')  # copied as three parts
        assert await storage.get_bytes("videos/big.mp4") == big_data
        assert await storage.list_keys("") == ["videos/big.mp4"]
        uploads = await raw_s3.list_multipart_uploads(Bucket="parts-copy")
        assert uploads.get("Uploads", []) == []
    finally:
        await storage.delete_prefix("videos")
        await storage.close()


async def test_leftovers_of_a_stopped_run_are_removed(tmp_path):
    first = LocalStorage(tmp_path / "store", SECRET)
    await first.presign_put("up/open.mp4", "video/mp4", 300)
    await first.presign_put("up/stale.mp4", "video/mp4", 1)
    (first.root / ".tmp" / ".incoming-killed-put").write_bytes(b"x" * 1000)
    (first.root / ".tmp" / ".incoming-dir").mkdir()
    await asyncio.sleep(2.1)  # the second URL expires

    second = LocalStorage(tmp_path / "store", SECRET)
    assert await second.remove_leftovers() == 3
    assert list((second.root / ".tmp").iterdir()) == []
    markers = sorted(p.name for p in (second.root / ".open").rglob("*.json"))
    assert markers == ["open.mp4.json"]  # a URL still valid still works
