"""The Dialer's indexes (calls and agents by campaign and state) always match its calls and agents.

The engine keeps these indexes so that no input scans every call or agent; random sequences
of inputs check them against a full recount after every step.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.core import events as ev
from dialerd.core.compliance import Candidate, Rules
from dialerd.core.dialer import (
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentResume,
    AgentState,
    CallState,
    CampaignSetup,
    Claimed,
    ContactsClaimed,
    Dialer,
    Disposition,
    Input,
    RedirectFailed,
    StartCampaign,
)
from dialerd.core.model import BusinessHours, DialMode
from dialerd.core.pacing import PacingView
from dialerd.core.schedule import Schedule
from dialerd.errors import DialerdError

NY = "America/New_York"
WALL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=ZoneInfo(NY))  # a Monday noon
RULES = Rules(Schedule.build(NY, [BusinessHours(d, dt.time(9), dt.time(18)) for d in range(5)]))
S = "pbx1"
AGENTS = ("1001", "1002", "1003")
CALLS = tuple(f"{i:032x}" for i in range(1, 7))

_A = AgentState
_LOGGED = (_A.READY, _A.RESERVED, _A.ON_CALL, _A.WRAP_UP)
_DIALING = (CallState.DIALING, CallState.UNKNOWN, CallState.ANSWERED)


def recount(
    d: Dialer, campaign_id: int, max_lines_per_agent: float, *, answered_waits: bool
) -> PacingView:
    """The pacing view by a full scan of every agent and call (without AMD an answered
    call waits for an agent)."""
    agents = [a for a in d.agents.values() if a.campaign_id == campaign_id]
    calls = [
        c
        for c in d.calls.values()
        if c.campaign_id == campaign_id and c.state is not CallState.ENDED
    ]
    logged = sum(1 for a in agents if a.state in _LOGGED)
    waits = {CallState.WAITING, CallState.ANSWERED} if answered_waits else {CallState.WAITING}
    return PacingView(
        agents_logged_in=logged,
        agents_idle=sum(1 for a in agents if a.state is _A.READY and a.offer is None),
        calls_dialing=sum(1 for c in calls if c.state in _DIALING and c.state not in waits),
        calls_waiting=sum(1 for c in calls if c.state in waits),
        lines_in_use=len(calls),
        max_lines=int(max_lines_per_agent * logged),
    )


def indexed(d: Dialer) -> tuple[set[object], set[object], set[int], set[str]]:
    """What the indexes hold: (campaign, state, id) of calls and agents; live contacts, numbers."""
    return (
        {(*key, call_id) for key, bucket in d._calls_by.items() for call_id in bucket},
        {(*key, agent_id) for key, bucket in d._agents_by.items() for agent_id in bucket},
        set(d._live_contacts),
        set(d._live_numbers),
    )


def scanned(d: Dialer) -> tuple[set[object], set[object], set[int], set[str]]:
    """The same, by a full scan of every call and agent."""
    live = [c for c in d.calls.values() if c.state is not CallState.ENDED]
    return (
        {(c.campaign_id, c.state, c.call_id) for c in live},
        {(a.campaign_id, a.state, a.agent_id) for a in d.agents.values()},
        {c.contact_id for c in live},
        {c.number for c in live},
    )


def inputs(cid: int) -> st.SearchStrategy[Input]:
    """Any input the engine may see for a small team and a few calls."""
    agent = st.sampled_from(AGENTS)
    call = st.sampled_from(CALLS)
    claimed = st.builds(
        lambda n: ContactsClaimed(
            cid,
            tuple(Claimed(Candidate(i, f"+1212555{i % 5:04d}", (NY,)), False) for i in range(n)),
        ),
        st.integers(1, 3),
    )
    return st.one_of(
        agent.map(lambda a: AgentLogin(a, f"PJSIP/{a}", cid)),
        agent.map(lambda a: ev.AgentSessionReady(S, a)),
        agent.map(lambda a: AgentPause(a, "break")),
        agent.map(AgentResume),
        agent.map(AgentLogout),
        agent.map(lambda a: Disposition(a, None)),
        agent.map(lambda a: ev.AgentSessionGone(S, a)),
        claimed,
        call.map(lambda c: ev.CallQueued(S, c)),
        call.map(lambda c: ev.CallAnswered(S, c)),
        call.map(lambda c: ev.CustomerReady(S, c)),
        call.map(lambda c: ev.MachineDetected(S, c)),
        st.builds(lambda c, a: ev.AgentConnected(S, c, a), call, agent),
        call.map(lambda c: ev.ChannelHungUp(S, ev.Party.CALL, c, ev.Leg.CUSTOMER, 16, "")),
        call.map(lambda c: ev.CallFailed(S, c, 5, "BUSY", 17)),
        call.map(lambda c: ev.CallNotPlaced(S, c, "lost", True)),
        call.map(lambda c: RedirectFailed(c, "gone")),
        st.builds(
            lambda keep: ev.ChannelsSnapshot(S, frozenset(), frozenset(keep), frozenset()),
            st.sets(call, max_size=6),
        ),
    )


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from([DialMode.PROGRESSIVE, DialMode.POWER, DialMode.PREVIEW]),
    steps=st.lists(
        st.tuples(inputs(1), st.floats(0.0, 5.0), st.sampled_from([False] * 5 + [True])),
        max_size=60,
    ),
)
def test_the_indexes_agree_with_a_full_recount(
    mode: DialMode, steps: list[tuple[Input, float, bool]]
) -> None:
    """After any sequence of inputs and timer runs, counts by index equal counts by scan."""
    ids = (f"{i:032x}" for i in itertools.count(1))
    d = Dialer(new_call_id=lambda: next(ids))
    now = 1000.0
    d.handle(ev.LinkUp(S, 100), now, WALL)
    d.handle(StartCampaign(CampaignSetup(1, mode, RULES, wrapup_limit_s=3)), now, WALL)
    team: list[tuple[Input, float, bool]] = [
        (step, 0.0, False)
        for a in AGENTS[:2]
        for step in (AgentLogin(a, f"PJSIP/{a}", 1), ev.AgentSessionReady(S, a))
    ]
    for item, after, timer in [*team, *steps]:
        now += after
        wall = WALL + dt.timedelta(seconds=now - 1000.0)
        try:
            if timer:
                d.handle_timer(now, wall)
            else:
                d.handle(item, now, wall)
        except DialerdError:
            pass  # a refused input changes nothing; the counts must still agree
        assert indexed(d) == scanned(d)
        for waits in (True, False):
            view = d._view(1, 3.0, answered_waits=waits)
            assert view == recount(d, 1, 3.0, answered_waits=waits)
        assert d.in_flight() == sum(1 for c in d.calls.values() if c.state is not CallState.ENDED)
        wrapping = [a.wrap_deadline for a in d.agents.values() if a.wrap_deadline]
        assert sorted(a.wrap_deadline or 0.0 for a in d._wrapping() if a.wrap_deadline) == sorted(
            wrapping
        )
