"""Key rules and small shared helpers, without any backend."""

from __future__ import annotations

import pytest

from storage import InvalidKey, attachment_disposition, validate_key, validate_prefix
from storage.base import (
    InvalidUpload,
    normalize_etag,
    validate_expires_in,
    validate_part_numbers,
)

BAD_KEYS = [
    ("", "non-empty"),
    ("/users/u1/match.mp4", "absolute"),
    ("users\\u1\\match.mp4", "backslash"),
    ("users/../etc/passwd", "'..'"),
    ("../outside", "'..'"),
    ("users/./u1", "'.'"),
    ("users//u1", "empty path segment"),
    ("users/u1/", "empty path segment"),
    ("users/u1\x00.mp4", "control character"),
    ("users/u1\n.mp4", "control character"),
    ("users/\x7f", "control character"),
    ("a" * 1025, "1025 bytes"),
    ("é" * 513, "1026 bytes"),
    ("users/\udc80", "UTF-8"),
]
GOOD_KEYS = [
    "users/u1/uploads/0b7c/match.mp4",
    "report.json",
    "users/u1/..hidden/a b (1).mp4",
    "jobs/é/ü.json",
    "a" * 1024,
]


@pytest.mark.parametrize(("key", "message"), BAD_KEYS)
def test_bad_keys_are_refused_with_a_clear_message(key, message):
    with pytest.raises(InvalidKey, match=message.replace("(", r"\(")):
        validate_key(key)


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_good_keys_pass_unchanged(key):
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("users/u1", "users/u1/"), ("users/u1/", "users/u1/"), ("a/b/c/", "a/b/c/")],
)
def test_prefixes_name_folders(prefix, expected):
    assert validate_prefix(prefix) == expected


@pytest.mark.parametrize("prefix", ["", "/", "../x", "a//b/"])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(InvalidKey):
        validate_prefix(prefix)


def test_empty_prefix_only_when_allowed():
    assert validate_prefix("", allow_empty=True) == ""


@pytest.mark.parametrize("numbers", [[0], [10_001], [1, -2], ["1"]])
def test_part_numbers_out_of_range(numbers):
    with pytest.raises(InvalidUpload, match="part number"):
        validate_part_numbers(numbers)


@pytest.mark.parametrize("seconds", [0, -5, 7 * 24 * 3600 + 1])
def test_expiry_beyond_what_s3_signs(seconds):
    with pytest.raises(ValueError, match="expires_in"):
        validate_expires_in(seconds)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("match.mp4", "attachment; filename=\"match.mp4\"; filename*=UTF-8''match.mp4"),
        ('a "b".mp4', "attachment; filename=\"a 'b'.mp4\"; filename*=UTF-8''a%20%22b%22.mp4"),
        ("é.json", "attachment; filename=\"?.json\"; filename*=UTF-8''%C3%A9.json"),
        ("../x\r\n.mp4", "attachment; filename=\".._x.mp4\"; filename*=UTF-8''.._x.mp4"),
    ],
)
def test_attachment_disposition(filename, expected):
    assert attachment_disposition(filename) == expected


@pytest.mark.parametrize("etag", ['"abc"', "abc", 'W/"abc"', ' "abc" '])
def test_etags_compare_without_quotes(etag):
    assert normalize_etag(etag) == "abc"
