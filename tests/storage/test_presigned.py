"""Browser flows over real HTTP: presigned PUT, multipart parts, abort, download URLs.

S3 URLs go to the moto server; the local store's relative URLs go to a tiny aiohttp app
wrapping LocalStorage.verify / write_signed_put / write_part / open_for_read.
"""

from __future__ import annotations

import hashlib

import pytest

from storage import MIN_PART_SIZE, InvalidUpload


async def put(http, url: str, data: bytes, content_type: str | None = None):
    headers = {"Content-Type": content_type} if content_type else {}
    async with http.put(url, data=data, headers=headers) as response:
        return response.status, response.headers.get("ETag"), await response.text()


async def upload_parts(backend, http, key: str, upload_id: str, parts: list[bytes]):
    urls = await backend.storage.presign_parts(key, upload_id, range(1, len(parts) + 1), 300)
    assert [u.part_number for u in urls] == list(range(1, len(parts) + 1))
    etags = []
    for part, data in zip(urls, parts):
        status, etag, text = await put(http, backend.absolute(part.url), data)
        assert status == 200, text
        assert etag == f'"{hashlib.md5(data).hexdigest()}"'
        etags.append((part.part_number, etag))
    return etags


async def test_presigned_single_put(backend, http):
    body = b"\x00video" * 1000
    url = await backend.storage.presign_put("users/u1/up/match.mp4", "video/mp4", 300)
    status, etag, text = await put(http, backend.absolute(url), body, "video/mp4")
    assert status == 200, text
    assert etag == f'"{hashlib.md5(body).hexdigest()}"'
    info = await backend.storage.head("users/u1/up/match.mp4")
    assert (info.size, info.content_type, info.etag) == (len(body), "video/mp4", etag)
    assert await backend.storage.get_bytes("users/u1/up/match.mp4") == body


async def test_presigned_multipart_upload(backend, big_data, http):
    storage, key = backend.storage, "users/u1/up/long.mp4"
    upload_id = await storage.create_multipart(key, "video/mp4")
    parts = [
        big_data[:MIN_PART_SIZE],
        big_data[MIN_PART_SIZE : 2 * MIN_PART_SIZE],
        big_data[2 * MIN_PART_SIZE :],
    ]
    etags = await upload_parts(backend, http, key, upload_id, parts)
    assert await storage.list_keys("users/u1") == []  # nothing visible before completion

    info = await storage.complete_multipart(key, upload_id, etags)
    assert (info.key, info.size, info.content_type) == (key, len(big_data), "video/mp4")
    assert info.etag.endswith('-3"')
    assert await storage.get_bytes(key) == big_data


async def test_multipart_parts_uploaded_out_of_order(backend, http):
    storage, key = backend.storage, "o/order.bin"
    upload_id = await storage.create_multipart(key, "application/octet-stream")
    first, second = b"a" * MIN_PART_SIZE, b"tail"
    urls = await storage.presign_parts(key, upload_id, [2, 1], 300)
    assert [u.part_number for u in urls] == [2, 1]
    _, etag2, _ = await put(http, backend.absolute(urls[0].url), second)
    _, etag1, _ = await put(http, backend.absolute(urls[1].url), first)
    await storage.complete_multipart(key, upload_id, [(1, etag1), (2, etag2)])
    assert await storage.get_bytes(key) == first + second


async def test_multipart_rejects_wrong_etag_and_small_parts(backend, http):
    storage, key = backend.storage, "m/bad.bin"
    upload_id = await storage.create_multipart(key, "application/octet-stream")
    etags = await upload_parts(backend, http, key, upload_id, [b"x" * 1024, b"y" * 1024])
    with pytest.raises(InvalidUpload):  # every part but the last needs 5 MiB
        await storage.complete_multipart(key, upload_id, etags)
    with pytest.raises(InvalidUpload):
        await storage.complete_multipart(key, upload_id, [(1, '"' + "0" * 32 + '"')])
    assert not await storage.exists(key)


async def test_abort_discards_the_upload(backend, http):
    storage, key = backend.storage, "m/aborted.bin"
    upload_id = await storage.create_multipart(key, "application/octet-stream")
    etags = await upload_parts(backend, http, key, upload_id, [b"z" * 2048])
    assert len(etags) == 1
    await storage.abort_multipart(key, upload_id)
    await storage.abort_multipart(key, upload_id)  # twice is fine
    [part] = await storage.presign_parts(key, upload_id, [2], 300)
    status, _, _ = await put(http, backend.absolute(part.url), b"late")
    assert status >= 400  # local: 400; S3: 404 NoSuchUpload (moto answers 500)
    assert not await storage.exists(key)
    # What is left behind is checked per backend in test_local and test_s3: moto fails
    # with a 500 on a completion of an aborted upload where S3 says NoSuchUpload.


async def test_download_url_serves_the_bytes(backend, http):
    await backend.storage.put_bytes("jobs/1/report.json", b'{"schema": 1}', "application/json")
    url = await backend.storage.download_url("jobs/1/report.json", 300)
    async with http.get(backend.absolute(url)) as response:
        assert response.status == 200
        assert await response.read() == b'{"schema": 1}'
        assert "attachment" not in response.headers.get("Content-Disposition", "")

    url = await backend.storage.download_url("jobs/1/report.json", 300, filename="rapport é.json")
    async with http.get(backend.absolute(url)) as response:
        assert response.status == 200
        assert await response.read() == b'{"schema": 1}'
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''rapport%20%C3%A9.json" in disposition


async def test_download_url_supports_ranges(backend, http):
    await backend.storage.put_bytes("v/clip.mp4", bytes(range(256)) * 40, "video/mp4")
    url = backend.absolute(await backend.storage.download_url("v/clip.mp4", 300))
    async with http.get(url, headers={"Range": "bytes=100-199"}) as response:
        assert response.status == 206
        assert await response.read() == (bytes(range(256)) * 40)[100:200]
