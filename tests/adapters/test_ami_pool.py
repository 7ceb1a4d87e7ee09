"""Calls go to an Asterisk server that is up and has room, or are refused at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dialerd.adapters.ami import Dial
from dialerd.adapters.ami_pool import AmiPool
from dialerd.ami.translate import DialplanNames
from dialerd.config import AmiServerConfig, Secret, SecretSource
from dialerd.core.events import (
    AmiEvent,
    CallFailed,
    CallNotPlaced,
    CallQueued,
    LinkDown,
    LinkUp,
)
from dialerd.errors import NoServerAvailable, NotFoundError, UsageError
from dialerd.sim.asterisk import SimAsterisk

SECRET = "pool-secret"
BOUND_S = 10.0
"""Upper bound on any wait in these tests; reached only when the behaviour is broken."""


def _id(n: int) -> str:
    return f"{n:032x}"


@pytest.fixture
async def sims() -> AsyncIterator[list[SimAsterisk]]:
    servers = [
        SimAsterisk(username="dialerd", secret=SECRET, time_scale=0.02, login_fail_delay_s=0.01)
        for _ in range(2)
    ]
    for server in servers:
        await server.start()
    yield servers
    for server in servers:
        await server.stop()


@pytest.fixture
async def pool(sims: list[SimAsterisk]) -> AsyncIterator[AmiPool]:
    def config(name: str, port: int) -> AmiServerConfig:
        return AmiServerConfig(
            name=name,
            secret=SecretSource(value=SECRET),
            port=port,
            max_concurrent_calls=1,
            ping_interval_s=30.0,
            reconnect_min_s=0.01,
            reconnect_max_s=0.05,
        )

    made = AmiPool(
        [
            (config("ast1", sims[0].port), Secret(SECRET)),
            (config("ast2", sims[1].port), Secret(SECRET)),
        ],
        names=DialplanNames(ready="LabAnswered"),
        rng=random.Random(3),
    )
    made.start()
    yield made
    await made.close()


async def _until(
    events: AsyncIterator[AmiEvent], done: Callable[[AmiEvent], bool]
) -> list[AmiEvent]:
    seen: list[AmiEvent] = []
    async with asyncio.timeout(BOUND_S):
        async for event in events:
            seen.append(event)
            if done(event):
                return seen
    raise AssertionError(f"stream ended after {seen}")


async def _both_up(events: AsyncIterator[AmiEvent]) -> None:
    up: set[str] = set()

    def done(event: AmiEvent) -> bool:
        if isinstance(event, LinkUp):
            up.add(event.server)
        return up == {"ast1", "ast2"}

    await _until(events, done)


def _dial(n: int, number: str = "5550001", **kw: Any) -> Dial:
    return Dial(_id(n), f"Local/{number}@sim-pstn", context="lab-answered", **kw)


async def test_calls_fill_servers_then_are_refused(pool: AmiPool) -> None:
    """Each server takes its limit of calls; one more is refused with a CallNotPlaced event."""
    events = pool.events()
    await _both_up(events)
    assert await pool.originate_call(_dial(1)) == "ast1"
    assert await pool.originate_call(_dial(2, "5550005")) == "ast2"
    assert pool.load() == {"ast1": (1, 1, True), "ast2": (1, 1, True)}
    with pytest.raises(NoServerAvailable, match=r"ast1 1/1, ast2 1/1"):
        await pool.originate_call(_dial(3))
    # Places are freed as the consumer reads the events that end calls, not before.
    refusal = CallNotPlaced(
        None, _id(3), "no AMI server is up with room for a call (ast1 1/1, ast2 1/1)", False
    )
    busy = CallFailed("ast2", _id(2), 5, "BUSY", 17)
    seen: list[AmiEvent] = []

    def both(event: AmiEvent) -> bool:
        seen.append(event)
        return refusal in seen and busy in seen

    await _until(events, both)
    # The busy call's place is free again.
    assert pool.load()["ast2"] == (0, 1, True)
    assert await pool.originate_call(_dial(4)) == "ast2"
    await _until(events, lambda e: e == CallQueued("ast2", _id(4)))


async def test_a_server_that_is_down_gets_no_calls(pool: AmiPool, sims: list[SimAsterisk]) -> None:
    """While one server is down every call goes to the other; with both down none is sent."""
    events = pool.events()
    await _both_up(events)
    await sims[0].stop()
    await _until(events, lambda e: e == LinkDown("ast1", "connection closed by Asterisk"))
    assert await pool.originate_call(_dial(1)) == "ast2"
    await sims[1].stop()
    await _until(events, lambda e: isinstance(e, LinkDown) and e.server == "ast2")
    with pytest.raises(NoServerAvailable, match=r"ast1 0/1 down, ast2 1/1 down"):
        await pool.originate_call(_dial(2))


async def test_follow_up_actions_need_a_known_call(pool: AmiPool) -> None:
    """A Redirect for a call the pool never placed is the caller's error."""
    events = pool.events()
    await _both_up(events)
    with pytest.raises(NotFoundError, match="not in progress"):
        await pool.redirect_to_agent(_id(9), "1001")
    with pytest.raises(UsageError):
        pool.events()


def test_server_names_must_be_unique() -> None:
    """Two servers with one name would make follow-up routing ambiguous."""
    cfg = AmiServerConfig(name="same", secret=SecretSource(value=SECRET))
    with pytest.raises(UsageError, match="unique"):
        AmiPool([(cfg, Secret(SECRET)), (cfg, Secret(SECRET))])
