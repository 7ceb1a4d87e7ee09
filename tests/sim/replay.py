"""Replay an AMI recording against the simulated Asterisk and normalise both sides.

A recording (``tests/fixtures/ami/NAME.jsonl``) is split into connections (a restart closes
one). Each ``out`` chunk is sent once the simulator has produced as many messages as
Asterisk had sent before it, so the client acts at the same point of the call as the
recorded one did. Messages are then reduced to the fields dialerd reads, with
time-dependent values (sequence numbers, generated uniqueids, bridge ids) replaced by
tokens in order of first appearance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dialerd.ami.codec import Banner, Decoder, Message
from dialerd.sim.asterisk import SimAsterisk

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
RESTART_MARK = "[connection closed by Asterisk; reconnecting after restart]"

READ_FIELDS = (
    "Event",
    "Response",
    "ActionID",
    "Message",
    "Reason",
    "Uniqueid",
    "Linkedid",
    "Channel",
    "ChannelState",
    "Context",
    "Exten",
    "Priority",
    "Application",
    "AppData",
    "DestChannel",
    "DestUniqueid",
    "DialStatus",
    "Cause",
    "Cause-txt",
    "Variable",
    "Value",
    "UserEvent",
    "Conference",
    "BridgeUniqueid",
    "BridgeType",
    "EventList",
    "ListItems",
    "Ping",
    "Shutdown",
    "Restart",
    "CallerIDNum",
    "LocalOneUniqueid",
    "LocalTwoUniqueid",
    "Status",
)
# Raised by other Asterisk threads than the channel's own: their place relative to a
# channel's events (and, for device states, their number) varies between runs.
NOT_CHANNEL_ORDERED = frozenset(
    {
        "OriginateResponse",
        "DeviceStateChange",
        "ConfbridgeStart",
        "ConfbridgeJoin",
        "ConfbridgeLeave",
        "ConfbridgeEnd",
        "LocalBridge",
        "BridgeCreate",
        "BridgeDestroy",
        "FullyBooted",
        "SuccessfulAuth",
        "RequestBadFormat",
        "Shutdown",
    }
)
IGNORED = frozenset({"DeviceStateChange"})


@dataclass
class Connection:
    """One connection of a recording: what was sent and when, and what came back."""

    sends: list[tuple[int, str]] = field(default_factory=list)
    received: list[Message] = field(default_factory=list)
    restart_at: int | None = None


def _significant(messages: Iterable[Message]) -> int:
    return sum(1 for m in messages if m.name not in IGNORED)


def load(name: str) -> list[Connection]:
    """The connections of a recording, each ``out`` chunk placed after the messages before it."""
    connections = [Connection()]
    decoder = Decoder(expect_banner=True)
    for line in (FIXTURES / f"{name}.jsonl").read_text().splitlines():
        chunk = json.loads(line)
        conn = connections[-1]
        if chunk["dir"] == "in" and RESTART_MARK in chunk["data"]:
            connections.append(Connection())
            decoder = Decoder(expect_banner=True)
            continue
        if chunk["dir"] == "out":
            conn.sends.append((_significant(conn.received), chunk["data"]))
            continue
        for item in decoder.feed(chunk["data"].encode()):
            if isinstance(item, Message):
                if (
                    conn.restart_at is None
                    and item.name == "SoftHangupRequest"
                    and item.get("Cause") == "4"
                ):
                    conn.restart_at = _significant(conn.received)
                conn.received.append(item)
    return connections


class _Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.messages: list[Message] = []
        self.banner: Banner | None = None
        self.changed = asyncio.Event()
        self.closed = False
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        decoder = Decoder(expect_banner=True)
        while True:
            data = await self.reader.read(65536)
            if not data:
                break
            for item in decoder.feed(data):
                if isinstance(item, Banner):
                    self.banner = item
                else:
                    self.messages.append(item)
            self.changed.set()
        self.closed = True
        self.changed.set()

    async def wait_for(self, count: int, within_s: float = 10.0) -> None:
        async def until() -> None:
            while _significant(self.messages) < count and not self.closed:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(until(), within_s)

    async def wait_closed(self, within_s: float = 10.0) -> None:
        await asyncio.wait_for(self.task, within_s)


async def replay(name: str, *, time_scale: float) -> tuple[list[Connection], list[list[Message]]]:
    """Run a recording's client side against a fresh simulator; return both sides."""
    connections = load(name)
    sim = SimAsterisk(
        username="lab",
        secret="labsecret",
        behaviour="lab",
        login_fail_delay_s=0.01,
        time_scale=time_scale,
        restart_delay_s=0.05,
    )
    await sim.start()
    got: list[list[Message]] = []
    try:
        for conn in connections:
            reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
            client = _Client(reader, writer)
            for before, data in conn.sends:
                if conn.restart_at is not None and before > conn.restart_at:
                    await client.wait_for(conn.restart_at)
                    await sim.restart()
                await client.wait_for(before)
                writer.write(data.encode())
                await writer.drain()
            if conn.restart_at is not None and conn.sends[-1][0] <= conn.restart_at:
                await client.wait_for(conn.restart_at)
                await sim.restart()
            await client.wait_for(_significant(conn.received))
            if conn.restart_at is not None or "Logoff" in conn.sends[-1][1]:
                await client.wait_closed()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            got.append(client.messages)
    finally:
        await sim.stop()
    return connections, got


class Normaliser:
    """Replaces generated values by tokens that do not depend on when they were generated.

    Channel sequence numbers and generated uniqueids are ranked by value (both sides hand
    them out in increasing order); bridge ids are numbered in the order bridges are created.
    """

    _SEQ = re.compile(r"(?<=-)[0-9a-f]{8}(?=;[12])")
    _UID = re.compile(r"\b\d{9,11}\.\d+\b")
    _UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")

    def __init__(self, messages: list[Message]) -> None:
        seqs: set[str] = set()
        uids: set[str] = set()
        bridges: list[str] = []
        for msg in messages:
            for _, value in msg.headers:
                seqs.update(self._SEQ.findall(value))
                uids.update(self._UID.findall(value))
            if msg.name == "BridgeCreate":
                bridges.append(msg.get("BridgeUniqueid") or "")
        self._tokens: dict[str, str] = {}
        for i, seq in enumerate(sorted(seqs, key=lambda v: int(v, 16))):
            self._tokens[seq] = f"<seq{i}>"
        for i, uid in enumerate(sorted(uids, key=lambda v: tuple(int(p) for p in v.split(".")))):
            self._tokens[uid] = f"<uid{i}>"
        for i, bridge in enumerate(bridges):
            self._tokens.setdefault(bridge, f"<bridge{i}>")

    def value(self, text: str) -> str:
        for pattern in (self._SEQ, self._UID, self._UUID):
            text = pattern.sub(lambda m: self._tokens.get(m.group(0), "<?>"), text)
        return text

    def message(self, msg: Message) -> tuple[tuple[str, str], ...]:
        return tuple((k, self.value(v)) for k, v in msg.headers if k in READ_FIELDS)


def channel_key(msg: Message) -> str | None:
    """The channel an event belongs to, for per-channel order."""
    return msg.get("Uniqueid") or msg.get("DestUniqueid")


@dataclass
class Views:
    """A session reduced to what the parity checks compare."""

    responses: list[tuple[tuple[str, str], ...]]
    events: Counter[tuple[tuple[str, str], ...]]
    per_channel: dict[str, list[tuple[tuple[str, str], ...]]]
    per_conference: dict[str, list[str]]
    lists: dict[str, Counter[tuple[tuple[str, str], ...]]]


def views(messages: list[Message]) -> Views:
    """Split a session into responses, list items, unordered events and per-channel order."""
    norm = Normaliser(messages)
    out = Views([], Counter(), {}, {}, {})
    for msg in messages:
        if msg.name in IGNORED:
            continue
        flat = norm.message(msg)
        if msg.kind == "response":
            out.responses.append(flat)
            continue
        action_id = msg.action_id
        if action_id is not None and msg.name != "OriginateResponse":
            out.lists.setdefault(action_id, Counter())[flat] += 1
            continue
        out.events[flat] += 1
        if msg.name.startswith("Confbridge"):
            out.per_conference.setdefault(msg.get("Conference") or "", []).append(msg.name)
        if msg.name in NOT_CHANNEL_ORDERED:
            continue
        key = channel_key(msg)
        if key is not None:
            out.per_channel.setdefault(norm.value(key), []).append(flat)
    return out
