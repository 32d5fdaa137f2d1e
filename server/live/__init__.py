"""Live streams: WebRTC peer connections, the newest-frame analysis, viewers and recording."""
