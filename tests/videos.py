"""Small videos made for the tests."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def courtless_video(
    path: Path, frames: int = 30, size: tuple[int, int] = (640, 360), fps: int = 15
) -> bytes:
    """A short H.264 MP4 (browsers play it) of a hall floor with no lines: grey with noise."""
    rng = np.random.default_rng(7)
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(frames):
            image = rng.integers(90, 140, (height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()
