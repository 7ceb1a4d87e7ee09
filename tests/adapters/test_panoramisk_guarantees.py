"""Why dialerd does not use panoramisk: the guarantees it fails, shown against the simulator.

panoramisk 1.4 (the newest release, pinned in the ``dev`` extra) was the AMI library dialerd
was first specified with. Each test below drives it against the simulated Asterisk and
asserts the behaviour that rules it out for a dialer (``docs/design.md``, "AMI client").
Should a future release fix one, its test fails and the decision is worth revisiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dialerd.ami.codec import Message
from dialerd.sim.asterisk import SimAsterisk

panoramisk = pytest.importorskip("panoramisk")

SECRET = "pano-secret"
C = "0123456789abcdef0123456789abcdef"
BOUND_S = 10.0


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    server = SimAsterisk(username="dialerd", secret=SECRET, time_scale=0.02)
    await server.start()
    yield server
    await server.stop()


class _Watched:
    """A panoramisk Manager with its connection callbacks turned into asyncio events."""

    def __init__(self, port: int, **config: Any) -> None:
        self.logged_in = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.events: list[str] = []
        self.manager = panoramisk.Manager(
            loop=asyncio.get_running_loop(),
            host="127.0.0.1",
            port=port,
            username="dialerd",
            secret=SECRET,
            on_login=lambda _m: self.logged_in.set(),
            on_disconnect=lambda _m, _exc: self.disconnected.set(),
            **config,
        )
        self.manager.register_event("*", lambda _m, event: self.events.append(event.event))

    async def start(self) -> None:
        self.manager.connect()
        await asyncio.wait_for(self.logged_in.wait(), BOUND_S)

    def close(self) -> None:
        # Stop it from scheduling a reconnect after the test.
        self.manager.connection_lost = lambda _exc: None
        self.manager.close()


def _spy(sim: SimAsterisk) -> tuple[list[Message], asyncio.Event]:
    """Record the actions the simulator receives; the event fires on an Originate."""
    received: list[Message] = []
    originate = asyncio.Event()
    original = sim.handle_action

    async def recording(session: Any, action: Message) -> None:
        received.append(action)
        if action.get("Action") == "Originate":
            originate.set()
        await original(session, action)

    sim.handle_action = recording  # type: ignore[method-assign]
    return received, originate


def _originate() -> dict[str, str]:
    return {
        "Action": "Originate",
        "ActionID": C,
        "Channel": "Local/5550001@sim-pstn",
        "Context": "lab-answered",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
    }


async def test_panoramisk_replays_an_originate_after_reconnect(sim: SimAsterisk) -> None:
    """An Originate sent while the link is down is executed later, after the reconnect."""
    received, originate = _spy(sim)
    client = _Watched(sim.port, reconnect_timeout=1, ping_delay=60)
    await client.start()
    client.logged_in.clear()
    sim.drop_connections()
    await asyncio.wait_for(client.disconnected.wait(), BOUND_S)
    # No error while down: the action is kept and written again once logged in anew.
    assert client.manager.protocol.closed
    future = client.manager.send_action(_originate())
    await asyncio.wait_for(client.logged_in.wait(), BOUND_S)
    await asyncio.wait_for(originate.wait(), BOUND_S)
    assert [m.get("ActionID") for m in received if m.get("Action") == "Originate"] == [C]
    assert sim.originates == 1
    await asyncio.wait_for(future, BOUND_S)
    client.close()


async def test_panoramisk_hides_originate_response_from_event_handlers(sim: SimAsterisk) -> None:
    """The OriginateResponse of an awaited Originate never reaches the event callbacks."""
    client = _Watched(sim.port, ping_delay=60)
    await client.start()
    answer = await asyncio.wait_for(client.manager.send_action(_originate()), BOUND_S)
    assert [m.get("Event") for m in answer] == [None, "OriginateResponse"]
    assert "Newchannel" in client.events
    assert "OriginateResponse" not in client.events
    client.close()


async def test_panoramisk_neither_detects_a_half_open_link_nor_bounds_actions(
    sim: SimAsterisk,
) -> None:
    """With Pings unanswered it pings on but never drops the link, and an action waits forever."""
    client = _Watched(sim.port, ping_delay=1, ping_interval=1)
    await client.start()
    sim.set_answer_pings(False)
    pending = client.manager.send_action({"Action": "Ping"})
    # Three ping intervals and more: a dialer would have reconnected long ago.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.disconnected.wait(), 3.5)
    assert not pending.done()
    client.close()
