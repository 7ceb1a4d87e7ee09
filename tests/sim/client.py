"""A minimal AMI client for driving the simulated Asterisk in tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable

from dialerd.ami.codec import Banner, Decoder, Message, encode

WAIT_S = 5.0


class AmiTestClient:
    """Sends actions, collects every message, and waits (with a bound) for the ones asked for."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.messages: list[Message] = []
        self.banner: Banner | None = None
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, port: int) -> AmiTestClient:
        """Open a connection to the simulator on ``port``."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def _read(self) -> None:
        decoder = Decoder(expect_banner=True)
        try:
            while data := await self.reader.read(65536):
                for item in decoder.feed(data):
                    if isinstance(item, Banner):
                        self.banner = item
                    else:
                        self.messages.append(item)
                self._changed.set()
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def send(self, action: str, **headers: str) -> str:
        """Send an action; returns its ActionID."""
        action_id = headers.pop("ActionID", None) or f"t{next(self._ids)}"
        pairs = [("Action", action), ("ActionID", action_id), *headers.items()]
        self.writer.write(encode(pairs))
        return action_id

    async def wait_for(
        self, predicate: Callable[[Message], bool], *, start: int = 0, within_s: float = WAIT_S
    ) -> Message:
        """The first message from index ``start`` on that satisfies ``predicate``."""

        async def scan() -> Message:
            seen = start
            while True:
                for msg in self.messages[seen:]:
                    if predicate(msg):
                        return msg
                seen = max(seen, len(self.messages))
                if self.closed.is_set():
                    raise ConnectionError("connection closed before the message came")
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), within_s)

    async def response(self, action_id: str) -> Message:
        """The response to the action with ``action_id``."""
        return await self.wait_for(lambda m: m.kind == "response" and m.action_id == action_id)

    async def event(self, name: str, **fields: str) -> Message:
        """The first event called ``name`` whose headers have the given values."""

        def match(m: Message) -> bool:
            return m.get("Event") == name and all(m.get(k) == v for k, v in fields.items())

        return await self.wait_for(match)

    async def login(self, username: str = "dialerd", secret: str = "dialerd") -> Message:
        """Log in and return the response."""
        return await self.response(self.send("Login", Username=username, Secret=secret))

    def events(self, name: str | None = None) -> list[Message]:
        """Every event received so far (of one name, if given)."""
        return [m for m in self.messages if m.kind == "event" and (name is None or m.name == name)]

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
        await asyncio.wait_for(self._task, WAIT_S)
