"""Errors a request handler raises; the app's middleware turns them into JSON responses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the client caused or must know about: its HTTP status and a clear message."""

    status = 400

    def __init__(
        self,
        message: str,
        detail: Any = None,
        status: int | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.retry_after_s = retry_after_s  # sent as Retry-After
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413
