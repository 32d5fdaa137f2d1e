"""Video faster than the analysis takes is analysed as the frames it keeps."""

from pathlib import Path

import av
import numpy as np
import pytest

from analysis.video import iter_frames
from analysis.video_analyzer import VideoAnalyzer
from tools.dataset import aicup_clips

# Intra-only at a fixed quantiser: a picture is encoded the same whatever surrounds it, so
# the 30 fps file's frames come back bit for bit from the even frames of the 60 fps one.
_X264 = {"x264-params": "keyint=1:qp=20:no-mbtree=1:log-level=none"}


def _write(path: Path, fps: int, images: list[np.ndarray]) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options=_X264)
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for image in images:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def rally_at_30_and_60_fps(shared_data, tmp_path_factory):
    """A broadcast rally at its own 30 fps, and at 60 fps with a blend of each two
    neighbouring frames between them (what a faster camera adds: in-between pictures)."""
    clip = next(c for c in aicup_clips(shared_data) if c.name == "00008")
    images = [frame.image for frame in iter_frames(clip.video)]
    doubled = []
    for image, following in zip(images, images[1:] + images[-1:]):
        blend = ((image.astype(np.uint16) + following) // 2).astype(np.uint8)
        doubled += [image, blend]
    folder = tmp_path_factory.mktemp("fast")
    return (
        clip,
        _write(folder / "rally30.mp4", 30, images),
        _write(folder / "rally60.mp4", 60, doubled),
    )


def test_a_60_fps_file_is_analysed_as_its_30_fps_frames(rally_at_30_and_60_fps):
    clip, at_30, at_60 = rally_at_30_and_60_fps
    seen_30, seen_60 = [], []
    report_30 = VideoAnalyzer(at_30, clip.corners, 15, shuttle_listener=seen_30.extend).run()
    report_60 = VideoAnalyzer(at_60, clip.corners, 15, shuttle_listener=seen_60.extend).run()

    assert report_30["summary"]["total_shots"] > 0
    assert report_60["video"] == {**report_30["video"], "fps": 60, "frames": 300}
    # Frame numbers count the file's frames: twice as many at 60 fps. All else is the same.
    for shot in report_60["shots"]:
        assert shot["frame"] % 2 == 0
        shot["frame"] //= 2
    for rally in report_60["rallies"]:
        rally["start_frame"] //= 2
        rally["end_frame"] //= 2
    for player in report_60["players"].values():
        for position in player["positions"]:
            position[0] //= 2
    for key in ("shots", "rallies", "players", "summary"):
        assert report_60[key] == report_30[key], key
    assert [(p.frame // 2, p.time, p.xy) for p in seen_60] == [
        (p.frame, p.time, p.xy) for p in seen_30
    ]
