"""Translation of botocore and transport failures into the storage errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from prometheus_client import Counter

from .base import InvalidUpload, ObjectNotFound, StorageError, StorageUnavailable

# S3 requests that failed: "unavailable" (transient: unreachable, throttled, 5xx; retried)
# or "error" (refused); a missing object or a bad upload is an answer, not counted.
ERRORS = Counter("badminton_storage_errors", "S3 requests that failed, by kind", ["kind"])

NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
UPLOAD_CODES = frozenset({"NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
TRANSIENT_CODES = frozenset({
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "InternalError",
    "503",
})
# Failures of the connection itself rather than answers from S3.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    BotoConnectionError,
    HTTPClientError,
    IncompleteReadError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


def error_code(exc: ClientError) -> str:
    """The S3 error code of a ClientError ("NoSuchKey", "404", ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate_client_error(exc: ClientError, key: str | None = None) -> StorageError:
    """The storage error for an error answer from S3."""
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = exc.response.get("Error", {}).get("Message") or code
    if code in NOT_FOUND_CODES:
        return ObjectNotFound(key or message)
    if code in UPLOAD_CODES:
        return InvalidUpload(f"{code}: {message}")
    if code in TRANSIENT_CODES or status >= 500:
        return StorageUnavailable(f"S3 {exc.operation_name} failed, try again: {code}: {message}")
    return StorageError(f"S3 {exc.operation_name} failed: {code}: {message}")


@contextmanager
def translated(key: str | None = None) -> Iterator[None]:
    """Raises storage errors in place of botocore and transport errors from the block."""
    try:
        yield
    except ClientError as exc:
        error = translate_client_error(exc, key)
        _count(error)
        raise error from exc
    except TRANSIENT_ERRORS as exc:
        ERRORS.labels("unavailable").inc()
        raise StorageUnavailable(f"S3 unreachable: {exc}") from exc
    except BotoCoreError as exc:
        ERRORS.labels("error").inc()
        raise StorageError(f"S3 request failed: {exc}") from exc


def _count(error: StorageError) -> None:
    if isinstance(error, StorageUnavailable):
        ERRORS.labels("unavailable").inc()
    elif not isinstance(error, ObjectNotFound | InvalidUpload):
        ERRORS.labels("error").inc()
