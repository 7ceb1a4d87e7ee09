"""The service: feeds facts to the Dialer and carries out the commands it returns.

It is the only place where the engine meets I/O. One task consumes the AMI event stream,
one wakes the Dialer at its deadlines; both hand their input to :meth:`Service.feed`, which
runs the Dialer and then the commands in order. Store writes are awaited in that order (an
attempt is durable before its Originate leaves); AMI actions are sent as tasks so that a
slow answer never holds up the next event, and their failures come back as facts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import structlog

from dialerd import numbers
from dialerd.adapters.ami import Dial
from dialerd.adapters.ami_pool import AmiPool
from dialerd.ami import contract
from dialerd.claims import ClaimBuffer
from dialerd.config import Config
from dialerd.core import commands as cmd
from dialerd.core import events as ev
from dialerd.core.compliance import (
    DEFAULT_RETRY_RULES,
    Attempt,
    Candidate,
    Outcome,
    Refusal,
    RetryRule,
    Rules,
)
from dialerd.core.dialer import (
    AgentLogin,
    CallState,
    CampaignSetup,
    Claimed,
    ContactsClaimed,
    Dialer,
    Input,
    PreviewChoice,
    RecoveredCall,
    RedirectFailed,
    StartCampaign,
    StopCampaign,
)
from dialerd.core.model import (
    ABANDON_WINDOWS_S,
    Campaign,
    CampaignState,
    DialMode,
    amd_outspends_target,
    parse_local_hours,
    parse_retry_rules,
)
from dialerd.core.schedule import LocalHours, Schedule
from dialerd.errors import DialerdError
from dialerd.ports import ClaimedContact, Store

log = structlog.get_logger("dialerd.service")

Clock = Callable[[], float]
WallClock = Callable[[], dt.datetime]


class _Timer:
    """The engine's deadline passed (an input of its own, queued like the others)."""


_TIMER = _Timer()


def _wall() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def campaign_setup(store: Store, campaign: Campaign, config: Config) -> CampaignSetup:
    """Everything the engine needs about a campaign, read from the store."""
    from dialerd.admin import public_holidays  # noqa: PLC0415 - avoids an import cycle

    s = campaign.settings
    year = _wall().year
    holidays = {**public_holidays(campaign, year), **public_holidays(campaign, year + 1)}
    schedule = Schedule.build(
        s.timezone,
        await store.business_hours(campaign.id),
        await store.exceptions(campaign.id),
        holidays,
        await store.run_windows(campaign.id),
    )
    return CampaignSetup(
        campaign_id=campaign.id,
        mode=s.dial_mode,
        rules=Rules(
            schedule,
            local_hours=_local_hours(s.local_hours),
            max_attempts=s.max_attempts,
            retry=_retry_rules(s.retry_rules),
        ),
        route=s.route or config.engine.route,
        caller_id=s.caller_id,
        present_caller_id=s.present_caller_id,
        ring_timeout_s=s.ring_timeout_s,
        amd=s.amd_enabled,
        wrapup_enabled=s.wrapup_enabled,
        wrapup_limit_s=s.wrapup_limit_s,
        power_ratio=s.power_ratio,
        max_lines_per_agent=config.engine.max_lines_per_agent,
        servers=s.ami_servers,
        abandon_target=s.abandon_target,
        abandon_window_s=ABANDON_WINDOWS_S[s.abandon_regime],
        amd_false_positive_rate=s.amd_false_positive_rate,
        abandon_reserve_sd=s.abandon_reserve_sd,
        take_back_ringing=s.take_back_ringing,
    )


def _local_hours(text: str) -> LocalHours:
    parsed = parse_local_hours(text)
    if parsed is None:  # validated on save; an old row is read with the legal default
        return LocalHours()
    return LocalHours(*parsed)


def _retry_rules(text: str) -> dict[Outcome, RetryRule]:
    rules = dict(DEFAULT_RETRY_RULES)
    for outcome, (minutes, times) in (parse_retry_rules(text) or {}).items():
        rules[Outcome(outcome)] = RetryRule(after_s=minutes * 60, max_times=times)
    return rules


def to_candidate(c: ClaimedContact) -> Candidate:
    """A stored contact and its history, as the compliance gate reads it."""
    contact = c.contact
    zones = (contact.timezone,) if contact.timezone else numbers.time_zones(contact.phone)
    return Candidate(
        contact_id=contact.id,
        number=contact.phone,
        zones=zones,
        attempts=tuple(_attempt(at, outcome) for at, outcome in c.attempts),
        number_history=tuple(_attempt(at, outcome) for at, outcome in c.number_history),
    )


def _attempt(at: float, outcome: str) -> Attempt:
    try:
        kind = Outcome(outcome)
    except ValueError:
        kind = Outcome.FAILED
    return Attempt(dt.datetime.fromtimestamp(at, dt.UTC), kind)


class Service:
    """Runs the Dialer against the store and the AMI pool."""

    def __init__(
        self,
        config: Config,
        store: Store,
        pool: AmiPool,
        *,
        dialer: Dialer | None = None,
        clock: Clock = time.monotonic,
        wall: WallClock = _wall,
    ) -> None:
        self.config = config
        self.store = store
        self.pool = pool
        self.dialer = dialer or Dialer()
        self.clock = clock
        self.wall = wall
        self.claimer = config.node_name
        self.sessions: dict[str, str] = {}
        self.lock_s: dict[int, float] = {}
        self.auto_agents = config.engine.auto_agents
        self.agent_emails: dict[str, str] = {}
        self._rearm = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inbox: deque[Input | _Timer] = deque()
        self._feeding = False
        self.stopping = False
        self.idle = asyncio.Event()
        self.redirect_latency: list[float] = []
        self.claims = ClaimBuffer(
            store,
            self.claimer,
            clock=clock,
            wall=wall,
            lock_s=lambda campaign_id: self.lock_s.get(campaign_id, 0.0),
        )
        self._ready_at: dict[str, float] = {}

    # -- start-up -------------------------------------------------------------------------

    async def recover(self) -> int:
        """Release claims that never became calls and reload calls that were in flight."""
        released = await self.store.release_stale_claims()
        calls = await self.store.open_calls()
        for c in calls:
            state = {
                "dialing": CallState.UNKNOWN,
                "answered": CallState.ANSWERED,
                "connected": CallState.CONNECTED,
            }.get(c.state, CallState.UNKNOWN)
            await self.feed(
                RecoveredCall(
                    c.call_id,
                    c.campaign_id,
                    c.contact_id,
                    c.number,
                    c.attempt,
                    state,
                    c.server or None,  # never acknowledged: any server may tell
                    c.agent_id,
                )
            )
        log.info("recovered", released_claims=released, calls_in_flight=len(calls))
        return len(calls)

    async def start_campaigns(self) -> list[int]:
        """Start every campaign the store says is running, and its agents if automatic."""
        started = []
        for campaign in await self.store.list_campaigns():
            if campaign.state is not CampaignState.RUNNING:
                continue
            setup = await campaign_setup(self.store, campaign, self.config)
            self.lock_s[campaign.id] = float(campaign.settings.lock_time_s)
            for agent in await self.store.agents(campaign.id):
                self.agent_emails[agent.id] = agent.email
            if campaign.settings.agent_owned:
                await self._report_owner_problems(campaign.id)
            await self.feed(StartCampaign(setup))
            started.append(campaign.id)
            log.info("campaign_started", campaign=campaign.id, mode=setup.mode.value)
            if amd_outspends_target(campaign.settings):
                # Never claim compliance it cannot have: every false positive is an
                # abandoned call whatever the pacing.
                log.warning(
                    "amd_false_positives_exceed_abandon_target",
                    campaign=campaign.id,
                    amd_false_positive_rate=setup.amd_false_positive_rate,
                    abandon_target=setup.abandon_target,
                    pacing="progressive",
                )
        if self.auto_agents:
            seen: set[str] = set()
            for campaign_id in started:
                for agent in await self.store.agents(campaign_id):
                    if agent.id not in seen:
                        seen.add(agent.id)
                        await self.feed(AgentLogin(agent.id, agent.endpoint, campaign_id))
        return started

    async def _report_owner_problems(self, campaign_id: int) -> None:
        """Records whose owner is no assigned agent are never given to anyone: say so."""
        for contact_id, owner in await self.store.owner_problems(campaign_id):
            log.error("unknown_owner", campaign=campaign_id, contact=contact_id, owner=owner)
            await self.store.record_refusal(
                campaign_id,
                contact_id,
                reason=Refusal.UNKNOWN_OWNER.value,
                final=False,
                retry_at=None,
                at=self.wall(),
            )

    # -- the loop -------------------------------------------------------------------------

    async def consume(self, events: Any) -> None:
        """Feed every AMI fact to the engine, in order."""
        async for event in events:
            if isinstance(event, ev.CustomerReady):
                self._ready_at[event.call_id] = self.clock()
            await self._note_progress(event)
            await self.feed(event)

    async def timers(self) -> None:
        """Wake the engine at its deadlines; re-armed whenever the engine was fed."""
        while True:
            self._rearm.clear()
            deadline = self.dialer.get_timer()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the event, and the task would never stop.
                async with asyncio.timeout(timeout):
                    await self._rearm.wait()
            except TimeoutError:
                if not self._feeding:
                    await self.feed(_TIMER)
                    continue
                if _TIMER not in self._inbox:
                    self._inbox.append(_TIMER)
                await self._rearm.wait()  # the feeder sets it once it has handled an input

    async def feed(self, item: Input | _Timer) -> None:
        """Hand one input to the engine and carry out what it asks.

        Inputs produced while commands run (a claim's answer, a failed Redirect) are queued
        and handled in order by the same call, never by recursion.
        """
        self._inbox.append(item)
        if self._feeding:
            return
        self._feeding = True
        try:
            while self._inbox:
                next_item = self._inbox.popleft()
                if isinstance(next_item, StartCampaign):
                    next_item = await self._with_history(next_item)
                now, wall = self.clock(), self.wall()
                try:
                    if isinstance(next_item, _Timer):
                        commands = self.dialer.handle_timer(now, wall)
                    else:
                        commands = self.dialer.handle(next_item, now, wall)
                except DialerdError as exc:
                    log.warning("input_refused", input=type(next_item).__name__, error=str(exc))
                    continue
                await self._run(commands)
                self._rearm.set()
        finally:
            self._feeding = False

    async def _with_history(self, item: StartCampaign) -> StartCampaign:
        """A predictive campaign's start, with its live answers in the regime window.

        Read by the feeder, between two inputs, so the store holds exactly the outcomes
        the engine has handled: a call ending meanwhile is queued and reaches the new
        pacer as a fact, counted once either way.
        """
        setup = item.setup
        if setup.mode is not DialMode.PREDICTIVE or setup.campaign_id in self.dialer.campaigns:
            return item
        since = self.wall() - dt.timedelta(seconds=setup.abandon_window_s)
        rows = await self.store.answer_history(setup.campaign_id, since=since)
        history = tuple((at, Outcome(outcome), counted) for at, outcome, counted in rows)
        abandons = [counted for _, o, counted in history if o is Outcome.ABANDONED]
        log.info(
            "abandon_history",
            campaign=setup.campaign_id,
            window_s=setup.abandon_window_s,
            live_answers=len(history),
            abandoned=len(abandons),
            # An abandon nobody heard, with no count recorded, counts as a person.
            counted_as_people=round(sum(1.0 if c is None else c for c in abandons), 2),
        )
        return StartCampaign(replace(setup, history=history))

    async def _run(self, commands: Sequence[cmd.Command]) -> None:
        for command in commands:
            try:
                await self._execute(command)
            except DialerdError as exc:
                log.warning("command_failed", command=type(command).__name__, error=str(exc))
        self._check_idle()

    async def _execute(self, c: cmd.Command) -> None:
        match c:
            case cmd.ClaimContacts(campaign_id, count, owner):
                await self._claim(campaign_id, count, owner)
            case cmd.RecordAttempt():
                await self.store.record_attempt(
                    c.call_id,
                    c.campaign_id,
                    c.contact_id,
                    c.number,
                    c.attempt,
                    agent_id=c.agent_id,
                    at=c.wall_at,
                )
            case cmd.Originate():
                self._spawn(self._originate(c))
            case cmd.Redirect(call_id, agent_id, _):
                self._spawn(self._redirect(call_id, agent_id))
            case cmd.HangupCall(call_id, _):
                self._spawn(self._quietly(self.pool.hangup_call(call_id)))
            case cmd.CallAgentPhone(agent_id, endpoint, _):
                self._spawn(self._call_agent(agent_id, endpoint))
            case cmd.HangupAgentPhone(agent_id, _):
                session = self.sessions.pop(agent_id, None)
                if session is not None:
                    self._spawn(self._quietly(self.pool.hangup_agent(session, agent_id)))
            case cmd.RecordOutcome():
                await self.store.record_outcome(c)
                log.info(
                    "call_ended", call=c.call_id, campaign=c.campaign_id, outcome=c.outcome.value
                )
            case cmd.RecountAbandon(call_id, counted):
                await self.store.recount_abandon(call_id, counted)
                log.info("abandon_recounted", call=call_id, counted_as_person=round(counted, 3))
            case cmd.RecordRefusal():
                await self.store.record_refusal(
                    c.campaign_id,
                    c.contact_id,
                    reason=c.reason.value,
                    final=c.final,
                    retry_at=c.retry_at,
                    at=c.wall_at,
                )
                log.info(
                    "call_refused",
                    campaign=c.campaign_id,
                    contact=c.contact_id,
                    reason=c.reason.value,
                )
            case cmd.RecordDisposition(call_id, _, result_id, memo, human):
                await self.store.record_disposition(call_id, result_id, memo, human=human)
            case cmd.OfferPreview(agent_id, campaign_id, contact_id, _):
                log.info(
                    "preview_offered", agent=agent_id, campaign=campaign_id, contact=contact_id
                )
                if self.auto_agents:
                    self._spawn(self.preview_choice(agent_id, dial=True))
            case cmd.AgentStatus(agent_id, state, call_id, reason):
                log.info("agent_state", agent=agent_id, state=state, call=call_id, reason=reason)

    async def preview_choice(self, agent_id: str, *, dial: bool) -> None:
        """A preview agent's decision; the number is checked against the lists again now."""
        on_dnc = None
        offer = self.dialer.offers.get(agent_id)
        if dial and offer is not None:
            campaign_id = self.dialer.agents[agent_id].campaign_id
            number = offer.candidate.number
            on_dnc = bool(await self.store.dnc_matches(numbers.dnc_keys(number), campaign_id))
        await self.feed(PreviewChoice(agent_id, dial, on_dnc))

    async def _claim(self, campaign_id: int, count: int, owner: str | None) -> None:
        if owner is None:
            # From the contacts claimed ahead: an import elsewhere must not hold the
            # engine up (see dialerd/claims.py).
            claimed = await self.claims.take(campaign_id, count)
        else:
            claimed = await self.store.claim_batch(
                campaign_id,
                count,
                now=self.wall(),
                claimer=self.claimer,
                owner=(owner, self.agent_emails.get(owner, "")),
                lock_s=self.lock_s.get(campaign_id, 0.0),
            )
        contacts = []
        for c in claimed:
            # The list check runs here, immediately before the engine decides to dial.
            matches = await self.store.dnc_matches(numbers.dnc_keys(c.contact.phone), campaign_id)
            contacts.append(Claimed(to_candidate(c), bool(matches)))
        next_due = None if contacts else await self.store.next_due(campaign_id)
        await self.feed(ContactsClaimed(campaign_id, tuple(contacts), owner, next_due))

    async def _originate(self, c: cmd.Originate) -> None:
        variables = [
            (contract.VAR_AMD, "1" if c.amd else "0"),
            (contract.VAR_HOLD_MS, str(c.hold_ms)),
        ]
        caller = c.caller_id if c.present_caller_id and c.caller_id else None
        dial = Dial(
            call_id=c.call_id,
            channel=c.route.format(number=c.number, digits=c.number.lstrip("+")),
            timeout_ms=c.timeout_ms,
            caller_id=caller,
            variables=tuple(variables),
        )
        try:
            await self.pool.originate_call(dial)
        except DialerdError as exc:
            # The pool also put CallNotPlaced on the event stream; the engine closes the call.
            log.warning("originate_failed", call=c.call_id, error=str(exc))

    async def _redirect(self, call_id: str, agent_id: str) -> None:
        ready = self._ready_at.pop(call_id, None)
        if ready is not None:
            self.redirect_latency.append(self.clock() - ready)
        try:
            await self.pool.redirect_to_agent(call_id, agent_id)
        except DialerdError as exc:
            await self.feed(RedirectFailed(call_id, str(exc)))

    async def _call_agent(self, agent_id: str, endpoint: str) -> None:
        session = uuid.uuid4().hex
        self.sessions[agent_id] = session
        try:
            await self.pool.originate_agent(session, agent_id, endpoint)
        except DialerdError as exc:
            log.warning("agent_call_failed", agent=agent_id, error=str(exc))
            await self.feed(ev.AgentSessionFailed("", agent_id, 0))

    async def _note_progress(self, event: ev.AmiEvent) -> None:
        match event:
            case ev.CallAnswered(server, call_id):
                await self.store.record_call_state(call_id, "answered", server=server)
            case ev.AgentConnected(server, call_id, agent_id):
                await self.store.record_call_state(call_id, "connected", agent_id=agent_id)
            case ev.CallQueued(server, call_id):
                await self.store.record_call_state(call_id, "dialing", server=server)
            case _:
                pass

    async def _quietly(self, action: Awaitable[None]) -> None:
        try:
            await action
        except DialerdError as exc:
            log.info("action_failed", error=str(exc))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- shutdown -------------------------------------------------------------------------

    async def stop_dialling(self) -> None:
        """Place no new calls; calls in progress go on."""
        self.stopping = True
        for campaign_id in list(self.dialer.campaigns):
            await self.feed(StopCampaign(campaign_id))
        released = await self.claims.release_all()
        if released:
            log.info("claims_released", contacts=released)
        self._check_idle()

    def _check_idle(self) -> None:
        if self.stopping and self.dialer.in_flight() == 0:
            self.idle.set()
