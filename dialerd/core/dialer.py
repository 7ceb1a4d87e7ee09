"""The Dialer: dialerd's engine as a plain object — facts in, commands out.

Theory of operation
===================
The Dialer owns the live state of running campaigns, agents and calls. Every input — an
AMI fact (``dialerd.core.events``), a control request (below), an answer from the store —
goes through :meth:`Dialer.handle` with the current monotonic ``now`` and timezone-aware
``wall_now``; the return value is the list of :mod:`~dialerd.core.commands` to carry out,
in order. Time-driven work (wrap-up limits, pacing deadlines, calendars opening) happens in
:meth:`Dialer.handle_timer`; :meth:`Dialer.get_timer` says when to call it next. Nothing
here does I/O, sleeps or reads a clock.

Agents move through a transition table (``AGENT_TRANSITIONS``); an illegal move raises
``ConflictError`` and changes nothing. Only ``READY`` agents count as idle for pacing.

Calls: a claimed contact passes the compliance gate (``core.compliance``) at the moment the
Originate is emitted, right after ``RecordAttempt`` (so the attempt is durable before the
dial). An answered customer judged human raises ``CustomerReady``; the longest-idle ready
agent of the campaign is reserved in the same step and a ``Redirect`` sent, so no agent is
ever promised twice. With nobody ready the customer waits; an agent freed within the hold
time takes it, otherwise the dialplan's own timer plays the safe-harbor message and the call
is abandoned. Outcomes: connected → answered_agent; machine → answered_machine; safe harbor,
or a hang-up before an agent was reached → abandoned; unanswered → busy / no_answer /
congestion / failed / invalid_number from ``Reason``, ``DialStatus`` and ``Cause``.

A predictive campaign's pacer starts from ``CampaignSetup.history``, the live answers and
abandons of its regime window recorded before this start, so that a restart does not
reset the abandon budget.

After a reconnect the server's ``ChannelsSnapshot`` settles calls the Dialer still believes
in flight: present ones are followed to the end, absent ones are closed with the outcome
their last known state implies. A restart of Asterisk closes everything it carried.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import operator
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from dialerd.core import commands as cmd
from dialerd.core import events as ev
from dialerd.core.compliance import (
    FINAL_OUTCOMES,
    MIN_RING_BEFORE_CANCEL_S,
    Allowed,
    Candidate,
    Outcome,
    Refusal,
    Refused,
    Rules,
    check,
)
from dialerd.core.model import DialMode
from dialerd.core.pacing import (
    AgentActivity,
    AgentChanged,
    CallAbandoned,
    CallConnected,
    CallOutcome,
    CallPlaced,
    CallRang,
    CallResolved,
    Pacer,
    PacingView,
    PastAnswer,
    PowerPacer,
    PredictiveConfig,
    PredictivePacer,
    ProgressivePacer,
)
from dialerd.errors import ConflictError, NotFoundError

# -- agents -----------------------------------------------------------------------------------


class AgentState(enum.StrEnum):
    """An agent's state; only READY agents take new calls."""

    LOGGED_OUT = "logged_out"
    CONNECTING = "connecting"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


_A = AgentState
AGENT_TRANSITIONS: Mapping[tuple[AgentState, str], AgentState] = {
    (_A.LOGGED_OUT, "login"): _A.CONNECTING,
    (_A.CONNECTING, "session_ready"): _A.READY,
    (_A.CONNECTING, "session_failed"): _A.LOGGED_OUT,
    (_A.READY, "reserve"): _A.RESERVED,
    (_A.RESERVED, "connected"): _A.ON_CALL,
    (_A.RESERVED, "release"): _A.READY,
    (_A.ON_CALL, "call_ended"): _A.WRAP_UP,
    (_A.WRAP_UP, "wrapped_up"): _A.READY,
    (_A.READY, "pause"): _A.PAUSED,
    (_A.WRAP_UP, "pause"): _A.PAUSED,
    (_A.PAUSED, "resume"): _A.READY,
    **{(s, "logout"): _A.LOGGED_OUT for s in AgentState if s is not _A.LOGGED_OUT},
    **{(s, "session_gone"): _A.LOGGED_OUT for s in AgentState if s is not _A.LOGGED_OUT},
}

_ACTIVITY = {
    _A.READY: AgentActivity.IDLE,
    _A.RESERVED: AgentActivity.TALK,
    _A.ON_CALL: AgentActivity.TALK,
    _A.WRAP_UP: AgentActivity.WRAP,
}


@dataclass(slots=True)
class _Agent:
    agent_id: str
    number: int
    endpoint: str
    campaign_id: int
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0
    server: str | None = None
    call_id: str | None = None
    wrap_deadline: float | None = None
    offer: int | None = None
    reason: str = ""
    verdict_due: tuple[int, int, float] | None = None  # (campaign, call seq, connected at)


# -- calls ------------------------------------------------------------------------------------


class CallState(enum.StrEnum):
    """Where a call stands."""

    DIALING = "dialing"
    UNKNOWN = "unknown"  # the Originate may have reached Asterisk; the snapshot will tell
    ANSWERED = "answered"
    WAITING = "waiting"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True)
class _Call:
    call_id: str
    number_seq: int
    campaign_id: int
    contact_id: int
    number: str
    attempt: int
    placed_at: float
    state: CallState = CallState.DIALING
    server: str | None = None
    agent_id: str | None = None
    preview_agent: str | None = None
    answered_wall: dt.datetime | None = None
    connected_wall: dt.datetime | None = None
    ready_at: float | None = None
    machine: bool = False
    abandoned: bool = False
    routed_told: bool = False  # the pacer knows it will need an agent
    counted_human: float | None = None  # an abandon nobody heard, as the pacer counted it
    ringing_at: float | None = None  # when the far end started alerting
    cancelled: bool = False  # hung up while ringing, at the pacer's request


# -- inputs other than AMI facts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignSetup:
    """What the engine needs to run a campaign."""

    campaign_id: int
    mode: DialMode
    rules: Rules
    route: str = "PJSIP/{number}@trunk"
    caller_id: str = ""
    present_caller_id: bool = True
    ring_timeout_s: int = 25
    amd: bool = False
    hold_ms: int = 2000
    wrapup_enabled: bool = True
    wrapup_limit_s: int = 60
    power_ratio: float = 1.5
    max_lines_per_agent: float = 3.0
    servers: tuple[str, ...] = ()
    abandon_target: float = 0.03
    abandon_window_s: float = 30 * 86400.0
    """The regime's window for the abandon rate: 30 days (US TSR); 24 h for Ofcom."""
    amd_false_positive_rate: float = 0.0
    """With ``amd``: the estimated share of humans judged machines (counted as abandons)."""
    abandon_reserve_sd: float = 1.0
    """Predictive: the budget guard's reserve in sd of the estimated abandons (``reserve_sd``)."""
    take_back_ringing: bool = True
    """Predictive: the pacer may hang up calls that have rung 15 s (off: ``cancel_risk`` 0)."""
    history: tuple[tuple[float, Outcome, float | None], ...] = ()
    """(UTC epoch seconds, outcome, counted as a person) of the campaign's live answers in
    that window before this start (``answered_agent`` at the connection, ``abandoned`` at
    the end, with how much the pacer counted an abandon nobody heard as a person, if
    recorded), oldest first; a new predictive pacer starts from them."""
    pacer: Pacer | None = None


@dataclass(frozen=True, slots=True)
class StartCampaign:
    """Begin dialling a campaign."""

    setup: CampaignSetup


@dataclass(frozen=True, slots=True)
class StopCampaign:
    """Place no new calls for a campaign; calls in progress finish."""

    campaign_id: int


@dataclass(frozen=True, slots=True)
class AgentLogin:
    """An agent joins a campaign: dialerd calls the agent's phone."""

    agent_id: str
    endpoint: str
    campaign_id: int


@dataclass(frozen=True, slots=True)
class AgentLogout:
    """An agent leaves."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentPause:
    """An agent stops taking calls for a while."""

    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AgentResume:
    """A paused agent is ready again."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class Disposition:
    """An agent sets the result of its last call, ending wrap-up."""

    agent_id: str
    result_id: int | None
    memo: str = ""
    human: bool | None = None
    """Whether the agent reached a person (the result's ``contact`` flag); ``None`` when
    unknown. Without AMD this is how the pacer learns that an answer was a machine: it
    must not count machines as live answers."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A contact the store handed out, checked against the lists a moment ago."""

    candidate: Candidate
    on_dnc: bool


@dataclass(frozen=True, slots=True)
class ContactsClaimed:
    """The store's answer to ``ClaimContacts``; an empty tuple means none is due now."""

    campaign_id: int
    contacts: tuple[Claimed, ...]
    owner: str | None = None
    next_due: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PreviewChoice:
    """A preview agent decided: dial the offered contact, or skip it.

    ``on_dnc`` is the list check made again at the moment of the decision (the agent may
    have looked at the record for minutes); ``None`` keeps the check made at the claim.
    """

    agent_id: str
    dial: bool
    on_dnc: bool | None = None


@dataclass(frozen=True, slots=True)
class RedirectFailed:
    """Asterisk refused the Redirect (the customer's channel was already gone)."""

    call_id: str
    error: str


@dataclass(frozen=True, slots=True)
class RecoveredCall:
    """A call the store says was in flight when dialerd stopped."""

    call_id: str
    campaign_id: int
    contact_id: int
    number: str
    attempt: int
    state: CallState
    server: str | None
    agent_id: str | None


Input = (
    ev.AmiEvent
    | StartCampaign
    | StopCampaign
    | AgentLogin
    | AgentLogout
    | AgentPause
    | AgentResume
    | Disposition
    | ContactsClaimed
    | PreviewChoice
    | RedirectFailed
    | RecoveredCall
)


@dataclass(slots=True)
class _Campaign:
    setup: CampaignSetup
    pacer: Pacer
    running: bool = True
    claims_pending: int = 0
    idle_until_wall: dt.datetime | None = None
    open_until_wall: dt.datetime | None = None  # the calendar was open; look again then
    # Abandons nobody heard that the pacer will count again: its call id -> ours.
    recount_ids: dict[int, str] = field(default_factory=dict)


# Progress of a call that changes nothing the pacer sees (it stays a call in flight);
# time-driven re-evaluation comes from the pacer's own deadline.
_UNSEEN_BY_PACING = (ev.CallQueued, ev.CallRinging)

_FAILURES = {
    ev.DialFailure.BUSY: Outcome.BUSY,
    ev.DialFailure.NO_ANSWER: Outcome.NO_ANSWER,
    ev.DialFailure.CONGESTION: Outcome.CONGESTION,
    ev.DialFailure.INVALID_NUMBER: Outcome.INVALID_NUMBER,
    ev.DialFailure.FAILED: Outcome.FAILED,
}
_PACING_FAILURES = {
    Outcome.BUSY: CallOutcome.BUSY,
    Outcome.NO_ANSWER: CallOutcome.NO_ANSWER,
    Outcome.INVALID_NUMBER: CallOutcome.INVALID,
    Outcome.CONGESTION: CallOutcome.FAILED,
    Outcome.FAILED: CallOutcome.FAILED,
}
_CONNECT_MARGIN_S = 0.3  # keep a Redirect clear of the dialplan's own hold timer
_RECHECK = dt.timedelta(seconds=60)
_BY_SINCE = operator.attrgetter("since", "agent_id")  # longest idle first, then by id
_VIEW_AGENTS = (AgentState.READY, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)
_VIEW_CALLS = (
    CallState.ANSWERED,
    CallState.DIALING,
    CallState.UNKNOWN,
    CallState.WAITING,
    CallState.CONNECTING,
    CallState.CONNECTED,
)
_K = TypeVar("_K")
_ViewBuckets = tuple[tuple[dict[str, _Agent], ...], tuple[dict[str, _Call], ...]]


def _past_answers(
    history: tuple[tuple[float, Outcome, float | None], ...], *, amd: bool
) -> list[PastAnswer]:
    """Stored outcomes as the pacer would have counted their calls (see ``_connected`` and
    ``_abandon``): every connected call as a human, an abandon as a human only with AMD,
    and otherwise as much as the pacer counted it then."""
    past = []
    for at, outcome, counted in history:
        if outcome is Outcome.ANSWERED_AGENT:
            past.append(PastAnswer(at, abandoned=False, human=True))
        elif outcome is Outcome.ABANDONED:
            if amd:
                past.append(PastAnswer(at, abandoned=True, human=True))
            else:
                past.append(PastAnswer(at, abandoned=True, human=None, counted=counted))
    return past


def _new_id() -> str:
    return uuid.uuid4().hex


def _count_down(counts: dict[_K, int], key: _K) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


@dataclass
class Dialer:
    """The engine. Feed it inputs with the time; carry out the commands it returns."""

    new_call_id: Callable[[], str] = _new_id
    campaigns: dict[int, _Campaign] = field(default_factory=dict)
    agents: dict[str, _Agent] = field(default_factory=dict)
    calls: dict[str, _Call] = field(default_factory=dict)
    servers_up: set[str] = field(default_factory=set)
    offers: dict[str, Claimed] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _wall_offset: float = 0.0
    _clock_wall: dt.datetime | None = None
    _clock_now: float = 0.0
    # Indexes kept in step with every state change, so that no input scans all calls or all
    # agents: live calls and agents by (campaign, state), and the contacts and numbers in a
    # live call (with how many calls each is in).
    _calls_by: dict[tuple[int, CallState], dict[str, _Call]] = field(default_factory=dict)
    _agents_by: dict[tuple[int, AgentState], dict[str, _Agent]] = field(default_factory=dict)
    _live_contacts: dict[int, int] = field(default_factory=dict)
    _live_numbers: dict[str, int] = field(default_factory=dict)
    _view_index: dict[int, _ViewBuckets] = field(default_factory=dict)

    # -- public surface -----------------------------------------------------------------

    def handle(self, item: Input, now: float, wall_now: dt.datetime) -> list[cmd.Command]:
        """Apply one input and return the commands it leads to (pacing included)."""
        self._clock(now, wall_now)
        out: list[cmd.Command] = []
        self._dispatch(item, now, wall_now, out)
        if not isinstance(item, _UNSEEN_BY_PACING):
            self._pace(now, wall_now, out)
        return out

    def handle_timer(self, now: float, wall_now: dt.datetime) -> list[cmd.Command]:
        """Do the work that was due by ``now``."""
        self._clock(now, wall_now)
        out: list[cmd.Command] = []
        due = [
            a for a in self._wrapping() if a.wrap_deadline is not None and a.wrap_deadline <= now
        ]
        for agent in sorted(due, key=lambda a: a.number):
            self._finish_wrap(agent, now, out, result=None, memo="wrap-up limit reached")
        for campaign in self.campaigns.values():
            if campaign.idle_until_wall is not None and campaign.idle_until_wall <= wall_now:
                campaign.idle_until_wall = None
        self._pace(now, wall_now, out)
        return out

    def get_timer(self) -> float | None:
        """The monotonic time at which :meth:`handle_timer` must run next, if any."""
        # Asked after every input: the earliest is kept as it goes, no list is built.
        first: float | None = None
        for (_, state), bucket in self._agents_by.items():
            if state is AgentState.WRAP_UP:
                for agent in bucket.values():
                    deadline = agent.wrap_deadline
                    if deadline and (first is None or deadline < first):
                        first = deadline
        for campaign in self.campaigns.values():
            if campaign.running:
                deadline = campaign.pacer.next_deadline()
                if deadline is not None and (first is None or deadline < first):
                    first = deadline
                if campaign.idle_until_wall is not None:
                    deadline = campaign.idle_until_wall.timestamp() - self._wall_offset
                    if first is None or deadline < first:
                        first = deadline
        return first

    def call_state(self, call_id: str) -> CallState:
        """The state of a call (tests and status reports)."""
        return self.calls[call_id].state

    def agent_state(self, agent_id: str) -> AgentState:
        """The state of an agent."""
        return self.agents[agent_id].state

    def in_flight(self) -> int:
        """Calls not yet ended."""
        return sum(len(bucket) for bucket in self._calls_by.values())

    # -- indexes --------------------------------------------------------------------------

    def _add_call(self, call: _Call) -> None:
        old = self.calls.pop(call.call_id, None)
        if old is not None:
            self._call_to(old, CallState.ENDED)
        self.calls[call.call_id] = call
        self._calls_by.setdefault((call.campaign_id, call.state), {})[call.call_id] = call
        self._live_contacts[call.contact_id] = self._live_contacts.get(call.contact_id, 0) + 1
        self._live_numbers[call.number] = self._live_numbers.get(call.number, 0) + 1

    def _call_to(self, call: _Call, state: CallState) -> None:
        """Every change of a call's state goes through here (the indexes follow it)."""
        if call.state is CallState.ENDED:
            call.state = state
            return
        bucket = self._calls_by.get((call.campaign_id, call.state))
        if bucket is not None:
            bucket.pop(call.call_id, None)
        call.state = state
        if state is not CallState.ENDED:
            self._calls_by.setdefault((call.campaign_id, state), {})[call.call_id] = call
            return
        _count_down(self._live_contacts, call.contact_id)
        _count_down(self._live_numbers, call.number)

    def _calls_in(self, campaign_id: int, state: CallState) -> dict[str, _Call]:
        return self._calls_by.get((campaign_id, state), {})

    def _agents_in(self, campaign_id: int, state: AgentState) -> dict[str, _Agent]:
        return self._agents_by.get((campaign_id, state), {})

    def _index_agent(self, agent: _Agent, *, present: bool) -> None:
        key = (agent.campaign_id, agent.state)
        if present:
            self._agents_by.setdefault(key, {})[agent.agent_id] = agent
        else:
            self._agents_by.get(key, {}).pop(agent.agent_id, None)

    def _wrapping(self) -> list[_Agent]:
        """Agents in wrap-up, the only ones with a wrap-up deadline."""
        return [
            a
            for (_, state), bucket in self._agents_by.items()
            if state is AgentState.WRAP_UP
            for a in bucket.values()
        ]

    # -- dispatch -------------------------------------------------------------------------

    def _dispatch(self, item: Input, now: float, wall: dt.datetime, out: list[cmd.Command]) -> None:
        if isinstance(item, ev.AmiEvent):
            # Most inputs are AMI facts: straight to them, past the other inputs' cases.
            self._ami(item, now, wall, out)
            return
        match item:
            case StartCampaign(setup):
                self._start(setup, now, wall)
            case StopCampaign(campaign_id):
                self._campaign(campaign_id).running = False
            case AgentLogin():
                self._login(item, now, out)
            case AgentLogout(agent_id):
                self._logout(self._agent(agent_id), now, out, hang_up=True)
            case AgentPause(agent_id, reason):
                agent = self._agent(agent_id)
                agent.reason = reason
                agent.wrap_deadline = None
                self._move(agent, "pause", now, out)
            case AgentResume(agent_id):
                agent = self._agent(agent_id)
                agent.reason = ""
                self._move(agent, "resume", now, out)
                self._serve_waiting(agent, now, wall, out)
            case Disposition(agent_id, result_id, memo, human):
                agent = self._agent(agent_id)
                if agent.state is not AgentState.WRAP_UP:
                    raise ConflictError(f"agent {agent_id} is {agent.state.value}, not in wrap-up")
                self._verdict(agent, human)
                self._finish_wrap(agent, now, out, result=result_id, memo=memo, human=human)
                self._serve_waiting(agent, now, wall, out)
            case ContactsClaimed():
                self._claimed(item, now, wall, out)
            case PreviewChoice(agent_id, dial, on_dnc):
                self._preview_choice(
                    self._agent(agent_id), dial, on_dnc, now=now, wall=wall, out=out
                )
            case RedirectFailed(call_id, _):
                self._redirect_failed(call_id, now, wall, out)
            case RecoveredCall():
                self._recovered(item, now)

    def _ami(
        self, item: ev.AmiEvent, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        match item:
            case ev.CallQueued(server, call_id) | ev.CallRinging(server, call_id):
                call = self.calls.get(call_id)
                if call is not None and call.state in (CallState.DIALING, CallState.UNKNOWN):
                    call.server = server
                    self._call_to(call, CallState.DIALING)
                    if isinstance(item, ev.CallRinging) and call.ringing_at is None:
                        call.ringing_at = now
                        self._pacing(call.campaign_id, CallRang(call.number_seq, now))
            case ev.CallAnswered(server, call_id):
                call = self.calls.get(call_id)
                if call is not None and call.state in (CallState.DIALING, CallState.UNKNOWN):
                    call.server = server
                    self._call_to(call, CallState.ANSWERED)
                    call.answered_wall = wall
                    campaign = self.campaigns.get(call.campaign_id)
                    if campaign is not None and not campaign.setup.amd:
                        # Without AMD every answer will need an agent: the pacer counts
                        # it as demand now, not as a call still ringing.
                        self._routed(call, now)
            case ev.CallFailed():
                self._failed(item, now, wall, out)
            case ev.CustomerReady(server, call_id):
                self._customer_ready(call_id, server, now, wall, out)
            case ev.MachineDetected(_, call_id):
                call = self.calls.get(call_id)
                if call is not None and call.state is not CallState.ENDED:
                    call.machine = True
                    self._pacing(
                        call.campaign_id, CallResolved(call.number_seq, now, CallOutcome.SCREENED)
                    )
            case ev.SafeHarborPlayed(_, call_id):
                call = self.calls.get(call_id)
                if call is not None and call.state is not CallState.ENDED:
                    self._abandon(call, now, out)
            case ev.AgentConnected(_, call_id, agent_id):
                self._connected(call_id, agent_id, now, wall, out)
            case ev.ChannelHungUp(_, ev.Party.CALL, call_id, ev.Leg.CUSTOMER, cause, _):
                call = self.calls.get(call_id)
                if call is not None and call.state is not CallState.ENDED:
                    self._end(call, now, wall, out, cause=cause)
            case ev.ChannelHungUp(_, ev.Party.AGENT, agent_id, ev.Leg.CUSTOMER, _, _):
                agent = self.agents.get(agent_id)
                if agent is not None and agent.state is not AgentState.LOGGED_OUT:
                    self._logout(agent, now, out, hang_up=False)
            case ev.ChannelHungUp():
                pass  # the Local peer half: the customer leg's hangup decides
            case ev.AgentSessionReady(server, agent_id):
                agent = self.agents.get(agent_id)
                if agent is not None and agent.state is AgentState.CONNECTING:
                    agent.server = server
                    self._move(agent, "session_ready", now, out)
                    self._serve_waiting(agent, now, wall, out)
            case ev.AgentSessionFailed(_, agent_id, _):
                agent = self.agents.get(agent_id)
                if agent is not None and agent.state is AgentState.CONNECTING:
                    self._move(agent, "session_failed", now, out)
            case ev.AgentSessionGone(_, agent_id):
                agent = self.agents.get(agent_id)
                if agent is not None and agent.state is not AgentState.LOGGED_OUT:
                    self._logout(agent, now, out, hang_up=False)
            case ev.LinkUp(server, _):
                self.servers_up.add(server)
            case ev.LinkDown(server, _):
                self.servers_up.discard(server)
            case ev.AsteriskRestarted(server, _):
                self._server_lost(
                    server, call_ids=frozenset(), agent_ids=frozenset(), now=now, wall=wall, out=out
                )
            case ev.ChannelsSnapshot(server, _, call_ids, agent_ids):
                self.servers_up.add(server)
                self._server_lost(
                    server, call_ids=call_ids, agent_ids=agent_ids, now=now, wall=wall, out=out
                )
            case ev.CallNotPlaced(_, call_id, _, maybe_placed):
                call = self.calls.get(call_id)
                if call is None or call.state is not CallState.DIALING:
                    return
                if maybe_placed:
                    self._call_to(call, CallState.UNKNOWN)
                else:
                    self._close(call, Outcome.FAILED, now, wall, out)
                    self._pacing(
                        call.campaign_id, CallResolved(call.number_seq, now, CallOutcome.FAILED)
                    )
            case ev.AmdVerdict():
                pass  # the verdict's consequence arrives as CustomerReady or MachineDetected

    # -- campaigns and pacing -------------------------------------------------------------

    def _start(self, setup: CampaignSetup, now: float, wall: dt.datetime) -> None:
        history = setup.history
        setup = replace(setup, history=())  # counted once, then not kept
        existing = self.campaigns.get(setup.campaign_id)
        if existing is not None:
            # The pacer kept counting while the campaign was stopped: nothing to seed.
            existing.setup = setup
            existing.running = True
            existing.open_until_wall = None
            return
        pacer = setup.pacer
        if pacer is None:
            match setup.mode:
                case DialMode.POWER:
                    pacer = PowerPacer(setup.power_ratio)
                case DialMode.PREDICTIVE:
                    config = PredictiveConfig(
                        abandon_target=setup.abandon_target,
                        window_s=setup.abandon_window_s,
                        amd_false_positive_rate=(
                            setup.amd_false_positive_rate if setup.amd else 0.0
                        ),
                        reserve_sd=setup.abandon_reserve_sd,
                    )
                    if not setup.take_back_ringing:
                        config = replace(config, cancel_risk=0.0)
                    pacer = PredictivePacer(config)
                case _:
                    pacer = ProgressivePacer()
        if history and isinstance(pacer, PredictivePacer):
            pacer.seed_history(_past_answers(history, amd=setup.amd), now, wall)
        self.campaigns[setup.campaign_id] = _Campaign(setup, pacer)

    def _campaign(self, campaign_id: int) -> _Campaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFoundError(f"campaign {campaign_id} is not running here")
        return campaign

    def _view(
        self, campaign_id: int, max_lines_per_agent: float, *, answered_waits: bool
    ) -> PacingView:
        # Runs after every input: the sizes of the (campaign, state) index buckets.
        agents, calls = self._view_buckets(campaign_id)
        ready, reserved, on_call, wrap_up = agents
        answered_, dialing_, unknown, waiting_, connecting, connected = calls
        idle = len(ready)
        campaign = self.campaigns.get(campaign_id)
        if campaign is not None and campaign.setup.mode is DialMode.PREVIEW:
            # Only a preview campaign holds ready agents for an offer; scanning them in
            # every campaign was a tenth of a large team's simulated shift.
            idle -= sum(1 for a in ready.values() if a.offer is not None)
        logged = len(ready) + len(reserved) + len(on_call) + len(wrap_up)
        answered = len(answered_)
        dialing = len(dialing_) + len(unknown)
        waiting = len(waiting_)
        if answered_waits:
            waiting += answered
        else:
            dialing += answered
        lines = dialing + waiting + len(connecting) + len(connected)
        return PacingView(
            agents_logged_in=logged,
            agents_idle=idle,
            calls_dialing=dialing,
            calls_waiting=waiting,
            lines_in_use=lines,
            max_lines=int(max_lines_per_agent * logged),
        )

    def _view_buckets(self, campaign_id: int) -> _ViewBuckets:
        """The index buckets ``_view`` counts, in its order; looked up once per campaign.

        They stay valid: the indexes empty a bucket but never drop or replace it.
        """
        buckets = self._view_index.get(campaign_id)
        if buckets is None:
            agents = tuple(self._agents_by.setdefault((campaign_id, s), {}) for s in _VIEW_AGENTS)
            calls = tuple(self._calls_by.setdefault((campaign_id, s), {}) for s in _VIEW_CALLS)
            buckets = self._view_index[campaign_id] = (agents, calls)
        return buckets

    def _pace(self, now: float, wall: dt.datetime, out: list[cmd.Command]) -> None:
        if not self.servers_up:
            return
        for campaign in self.campaigns.values():
            s = campaign.setup
            if not campaign.running or campaign.claims_pending:
                continue
            if campaign.idle_until_wall is not None and wall < campaign.idle_until_wall:
                continue
            if campaign.open_until_wall is None or wall >= campaign.open_until_wall:
                # Pacing runs after every input: the calendar is read again only when
                # it may have changed.
                if not s.rules.schedule.is_open(wall):
                    campaign.open_until_wall = None
                    campaign.idle_until_wall = s.rules.schedule.next_change(wall)
                    continue
                change = s.rules.schedule.next_change(wall)
                campaign.open_until_wall = change or wall + dt.timedelta(days=1)
            if s.mode is DialMode.PREVIEW:
                self._offer_previews(campaign, out)
                continue
            view = self._view(s.campaign_id, s.max_lines_per_agent, answered_waits=not s.amd)
            wanted = campaign.pacer.decide(view, now)
            cancels = campaign.pacer.cancels()
            if cancels:
                self._cancel_ringing(frozenset(cancels), now, out)
            if isinstance(campaign.pacer, PredictivePacer):
                for seq, counted in campaign.pacer.recounts():
                    call_id = campaign.recount_ids.pop(seq, None)
                    if call_id is None:
                        continue
                    call = self.calls.get(call_id)
                    if call is not None:  # not ended yet: its outcome will carry the count
                        call.counted_human = counted
                    out.append(cmd.RecountAbandon(call_id, counted))
            if wanted > 0:
                campaign.claims_pending = wanted
                out.append(cmd.ClaimContacts(s.campaign_id, wanted))

    def _cancel_ringing(self, seqs: frozenset[int], now: float, out: list[cmd.Command]) -> None:
        # Whatever the pacer asks, a call is cut short only once it has rung the legal
        # minimum, and only while it is still ringing.
        for call in self.calls.values():
            if (
                call.number_seq in seqs
                and call.state is CallState.DIALING
                and call.ringing_at is not None
                and now - call.ringing_at >= MIN_RING_BEFORE_CANCEL_S
                and call.server
                and not call.cancelled
            ):
                call.cancelled = True
                out.append(cmd.HangupCall(call.call_id, call.server))

    def _offer_previews(self, campaign: _Campaign, out: list[cmd.Command]) -> None:
        ready = self._agents_in(campaign.setup.campaign_id, AgentState.READY).values()
        for agent in sorted(ready, key=lambda a: a.number):  # in the order they logged in
            if agent.offer is None:
                campaign.claims_pending += 1
                agent.offer = -1  # asked for; the contact id arrives with the claim
                out.append(cmd.ClaimContacts(campaign.setup.campaign_id, 1, owner=agent.agent_id))

    def _pacing(
        self,
        campaign_id: int,
        fact: CallPlaced | CallRang | CallResolved | CallConnected | CallAbandoned | AgentChanged,
    ) -> None:
        campaign = self.campaigns.get(campaign_id)
        if campaign is not None:
            campaign.pacer.observe(fact)

    def _claimed(
        self, item: ContactsClaimed, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        campaign = self._campaign(item.campaign_id)
        campaign.claims_pending = max(0, campaign.claims_pending - max(1, len(item.contacts)))
        if not item.contacts:
            campaign.claims_pending = 0
            campaign.idle_until_wall = item.next_due or (wall + dt.timedelta(seconds=30))
            if item.owner is not None and item.owner in self.agents:
                self.agents[item.owner].offer = None
            return
        if not campaign.running:
            # The claim was answered after the campaign stopped: give the contacts back.
            if item.owner is not None and item.owner in self.agents:
                self.agents[item.owner].offer = None
            stopped = Refused(Refusal.CAMPAIGN_STOPPED, wall)
            for claimed in item.contacts:
                out.append(self._refusal(item.campaign_id, claimed.candidate, stopped, wall))
            return
        if item.owner is not None:
            agent = self.agents.get(item.owner)
            (claimed,) = item.contacts[:1]
            if agent is None or agent.state is not AgentState.READY:
                out.append(
                    self._refusal(
                        item.campaign_id, claimed.candidate, Refused(Refusal.CONTACT_LOCKED), wall
                    )
                )
                return
            verdict = self._gate(campaign, claimed, wall, agent_guaranteed=True)
            if isinstance(verdict, Refused):
                agent.offer = None
                out.append(self._refusal(item.campaign_id, claimed.candidate, verdict, wall))
                return
            agent.offer = claimed.candidate.contact_id
            self.offers[agent.agent_id] = claimed
            out.append(
                cmd.OfferPreview(
                    agent.agent_id,
                    item.campaign_id,
                    claimed.candidate.contact_id,
                    claimed.candidate.number,
                )
            )
            return
        for claimed in item.contacts:
            verdict = self._gate(campaign, claimed, wall, agent_guaranteed=False)
            if isinstance(verdict, Refused):
                out.append(self._refusal(item.campaign_id, claimed.candidate, verdict, wall))
                continue
            self._dial(campaign, claimed.candidate, now, wall, out, agent=None)

    def _gate(
        self, campaign: _Campaign, claimed: Claimed, wall: dt.datetime, *, agent_guaranteed: bool
    ) -> Allowed | Refused:
        return check(
            campaign.setup.rules,
            claimed.candidate,
            wall_now=wall,
            on_dnc=claimed.on_dnc,
            contacts_in_call=self._live_contacts.keys(),
            numbers_in_call=self._live_numbers.keys(),
            agent_guaranteed=agent_guaranteed,
        )

    def _refusal(
        self, campaign_id: int, candidate: Candidate, verdict: Refused, wall: dt.datetime
    ) -> cmd.RecordRefusal:
        retry_at = verdict.retry_at
        if retry_at is None and not verdict.final:
            # A passing obstacle (a call in flight, a lock): look again a little later.
            retry_at = wall + _RECHECK
        return cmd.RecordRefusal(
            campaign_id, candidate.contact_id, verdict.reason, verdict.final, retry_at, wall
        )

    def _dial(
        self,
        campaign: _Campaign,
        candidate: Candidate,
        now: float,
        wall: dt.datetime,
        out: list[cmd.Command],
        *,
        agent: str | None,
    ) -> str:
        s = campaign.setup
        call = _Call(
            call_id=self.new_call_id(),
            number_seq=next(self._seq),
            campaign_id=s.campaign_id,
            contact_id=candidate.contact_id,
            number=candidate.number,
            attempt=len(candidate.attempts) + 1,
            placed_at=now,
            preview_agent=agent,
        )
        self._add_call(call)
        out.append(
            cmd.RecordAttempt(
                call.call_id, s.campaign_id, call.contact_id, call.number, call.attempt, agent, wall
            )
        )
        out.append(
            cmd.Originate(
                call_id=call.call_id,
                campaign_id=s.campaign_id,
                number=call.number,
                route=s.route,
                caller_id=s.caller_id,
                present_caller_id=s.present_caller_id,
                timeout_ms=max(15, s.ring_timeout_s) * 1000,
                amd=s.amd,
                hold_ms=s.hold_ms,
                servers=s.servers,
            )
        )
        self._pacing(s.campaign_id, CallPlaced(call.number_seq, now))
        return call.call_id

    def _preview_choice(
        self,
        agent: _Agent,
        dial: bool,
        on_dnc: bool | None,
        *,
        now: float,
        wall: dt.datetime,
        out: list[cmd.Command],
    ) -> None:
        claimed = self.offers.pop(agent.agent_id, None)
        if claimed is None or agent.offer is None or agent.state is not AgentState.READY:
            raise ConflictError(f"agent {agent.agent_id} has no contact on offer")
        agent.offer = None
        campaign = self._campaign(agent.campaign_id)
        if not dial:
            out.append(
                cmd.RecordRefusal(
                    agent.campaign_id,
                    claimed.candidate.contact_id,
                    Refusal.SKIPPED,
                    False,
                    None,
                    wall,
                )
            )
            return
        if on_dnc is not None:
            claimed = Claimed(claimed.candidate, on_dnc)
        verdict = self._gate(campaign, claimed, wall, agent_guaranteed=True)
        if isinstance(verdict, Refused):
            out.append(self._refusal(agent.campaign_id, claimed.candidate, verdict, wall))
            return
        self._move(agent, "reserve", now, out)
        agent.call_id = self._dial(
            campaign, claimed.candidate, now, wall, out, agent=agent.agent_id
        )

    # -- connecting -----------------------------------------------------------------------

    def _customer_ready(
        self, call_id: str, server: str, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        call = self.calls.get(call_id)
        if call is None or call.state not in (
            CallState.ANSWERED,
            CallState.DIALING,
            CallState.UNKNOWN,
        ):
            return
        if call.answered_wall is None:
            call.answered_wall = wall
        call.server = call.server or server
        call.ready_at = now
        self._routed(call, now)
        if call.preview_agent is not None:
            agent = self.agents.get(call.preview_agent)
            if agent is not None and agent.state is AgentState.RESERVED:
                self._redirect(call, agent, out)
                return
        self._call_to(call, CallState.WAITING)
        agent = self._longest_idle(call.campaign_id)
        if agent is not None:
            self._move(agent, "reserve", now, out, call=call)
            self._redirect(call, agent, out)

    def _routed(self, call: _Call, now: float) -> None:
        if not call.routed_told:
            call.routed_told = True
            self._pacing(call.campaign_id, CallResolved(call.number_seq, now, CallOutcome.ROUTED))

    def _redirect(self, call: _Call, agent: _Agent, out: list[cmd.Command]) -> None:
        self._call_to(call, CallState.CONNECTING)
        call.agent_id = agent.agent_id
        agent.call_id = call.call_id
        out.append(cmd.Redirect(call.call_id, agent.agent_id, call.server or ""))

    def _longest_idle(self, campaign_id: int) -> _Agent | None:
        ready = [
            a for a in self._agents_in(campaign_id, AgentState.READY).values() if a.offer is None
        ]
        return min(ready, key=_BY_SINCE, default=None)

    def _serve_waiting(
        self, agent: _Agent, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        if agent.state is not AgentState.READY or agent.offer is not None:
            return
        campaign = self.campaigns.get(agent.campaign_id)
        hold_s = (campaign.setup.hold_ms / 1000) if campaign else 2.0
        waiting = [
            c
            for c in self._calls_in(agent.campaign_id, CallState.WAITING).values()
            if c.ready_at is not None and now < c.ready_at + hold_s - _CONNECT_MARGIN_S
        ]
        if waiting:
            # Ties go to the call placed first, as they did when every call was scanned.
            call = min(waiting, key=lambda c: (c.ready_at or 0.0, c.number_seq))
            self._move(agent, "reserve", now, out, call=call)
            self._redirect(call, agent, out)

    def _connected(
        self, call_id: str, agent_id: str, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        call = self.calls.get(call_id)
        agent = self.agents.get(agent_id)
        if call is None or call.state is CallState.ENDED:
            return
        self._call_to(call, CallState.CONNECTED)
        call.connected_wall = wall
        call.agent_id = agent_id
        if agent is not None and agent.state is AgentState.RESERVED:
            self._move(agent, "connected", now, out)
        if agent is None:
            self._pacing(call.campaign_id, CallConnected(call.number_seq, now, True))
        else:
            # Who answered is known when the agent sets the result (a machine has no
            # place among the live answers the abandon rate is counted over).
            self._verdict(agent, None)
            agent.verdict_due = (call.campaign_id, call.number_seq, now)

    def _verdict(self, agent: _Agent, human: bool | None) -> None:
        """Tell the pacer who answered the agent's last connected call (unknown: a person)."""
        if agent.verdict_due is not None:
            campaign_id, seq, connected = agent.verdict_due
            agent.verdict_due = None
            self._pacing(campaign_id, CallConnected(seq, connected, human is not False))

    def _redirect_failed(
        self, call_id: str, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        call = self.calls.get(call_id)
        if call is None or call.agent_id is None:
            return
        agent = self.agents.get(call.agent_id)
        call.agent_id = None
        if call.state is CallState.CONNECTING:
            # The channel is gone: no agent may be offered it again; its hangup closes it.
            self._call_to(call, CallState.ANSWERED)
        if agent is not None and agent.state is AgentState.RESERVED:
            agent.call_id = None
            self._move(agent, "release", now, out)
            self._serve_waiting(agent, now, wall, out)

    # -- endings --------------------------------------------------------------------------

    def _abandon(self, call: _Call, now: float, out: list[cmd.Command]) -> None:
        if call.abandoned:
            return
        call.abandoned = True
        campaign = self.campaigns.get(call.campaign_id)
        human = True if campaign is not None and campaign.setup.amd else None
        self._pacing(call.campaign_id, CallAbandoned(call.number_seq, now, human))
        if human is None and campaign is not None and isinstance(campaign.pacer, PredictivePacer):
            call.counted_human = campaign.pacer.last_abandon_counted
            if campaign.pacer.config.recount_after_s > 0:
                campaign.recount_ids[call.number_seq] = call.call_id

    def _failed(
        self, item: ev.CallFailed, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        call = self.calls.get(item.call_id)
        if call is None or call.state is CallState.ENDED:
            return
        # A call hung up while ringing is a no-answer for its retries, whatever Asterisk
        # reports for a channel it was told to hang up.
        outcome = Outcome.NO_ANSWER if call.cancelled else _FAILURES[item.outcome]
        paced = CallOutcome.CANCELLED if call.cancelled else _PACING_FAILURES[outcome]
        self._pacing(call.campaign_id, CallResolved(call.number_seq, now, paced))
        self._release_preview_agent(call, now, wall, out)
        self._close(
            call,
            outcome,
            now,
            wall,
            out,
            reason=item.reason,
            dial_status=item.dial_status,
            cause=item.cause,
        )

    def _release_preview_agent(
        self, call: _Call, now: float, wall: dt.datetime, out: list[cmd.Command]
    ) -> None:
        if call.preview_agent is None:
            return
        agent = self.agents.get(call.preview_agent)
        if (
            agent is not None
            and agent.state is AgentState.RESERVED
            and agent.call_id == call.call_id
        ):
            agent.call_id = None
            self._move(agent, "release", now, out)

    def _end(
        self,
        call: _Call,
        now: float,
        wall: dt.datetime,
        out: list[cmd.Command],
        *,
        cause: int | None,
    ) -> None:
        if call.state is CallState.CONNECTED:
            outcome = Outcome.ANSWERED_AGENT
        elif call.machine:
            outcome = Outcome.ANSWERED_MACHINE
        elif call.cancelled and call.state is CallState.DIALING:
            outcome = Outcome.NO_ANSWER
            self._pacing(
                call.campaign_id, CallResolved(call.number_seq, now, CallOutcome.CANCELLED)
            )
        elif call.state in (CallState.DIALING, CallState.UNKNOWN):
            outcome = Outcome.FAILED
        else:
            outcome = Outcome.ABANDONED
            self._abandon(call, now, out)
        agent = self.agents.get(call.agent_id) if call.agent_id else None
        if agent is not None and agent.call_id == call.call_id:
            if agent.state is AgentState.ON_CALL:
                campaign = self.campaigns.get(call.campaign_id)
                self._move(agent, "call_ended", now, out)
                if campaign is None or not campaign.setup.wrapup_enabled:
                    self._finish_wrap(agent, now, out, result=None, memo="")
                else:
                    agent.wrap_deadline = now + campaign.setup.wrapup_limit_s
            elif agent.state is AgentState.RESERVED:
                agent.call_id = None
                self._move(agent, "release", now, out)
                self._serve_waiting(agent, now, wall, out)
        else:
            self._release_preview_agent(call, now, wall, out)
        self._close(call, outcome, now, wall, out, cause=cause)

    def _close(
        self,
        call: _Call,
        outcome: Outcome,
        now: float,
        wall: dt.datetime,
        out: list[cmd.Command],
        *,
        reason: int | None = None,
        dial_status: str | None = None,
        cause: int | None = None,
    ) -> None:
        self._call_to(call, CallState.ENDED)
        campaign = self.campaigns.get(call.campaign_id)
        final = outcome in FINAL_OUTCOMES
        retry_at = None
        if campaign is not None and not final:
            rules = campaign.setup.rules
            rule = rules.retry.get(outcome)
            if rule is None or call.attempt >= rules.max_attempts:
                final = True
            else:
                retry_at = wall + dt.timedelta(seconds=rule.after_s)
        out.append(
            cmd.RecordOutcome(
                call_id=call.call_id,
                campaign_id=call.campaign_id,
                contact_id=call.contact_id,
                outcome=outcome,
                agent_id=call.agent_id,
                wall_at=wall,
                answered_at=call.answered_wall,
                connected_at=call.connected_wall,
                reason=reason,
                dial_status=dial_status,
                cause=cause,
                final=final,
                retry_at=retry_at,
                counted_human=call.counted_human if outcome is Outcome.ABANDONED else None,
            )
        )
        del self.calls[call.call_id]

    def _server_lost(
        self,
        server: str,
        *,
        call_ids: frozenset[str],
        agent_ids: frozenset[str],
        now: float,
        wall: dt.datetime,
        out: list[cmd.Command],
    ) -> None:
        for call in list(self.calls.values()):
            # A call whose Originate was never acknowledged may be on any server; the first
            # snapshot without it settles it (its customer is guarded by the dialplan).
            on_server = call.server == server or (
                call.server is None and call.state is CallState.UNKNOWN
            )
            if on_server and call.call_id not in call_ids:
                self._end(call, now, wall, out, cause=None)
        for agent in self.agents.values():
            if (
                agent.server == server
                and agent.agent_id not in agent_ids
                and agent.state
                not in (
                    AgentState.LOGGED_OUT,
                    AgentState.CONNECTING,
                )
            ):
                self._logout(agent, now, out, hang_up=False)

    def _recovered(self, item: RecoveredCall, now: float) -> None:
        call = _Call(
            call_id=item.call_id,
            number_seq=next(self._seq),
            campaign_id=item.campaign_id,
            contact_id=item.contact_id,
            number=item.number,
            attempt=item.attempt,
            placed_at=now,
            state=item.state,
            server=item.server,
            agent_id=item.agent_id,
        )
        self._add_call(call)

    # -- agents ---------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> _Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise NotFoundError(f"agent {agent_id} is not logged in")
        return agent

    def _login(self, item: AgentLogin, now: float, out: list[cmd.Command]) -> None:
        self._campaign(item.campaign_id)
        agent = self.agents.get(item.agent_id)
        if agent is None:
            agent = _Agent(item.agent_id, len(self.agents) + 1, item.endpoint, item.campaign_id)
            self.agents[item.agent_id] = agent
        elif agent.state is not AgentState.LOGGED_OUT:
            raise ConflictError(f"agent {item.agent_id} is already {agent.state.value}")
        else:
            self._index_agent(agent, present=False)
        agent.endpoint = item.endpoint
        agent.campaign_id = item.campaign_id
        self._index_agent(agent, present=True)
        self._move(agent, "login", now, out)
        out.append(
            cmd.CallAgentPhone(
                item.agent_id, item.endpoint, self._campaign(item.campaign_id).setup.servers
            )
        )

    def _logout(self, agent: _Agent, now: float, out: list[cmd.Command], *, hang_up: bool) -> None:
        if agent.state is AgentState.LOGGED_OUT:
            raise ConflictError(f"agent {agent.agent_id} is not logged in")
        call = self.calls.get(agent.call_id) if agent.call_id else None
        self._move(agent, "logout" if hang_up else "session_gone", now, out)
        agent.wrap_deadline = None
        agent.offer = None
        self.offers.pop(agent.agent_id, None)
        if call is not None and call.state is not CallState.ENDED and call.server:
            out.append(cmd.HangupCall(call.call_id, call.server))
        if hang_up and agent.server:
            out.append(cmd.HangupAgentPhone(agent.agent_id, agent.server))
        agent.call_id = None

    def _finish_wrap(
        self,
        agent: _Agent,
        now: float,
        out: list[cmd.Command],
        *,
        result: int | None,
        memo: str,
        human: bool | None = None,
    ) -> None:
        if agent.call_id is not None:
            # The verdict is kept with the call: a restarted pacer must not count a machine
            # an agent dismissed as a live answer, as this run's pacer did not.
            out.append(cmd.RecordDisposition(agent.call_id, agent.agent_id, result, memo, human))
        agent.wrap_deadline = None
        agent.call_id = None
        self._move(agent, "wrapped_up", now, out)

    def _move(
        self,
        agent: _Agent,
        event: str,
        now: float,
        out: list[cmd.Command],
        *,
        call: _Call | None = None,
    ) -> None:
        new = AGENT_TRANSITIONS.get((agent.state, event))
        if new is None:
            raise ConflictError(
                f"agent {agent.agent_id} cannot {event.replace('_', ' ')} while {agent.state.value}"
            )
        self._index_agent(agent, present=False)
        agent.state = new
        self._index_agent(agent, present=True)
        agent.since = now
        if new not in (AgentState.ON_CALL, AgentState.WRAP_UP):
            self._verdict(agent, None)  # no result will say: count a person
        activity = _ACTIVITY.get(new, AgentActivity.AWAY)
        # The pacer learns which answer the agent took: a likely machine frees it sooner.
        seq = call.number_seq if call is not None else None
        self._pacing(agent.campaign_id, AgentChanged(agent.number, now, activity, seq))
        out.append(cmd.AgentStatus(agent.agent_id, new.value, agent.call_id, agent.reason))

    def _clock(self, now: float, wall: dt.datetime) -> None:
        if wall is self._clock_wall and now == self._clock_now:
            return  # inputs come in bursts at one instant: the offset is known
        if wall.tzinfo is None:
            raise ValueError("wall_now must be timezone-aware")
        self._wall_offset = wall.timestamp() - now
        self._clock_wall, self._clock_now = wall, now
