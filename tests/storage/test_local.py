"""LocalStorage specifics: signed URLs, containment inside the root, multipart bookkeeping."""

from __future__ import annotations

import errno
import os
from urllib.parse import parse_qsl, urlsplit

import pytest
import yarl

import storage.files
from storage import (
    MIN_PART_SIZE,
    InvalidKey,
    InvalidUpload,
    LocalStorage,
    SignatureError,
    TooLarge,
)
from tests.storage.local_app import create_file_app


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def chunks_of(*parts: bytes):
    for part in parts:
        yield part


def leftovers(storage: LocalStorage) -> list[str]:
    """Files still in the temporary and multipart folders."""
    return sorted(
        str(p.relative_to(storage.root))
        for folder in (".tmp", ".multipart")
        for p in (storage.root / folder).rglob("*")
    )


async def test_presigned_put_url_shape(local_storage):
    url = await local_storage.presign_put("users/u1/my match é.mp4", "video/mp4", 600)
    path, query = urlsplit(url).path, query_of(url)
    assert path == "/api/v1/files/users/u1/my%20match%20%C3%A9.mp4"
    assert set(query) == {"op", "ct", "expires", "sig"}
    assert (query["op"], query["ct"]) == ("put", "video/mp4")
    signed = local_storage.verify("put", "users/u1/my match é.mp4", query)
    assert signed == {"op": "put", "ct": "video/mp4", "expires": query["expires"]}


async def put_query(storage: LocalStorage) -> dict[str, str]:
    return query_of(await storage.presign_put("u/a.mp4", "video/mp4", 60))


async def part_query(storage: LocalStorage) -> dict[str, str]:
    [part] = await storage.presign_parts("u/a.mp4", "A" * 32, [3], 60)
    return query_of(part.url)


async def get_query(storage: LocalStorage) -> dict[str, str]:
    return query_of(await storage.download_url("u/a.mp4", 60, filename="a.mp4"))


TAMPERING = [
    ("put", put_query, lambda q: q | {"sig": "0" * 64}, "u/a.mp4", "tampered"),
    ("put", put_query, lambda q: q | {"sig": q["sig"][:-1]}, "u/a.mp4", "tampered"),
    ("put", put_query, lambda q: q, "u/b.mp4", "tampered"),
    ("put", put_query, lambda q: q | {"ct": "text/html"}, "u/a.mp4", "tampered"),
    (
        "put",
        put_query,
        lambda q: q | {"expires": str(int(q["expires"]) + 3600)},
        "u/a.mp4",
        "tampered",
    ),
    ("put", put_query, lambda q: {k: v for k, v in q.items() if k != "ct"}, "u/a.mp4", "lacks"),
    ("put", put_query, lambda q: {k: v for k, v in q.items() if k != "sig"}, "u/a.mp4", "lacks"),
    ("get", put_query, lambda q: q | {"op": "get"}, "u/a.mp4", "tampered"),
    ("part", put_query, lambda q: q, "u/a.mp4", "not signed for operation 'part'"),
    ("part", part_query, lambda q: q | {"part": "4"}, "u/a.mp4", "tampered"),
    ("part", part_query, lambda q: q | {"upload": "B" * 32}, "u/a.mp4", "tampered"),
    ("part", part_query, lambda q: q, "u/other.mp4", "tampered"),
    ("get", get_query, lambda q: q | {"filename": "evil.exe"}, "u/a.mp4", "tampered"),
    (
        "get",
        get_query,
        lambda q: {k: v for k, v in q.items() if k != "filename"},
        "u/a.mp4",
        "tampered",
    ),
    ("put", get_query, lambda q: q, "u/a.mp4", "not signed for operation 'put'"),
]


@pytest.mark.parametrize(("op", "make", "mutate", "key", "message"), TAMPERING)
async def test_tampered_urls_are_rejected(local_storage, op, make, mutate, key, message):
    query = await make(local_storage)
    local_storage.verify(query["op"], "u/a.mp4", query)  # the untouched URL is valid
    with pytest.raises(SignatureError, match=message):
        local_storage.verify(op, key, mutate(dict(query)))


async def test_expired_urls_are_rejected(local_storage):
    query = await put_query(local_storage)
    expires = int(query["expires"])
    assert local_storage.verify("put", "u/a.mp4", query, now=expires)["ct"] == "video/mp4"
    with pytest.raises(SignatureError, match="expired"):
        local_storage.verify("put", "u/a.mp4", query, now=expires + 1)


async def test_urls_from_another_secret_are_rejected(tmp_path, local_storage):
    other = LocalStorage(tmp_path / "other", b"another secret of enough bytes!!")
    query = await put_query(other)
    with pytest.raises(SignatureError, match="tampered"):
        local_storage.verify("put", "u/a.mp4", query)


def test_short_secrets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="16 bytes"):
        LocalStorage(tmp_path, b"short")


@pytest.mark.parametrize("key", ["../outside.mp4", "u/../../x", "/etc/passwd", "u\\..\\x"])
async def test_traversal_keys_are_rejected_on_verify(local_storage, key):
    query = await put_query(local_storage)
    with pytest.raises(InvalidKey):
        local_storage.verify("put", key, query)


async def test_traversal_over_http_reaches_nothing(local_backend, http, tmp_path):
    storage = local_backend.storage
    query = await put_query(storage)
    for path in ("u/%2E%2E/%2E%2E/%2E%2E/escaped.mp4", "u/..%2F..%2F..%2Fescaped.mp4"):
        url = yarl.URL(f"{local_backend.base_url}/api/v1/files/{path}", encoded=True)
        async with http.put(
            url.with_query(query), data=b"x", headers={"Content-Type": "video/mp4"}
        ) as response:
            assert response.status == 400
            assert "'..' path segment" in await response.text()
    assert not list(tmp_path.rglob("escaped.mp4"))


async def test_http_rejects_tampering_and_wrong_content_type(local_backend, http):
    storage = local_backend.storage
    url = local_backend.absolute(await storage.presign_put("u/a.mp4", "video/mp4", 60))
    async with http.put(
        url.replace("sig=", "sig=0"), data=b"x", headers={"Content-Type": "video/mp4"}
    ) as response:
        assert response.status == 403
        assert "tampered" in await response.text()
    async with http.put(url, data=b"x", headers={"Content-Type": "text/html"}) as response:
        assert response.status == 403
    assert not await storage.exists("u/a.mp4")


async def test_symlink_escapes_are_rejected(local_storage, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    objects = local_storage.root / "objects"
    os.symlink(outside, objects / "link")
    os.symlink(outside / "secret.txt", objects / "secret.txt")

    for call in (
        lambda: local_storage.put_bytes("link/new.txt", b"x"),
        lambda: local_storage.get_bytes("link/secret.txt"),
        lambda: local_storage.get_bytes("secret.txt"),
        lambda: local_storage.head("secret.txt"),
        lambda: local_storage.delete("link/secret.txt"),
        lambda: local_storage.delete_prefix("link"),
        lambda: local_storage.list_keys("link"),
        lambda: local_storage.open_for_read("secret.txt"),
        lambda: local_storage.copy("secret.txt", "mine.txt"),
    ):
        with pytest.raises(InvalidKey, match="outside the store"):
            await call()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"
    assert await local_storage.list_keys("") == []  # links are not objects


async def test_body_over_the_limit_is_refused_and_cleaned(local_storage):
    await local_storage.presign_put("u/big.mp4", "video/mp4", 60)
    with pytest.raises(TooLarge, match="100 bytes"):
        await local_storage.write_signed_put(
            "u/big.mp4", chunks_of(b"x" * 60, b"x" * 60), "video/mp4", max_bytes=100
        )
    assert not await local_storage.exists("u/big.mp4")
    upload_id = await local_storage.create_multipart("u/big.mp4", "video/mp4")
    with pytest.raises(TooLarge):
        await local_storage.write_part("u/big.mp4", upload_id, 1, chunks_of(b"y" * 101), 100)
    assert leftovers(local_storage) == [
        f".multipart/{upload_id}",
        f".multipart/{upload_id}/upload.json",
    ]


async def test_body_over_the_limit_over_http_is_413(local_storage, aiohttp_server, http):
    server = await aiohttp_server(create_file_app(local_storage, max_bytes=1000))
    url = str(server.make_url(await local_storage.presign_put("u/big.mp4", "video/mp4", 60)))
    async with http.put(url, data=b"z" * 1001, headers={"Content-Type": "video/mp4"}) as response:
        assert response.status == 413
    async with http.put(url, data=b"z" * 1000, headers={"Content-Type": "video/mp4"}) as response:
        assert response.status == 200
    assert (await local_storage.head("u/big.mp4")).size == 1000
    assert leftovers(local_storage) == []


@pytest.mark.parametrize(
    ("upload_id", "key", "message"),
    [
        ("../../../objects/x", "u/a.mp4", "malformed"),
        ("short", "u/a.mp4", "malformed"),
        ("A" * 32, "u/a.mp4", "unknown"),
        (None, "u/other.mp4", "another key"),
    ],
)
async def test_parts_need_the_right_upload(local_storage, upload_id, key, message):
    real = await local_storage.create_multipart("u/a.mp4", "video/mp4")
    with pytest.raises(InvalidUpload, match=message):
        await local_storage.write_part(key, upload_id or real, 1, chunks_of(b"p"), None)
    with pytest.raises(InvalidUpload, match=message):
        await local_storage.complete_multipart(key, upload_id or real, [(1, '"x"')])


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([], "at least one part"),
        ([(2, "e"), (1, "e")], "ascending"),
        ([(1, "e"), (1, "e")], "unique"),
        ([(1, "e"), (3, "e")], "part 3 was not uploaded"),
        ([(0, "e")], "part number"),
    ],
)
async def test_completion_checks_the_part_list(local_storage, parts, message):
    key = "u/a.mp4"
    upload_id = await local_storage.create_multipart(key, "video/mp4")
    for number in (1, 2):
        await local_storage.write_part(key, upload_id, number, chunks_of(b"q" * 10), None)
    with pytest.raises(InvalidUpload, match=message):
        await local_storage.complete_multipart(key, upload_id, parts)


async def test_multipart_bookkeeping_is_removed(local_storage):
    key = "u/a.mp4"
    done = await local_storage.create_multipart(key, "video/mp4")
    etag1 = await local_storage.write_part(key, done, 1, chunks_of(b"a" * MIN_PART_SIZE), None)
    etag2 = await local_storage.write_part(key, done, 2, chunks_of(b"b"), None)
    await local_storage.write_part(key, done, 3, chunks_of(b"unused"), None)
    await local_storage.complete_multipart(key, done, [(1, etag1), (2, etag2)])
    assert await local_storage.get_bytes(key) == b"a" * MIN_PART_SIZE + b"b"

    aborted = await local_storage.create_multipart(key, "video/mp4")
    etag = await local_storage.write_part(key, aborted, 1, chunks_of(b"c"), None)
    await local_storage.abort_multipart(key, aborted)
    with pytest.raises(InvalidUpload, match="unknown"):
        await local_storage.complete_multipart(key, aborted, [(1, etag)])
    with pytest.raises(InvalidUpload):
        await local_storage.complete_multipart(key, done, [(1, etag1), (2, etag2)])
    assert leftovers(local_storage) == []


async def test_keys_that_cannot_coexist_on_a_file_system(local_storage):
    await local_storage.put_bytes("a/b", b"file")
    with pytest.raises(InvalidKey, match="collides"):
        await local_storage.put_bytes("a/b/c", b"below a file")
    with pytest.raises(InvalidKey, match="collides"):
        await local_storage.put_bytes("a", b"onto a folder")
    assert await local_storage.get_bytes("a/b") == b"file"
    assert leftovers(local_storage) == []


async def test_deleting_prunes_empty_folders(local_storage):
    await local_storage.put_bytes("users/u1/jobs/1/report.json", b"{}")
    await local_storage.put_bytes("users/u2/a.txt", b"a")
    await local_storage.delete("users/u1/jobs/1/report.json")
    assert sorted(p.name for p in (local_storage.root / "objects" / "users").iterdir()) == ["u2"]
    await local_storage.delete_prefix("users/u2")
    assert list((local_storage.root / "objects").iterdir()) == []
    assert list((local_storage.root / ".meta").iterdir()) == []


async def test_open_for_read(local_storage):
    info = await local_storage.put_bytes("v/clip.mp4", b"clip", "video/mp4")
    path, head = await local_storage.open_for_read("v/clip.mp4")
    assert path.read_bytes() == b"clip"
    assert head == info


async def test_download_links_the_file_on_the_same_file_system(local_storage, tmp_path):
    """A job's copy of an uploaded match costs no time and no second copy of the disk."""
    await local_storage.put_bytes("v/match.mp4", b"first take", "video/mp4")
    stored, _ = await local_storage.open_for_read("v/match.mp4")
    target = tmp_path / "job" / "match.mp4"
    info = await local_storage.download_to("v/match.mp4", target)
    assert info.size == len(b"first take")
    assert target.stat().st_ino == stored.stat().st_ino
    assert [p.name for p in target.parent.iterdir()] == ["match.mp4"]  # nothing staged left
    # Replacing or deleting the object leaves the downloaded file as it was.
    await local_storage.put_bytes("v/match.mp4", b"second take", "video/mp4")
    assert target.read_bytes() == b"first take"
    await local_storage.delete("v/match.mp4")
    assert target.read_bytes() == b"first take"


async def test_download_copies_across_file_systems(local_storage, tmp_path, monkeypatch):
    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(storage.files.os, "link", cross_device)
    await local_storage.put_bytes("v/match.mp4", b"match", "video/mp4")
    stored, _ = await local_storage.open_for_read("v/match.mp4")
    target = tmp_path / "job" / "match.mp4"
    await local_storage.download_to("v/match.mp4", target)
    assert target.read_bytes() == b"match"
    assert target.stat().st_ino != stored.stat().st_ino
    assert [p.name for p in target.parent.iterdir()] == ["match.mp4"]
