"""The AMI client keeps its guarantees against the simulated Asterisk, faults included."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from dialerd.adapters.ami import AmiClient, Dial, LinkState, backoff_delay
from dialerd.ami.codec import Message
from dialerd.ami.translate import DialplanNames
from dialerd.config import AmiServerConfig, Secret, SecretSource
from dialerd.core.events import (
    AgentSessionReady,
    AmiEvent,
    AsteriskRestarted,
    CallAnswered,
    CallFailed,
    CallNotPlaced,
    CallQueued,
    ChannelsSnapshot,
    LinkDown,
    LinkUp,
)
from dialerd.errors import ActionRejected, ActionTimeout, LinkLost, LoginRefused, UsageError
from dialerd.sim.asterisk import SimAsterisk

SECRET = "s3cret-Value"
C = "0123456789abcdef0123456789abcdef"
C2 = "00000000000000000000000000000002"
AGENT_SESSION = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
BOUND_S = 10.0
"""Upper bound on any wait in these tests; reached only when the behaviour is broken."""


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    server = SimAsterisk(
        username="dialerd",
        secret=SECRET,
        login_fail_delay_s=0.01,
        time_scale=0.02,
        restart_delay_s=0.05,
    )
    await server.start()
    yield server
    await server.stop()


def _config(port: int, **overrides: Any) -> AmiServerConfig:
    settings: dict[str, Any] = {
        "name": "ast1",
        "secret": SecretSource(value=SECRET),
        "port": port,
        "action_timeout_s": 2.0,
        "connect_timeout_s": 2.0,
        "ping_interval_s": 30.0,
        "pong_timeout_s": 1.0,
        "reconnect_min_s": 0.01,
        "reconnect_max_s": 0.05,
    }
    settings.update(overrides)
    return AmiServerConfig(**settings)


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., AmiClient]]:
    made: list[AmiClient] = []

    def make(port: int, *, secret: str = SECRET, **overrides: Any) -> AmiClient:
        client = AmiClient(
            _config(port, **overrides),
            Secret(secret),
            names=DialplanNames(ready="LabAnswered", conference_prefix="agent"),
            rng=random.Random(1),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


class _Spy(list[Message]):
    """Every action the simulator receives, in order; ``arrived`` fires per ActionID."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, asyncio.Event] = {}

    def note(self, action: Message) -> None:
        self.append(action)
        self.arrived.setdefault(action.get("ActionID") or "", asyncio.Event()).set()


def _spy(sim: SimAsterisk) -> _Spy:
    """Record what the simulator receives (it still answers as it would)."""
    received = _Spy()
    original = sim.handle_action

    async def recording(session: Any, action: Message) -> None:
        received.note(action)
        await original(session, action)

    sim.handle_action = recording  # type: ignore[method-assign]
    return received


async def _until(
    events: AsyncIterator[AmiEvent], done: Callable[[AmiEvent], bool]
) -> list[AmiEvent]:
    """Collect events up to and including the first one ``done`` accepts, within the bound."""
    seen: list[AmiEvent] = []
    async with asyncio.timeout(BOUND_S):
        async for event in events:
            seen.append(event)
            if done(event):
                return seen
    raise AssertionError(f"stream ended after {seen}")


def _is(kind: type) -> Callable[[AmiEvent], bool]:
    return lambda event: isinstance(event, kind)


async def _started(client: AmiClient) -> AsyncIterator[AmiEvent]:
    events = client.events()
    client.start()
    await _until(events, _is(LinkUp))
    return events


# --- pure parts -------------------------------------------------------------------------------


class _TopRng(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


class _BottomRng(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    """The reconnect delay doubles from the floor to the cap; jitter stays in its upper half."""
    top = [backoff_delay(n, _TopRng(), low_s=0.5, high_s=30.0) for n in range(9)]
    bottom = [backoff_delay(n, _BottomRng(), low_s=0.5, high_s=30.0) for n in range(9)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert bottom == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    seeded = [backoff_delay(3, random.Random(s), low_s=0.5, high_s=30.0) for s in range(50)]
    assert all(2.0 <= d <= 4.0 for d in seeded)
    assert len(set(seeded)) == 50


def test_secret_stays_out_of_reprs() -> None:
    """Neither the client nor its configuration shows the secret."""
    client = AmiClient(_config(5038), Secret(SECRET))
    assert SECRET not in repr(client)
    assert SECRET not in repr(client.config)


# --- login and the event stream ---------------------------------------------------------------


async def test_login_then_snapshot_then_link_up(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """A good login is followed by the resync snapshot, then LinkUp; the secret is not logged."""
    client = make_client(sim.port)
    events = client.events()
    with capture_logs() as logs:
        client.start()
        seen = await _until(events, _is(LinkUp))
    assert seen[0] == ChannelsSnapshot("ast1", frozenset(), frozenset(), frozenset())
    assert isinstance(seen[1], LinkUp)
    assert client.state is LinkState.UP
    assert SECRET not in repr(logs)
    with pytest.raises(UsageError):
        client.events()


async def test_wrong_secret_is_a_clear_login_error(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """A refused login raises LoginRefused naming the user; the secret is not logged."""
    client = make_client(sim.port, secret="wrong-secret-xyz")
    with capture_logs() as logs:
        client.start()
        with pytest.raises(LoginRefused, match="'dialerd' refused: Authentication failed"):
            await client.wait_up(BOUND_S)
    assert "wrong-secret-xyz" not in repr(logs)
    assert any(entry["event"] == "ami.login_refused" for entry in logs)


async def test_originate_reports_the_call_through_events(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """An Originate is acknowledged, then its answer and its failure arrive as core events."""
    client = make_client(sim.port)
    events = await _started(client)
    await client.originate_call(Dial(C, "Local/5550001@sim-pstn", context="lab-answered"))
    seen = await _until(events, _is(CallAnswered))
    assert seen[0] == CallQueued("ast1", C)
    assert seen[-1] == CallAnswered("ast1", C)
    await client.originate_call(Dial(C2, "Local/5550005@sim-pstn", context="lab-answered"))
    seen = await _until(events, _is(CallFailed))
    assert CallQueued("ast1", C2) in seen
    assert seen[-1] == CallFailed("ast1", C2, 5, "BUSY", 17)


async def test_a_failure_with_no_channel_is_reported_after_the_grace(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """A channel Asterisk cannot create fails with no channel events at all: the client
    still reports it, once the translator stops waiting for them, with nothing else fed."""
    client = make_client(sim.port)
    events = await _started(client)
    await client.originate_call(Dial(C, "Bogus/5550001", context="lab-answered"))
    seen = await _until(events, _is(CallFailed))
    assert seen == [CallQueued("ast1", C), CallFailed("ast1", C, 0, None, None)]


async def test_async_is_forced_on_every_originate(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """An Originate asked as synchronous still goes out with ``Async: true``."""
    received = _spy(sim)
    client = make_client(sim.port)
    await _started(client)
    await client.send(
        {
            "Action": "Originate",
            "ActionID": C,
            "Channel": "Local/5550001@sim-pstn",
            "Context": "lab-answered",
            "Exten": "s",
            "Priority": "1",
            "Async": "false",
        }
    )
    (originate,) = [m for m in received if m.get("Action") == "Originate"]
    assert originate.get_all("Async") == ["true"]


async def test_an_error_response_rejects_the_action(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """``Response: Error`` raises ActionRejected with Asterisk's text."""
    client = make_client(sim.port)
    await _started(client)
    with pytest.raises(ActionRejected, match="Invalid/unknown command: NoSuchAction"):
        await client.send({"Action": "NoSuchAction"})


# --- faults -----------------------------------------------------------------------------------


async def test_every_action_is_bounded_by_its_timeout(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """An action Asterisk never answers raises ActionTimeout at its deadline."""
    client = make_client(sim.port)
    await _started(client)
    sim.set_answer_pings(False)
    with pytest.raises(ActionTimeout, match=r"Ping got no complete answer within 0\.2 s"):
        async with asyncio.timeout(BOUND_S):
            await client.send({"Action": "Ping"}, timeout_s=0.2)


async def test_half_open_link_is_declared_dead_at_the_pong_deadline(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """With Pings unanswered the link is declared dead once the Pong deadline passes."""
    client = make_client(sim.port, ping_interval_s=0.05, pong_timeout_s=0.3)
    events = await _started(client)
    with capture_logs() as logs:
        sim.set_answer_pings(False)
        seen = await _until(events, _is(LinkDown))
    assert seen[-1] == LinkDown("ast1", "no Pong within 0.3 s")
    (half_open,) = [e for e in logs if e["event"] == "ami.half_open"]
    waited = half_open["declared_at"] - half_open["ping_sent_at"]
    # At the deadline, not before it; the upper slack only absorbs a busy machine.
    assert 0.3 <= waited < 0.3 + 1.0
    sim.set_answer_pings(True)
    await _until(events, _is(LinkUp))


async def test_originate_in_flight_at_a_drop_fails_and_is_never_replayed(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """An Originate written as the link dies fails with LinkLost and is not sent again."""
    received = _spy(sim)
    client = make_client(sim.port)
    events = await _started(client)
    sim.drop_connections()
    # The client has not read the reset yet: it still writes the Originate.
    with pytest.raises(LinkLost, match="not re-sent"):
        async with asyncio.timeout(BOUND_S):
            await client.originate_call(Dial(C, "Local/5550001@sim-pstn", context="lab-answered"))
    seen = await _until(events, _is(LinkUp))
    assert isinstance(seen[0], LinkDown)
    (not_placed,) = [e for e in seen if isinstance(e, CallNotPlaced)]
    assert (not_placed.call_id, not_placed.maybe_placed) == (C, True)
    assert "not re-sent" in not_placed.error
    # A round trip on the new link: anything replayed would have reached the simulator first.
    await client.send({"Action": "Ping"})
    assert [m for m in received if m.get("Action") == "Originate"] == []
    assert sim.originates == 0


async def test_action_pending_at_a_drop_fails_at_once_and_is_received_only_once(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """An action the server got but did not answer fails at the drop, long before its deadline."""
    received = _spy(sim)
    client = make_client(sim.port)
    events = await _started(client)
    sim.set_answer_pings(False)
    pending = asyncio.create_task(client.send({"Action": "Ping", "ActionID": "p-1"}, timeout_s=60))
    arrived = received.arrived.setdefault("p-1", asyncio.Event())
    await asyncio.wait_for(arrived.wait(), BOUND_S)
    sim.drop_connections()
    with pytest.raises(LinkLost):
        async with asyncio.timeout(BOUND_S):
            await pending
    sim.set_answer_pings(True)
    await _until(events, _is(LinkUp))
    await client.send({"Action": "Ping"})
    assert [m.get("ActionID") for m in received].count("p-1") == 1


async def test_sending_while_down_fails_at_once_and_sends_nothing_later(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """With the link down an Originate is refused at once and never sent after reconnect."""
    received = _spy(sim)
    client = make_client(sim.port, reconnect_min_s=0.5, reconnect_max_s=0.5)
    events = await _started(client)
    sim.drop_connections()
    await _until(events, _is(LinkDown))
    with pytest.raises(LinkLost, match="not connected, action not sent"):
        await client.originate_call(Dial(C, "Local/5550001@sim-pstn", context="lab-answered"))
    seen = await _until(events, _is(LinkUp))
    assert CallNotPlaced("ast1", C, "ast1: not connected, action not sent", False) in seen
    await client.send({"Action": "Ping"})
    assert sim.originates == 0
    assert [m for m in received if m.get("Action") == "Originate"] == []


async def test_reconnect_resyncs_and_a_restart_is_detected(
    sim: SimAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """After a drop the snapshot shows the live agent; after a restart, Asterisk is empty."""
    client = make_client(sim.port)
    events = await _started(client)
    client.ids.add_agent_session(AGENT_SESSION, "1001")
    await client.send(
        {
            "Action": "Originate",
            "ActionID": AGENT_SESSION,
            "Channel": "Local/1001@sim-agents",
            "Context": "lab-agent",
            "Exten": "1001",
            "Priority": "1",
            "ChannelId": AGENT_SESSION + "-a",
            "OtherChannelId": AGENT_SESSION + "-b",
        }
    )
    await _until(events, _is(AgentSessionReady))

    sim.drop_connections()
    seen = await _until(events, _is(LinkUp))
    (snapshot,) = [e for e in seen if isinstance(e, ChannelsSnapshot)]
    assert snapshot.agent_ids == frozenset({"1001"})
    assert snapshot.uniqueids == frozenset({AGENT_SESSION + "-a", AGENT_SESSION + "-b"})
    assert not any(isinstance(e, AsteriskRestarted) for e in seen)

    await sim.restart()
    seen = await _until(events, _is(LinkUp))
    kinds = [type(e) for e in seen]
    assert kinds.index(LinkDown) < kinds.index(AsteriskRestarted) < kinds.index(ChannelsSnapshot)
    (snapshot,) = [e for e in seen if isinstance(e, ChannelsSnapshot)]
    assert snapshot == ChannelsSnapshot("ast1", frozenset(), frozenset(), frozenset())


class _CountingTopRng(_TopRng):
    """Jitter at the top of each step; fires ``reached`` at the ``n``-th draw."""

    def __init__(self, n: int) -> None:
        super().__init__(0)
        self.draws = 0
        self.n = n
        self.reached = asyncio.Event()

    def uniform(self, a: float, b: float) -> float:
        self.draws += 1
        if self.draws == self.n:
            self.reached.set()
        return b


async def test_reconnect_attempts_back_off_exponentially(sim: SimAsterisk) -> None:
    """While Asterisk is gone, each new attempt waits twice as long, up to the cap."""
    rng = _CountingTopRng(4)
    client = AmiClient(
        _config(sim.port, reconnect_min_s=0.01, reconnect_max_s=0.05), Secret(SECRET), rng=rng
    )
    try:
        events = await _started(client)
        with capture_logs() as logs:
            await sim.stop()
            await _until(events, _is(LinkDown))
            await asyncio.wait_for(rng.reached.wait(), BOUND_S)
        delays = [e["delay_s"] for e in logs if e["event"] == "ami.reconnect_scheduled"]
        assert delays[:4] == [0.01, 0.02, 0.04, 0.05]
    finally:
        await client.close()
