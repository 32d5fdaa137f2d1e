"""Analysis of a whole video file: decode, feed the FrameAnalyzer, write the report."""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from analysis.court import Court
from analysis.court_video import CourtNotFound, detect_court_in_video
from analysis.frame_analyzer import FrameAnalyzer
from analysis.frame_rate import FrameRateCap
from analysis.heatmap import render_heatmap_png
from analysis.shuttle import ShuttlePoint
from analysis.trained import TrainedModels
from analysis.video import DecodedFrame, VideoInfo, iter_frames, probe

log = logging.getLogger(__name__)

DEFAULT_ANALYSIS_FPS = 15.0
_DECODE_AHEAD = 8  # frames decoded ahead of the analysis; bounds memory
# Frames past the one being analysed whose poses are already started: enough that the pose
# threads never wait for the shuttle tracking between two pose frames.
_POSE_AHEAD = 4

Progress = Callable[[float], None]


class VideoAnalyzer:
    """Runs the analysis over one video file.

    Every frame is decoded and, up to MAX_ANALYSIS_FPS a second (analysis.frame_rate), feeds
    the shuttle tracker; player poses are estimated `analysis_fps` times a second. Decoding
    runs in its own thread a few frames ahead, so memory stays flat however long the video
    is, and the poses of the next few frames start while the current one is analysed (the
    results do not depend on it). Without a court, it is detected on a few frames first
    (`CourtError` when none is found).
    """

    def __init__(
        self,
        path: str | Path,
        court: Court | dict | str | None,
        analysis_fps: float = DEFAULT_ANALYSIS_FPS,
        progress: Progress | None = None,
        shuttle_listener: Callable[[list[ShuttlePoint]], None] | None = None,
        models: TrainedModels | None = None,
    ) -> None:
        if analysis_fps <= 0:
            raise ValueError(f"analysis fps must be positive, got {analysis_fps}")
        self.path = Path(path)
        self.info: VideoInfo = probe(self.path)
        size = (self.info.width, self.info.height)
        # Where the corners came from, for the report: "given" or "detected" (and how surely).
        self.court_source = "given" if court is not None else "detected"
        self.court_confidence: float | None = None
        if court is None:
            found = detect_court_in_video(self.path)
            if found.corners is None:
                raise CourtNotFound(
                    f"{found.reason} in {self.path.name} (confidence {found.confidence:.2f}); "
                    "give the corners with --court"
                )
            court, self.court_confidence = found.as_dict(), found.confidence
        if isinstance(court, Court):
            court = Court.from_corners(court.corners, size)
        elif isinstance(court, dict):
            court = Court.from_mapping(court, size)
        else:
            court = Court.parse(court, size)
        self.court = court
        self.analysis_fps = analysis_fps
        self.progress = progress
        self.shuttle_listener = shuttle_listener
        self.models = models

    def run(self) -> dict[str, Any]:
        """Analyses the video; returns the report (without heatmaps)."""
        size = (self.info.width, self.info.height)
        expected = max(self.info.frames, 1)
        with FrameAnalyzer(
            self.court,
            size,
            pose_fps=self.analysis_fps,
            shuttle_listener=self.shuttle_listener,
            models=self.models,
        ) as analyzer:
            ahead: deque[DecodedFrame] = deque()
            cap = FrameRateCap()
            last: DecodedFrame | None = None
            for last in _decode_ahead(self.path):
                if not cap.admits(last.time):
                    continue
                analyzer.prefetch(last.image, last.time, last.index)
                ahead.append(last)
                if len(ahead) > _POSE_AHEAD:
                    self._process(analyzer, ahead.popleft(), expected)
            while ahead:
                self._process(analyzer, ahead.popleft(), expected)
            if last is not None:
                analyzer.passed(last.index, last.time)  # the cap may have skipped the last
            analyzer.finish()
            report = analyzer.report(fps=self.info.fps)
        # Where the corners came from: given, or detected (and how surely).
        report["court"]["source"] = self.court_source
        if self.court_confidence is not None:
            report["court"]["confidence"] = round(self.court_confidence, 3)
        if self.progress:
            self.progress(1.0)
        return report

    def _process(self, analyzer: FrameAnalyzer, decoded: DecodedFrame, expected: int) -> None:
        analyzer.process(decoded.image, decoded.time, decoded.index)
        if self.progress and decoded.index % 15 == 0:
            self.progress(min(decoded.index / expected, 0.999))

    def write(self, out_dir: str | Path) -> dict[str, Any]:
        """Analyses the video and writes report.json and the heatmaps into `out_dir`."""
        return write_outputs(self.run(), out_dir)


def write_outputs(report: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Writes `report.json`, `heatmap_near.png` and `heatmap_far.png`; returns the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    heatmaps = {}
    for side in ("near", "far"):
        name = f"heatmap_{side}.png"
        positions = [row[1:3] for row in report["players"][side]["positions"]]
        render_heatmap_png(positions, out / name, title=f"{side} player")
        heatmaps[side] = name
    report = {**report, "heatmaps": heatmaps}
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(out / "report.json")
    return report


def _decode_ahead(path: Path) -> Iterator[DecodedFrame]:
    """Decodes in a background thread, a bounded number of frames ahead of the caller."""
    frames: queue.Queue = queue.Queue(maxsize=_DECODE_AHEAD)
    stop = threading.Event()
    done = object()

    def decode() -> None:
        try:
            # One decoder thread: the pose workers keep the cores busy (0.3-0.7 ms less CPU
            # per 720p frame than FFmpeg's threads).
            for frame in iter_frames(path, threaded=False):
                while not stop.is_set():
                    try:
                        frames.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            frames.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            frames.put(exc)

    thread = threading.Thread(target=decode, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = frames.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                frames.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
