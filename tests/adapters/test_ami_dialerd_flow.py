"""The AMI adapter drives the shipped dialplan's contract end to end on the simulated Asterisk."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from dialerd.adapters.ami import Dial
from dialerd.adapters.ami_pool import AmiPool
from dialerd.ami import contract
from dialerd.config import AmiServerConfig, Secret, SecretSource
from dialerd.core.events import (
    AgentConnected,
    AgentSessionGone,
    AgentSessionReady,
    AmdVerdict,
    AmiEvent,
    CallAnswered,
    CallFailed,
    CallQueued,
    CallRinging,
    ChannelHungUp,
    CustomerReady,
    DialFailure,
    Leg,
    LinkUp,
    MachineDetected,
    Party,
    SafeHarborPlayed,
)
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.scenario import Amd, LiveAnswerComponent, LogNormal, Normal, Scenario, Uniform

SECRET = "flow-secret"
BOUND_S = 15.0
"""Upper bound on any wait in these tests; reached only when the behaviour is broken."""
CALL = "0123456789abcdef0123456789abcdef"
AGENT_SESSION = "fedcba9876543210fedcba9876543210"
S = "ast1"
FAST = Scenario().with_(
    post_dial_delay_s=Uniform(0.1, 0.2),
    live_answer=(LiveAnswerComponent(1.0, Uniform(1.0, 2.0)),),
    machine_answer_s=Normal(2.0, 0.5, 1.0),
    talk=LogNormal(2.0, 0.1),
    amd=Amd(false_positive_rate=0.0, false_negative_rate=0.0),
)
NUMBERS = {
    "5550001": "human",
    "5550002": "machine",
    "5550006": "no_answer",
    "5550009": "invalid",
}


@pytest.fixture
async def pool() -> AsyncIterator[AmiPool]:
    sim = SimAsterisk(
        behaviour="dialerd",
        scenario=FAST,
        seed=7,
        overrides=NUMBERS,
        time_scale=0.1,
        username="dialerd",
        secret=SECRET,
    )
    await sim.start()
    config = AmiServerConfig(
        name=S,
        secret=SecretSource(value=SECRET),
        port=sim.port,
        max_concurrent_calls=5,
        reconnect_min_s=0.01,
        reconnect_max_s=0.05,
    )
    made = AmiPool([(config, Secret(SECRET))], rng=random.Random(5))
    made.start()
    yield made
    await made.close()
    await sim.stop()


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


def _of_call(events: list[AmiEvent]) -> list[AmiEvent]:
    return [
        e
        for e in events
        if getattr(e, "call_id", None) == CALL or getattr(e, "party_id", None) == CALL
    ]


def _customer_hangup(event: AmiEvent) -> bool:
    return isinstance(event, ChannelHungUp) and event.party_id == CALL and event.leg is Leg.CUSTOMER


def _dial(number: str, *, amd: str = "0", timeout_ms: int = 30000) -> Dial:
    return Dial(
        CALL,
        f"Local/{number}@sim-pstn",
        timeout_ms=timeout_ms,
        variables=((contract.VAR_AMD, amd), (contract.VAR_HOLD_MS, "2000")),
    )


async def test_human_is_connected_to_an_agent_and_then_hangs_up(pool: AmiPool) -> None:
    """Agent ready, call answered, AMD HUMAN, ready, Redirect, connected, hangup: in order."""
    events = pool.events()
    await _until(events, lambda e: isinstance(e, LinkUp))
    await pool.originate_agent(AGENT_SESSION, "1001", "Local/1001@sim-agents")
    await _until(events, lambda e: e == AgentSessionReady(S, "1001"))
    await pool.originate_call(_dial("5550001", amd="1"))
    seen = await _until(events, lambda e: isinstance(e, CustomerReady))
    await pool.redirect_to_agent(CALL, "1001")
    seen += await _until(events, _customer_hangup)
    calls = _of_call(seen)
    assert [type(e) for e in calls] == [
        CallQueued,
        CallRinging,
        CallAnswered,
        AmdVerdict,
        CustomerReady,
        AgentConnected,
        ChannelHungUp,
        ChannelHungUp,
    ]
    # The far end (the Local peer) hangs up, then the customer leg in dialerd's dialplan.
    assert calls[-2:] == [
        ChannelHungUp(S, Party.CALL, CALL, Leg.PEER, 16, "Normal Clearing"),
        ChannelHungUp(S, Party.CALL, CALL, Leg.CUSTOMER, 16, "Normal Clearing"),
    ]
    verdict = calls[3]
    assert isinstance(verdict, AmdVerdict)
    assert verdict.status == "HUMAN"
    assert calls[5] == AgentConnected(S, CALL, "1001")
    assert pool.load()[S] == (0, 5, True)
    await pool.hangup_agent(AGENT_SESSION, "1001")
    gone = await _until(events, lambda e: isinstance(e, AgentSessionGone))
    assert gone[-1] == AgentSessionGone(S, "1001")


async def test_nobody_to_take_the_call_means_safe_harbor(pool: AmiPool) -> None:
    """A ready customer nobody connects is abandoned by the dialplan: SafeHarborPlayed."""
    events = pool.events()
    await _until(events, lambda e: isinstance(e, LinkUp))
    await pool.originate_call(_dial("5550001"))
    seen = _of_call(await _until(events, _customer_hangup))
    assert [type(e) for e in seen] == [
        CallQueued,
        CallRinging,
        CallAnswered,
        CustomerReady,
        SafeHarborPlayed,
        ChannelHungUp,
    ]


async def test_machine_is_detected(pool: AmiPool) -> None:
    """With AMD on, a machine is reported as such and the dialplan hangs up."""
    events = pool.events()
    await _until(events, lambda e: isinstance(e, LinkUp))
    await pool.originate_call(_dial("5550002", amd="1"))
    seen = _of_call(await _until(events, _customer_hangup))
    assert [type(e) for e in seen][-3:] == [AmdVerdict, MachineDetected, ChannelHungUp]
    verdict = seen[-3]
    assert isinstance(verdict, AmdVerdict)
    assert verdict.status == "MACHINE"


@pytest.mark.parametrize(
    ("number", "outcome"),
    [("5550009", DialFailure.INVALID_NUMBER), ("5550006", DialFailure.NO_ANSWER)],
)
async def test_unanswered_calls_fail_with_their_outcome(
    pool: AmiPool, number: str, outcome: DialFailure
) -> None:
    """An invalid number and an unanswered one end in one CallFailed each, classified."""
    events = pool.events()
    await _until(events, lambda e: isinstance(e, LinkUp))
    await pool.originate_call(_dial(number, timeout_ms=3000))
    seen = _of_call(await _until(events, lambda e: isinstance(e, CallFailed)))
    failed = seen[-1]
    assert isinstance(failed, CallFailed)
    assert failed.outcome is outcome
    assert not any(isinstance(e, ChannelHungUp) and e.party is Party.CALL for e in seen)
    assert pool.load()[S] == (0, 5, True)


@pytest.fixture
async def jittery() -> AsyncIterator[tuple[AmiPool, SimAsterisk]]:
    sim = SimAsterisk(
        behaviour="dialerd",
        scenario=FAST,
        seed=11,
        overrides=NUMBERS,
        time_scale=0.1,
        username="dialerd",
        secret=SECRET,
    )
    await sim.start()
    config = AmiServerConfig(
        name=S,
        secret=SecretSource(value=SECRET),
        port=sim.port,
        max_concurrent_calls=20,
        reconnect_min_s=0.01,
        reconnect_max_s=0.05,
    )
    made = AmiPool([(config, Secret(SECRET))], rng=random.Random(5))
    made.start()
    yield made, sim
    await made.close()
    await sim.stop()


async def test_reordered_events_still_end_every_call_exactly_once(
    jittery: tuple[AmiPool, SimAsterisk],
) -> None:
    """With events of different channels arriving out of order, each call ends once, cleanly."""
    pool, sim = jittery
    events = pool.events()
    await _until(events, lambda e: isinstance(e, LinkUp))
    sim.set_event_delay(0.0, 0.05)
    numbers = ["5550001", "5550002", "5550006", "5550009"] * 3
    calls = {f"{n:032x}": number for n, number in enumerate(numbers, start=1)}
    for call_id, number in calls.items():
        amd = "1" if number == "5550002" else "0"
        await pool.originate_call(
            Dial(
                call_id,
                f"Local/{number}@sim-pstn",
                timeout_ms=3000,
                variables=((contract.VAR_AMD, amd),),
            )
        )
    ended: dict[str, list[AmiEvent]] = {}
    seen: list[AmiEvent] = []

    def all_ended(event: AmiEvent) -> bool:
        seen.append(event)
        match event:
            case CallFailed(call_id=call_id):
                ended.setdefault(call_id, []).append(event)
            case ChannelHungUp(party=Party.CALL, leg=Leg.CUSTOMER, party_id=call_id):
                ended.setdefault(call_id, []).append(event)
        return len(ended) == len(calls)

    await _until(events, all_ended)
    assert all(len(v) == 1 for v in ended.values())
    for call_id, number in calls.items():
        mine = [e for e in seen if getattr(e, "call_id", getattr(e, "party_id", None)) == call_id]
        answered = [e for e in mine if isinstance(e, CallAnswered)]
        failed = [e for e in mine if isinstance(e, CallFailed)]
        assert len(answered) + len(failed) == 1, (number, mine)
        assert mine[0] == CallQueued(S, call_id)
        if number in ("5550006", "5550009"):
            assert len(failed) == 1
        else:
            # The answer comes before every other fact of the call, whatever the wire order.
            facts = [e for e in mine if not isinstance(e, CallQueued | CallRinging)]
            assert facts[0] == answered[0]
    assert pool.load()[S] == (0, 20, True)


async def test_a_ringing_call_hung_up_by_the_dialer_ends_in_one_failure(pool: AmiPool) -> None:
    """A call taken back while it rings (AMI Hangup on its channel id) ends in exactly one
    CallFailed, never answered, and frees its line."""
    events = pool.events()
    await _until(events, lambda e: isinstance(e, LinkUp))
    await pool.originate_call(_dial("5550006"))
    seen = await _until(events, lambda e: isinstance(e, CallRinging))
    await pool.hangup_call(CALL)
    seen += await _until(events, lambda e: isinstance(e, CallFailed))
    calls = _of_call(seen)
    assert [type(e) for e in calls][:2] == [CallQueued, CallRinging]
    assert sum(isinstance(e, CallFailed) for e in calls) == 1
    assert not any(isinstance(e, CallAnswered) for e in calls)
    assert pool.load()[S] == (0, 5, True)
