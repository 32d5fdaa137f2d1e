"""A TCP forwarder that can be switched off: an S3 endpoint that goes down and comes back."""

from __future__ import annotations

import asyncio
import contextlib


class TcpSwitch:
    """Forwards 127.0.0.1:<port> to a target port. Switched off, it drops every open
    connection and closes each new one at once, as an unreachable service would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.on = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.switch_off()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def switch_off(self) -> None:
        self.on = False
        for writer in list(self._writers):
            writer.close()

    def switch_on(self) -> None:
        self.on = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.on:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}
            writer.close()
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
