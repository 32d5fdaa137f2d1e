"""Small videos made for the server tests."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def courtless_video(path: Path, frames: int = 30) -> bytes:
    """A short H.264 MP4 (browsers play it) of a hall floor with no lines: grey with noise."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for _ in range(frames):
            image = rng.integers(90, 140, (360, 640, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()
