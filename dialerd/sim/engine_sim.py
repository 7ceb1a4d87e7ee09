"""The virtual-time simulator driving the real engine: the daemon's ``Dialer``, its pacer,
its compliance gate and its state machines, with the benchmark's model playing Asterisk.

The model answers the ``Dialer``'s commands the way the shipped dialplan and the simulated
Asterisk do, on a heap of timed events (no fixed tick):

- ``ClaimContacts`` is answered at once with the next leads of the seed's lead file
  (common random numbers: every policy meets the same attempts in the same order);
- an ``Originate`` plays out as its attempt: ``CallFailed`` with Asterisk's ``Reason``
  (busy 5, no answer 3, invalid 0 with cause 1), or ``CallAnswered`` and then
  ``CustomerReady`` (at the end of the greeting in the US regime, at the answer in the UK
  one; after the AMD verdict when AMD is on) or ``MachineDetected``;
- the dialplan's hold timer: a customer not connected ``hold_s`` after ``CustomerReady``
  gets ``SafeHarborPlayed`` and is hung up — an abandon;
- a ``Redirect`` connects at once (``AgentConnected``); the customer hangs up after its
  talk time (a machine after the agent's handling time), and the agent sets a result
  after its wrap-up time (at once after a machine).

Metrics follow the benchmark (``bench/pacing-benchmark.md``): occupancy is human talk time
inside the shift over logged-in agent time; the abandon rate is abandoned humans (AMD
false positives included) over live answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dialerd.core import commands as cmd
from dialerd.core import compliance
from dialerd.core import events as ev
from dialerd.core.compliance import MIN_RING_BEFORE_CANCEL_S, Candidate, Rules
from dialerd.core.dialer import (
    AgentLogin,
    AgentLogout,
    CampaignSetup,
    Claimed,
    ContactsClaimed,
    Dialer,
    Disposition,
    Input,
    StartCampaign,
)
from dialerd.core.model import BusinessHours, DialMode
from dialerd.core.pacing import CallAbandoned, Pacer, PacingFact, PacingView
from dialerd.core.schedule import LocalHours, Schedule
from dialerd.sim.scenario import Attempt, LeadFile, Outcome, Regime, Scenario
from dialerd.sim.vsim import SimResult, TimelineRecorder, result_of, staff

__all__ = ["simulate_engine"]

_SERVER = "vsim"
_CAMPAIGN = 1
_EPOCH = dt.datetime(2026, 1, 5, 0, 0, tzinfo=dt.UTC)
_ALWAYS = Rules(
    Schedule.build("UTC", [BusinessHours(d, dt.time(0), dt.time(0)) for d in range(7)]),
    local_hours=LocalHours(dt.time(0), dt.time(0)),
    max_attempts=1,
)
_FAILED = {
    Outcome.BUSY: (5, "BUSY", 17),
    Outcome.NO_ANSWER: (3, None, 19),
    Outcome.INVALID: (0, None, 1),
}


@dataclass(slots=True)
class _Call:
    attempt: Attempt
    human: bool
    ready_at: float | None = None
    connected_at: float | None = None
    ended: bool = False
    deadline: float | None = None  # the benchmark's clock (greeting_clock): hold ends
    resolves_at: float = 0.0
    rang_at: float | None = None


class _CallersTold:
    """Passes the facts on to ``pacer``, telling it who answered each abandoned call.

    No dialer can know this without AMD (nobody heard the caller); the analyses use it to
    measure what estimating the callers costs the pacer.
    """

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self.abandoned_human: bool | None = None  # set while an abandon is being fed

    def decide(self, view: PacingView, now: float) -> int:
        return self.pacer.decide(view, now)

    def observe(self, fact: PacingFact) -> None:
        if isinstance(fact, CallAbandoned) and fact.human is None:
            fact = dataclasses.replace(fact, human=self.abandoned_human)
        self.pacer.observe(fact)

    def next_deadline(self) -> float | None:
        return self.pacer.next_deadline()

    def cancels(self) -> Sequence[int]:
        return self.pacer.cancels()


class _Model:
    """Plays Asterisk, the customers and the agents around one ``Dialer``."""

    def __init__(
        self,
        scenario: Scenario,
        pacer: Pacer,
        leads: LeadFile,
        *,
        callers_known: bool = False,
        history: tuple[tuple[float, compliance.Outcome, float | None], ...] = (),
        records: list[cmd.RecordOutcome | cmd.RecordDisposition] | None = None,
        greeting_clock: bool = False,
    ) -> None:
        self.scenario = scenario
        self.greeting_clock = greeting_clock
        hold_s = scenario.hold_s
        if greeting_clock and scenario.regime is Regime.US:
            # The Dialer cannot know when a greeting ends: it is given the longest hold a
            # call can have, and each call's own deadline is kept here.
            hold_s += scenario.greeting_s.high_s
        self.records = records
        self.told = _CallersTold(pacer) if callers_known else None
        self.leads = leads
        self.next_lead = 0
        ids = itertools.count(1)
        self.dialer = Dialer(new_call_id=lambda: f"{next(ids):032x}")
        self.heap: list[tuple[float, int, Callable[[float], None]]] = []
        self.seq = itertools.count()
        self.calls: dict[str, _Call] = {}
        self.agents_in = 0
        self.agent_names = (f"a{i}" for i in itertools.count())
        self.idle_agents: list[str] = []
        self.leaving = 0
        self.shift_end = scenario.shift_s
        self.setup = CampaignSetup(
            campaign_id=_CAMPAIGN,
            mode=DialMode.PREDICTIVE,
            rules=_ALWAYS,
            amd=scenario.amd.enabled,
            hold_ms=int(hold_s * 1000),
            wrapup_enabled=True,
            wrapup_limit_s=86_400,
            max_lines_per_agent=scenario.max_lines_per_agent,
            ring_timeout_s=int(max(15, scenario.ring_timeout_s)),
            abandon_target=scenario.abandon_target,
            history=history,
            pacer=self.told or pacer,
        )
        # metrics
        self.talk_s = 0.0
        self.agent_time_s = 0.0
        self.idle_time_s = 0.0
        self.busy_s = 0.0
        self.lines_area = 0.0
        self.live_answered = 0
        self.abandoned = 0
        self.amd_false_positives = 0
        self.dials = 0
        self.live_connects = 0
        self.machine_connects = 0
        self.rings_cancelled = 0
        self.rings_cancelled_before_15s = 0
        self.peak_lines = 0.0
        self._last_t = 0.0
        self._idle = 0
        self._logged = 0
        self._lines = 0
        self._talking = 0
        self._agent_was: dict[str, str] = {}
        self._wall_at = 0.0
        self._wall = _EPOCH

    # -- plumbing -----------------------------------------------------------------------

    def at(self, when: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self.heap, (when, next(self.seq), action))

    def feed(self, item: Input, now: float) -> None:
        self.run(self.dialer.handle(item, now, self.wall(now)), now)

    def timer(self, now: float) -> None:
        self.run(self.dialer.handle_timer(now, self.wall(now)), now)

    def wall(self, now: float) -> dt.datetime:
        # Most inputs come in bursts at one instant: the datetime is built once per instant.
        if now != self._wall_at:
            self._wall_at = now
            self._wall = _EPOCH + dt.timedelta(seconds=now)
        return self._wall

    def advance(self, now: float) -> None:
        t = min(now, self.shift_end)
        if t > self._last_t:
            span = t - self._last_t
            self.agent_time_s += self._logged * span
            self.idle_time_s += self._idle * span
            self.busy_s += (self._logged - self._idle) * span
            # Talk is integrated as it happens (not booked whole at the connection), so
            # that the timeline's steps each get the talk made in them.
            self.talk_s += self._talking * span
            self.lines_area += self._lines * span
            self._last_t = t

    # -- the engine's commands ------------------------------------------------------------

    def run(self, commands: list[cmd.Command], now: float) -> None:
        # The most frequent first: this runs for every command of the shift.
        for c in commands:
            if isinstance(c, cmd.AgentStatus):
                self._agent_state(c.agent_id, c.state, now)
            elif isinstance(c, cmd.Originate):
                self._originate(c.call_id, int(c.number[2:]), now)
            elif isinstance(c, cmd.ClaimContacts):
                self.feed(ContactsClaimed(c.campaign_id, self._claim(c.count, now)), now)
            elif isinstance(c, cmd.Redirect):
                self._connect(c.call_id, c.agent_id, now)
            elif isinstance(c, cmd.HangupCall):
                self._hang_up_ringing(c.call_id, now)
            elif self.records is not None and isinstance(
                c, cmd.RecordOutcome | cmd.RecordDisposition
            ):
                self.records.append(c)
            elif self.records is not None and isinstance(c, cmd.RecountAbandon):
                self._recount(c)

    def _recount(self, c: cmd.RecountAbandon) -> None:
        # As the store does: the abandon's record, once written, takes the new count.
        assert self.records is not None
        for i in range(len(self.records) - 1, -1, -1):  # a recent one: from the end
            record = self.records[i]
            if isinstance(record, cmd.RecordOutcome) and record.call_id == c.call_id:
                self.records[i] = dataclasses.replace(record, counted_human=c.counted_human)
                return

    def _claim(self, count: int, now: float) -> tuple[Claimed, ...]:
        if now >= self.shift_end:
            return ()
        out = []
        for _ in range(count):
            i = self.next_lead
            self.next_lead += 1
            out.append(Claimed(Candidate(i, f"+1{i:010d}", ("UTC",)), on_dnc=False))
        return tuple(out)

    def _originate(self, call_id: str, lead: int, now: float) -> None:
        # The claimed contact's number carries the lead's index (see _claim).
        attempt = self.leads[lead].resolve(self.scenario, self.scenario.outcomes_at(now))
        call = _Call(attempt, attempt.outcome is Outcome.LIVE)
        call.resolves_at = now + attempt.resolved_after_s
        self.calls[call_id] = call
        self.dials += 1
        self._lines += 1
        if self._logged:
            self.peak_lines = max(self.peak_lines, self._lines / self._logged)
        self.feed(ev.CallQueued(_SERVER, call_id), now)
        self.at(now + attempt.resolved_after_s, lambda t: self._resolve(call_id, t))
        if attempt.post_dial_delay_s < attempt.resolved_after_s:
            self.at(now + attempt.post_dial_delay_s, lambda t: self._rang(call_id, t))

    def _rang(self, call_id: str, now: float) -> None:
        call = self.calls[call_id]
        if not call.ended:
            call.rang_at = now
            self.feed(ev.CallRinging(_SERVER, call_id), now)

    def _hang_up_ringing(self, call_id: str, now: float) -> None:
        # The Dialer hangs up a call while it rings when the pacer takes it back. A hangup
        # after the answer (an agent logging out mid-call) is left to the model, which
        # ends its calls itself.
        call = self.calls[call_id]
        if call.ended or now >= call.resolves_at:
            return
        if call.rang_at is None or now - call.rang_at < MIN_RING_BEFORE_CANCEL_S:
            self.rings_cancelled_before_15s += 1
        self.rings_cancelled += 1
        self._end_line(call)
        reason, status, cause = _FAILED[Outcome.NO_ANSWER]
        self.feed(ev.CallFailed(_SERVER, call_id, reason, status, cause), now)

    def _resolve(self, call_id: str, now: float) -> None:
        call = self.calls[call_id]
        if call.ended:
            return  # hung up while ringing
        attempt = call.attempt
        if call.human:
            self.live_answered += 1
        if not attempt.answered:
            reason, status, cause = _FAILED[attempt.outcome]
            self._end_line(call)
            self.feed(ev.CallFailed(_SERVER, call_id, reason, status, cause), now)
            return
        self.feed(ev.CallAnswered(_SERVER, call_id), now)
        greeting = attempt.greeting_s if self.scenario.regime is Regime.US else 0.0
        if self.greeting_clock:
            call.deadline = now + greeting + self.scenario.hold_s
        if attempt.verdict_after_answer_s is not None:
            self.at(now + attempt.verdict_after_answer_s, lambda t: self._verdict(call_id, t))
        elif self.greeting_clock:
            self._ready(call_id, now)
        else:
            self.at(now + greeting, lambda t: self._ready(call_id, t))

    def _verdict(self, call_id: str, now: float) -> None:
        call = self.calls[call_id]
        if call.attempt.routed:
            self._ready(call_id, now)
            return
        if call.human:
            self.abandoned += 1
            self.amd_false_positives += 1
        self.feed(ev.MachineDetected(_SERVER, call_id), now)
        self._hang_up(call_id, now)

    def _ready(self, call_id: str, now: float) -> None:
        call = self.calls[call_id]
        call.ready_at = now
        self.feed(ev.CustomerReady(_SERVER, call_id), now)
        deadline = now + self.scenario.hold_s if call.deadline is None else max(now, call.deadline)
        self.at(deadline, lambda t: self._hold_timer(call_id, t))

    def _hold_timer(self, call_id: str, now: float) -> None:
        call = self.calls[call_id]
        if call.connected_at is not None or call.ended:
            return
        if call.human:
            self.abandoned += 1
        if self.told is not None:
            self.told.abandoned_human = call.human
        self.feed(ev.SafeHarborPlayed(_SERVER, call_id), now)
        if self.told is not None:
            self.told.abandoned_human = None
        self._hang_up(call_id, now)

    def _connect(self, call_id: str, agent_id: str, now: float) -> None:
        call = self.calls[call_id]
        if call.ended or call.connected_at is not None:
            return
        call.connected_at = now
        self.feed(ev.AgentConnected(_SERVER, call_id, agent_id), now)
        if call.human:
            self.live_connects += 1
            self._talking += 1
            self.at(
                now + call.attempt.talk_s,
                lambda t: self._after_call(call_id, agent_id, t, call.attempt.wrap_s),
            )
        else:
            self.machine_connects += 1
            handling = call.attempt.machine_handling_s
            self.at(now + handling, lambda t: self._after_call(call_id, agent_id, t, 0.0))

    def _after_call(self, call_id: str, agent_id: str, now: float, wrap_s: float) -> None:
        self._hang_up(call_id, now)
        human = self.calls[call_id].human
        if human:
            self._talking -= 1
        self.at(now + wrap_s, lambda t: self._dispose(agent_id, human, t))

    def _dispose(self, agent_id: str, human: bool, now: float) -> None:
        # The agent's result says whether a person or a machine answered.
        if self.dialer.agents[agent_id].state.value == "wrap_up":
            self.feed(Disposition(agent_id, None, human=human), now)

    def _hang_up(self, call_id: str, now: float) -> None:
        call = self.calls[call_id]
        if call.ended:
            return
        self._end_line(call)
        self.feed(ev.ChannelHungUp(_SERVER, ev.Party.CALL, call_id, ev.Leg.CUSTOMER, 16, ""), now)

    def _end_line(self, call: _Call) -> None:
        call.ended = True
        self._lines -= 1

    # -- agents ---------------------------------------------------------------------------

    def log_in(self, now: float) -> None:
        name = next(self.agent_names)
        self.feed(AgentLogin(name, f"Local/{name}@sim-agents", _CAMPAIGN), now)
        self.feed(ev.AgentSessionReady(_SERVER, name), now)

    def log_out(self, now: float) -> None:
        ready = [a for a in self.dialer.agents.values() if a.state.value == "ready"]
        if ready:
            self.feed(AgentLogout(min(ready, key=lambda a: a.since).agent_id), now)
        else:
            self.leaving += 1

    def _agent_state(self, agent_id: str, state: str, now: float) -> None:
        self.advance(now)
        was = self._agent_was.get(agent_id, "logged_out")
        self._agent_was[agent_id] = state
        active = ("ready", "reserved", "on_call", "wrap_up")
        self._logged += (state in active) - (was in active)
        self._idle += (state == "ready") - (was == "ready")
        if state == "ready" and self.leaving:
            self.leaving -= 1
            self.feed(AgentLogout(agent_id), now)


def simulate_engine(
    scenario: Scenario,
    pacer: Pacer,
    seed: int,
    *,
    policy: str = "",
    leads: LeadFile | None = None,
    timeline_step_s: float = 900.0,
    callers_known: bool = False,
    history: tuple[tuple[float, compliance.Outcome, float | None], ...] = (),
    records: list[cmd.RecordOutcome | cmd.RecordDisposition] | None = None,
    greeting_clock: bool = False,
) -> SimResult:
    """Run one shift of ``scenario`` through the real ``Dialer`` paced by ``pacer``.

    ``callers_known`` (analysis only) tells the pacer who answered each call abandoned
    without AMD, which a real dialer cannot know. ``history`` is the campaign's stored live
    answers before the shift (``CampaignSetup.history``; the shift starts at wall time
    2026-01-05 00:00 UTC), and ``records``, if given, receives every outcome and result the
    Dialer records, as the daemon's store would.

    A call can be given to an agent from the dialplan's ready signal (after AMD's verdict,
    if on) until ``hold_s`` after it, as the shipped dialplan runs the hold; in the US
    regime the signal is taken to come when the greeting ends, where the law's 2 seconds
    start, so no agent can take the call during the greeting. ``greeting_clock``
    (analysis only) runs the benchmark's model instead, as the model floor does: a call
    can be given to an agent from its answer (or AMD's verdict) until ``hold_s`` after its
    greeting ends, which a dialer could do only if it heard where greetings end.
    """
    model = _Model(
        scenario,
        pacer,
        leads or LeadFile(scenario, seed),
        callers_known=callers_known,
        history=history,
        records=records,
        greeting_clock=greeting_clock,
    )
    model.feed(ev.LinkUp(_SERVER, 0), 0.0)
    model.feed(StartCampaign(model.setup), 0.0)
    staff(scenario, model, model.at)

    timeline = TimelineRecorder(model, timeline_step_s, model.shift_end)
    now = 0.0
    # Once per event: the model's attributes are looked up once, not on every turn.
    heap, dialer, shift_end, pop = model.heap, model.dialer, model.shift_end, heapq.heappop
    while True:
        deadline = dialer.get_timer()
        tick = deadline if deadline is not None and deadline > now else None
        if heap and (tick is None or heap[0][0] <= tick):
            now = heap[0][0]
            timeline.reach(now)
            model.advance(now)
            while heap and heap[0][0] == now:
                pop(heap)[2](now)
        elif tick is not None and tick < shift_end:
            now = tick
            timeline.reach(now)
            model.advance(now)
            model.timer(now)
        else:
            break
        if now >= shift_end and dialer.in_flight() == 0:
            break
    # The last events may come before the shift ends: the steps left close at its end.
    timeline.reach(model.shift_end)
    model.advance(model.shift_end)

    return result_of(
        model,
        scenario,
        policy=policy or type(pacer).__name__,
        seed=seed,
        peak_lines_per_agent=model.peak_lines,
        timeline=timeline.points,
    )
