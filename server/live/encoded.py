"""The publisher's video as the phone encoded it, before it is decoded.

Recording the phone's own H.264 costs next to nothing, where re-encoding the decoded frames
takes a core from the analysis. aiortc hands every reassembled frame (Annex B, with its
90 kHz timestamp) to its decoder thread through a queue private to `RTCRtpReceiver`, looked
up on every packet; `EncodedVideo.attach` wraps that queue so that each frame also reaches
the session's subscribers, decoding untouched. aiortc offers no public way to send a
picture loss indication (which makes the phone send a keyframe) either. Both private names
are pinned by tests/server/test_encoded_video.py, which fails if aiortc changes them.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpTransceiver

log = logging.getLogger(__name__)

H264 = "video/h264"
# Private to aiortc's RTCRtpReceiver (name-mangled): the decoder's input queue of
# (codec parameters, JitterFrame), and the coroutine that sends a PLI for an SSRC.
DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
SEND_PLI = "_send_rtcp_pli"


@dataclass(frozen=True)
class EncodedFrame:
    """One frame as the phone sent it."""

    data: bytes  # H.264 Annex B
    timestamp: int  # 90 kHz ticks from the connection's first frame, unwrapped
    connection: int  # changes when the phone reconnects (timestamps start over)


EncodedSink = Callable[[EncodedFrame], None]


def prefer_h264(transceiver: RTCRtpTransceiver) -> None:
    """Answers offers with H.264 first (then the rest, as before): phones then send H.264,
    which is recorded as it comes."""
    codecs = RTCRtpReceiver.getCapabilities("video").codecs
    transceiver.setCodecPreferences(sorted(codecs, key=lambda c: c.mimeType.lower() != H264))


class _DecoderQueueTap:
    """Stands in for the receiver's decoder queue: everything goes on to the real queue
    (the decoder thread may hold either object), and each frame is also shown to `seen`."""

    def __init__(self, inner: queue.Queue, seen: Callable[[Any], None]) -> None:
        self._inner = inner
        self._seen = seen

    def put(self, item: Any, *args: Any, **kwargs: Any) -> None:
        self._inner.put(item, *args, **kwargs)
        if item is not None:  # None tells the decoder to stop
            self._seen(item)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.get(*args, **kwargs)


class EncodedVideo:
    """The encoded frames of whichever publisher connection is current, for subscribers
    (the recorder). Subscribers run on the event loop and must return at once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.codec: str | None = None  # mime type (lower case) of the last frame received
        self._receiver: RTCRtpReceiver | None = None
        self._connection = 0
        self._sinks: list[EncodedSink] = []

    def attach(self, receiver: RTCRtpReceiver) -> None:
        """Takes the frames of `receiver` (a new publisher connection's video) from now on."""
        decoder_queue = getattr(receiver, DECODER_QUEUE, None)
        if not isinstance(decoder_queue, queue.Queue | _DecoderQueueTap):
            log.warning("stream %s: encoded video unavailable; recordings re-encode", self.name)
            return
        self._connection += 1
        self._receiver, self.codec = receiver, None
        connection = self._connection

        def seen(item: Any) -> None:
            if receiver is self._receiver:
                self._received(item, connection)

        setattr(receiver, DECODER_QUEUE, _DecoderQueueTap(decoder_queue, seen))

    def subscribe(self, sink: EncodedSink) -> None:
        self._sinks.append(sink)

    def unsubscribe(self, sink: EncodedSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    async def request_keyframe(self) -> None:
        """Asks the phone for a keyframe (an RTCP picture loss indication)."""
        receiver = self._receiver
        if receiver is None:
            return
        send_pli = getattr(receiver, SEND_PLI, None)
        if send_pli is None:
            return
        for source in receiver.getSynchronizationSources():
            try:
                await send_pli(source.source)
            except Exception as exc:  # the connection is closing: the next one will do
                log.debug("stream %s: keyframe request not sent: %s", self.name, exc)

    def _received(self, item: tuple[Any, Any], connection: int) -> None:
        # Runs inside aiortc's packet handling: nothing here may raise into it.
        try:
            codec, frame = item
            self.codec = codec.mimeType.lower()
            if self.codec != H264 or not self._sinks:
                return
            encoded = EncodedFrame(bytes(frame.data), int(frame.timestamp), connection)
            for sink in list(self._sinks):
                sink(encoded)
        except Exception:
            log.exception("stream %s: an encoded frame could not be passed on", self.name)
