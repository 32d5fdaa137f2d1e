"""S3Storage specifics against moto over HTTP: bucket setup, CORS, URLs, errors, aborts."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from storage import (
    InvalidUpload,
    ObjectNotFound,
    S3Storage,
    StorageError,
    StorageUnavailable,
)
from storage.s3_errors import translate_client_error
from tests.storage.conftest import APP_ORIGIN, CREDENTIALS, REGION


async def test_ensure_bucket_is_idempotent_and_sets_cors(s3_storage, raw_s3):
    await s3_storage.ensure_bucket([APP_ORIGIN, "https://other.example"])
    location = await raw_s3.get_bucket_location(Bucket=s3_storage.bucket)
    assert location["LocationConstraint"] == REGION
    [rule] = (await raw_s3.get_bucket_cors(Bucket=s3_storage.bucket))["CORSRules"]
    assert rule["AllowedOrigins"] == [APP_ORIGIN, "https://other.example"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert rule["ExposeHeaders"] == ["ETag"]


async def test_cors_preflight_for_a_browser_put(s3_storage, moto_endpoint, http):
    url = f"{moto_endpoint}/{s3_storage.bucket}/users/u1/match.mp4"
    preflight = {
        "Origin": APP_ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    async with http.options(url, headers=preflight) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert "PUT" in response.headers["Access-Control-Allow-Methods"]
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    async with http.options(url, headers=preflight | {"Origin": "http://evil.example"}) as resp:
        assert resp.status == 403


async def test_presigned_urls_sign_what_s3_must_check(s3_storage):
    put_url = await s3_storage.presign_put("u/a.mp4", "video/mp4", 300)
    query = parse_qs(urlsplit(put_url).query)
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["300"]
    assert urlsplit(put_url).path == f"/{s3_storage.bucket}/u/a.mp4"

    [part] = await s3_storage.presign_parts("u/a.mp4", "upload-123", [7], 60)
    query = parse_qs(urlsplit(part.url).query)
    assert (part.part_number, query["uploadId"], query["partNumber"]) == (7, ["upload-123"], ["7"])

    get_url = await s3_storage.download_url("u/a.mp4", 60, filename="match.mp4")
    query = parse_qs(urlsplit(get_url).query)
    assert query["response-content-disposition"] == [
        "attachment; filename=\"match.mp4\"; filename*=UTF-8''match.mp4"
    ]


async def test_cloudfront_download_urls_need_no_request():
    # An endpoint nobody listens on: the URL must be built without any call.
    storage = S3Storage(
        "bucket-x",
        REGION,
        endpoint_url="http://127.0.0.1:9",
        cloudfront_domain="cdn.example.com/",
        **CREDENTIALS,
    )
    url = await storage.download_url("users/u1/my match.mp4", 300, filename="x.mp4")
    assert url == "https://cdn.example.com/users/u1/my%20match.mp4"
    await storage.close()


async def test_big_uploads_use_multipart_and_leave_no_parts(s3_storage, raw_s3, big_data, tmp_path):
    source = tmp_path / "match.mp4"
    source.write_bytes(big_data)
    await s3_storage.put_file("u/match.mp4", source, "video/mp4")
    head = await raw_s3.head_object(Bucket=s3_storage.bucket, Key="u/match.mp4")
    assert head["ETag"].endswith('-3"')
    assert head["ContentType"] == "video/mp4"
    pending = await raw_s3.list_multipart_uploads(Bucket=s3_storage.bucket)
    assert pending.get("Uploads", []) == []


async def test_a_failing_stream_aborts_its_multipart_upload(s3_storage, raw_s3):
    async def broken():
        yield b"a" * (6 * 1024 * 1024)
        yield b"b" * (5 * 1024 * 1024)
        raise RuntimeError("camera went away")

    with pytest.raises(RuntimeError, match="camera went away"):
        await s3_storage.put_stream("live/rec.mp4", broken(), "video/mp4")
    pending = await raw_s3.list_multipart_uploads(Bucket=s3_storage.bucket)
    assert pending.get("Uploads", []) == []
    assert not await s3_storage.exists("live/rec.mp4")


async def test_abort_removes_the_pending_upload(s3_storage, raw_s3, http):
    upload_id = await s3_storage.create_multipart("u/a.mp4", "video/mp4")
    [part] = await s3_storage.presign_parts("u/a.mp4", upload_id, [1], 60)
    async with http.put(part.url, data=b"part") as response:
        assert response.status == 200
    pending = await raw_s3.list_multipart_uploads(Bucket=s3_storage.bucket)
    assert [u["UploadId"] for u in pending["Uploads"]] == [upload_id]
    await s3_storage.abort_multipart("u/a.mp4", upload_id)
    pending = await raw_s3.list_multipart_uploads(Bucket=s3_storage.bucket)
    assert pending.get("Uploads", []) == []


async def test_missing_bucket_is_a_storage_error(moto_endpoint, aio_session):
    storage = S3Storage(
        "no-such-bucket-here",
        REGION,
        endpoint_url=moto_endpoint,
        session=aio_session,
        **CREDENTIALS,
    )
    with pytest.raises(StorageError, match="NoSuchBucket") as caught:
        await storage.put_bytes("a.txt", b"a")
    assert type(caught.value) is StorageError
    await storage.close()


async def test_unreachable_endpoint_is_unavailable(aio_session):
    with socket.socket() as sock:  # a port that was free a moment ago: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    storage = S3Storage(
        "bucket-x",
        REGION,
        endpoint_url=f"http://127.0.0.1:{port}",
        max_attempts=1,
        connect_timeout=2,
        session=aio_session,
        **CREDENTIALS,
    )
    with pytest.raises(StorageUnavailable, match="unreachable"):
        await storage.get_bytes("a.txt")
    with pytest.raises(StorageUnavailable):
        await storage.head("a.txt")
    await storage.close()
    await storage.close()


async def test_close_then_use_again(s3_storage):
    await s3_storage.put_bytes("a.txt", b"a")
    await s3_storage.close()
    assert await s3_storage.get_bytes("a.txt") == b"a"


def client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ObjectNotFound),
        ("404", 404, ObjectNotFound),
        ("NoSuchUpload", 404, InvalidUpload),
        ("InvalidPart", 400, InvalidUpload),
        ("EntityTooSmall", 400, InvalidUpload),
        ("SlowDown", 503, StorageUnavailable),
        ("ServiceUnavailable", 503, StorageUnavailable),
        ("InternalError", 500, StorageUnavailable),
        ("RequestTimeout", 400, StorageUnavailable),
        ("Throttling", 400, StorageUnavailable),
        ("SomethingNew", 502, StorageUnavailable),
        ("AccessDenied", 403, StorageError),
        ("NoSuchBucket", 404, StorageError),
        ("InvalidArgument", 400, StorageError),
    ],
)
def test_client_errors_are_translated(code, status, expected):
    error = translate_client_error(client_error(code, status), key="u/a.mp4")
    assert type(error) is expected
    if expected is ObjectNotFound:
        assert str(error) == "u/a.mp4"
    else:
        assert code in str(error)
