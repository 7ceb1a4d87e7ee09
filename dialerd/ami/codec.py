"""Sans-I/O codec for the Asterisk Manager Interface (AMI) wire format.

Theory of operation: AMI is a line protocol. Right after the TCP connect the server sends
one banner line (``Asterisk Call Manager/13.0.0``) with no blank line after it. Every
later message is a block of ``Key: Value`` lines ended by ``\\r\\n``, and a blank line ends
the block. A key may repeat (``Variable``, ``ChanVariable``); values keep their order.
Chunks from the socket may hold several messages or part of one, so the decoder buffers.

Nothing here touches a socket: bytes go in, :class:`Message` objects come out, and
:func:`encode` turns a message into bytes. Both the client adapter and the simulated
Asterisk use this module, so they agree on framing by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from dialerd.errors import RemoteProtocolError

BANNER_PREFIX = "Asterisk Call Manager/"
_MAX_MESSAGE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Message:
    """One AMI message: an ordered list of (key, value) headers.

    Lookups are case-insensitive on the key, as Asterisk itself treats them.
    """

    headers: tuple[tuple[str, str], ...]
    _index: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for key, value in self.headers:
            index.setdefault(key.lower(), value)
        object.__setattr__(self, "_index", index)

    @classmethod
    def of(cls, pairs: Mapping[str, str] | Iterable[tuple[str, str]]) -> Message:
        """Build a message from a mapping or from (key, value) pairs, keeping order."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        return cls(tuple((str(k), str(v)) for k, v in items))

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of ``key`` (case-insensitive), or ``default``."""
        return self._index.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        try:
            return self._index[key.lower()]
        except KeyError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated ``key``, in order."""
        lowered = key.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    @property
    def kind(self) -> str:
        """``event``, ``response`` or ``action``: which of the three a message is."""
        if "Event" in self:
            return "event"
        if "Response" in self:
            return "response"
        if "Action" in self:
            return "action"
        return "unknown"

    @property
    def name(self) -> str:
        """The event name, the response status or the action name."""
        for key in ("Event", "Response", "Action"):
            value = self.get(key)
            if value is not None:
                return value
        return ""

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` header, which ties responses and list events to an action."""
        return self.get("ActionID")


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line Asterisk sends once, right after the connection opens."""

    text: str

    @property
    def version(self) -> str:
        """The AMI protocol version announced in the banner."""
        return self.text.removeprefix(BANNER_PREFIX)


def encode(message: Message | Mapping[str, str] | Iterable[tuple[str, str]]) -> bytes:
    """Serialise a message as AMI bytes: ``Key: Value`` lines and a closing blank line."""
    msg = message if isinstance(message, Message) else Message.of(message)
    out: list[str] = []
    for key, value in msg.headers:
        if "\r" in value or "\n" in value or "\r" in key or "\n" in key or ":" in key:
            raise ValueError(f"AMI header {key!r} cannot carry a line break or colon in its key")
        out.append(f"{key}: {value}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")


def encode_banner(version: str = "13.0.0") -> bytes:
    """The banner line a server sends on connect."""
    return f"{BANNER_PREFIX}{version}\r\n".encode()


class Decoder:
    """Incremental decoder: feed it chunks, iterate the messages that became complete.

    ``expect_banner`` is true on the client side, where the first line is the banner.
    """

    def __init__(self, *, expect_banner: bool = True) -> None:
        self._buffer = bytearray()
        self._expect_banner = expect_banner

    def feed(self, data: bytes) -> list[Message | Banner]:
        """Add bytes from the socket and return every message they completed."""
        self._buffer += data
        if len(self._buffer) > _MAX_MESSAGE_BYTES and b"\r\n\r\n" not in self._buffer:
            raise RemoteProtocolError("AMI message larger than 1 MiB without an end")
        return list(self._drain())

    def _drain(self) -> Iterator[Message | Banner]:
        buf = self._buffer
        if self._expect_banner:
            end = buf.find(b"\r\n")
            if end < 0:
                return
            line = bytes(buf[:end]).decode("utf-8", "replace")
            if not line.startswith(BANNER_PREFIX):
                raise RemoteProtocolError(f"expected the AMI banner, got {line[:80]!r}")
            del buf[: end + 2]
            self._expect_banner = False
            yield Banner(line)
        start = 0
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end < 0:
                break
            block = bytes(buf[start:end])
            start = end + 4
            if block.strip():
                yield _parse_block(block)
        if start:
            del buf[:start]


def _parse_block(block: bytes) -> Message:
    headers: list[tuple[str, str]] = []
    for raw in block.decode("utf-8", "replace").split("\r\n"):
        if not raw:
            continue
        key, sep, value = raw.partition(":")
        if not sep:
            # Asterisk sends a few bare lines (old ``Command`` output); keep them visible.
            headers.append(("Output", raw))
            continue
        headers.append((key.strip(), value[1:] if value.startswith(" ") else value))
    return Message(tuple(headers))
