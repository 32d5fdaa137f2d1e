"""Object storage behind one interface: LocalStorage (files) and S3Storage (aiobotocore)."""

from .base import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    MIN_PART_SIZE,
    InvalidKey,
    InvalidUpload,
    ObjectInfo,
    ObjectNotFound,
    PartUpload,
    SignatureError,
    Storage,
    StorageError,
    StorageUnavailable,
    TooLarge,
    UploadClosed,
    attachment_disposition,
    validate_key,
    validate_prefix,
)
from .local import LocalStorage
from .s3 import S3Storage

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_CONTENT_TYPE",
    "MIN_PART_SIZE",
    "InvalidKey",
    "InvalidUpload",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "PartUpload",
    "S3Storage",
    "SignatureError",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "TooLarge",
    "UploadClosed",
    "attachment_disposition",
    "validate_key",
    "validate_prefix",
]
