"""Court detection on one picture a client sends (a JPEG or PNG frame of its video or camera).

The picture's size is read from its header before anything is decoded, so a small file that
claims a huge picture is refused instead of filling the memory. Decoding and detection are
plain blocking functions: callers run them in a thread.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from analysis.court_detect import CourtDetection, detect_court
from server.errors import ApiError, BadRequest

MAX_SIDE = 8192  # pixels; no camera frame is larger
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class UnsupportedImage(ApiError):
    status = 415


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG or JPEG header; BadRequest when there is none."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        at = 2
        while at + 9 <= len(data):
            if data[at] != 0xFF:
                break
            marker = data[at + 1]
            if marker == 0xFF:  # fill byte
                at += 1
                continue
            (length,) = struct.unpack(">H", data[at + 2 : at + 4])
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return width, height
            at += 2 + length
    raise BadRequest("the picture cannot be read: send a JPEG or PNG image of the court")


def decode_image(data: bytes, content_type: str) -> np.ndarray:
    """The picture as a BGR array, or a 4xx error saying why not."""
    if content_type not in IMAGE_TYPES:
        raise UnsupportedImage(
            f"send the picture as image/jpeg or image/png, not {content_type or 'no type'}"
        )
    width, height = image_size(data)
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise BadRequest(
            f"the picture must be at most {MAX_SIDE} pixels a side, got {width}x{height}"
        )
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadRequest(
            f"the {IMAGE_TYPES[content_type]} picture is damaged and cannot be decoded"
        )
    return image


def detect_in_image(data: bytes, content_type: str) -> tuple[CourtDetection, tuple[int, int]]:
    """Decodes the picture and looks for the court; also returns the picture's (w, h)."""
    image = decode_image(data, content_type)
    return detect_court(image), (image.shape[1], image.shape[0])
