"""Checks of an SDP offer before it reaches a peer connection. aiortc trusts the offers it is
given and fails deep inside (or is left half-closed) on some inconsistent ones, so what the
server's answer depends on is checked here, with a message the client can act on."""

from __future__ import annotations

from aiortc import RTCRtpReceiver
from aiortc.sdp import MediaDescription, SessionDescription

MAX_MEDIA = 4  # a phone sends video, maybe audio, and the results' data channel
SCTP_PROFILES = ("UDP/DTLS/SCTP", "TCP/DTLS/SCTP", "DTLS/SCTP")


class OfferError(ValueError):
    """The SDP offer cannot be used (malformed, or without what the session needs)."""


class SessionEndedError(OfferError):
    """The session ended before, or while, the offer was answered."""


def supported_codecs(kind: str) -> set[str]:
    """Codec names (upper case) the server can receive for a media kind, RTX aside."""
    names = {c.mimeType.split("/")[1].upper() for c in RTCRtpReceiver.getCapabilities(kind).codecs}
    return names - {"RTX"}


def check_offer(sdp: str) -> None:
    """Raises OfferError with a message for the client when the offer cannot be answered."""
    try:
        description = SessionDescription.parse(sdp)
    except (AssertionError, ValueError, KeyError, IndexError, TypeError) as exc:
        # aiortc's parser asserts on a malformed m= line or payload type.
        raise OfferError(f"malformed SDP offer: {str(exc) or 'a line is not valid SDP'}") from exc
    media = description.media
    if len(media) > MAX_MEDIA:
        raise OfferError(f"the offer has {len(media)} media lines, at most {MAX_MEDIA} are taken")
    for index, line in enumerate(media, start=1):
        _check_media(index, line)
    mids = [line.rtp.muxId for line in media]
    if len(set(mids)) != len(mids):
        raise OfferError("two media lines of the offer have the same a=mid")
    if sum(line.kind == "application" for line in media) > 1:
        raise OfferError("the offer has more than one data channel line")
    for group in description.group:
        unknown = [mid for mid in group.items if mid not in mids]
        if unknown:
            raise OfferError(f"the offer's {group.semantic} group names unknown mids: {unknown}")


def _check_media(index: int, media: MediaDescription) -> None:
    where = f"the offer's m={media.kind} line (media {index})"
    if media.kind not in ("audio", "video", "application"):
        raise OfferError(f"{where}: only audio, video and a data channel are taken")
    if not media.rtp.muxId:
        raise OfferError(f"{where} has no a=mid")
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise OfferError(f"{where} has no ICE credentials (a=ice-ufrag, a=ice-pwd)")
    if media.dtls is None or not media.dtls.fingerprints:
        raise OfferError(f"{where} has no DTLS fingerprint (a=fingerprint)")
    if media.kind == "application":
        if media.profile not in SCTP_PROFILES:
            raise OfferError(f"{where} is not an SCTP data channel ({media.profile})")
        return
    offered = [codec.name.upper() for codec in media.rtp.codecs]
    supported = supported_codecs(media.kind)
    if not set(offered) & supported:
        raise OfferError(
            f"{where} has no {media.kind} codec the server supports (offered: "
            f"{', '.join(offered[:8]) or 'none'}; supported: {', '.join(sorted(supported))})"
        )
