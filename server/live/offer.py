"""Checks of an SDP offer before it reaches a peer connection: every audio or video line must
offer at least one codec of its own kind that the server can use."""

from __future__ import annotations

from aiortc import RTCRtpReceiver
from aiortc.sdp import SessionDescription


class OfferError(ValueError):
    """The SDP offer cannot be used (malformed, or without what the session needs)."""


def supported_codecs(kind: str) -> set[str]:
    """Codec names (upper case) the server can receive for a media kind, RTX aside."""
    names = {c.mimeType.split("/")[1].upper() for c in RTCRtpReceiver.getCapabilities(kind).codecs}
    return names - {"RTX"}


def check_offer(sdp: str) -> None:
    """Raises OfferError with a message for the client when the offer cannot be answered."""
    try:
        description = SessionDescription.parse(sdp)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise OfferError(f"malformed SDP offer: {exc}") from exc
    for index, media in enumerate(description.media):
        if media.kind not in ("audio", "video"):
            continue
        offered = [codec.name.upper() for codec in media.rtp.codecs]
        if not set(offered) & supported_codecs(media.kind):
            raise OfferError(
                f"the offer's m={media.kind} line (media {index + 1}) has no {media.kind} codec "
                f"the server supports (offered: {', '.join(offered[:8]) or 'none'}; supported: "
                f"{', '.join(sorted(supported_codecs(media.kind)))})"
            )
