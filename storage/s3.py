"""S3Storage: the Storage interface on Amazon S3 (or MinIO, LocalStack, moto) via aiobotocore."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError

from .base import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    MIN_PART_SIZE,
    InvalidUpload,
    ObjectInfo,
    ObjectNotFound,
    PartUpload,
    StorageError,
    attachment_disposition,
    validate_expires_in,
    validate_key,
    validate_part_numbers,
    validate_prefix,
    validate_sizes,
)
from .files import AtomicFile, write_chunks
from .s3_errors import NOT_FOUND_CODES, error_code, translated

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
# CopyObject copies at most 5 GiB in one request; larger objects are copied in parts.
MAX_SINGLE_COPY = 5 * 1024**3
COPY_PART_SIZE = 512 * 1024 * 1024
DELETE_BATCH = 1000  # the most keys one DeleteObjects call accepts


class S3Storage:
    """Objects in one S3 bucket; browsers upload and download through presigned URLs.

    One aiobotocore client is created on first use and reused until `close()`. Files and
    streams above `multipart_threshold` bytes are sent as a multipart upload of `part_size`
    parts, so at most about one part is held in memory.
    """

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        cloudfront_domain: str | None = None,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        max_single_copy: int = MAX_SINGLE_COPY,
        copy_part_size: int = COPY_PART_SIZE,
        max_attempts: int = 3,
        connect_timeout: float = 10,
        read_timeout: float = 60,
        session: AioSession | None = None,
    ) -> None:
        if min(part_size, copy_part_size) < MIN_PART_SIZE:
            raise ValueError(f"part sizes must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self.cloudfront_domain = cloudfront_domain.strip("/") if cloudfront_domain else None
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_single_copy = max_single_copy
        self.copy_part_size = copy_part_size
        self._credentials = {
            name: value
            for name, value in (
                ("aws_access_key_id", access_key_id),
                ("aws_secret_access_key", secret_access_key),
            )
            if value
        }
        self._config = AioConfig(
            signature_version="s3v4",
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        # Creating a session loads botocore's service models; several stores may share one.
        self._session = session or get_session()
        self._client: Any = None
        self._stack: AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    stack = AsyncExitStack()
                    creator = self._session.create_client(
                        "s3",
                        region_name=self.region,
                        endpoint_url=self.endpoint_url,
                        config=self._config,
                        **self._credentials,
                    )
                    self._client = await stack.enter_async_context(creator)
                    self._stack = stack
        return self._client

    async def close(self) -> None:
        """Closes the client's connections; a later call opens a new client."""
        async with self._lock:
            stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def ensure_bucket(self, cors_origins: list[str]) -> None:
        """Creates the bucket if missing and lets `cors_origins` PUT/GET/HEAD from browsers.

        ETag is exposed because browser uploaders read each part's ETag to complete a
        multipart upload.
        """
        s3 = await self._s3()
        with translated():
            try:
                await s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if error_code(exc) not in NOT_FOUND_CODES | {"NoSuchBucket"}:
                    raise
                await self._create_bucket(s3)
        if cors_origins:
            rule = {
                "AllowedOrigins": list(cors_origins),
                "AllowedMethods": ["PUT", "GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
            with translated():
                await s3.put_bucket_cors(
                    Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]}
                )

    async def _create_bucket(self, s3: Any) -> None:
        params: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":  # the one region that refuses a location constraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await s3.create_bucket(**params)
            log.info("created bucket %s", self.bucket)
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":  # another node was quicker
                raise

    # -- writing -------------------------------------------------------------------------

    async def put_bytes(
        self, key: str, data: bytes, content_type: str | None = None
    ) -> ObjectInfo:
        validate_key(key)
        content_type = content_type or DEFAULT_CONTENT_TYPE
        s3 = await self._s3()
        with translated(key):
            response = await s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        return ObjectInfo(key, len(data), content_type, response.get("ETag"))

    async def put_file(
        self, key: str, path: Path, content_type: str | None = None
    ) -> ObjectInfo:
        validate_key(key)
        path = Path(path)
        size = (await asyncio.to_thread(path.stat)).st_size
        if size <= self.multipart_threshold:
            return await self.put_bytes(key, await asyncio.to_thread(path.read_bytes), content_type)
        return await self.put_stream(key, _file_chunks(path, self.part_size), content_type)

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], content_type: str | None = None
    ) -> ObjectInfo:
        validate_key(key)
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) > self.multipart_threshold:
                return await self._put_multipart(key, buffer, chunks, content_type)
        return await self.put_bytes(key, bytes(buffer), content_type)

    async def _put_multipart(
        self,
        key: str,
        buffer: bytearray,
        rest: AsyncIterator[bytes],
        content_type: str | None,
    ) -> ObjectInfo:
        """Sends `buffer` followed by `rest` as parts; aborts the upload on any failure."""
        content_type = content_type or DEFAULT_CONTENT_TYPE
        upload_id = await self.create_multipart(key, content_type)
        parts: list[tuple[int, str]] = []
        size = 0
        try:
            async for chunk in _regroup(buffer, rest, self.part_size):
                number = len(parts) + 1
                parts.append((number, await self._upload_part(key, upload_id, number, chunk)))
                size += len(chunk)
            s3 = await self._s3()
            with translated(key):
                response = await s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": _part_list(parts)},
                )
        except BaseException:
            # Shielded so that a cancelled upload does not leave billed parts behind.
            await asyncio.shield(self._abort_quietly(key, upload_id))
            raise
        return ObjectInfo(key, size, content_type, response.get("ETag"))

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        s3 = await self._s3()
        with translated(key):
            response = await s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
            )
        return str(response["ETag"])

    async def _abort_quietly(self, key: str, upload_id: str) -> None:
        try:
            await self.abort_multipart(key, upload_id)
        except StorageError:
            log.warning("could not abort multipart upload %s of %s", upload_id, key)

    # -- multipart through presigned URLs ------------------------------------------------

    async def create_multipart(self, key: str, content_type: str) -> str:
        validate_key(key)
        s3 = await self._s3()
        with translated(key):
            response = await s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
        return str(response["UploadId"])

    async def presign_parts(
        self,
        key: str,
        upload_id: str,
        part_numbers: Sequence[int],
        expires_in: int,
        sizes: Sequence[int] | None = None,
    ) -> list[PartUpload]:
        """With `sizes`, each URL signs its part's Content-Length: S3 refuses another one."""
        validate_key(key)
        validate_expires_in(expires_in)
        numbers = validate_part_numbers(part_numbers)
        lengths = validate_sizes(numbers, sizes)
        s3 = await self._s3()
        urls = []
        for i, number in enumerate(numbers):
            params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id}
            params["PartNumber"] = number
            if lengths is not None:
                params["ContentLength"] = lengths[i]
            with translated(key):
                url = await s3.generate_presigned_url(
                    "upload_part", Params=params, ExpiresIn=expires_in
                )
            urls.append(PartUpload(number, url))
        return urls

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        validate_key(key)
        if not parts:
            raise InvalidUpload("a multipart upload needs at least one part")
        validate_part_numbers([number for number, _ in parts])
        s3 = await self._s3()
        with translated(key):
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": _part_list(parts)},
            )
        info = await self.head(key)
        if info is None:
            raise ObjectNotFound(key)
        return info

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        s3 = await self._s3()
        with translated(key):
            try:
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if error_code(exc) != "NoSuchUpload":
                    raise

    # -- presigned single requests -------------------------------------------------------

    async def presign_put(
        self, key: str, content_type: str, expires_in: int, size: int | None = None
    ) -> str:
        """With `size` the URL signs the Content-Length: S3 refuses a body of another size."""
        validate_key(key)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if size is not None:
            params["ContentLength"] = size
        return await self._presign("put_object", params, expires_in)

    async def download_url(self, key: str, expires_in: int, filename: str | None = None) -> str:
        """A presigned GET URL, or `https://<cloudfront_domain>/<key>` when a CDN is set.

        CloudFront URLs are unsigned and ignore `filename`: signing them needs a CloudFront
        key pair, which is not configured here, so the distribution must be allowed to read
        the objects (origin access control) and its URLs are as public as the key is secret.
        """
        validate_key(key)
        validate_expires_in(expires_in)
        if self.cloudfront_domain:
            return f"https://{self.cloudfront_domain}/{quote(key, safe='/')}"
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = attachment_disposition(filename)
        return await self._presign("get_object", params, expires_in)

    async def _presign(self, method: str, params: dict[str, Any], expires_in: int) -> str:
        s3 = await self._s3()
        with translated(params["Key"]):
            url = await s3.generate_presigned_url(
                method, Params=params, ExpiresIn=validate_expires_in(expires_in)
            )
        return str(url)

    # -- reading -------------------------------------------------------------------------

    async def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        s3 = await self._s3()
        try:
            with translated(key):
                response = await s3.head_object(Bucket=self.bucket, Key=key)
        except ObjectNotFound:
            return None
        return _info(key, response)

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def get_bytes(self, key: str) -> bytes:
        validate_key(key)
        s3 = await self._s3()
        with translated(key):
            response = await s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            try:
                return bytes(await body.read())
            finally:
                body.close()

    async def download_to(self, key: str, path: Path) -> ObjectInfo:
        validate_key(key)
        target = Path(path)
        s3 = await self._s3()
        with translated(key):
            response = await s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            out = await asyncio.to_thread(AtomicFile, target.parent)
            try:
                await write_chunks(_body_chunks(body, CHUNK_SIZE), out)
                await asyncio.to_thread(out.commit, target)
            finally:
                out.discard()
                body.close()
        return _info(key, response)

    async def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        validate_key(key)
        s3 = await self._s3()
        with translated(key):
            response = await s3.get_object(Bucket=self.bucket, Key=key)
        body = response["Body"]
        try:
            with translated(key):
                async for chunk in _body_chunks(body, chunk_size):
                    yield chunk
        finally:
            body.close()

    async def list_keys(self, prefix: str) -> list[str]:
        folder = validate_prefix(prefix, allow_empty=True)
        return sorted([key async for key in self._keys(folder)])

    async def _keys(self, folder: str) -> AsyncIterator[str]:
        s3 = await self._s3()
        paginator = s3.get_paginator("list_objects_v2")
        with translated():
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=folder):
                for item in page.get("Contents", []):
                    yield str(item["Key"])

    # -- removing and copying ------------------------------------------------------------

    async def delete(self, key: str) -> None:
        validate_key(key)
        s3 = await self._s3()
        with translated(key):
            await s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        folder = validate_prefix(prefix)
        keys = [key async for key in self._keys(folder)]
        s3 = await self._s3()
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            with translated():
                response = await s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"could not delete {len(errors)} object(s) under {folder!r}, "
                    f"first {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                )
        return len(keys)

    async def copy(self, src: str, dst: str) -> None:
        """Server-side copy, content type included; in parts above `max_single_copy`."""
        validate_key(src)
        validate_key(dst)
        info = await self.head(src)
        if info is None:
            raise ObjectNotFound(src)
        if info.size > self.max_single_copy:
            await self._copy_in_parts(info, dst)
            return
        s3 = await self._s3()
        with translated(src):
            await s3.copy_object(
                Bucket=self.bucket, Key=dst, CopySource={"Bucket": self.bucket, "Key": src}
            )

    async def _copy_in_parts(self, source: ObjectInfo, dst: str) -> None:
        """UploadPartCopy of `copy_part_size` byte ranges; aborted on any failure."""
        content_type = source.content_type or DEFAULT_CONTENT_TYPE
        upload_id = await self.create_multipart(dst, content_type)
        parts: list[tuple[int, str]] = []
        s3 = await self._s3()
        try:
            for start in range(0, source.size, self.copy_part_size):
                end = min(start + self.copy_part_size, source.size) - 1
                with translated(source.key):
                    response = await s3.upload_part_copy(
                        Bucket=self.bucket,
                        Key=dst,
                        UploadId=upload_id,
                        PartNumber=len(parts) + 1,
                        CopySource={"Bucket": self.bucket, "Key": source.key},
                        CopySourceRange=f"bytes={start}-{end}",
                    )
                parts.append((len(parts) + 1, str(response["CopyPartResult"]["ETag"])))
            with translated(dst):
                await s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=dst,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": _part_list(parts)},
                )
        except BaseException:
            await asyncio.shield(self._abort_quietly(dst, upload_id))
            raise

    async def move(self, src: str, dst: str) -> ObjectInfo:
        """Copies to `dst`, then deletes `src`. S3 cannot refuse a PUT on a URL still valid
        for `src`: it makes a new object there, which the caller must remove once the URL
        has expired."""
        await self.copy(src, dst)
        await self.delete(src)
        info = await self.head(dst)
        if info is None:
            raise ObjectNotFound(dst)
        return info


def _info(key: str, response: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        content_type=response.get("ContentType"),
        etag=response.get("ETag"),
    )


def _part_list(parts: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"PartNumber": number, "ETag": etag} for number, etag in parts]


async def _regroup(
    head: bytearray, rest: AsyncIterator[bytes], size: int
) -> AsyncIterator[bytes]:
    """`head` then `rest` cut into pieces of `size` bytes, the last one shorter (not empty)."""
    buffer = head
    while len(buffer) >= size:
        yield bytes(buffer[:size])
        del buffer[:size]
    async for chunk in rest:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


async def _file_chunks(path: Path, size: int) -> AsyncIterator[bytes]:
    """A file's content in pieces of `size` bytes, each read in a thread."""
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, size):
            yield chunk
    finally:
        file.close()


async def _body_chunks(body: Any, size: int) -> AsyncIterator[bytes]:
    """A streamed response body in pieces of exactly `size` bytes, the last one shorter."""
    buffer = bytearray()
    while data := await body.read(size - len(buffer)):
        buffer += data
        if len(buffer) == size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
