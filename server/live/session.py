"""One live session in memory: the publisher's connection, the analysis, the viewers, the
recorder and the copy of its recording to storage. It owns all of them and closes all of
them, once."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from analysis.court import Court
from analysis.frame_rate import MAX_ANALYSIS_FPS
from server.cluster.continuation import Continuation
from server.json_input import JsonInputError, parse_json
from server.live.analysis import LiveAnalysis, Messages
from server.live.encoded import H264, EncodedVideo, prefer_h264
from server.live.offer import OfferError, SessionEndedError, check_offer
from server.live.recorder import H264Recorder, Mp4Recorder, Recorder
from server.live.recording_pieces import RecordingCopy
from server.live.tracks import PublisherTrack
from server.metrics import LIVE_FPS

log = logging.getLogger(__name__)

# A data channel holding more than this is not being read fast enough: position updates
# are then skipped for it rather than queued (shots and stats are always sent).
MAX_BUFFERED_BYTES = 256 * 1024
SKIPPABLE = {"position_update", "live_status"}
STATUS_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Recorded:
    """A finished recording file and where it sits in the session's time: its first frame
    is at `offset_s` seconds of the session (the time the shots in the report have)."""

    path: Path
    offset_s: float | None
    duration_s: float


class LiveSession:
    def __init__(
        self,
        session_id: str,
        court: Court,
        frame_size: tuple[int, int],
        ice: Callable[[], RTCConfiguration],
        *,
        pose_fps: float,
        stream_fps: float = 30.0,
        max_fps: float = MAX_ANALYSIS_FPS,
        publisher_grace_s: float = 30.0,
        on_abandoned: Callable[[LiveSession], Awaitable[None]] | None = None,
        on_results: Callable[[LiveSession, Messages], None] | None = None,
        continuation: Continuation | None = None,
    ) -> None:
        """`on_results` sees every batch of messages sent (to publish them further); it must
        not block. With `continuation`, this continues a session begun on a lost node: its
        results follow that node's."""
        self.id = session_id
        self.ice = ice  # fresh for each connection: TURN credentials expire
        self.stream_fps = stream_fps
        self.publisher_grace_s = publisher_grace_s
        self.on_abandoned = on_abandoned
        self.on_results = on_results
        self.continuation = continuation
        self.track = PublisherTrack()
        self.relay = MediaRelay()
        self.analysis = LiveAnalysis(
            court, frame_size, self._analysed, pose_fps=pose_fps, max_fps=max_fps, name=session_id
        )
        self.analysis.start(self.relay.subscribe(self.track, buffered=False))
        self.started_monotonic = time.monotonic()
        self.total_shots = 0
        self.current_rally = 0
        self.shot_distribution: dict[str, int] = {}
        self.last_shot: dict[str, Any] | None = None
        self.encoded = EncodedVideo(session_id)  # the phone's own frames, for recording
        self.recorder: Recorder | None = None
        self._recording_copy: RecordingCopy | None = None
        self._publisher: RTCPeerConnection | None = None
        self._channels: dict[RTCPeerConnection, RTCDataChannel] = {}
        self._viewers: dict[RTCPeerConnection, str] = {}  # connection -> its viewer link
        self._grace: asyncio.TimerHandle | None = None
        self._abandon_task: asyncio.Task[None] | None = None
        self._viewer_closing: set[asyncio.Task[None]] = set()
        self._closed = False
        self._status_task = asyncio.create_task(self._send_status(), name=f"status-{session_id}")
        # A session whose phone never connects would hold its slot for good: the grace time
        # runs from the start until a publisher is connected.
        self._start_grace()

    # -- signalling ------------------------------------------------------------------------

    async def publisher_offer(self, sdp: str, kind: str) -> RTCSessionDescription:
        """Answers the phone's offer. A new offer replaces the previous connection (the phone
        reconnecting after a network drop); the analysis carries on."""
        self._check_open()
        if self._grace is not None:
            # The phone is here: it gets the whole grace time to connect, however late it came.
            self._cancel_grace()
            self._start_grace()
        pc = RTCPeerConnection(self.ice())
        previous, self._publisher = self._publisher, pc
        # Made before the offer is read so that the answer lists H.264 first.
        video = pc.addTransceiver("video", direction="recvonly")
        prefer_h264(video)

        @pc.on("track")
        def on_track(track) -> None:
            if track.kind == "video":
                self.track.attach(track)

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self._add_channel(pc, channel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("stream %s: publisher connection %s", self.id, pc.connectionState)
            if pc is not self._publisher:
                return
            if pc.connectionState == "connected":
                self._cancel_grace()
            elif pc.connectionState in ("failed", "closed"):
                self._start_grace()

        try:
            answer = await self._answer(pc, sdp, kind, expect_video=True)
        except BaseException:
            self._publisher = previous
            await pc.close()
            raise
        self.encoded.attach(video.receiver)
        if pc.connectionState != "connected":
            self._start_grace()  # until this connection is up, the session has no publisher
        if previous is not None:
            self._channels.pop(previous, None)
            await previous.close()
        return answer

    async def viewer_offer(self, sdp: str, kind: str, link_id: str) -> RTCSessionDescription:
        """Answers a coach's offer: the live video (newest frames only) and the results."""
        self._check_open()
        pc = RTCPeerConnection(self.ice())
        self._viewers[pc] = link_id
        pc.addTrack(self.relay.subscribe(self.track, buffered=False))
        # A viewer that never connects would take one of its link's places for good.
        deadline = asyncio.get_running_loop().call_later(
            self.publisher_grace_s, self._drop_unconnected_viewer, pc
        )

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            self._add_channel(pc, channel)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("connected", "failed", "closed"):
                deadline.cancel()
            if pc.connectionState in ("failed", "closed"):
                self._viewers.pop(pc, None)
                self._channels.pop(pc, None)
                await pc.close()

        try:
            return await self._answer(pc, sdp, kind, expect_video=False)
        except BaseException:
            deadline.cancel()
            self._viewers.pop(pc, None)
            await pc.close()
            raise

    def viewers_of(self, link_id: str) -> int:
        """How many viewers came through this link (connected or connecting)."""
        return sum(1 for link in self._viewers.values() if link == link_id)

    def _drop_unconnected_viewer(self, pc: RTCPeerConnection) -> None:
        if pc in self._viewers and pc.connectionState != "connected":
            log.info("stream %s: a viewer did not connect in time; dropped", self.id)
            self._viewers.pop(pc, None)
            self._channels.pop(pc, None)
            task = asyncio.create_task(pc.close())
            self._viewer_closing.add(task)
            task.add_done_callback(self._viewer_closing.discard)

    async def disconnect_viewers(self, link_id: str) -> int:
        """Cuts the viewers who came through a link (it was revoked)."""
        peers = [pc for pc, link in self._viewers.items() if link == link_id]
        for pc in peers:
            channel = self._channels.pop(pc, None)
            if channel is not None and channel.readyState == "open":
                channel.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "revoked",
                            "message": "this viewer link was revoked",
                        }
                    )
                )
            self._viewers.pop(pc, None)
        await asyncio.gather(*(pc.close() for pc in peers), return_exceptions=True)
        return len(peers)

    async def _answer(
        self, pc: RTCPeerConnection, sdp: str, kind: str, expect_video: bool
    ) -> RTCSessionDescription:
        if kind != "offer":
            raise OfferError(f"expected an SDP offer, got type {kind!r}")
        check_offer(sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise OfferError(f"malformed SDP offer: {exc}") from exc
        except (InvalidAccessError, InvalidStateError, OperationError) as exc:
            # Whatever else aiortc cannot negotiate is the offer's fault, not the server's.
            raise OfferError(f"the SDP offer cannot be answered: {exc}") from exc
        kinds = {t.kind for t in pc.getTransceivers() if t.mid is not None}  # in the offer
        if expect_video and "video" not in kinds:
            raise OfferError("the offer has no video to send")
        if pc.sctp is None:
            raise OfferError("the offer has no data channel for the results")
        await pc.setLocalDescription(await pc.createAnswer())
        if self._closed:  # it ended while the offer was answered
            raise SessionEndedError("this session has ended")
        return pc.localDescription

    # -- results -----------------------------------------------------------------------------

    async def _analysed(self, messages: Messages) -> None:
        await self.broadcast(self._in_session_terms(messages))

    def _in_session_terms(self, messages: Messages) -> Messages:
        """The analysis counts from this node's first frame; a continued session's clients
        count from the session's start."""
        if self.continuation is None:
            return messages
        return [self.continuation.message(m) for m in messages]

    async def broadcast(self, messages: Messages) -> None:
        """Sends analysis messages to the publisher and every viewer."""
        for message in messages:
            self._note(message)
        if self.on_results is not None:
            self.on_results(self, messages)
        for channel in list(self._channels.values()):
            if channel.readyState != "open":
                continue
            crowded = channel.bufferedAmount > MAX_BUFFERED_BYTES
            for message in messages:
                if crowded and message["type"] in SKIPPABLE:
                    continue
                channel.send(json.dumps(message))

    def _note(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "shot_detected":
            self.last_shot = message
        elif kind == "shot_updated" and self._is_last_shot(message):
            self.last_shot = {**message, "type": "shot_detected"}
        elif kind == "shot_removed" and self._is_last_shot(message):
            self.last_shot = None
        elif kind == "stats_update":
            self.total_shots = message.get("total_shots", self.total_shots)
            self.current_rally = message.get("current_rally", self.current_rally)
            self.shot_distribution = dict(message.get("shot_distribution", {}))

    def _is_last_shot(self, message: dict[str, Any]) -> bool:
        return self.last_shot is not None and self.last_shot.get("shot_id") == message["shot_id"]

    def _add_channel(self, pc: RTCPeerConnection, channel: RTCDataChannel) -> None:
        self._channels[pc] = channel

        @channel.on("message")
        def on_message(data: str | bytes) -> None:
            reply = client_message_reply(data)
            if reply is not None and channel.readyState == "open":
                channel.send(json.dumps(reply))

    # -- recording ---------------------------------------------------------------------------

    def start_recording(self, path: Path, fps: float, copy: RecordingCopy | None = None) -> None:
        """Records the phone's H.264 as it comes; any other codec (or none seen yet) is
        re-encoded from the decoded frames. `copy` (of `path`) copies it to storage while
        it records."""
        if self.recorder is not None:
            raise RuntimeError("already recording")
        if self.encoded.codec == H264:
            self.recorder = H264Recorder(path, self.encoded, clock=self.track.time_of)
        else:
            track = self.relay.subscribe(self.track, buffered=False)
            self.recorder = Mp4Recorder(path, track, fps)
        self.recorder.start()
        self._recording_copy = None if copy is None else copy.start()

    async def stop_recording(self) -> Recorded | None:
        """Stops the recorder and the copy (the file is stored whole next)."""
        recorder, self.recorder = self.recorder, None
        copy, self._recording_copy = self._recording_copy, None
        if copy is not None:
            await copy.stop()
        if recorder is None:
            return None
        frames = await recorder.stop()
        log.info("stream %s: recorded %d frames to %s", self.id, frames, recorder.path.name)
        return Recorded(recorder.path, self.recording_offset(recorder), recorder.duration)

    def recording_offset(self, recorder: Recorder | None = None) -> float | None:
        """The session time (s) of the first frame of `recorder` (the current one by
        default); None before it has one. A session continued after a lost node counts
        its time from its first part's start."""
        recorder = recorder or self.recorder
        start = None if recorder is None else recorder.start_time
        session_start = self.analysis.stream_start
        if start is None or session_start is None:
            return None
        offset = start - session_start
        if self.continuation is not None:
            offset += self.continuation.time_offset
        return offset

    # -- status and ending ---------------------------------------------------------------------

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    @property
    def publisher_connected(self) -> bool:
        return self._publisher is not None and self._publisher.connectionState == "connected"

    def status(self) -> dict[str, Any]:
        latency = self.analysis.latency.percentiles()
        return {
            "publisher_connected": self.publisher_connected,
            "viewers": self.viewer_count,
            "recording": self.recorder is not None,
            "fps": {
                "received": round(self.analysis.received.rate(), 1),
                "analysed": round(self.analysis.analysed.rate(), 1),
            },
            "frames_dropped": self.analysis.dropped,
            "pose_fps": self.analysis.pose_fps,
            "latency_ms": {"p50": latency.p50_ms, "p95": latency.p95_ms, "window_s": 60},
            "total_shots": self.total_shots,
            "current_rally": self.current_rally,
            "shot_distribution": self.shot_distribution,
            "last_shot": self.last_shot,
        }

    async def _send_status(self) -> None:
        """Every few seconds, the stream's health to everyone watching: no polling needed."""
        while True:
            await asyncio.sleep(STATUS_INTERVAL_S)
            status = self.status()
            if status["publisher_connected"]:
                LIVE_FPS.observe(status["fps"]["analysed"])
            message = {
                "type": "live_status",
                **{k: status[k] for k in ("fps", "latency_ms", "viewers", "recording")},
                "publisher_connected": status["publisher_connected"],
                "timestamp": self.analysis.last_timestamp,
            }
            await self.broadcast(self._in_session_terms([message]))

    async def close(self) -> tuple[dict[str, Any] | None, Recorded | None]:
        """Ends everything: the last results are sent, connections closed. Returns the final
        report (None when no frame was analysed) and the recording file left to store."""
        if self._closed:
            return None, None
        self._closed = True
        self._cancel_grace()
        self._status_task.cancel()
        await asyncio.gather(self._status_task, return_exceptions=True)
        recording = await self.stop_recording()
        self.track.stop()
        messages, report = await self.analysis.finish()
        messages = self._in_session_terms(messages)
        await self.broadcast([*messages, {"type": "session_ended", "timestamp": None}])
        await asyncio.sleep(0.05)  # lets the last messages leave before the channels close
        peers = [pc for pc in (self._publisher, *self._viewers) if pc is not None]
        self._publisher, self._viewers, self._channels = None, {}, {}
        await asyncio.gather(
            *(pc.close() for pc in peers), *self._viewer_closing, return_exceptions=True
        )
        return report, recording

    def _check_open(self) -> None:
        if self._closed:
            raise SessionEndedError("this session has ended")

    def _start_grace(self) -> None:
        if self._grace is None and not self._closed and self.on_abandoned is not None:
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self.publisher_grace_s, self._abandon)

    def _cancel_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def grace_left(self) -> float | None:
        """Seconds until the session ends for want of a publisher (None: it has one)."""
        if self._grace is None:
            return None
        return max(0.0, self._grace.when() - asyncio.get_running_loop().time())

    def _abandon(self) -> None:
        self._grace = None
        if self.on_abandoned is not None and not self._closed:
            log.info("stream %s: the publisher did not come back; ending", self.id)
            self._abandon_task = asyncio.create_task(self.on_abandoned(self))


def client_message_reply(data: str | bytes) -> dict[str, Any] | None:
    """What the server answers to a message a client sent on the data channel."""
    try:
        message = parse_json(data)
    except JsonInputError as exc:
        return {"type": "error", "code": "bad_message", "message": f"messages must be JSON: {exc}"}
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return {"type": "error", "code": "bad_message", "message": "a message needs a type"}
    if message["type"] == "ping":
        return {"type": "pong", "t": message.get("t"), "server_time": time.time()}
    return {
        "type": "error",
        "code": "unknown_message",
        "message": f"unknown message type {message['type'][:40]!r}",
    }
