"""Virtual-time pacing simulator: hours of calling in seconds.

The benchmark's model (``dialerd.sim.scenario``) is played event by event (a heap of
timed events, no fixed tick) against a pacer from ``dialerd.core.pacing``. The
bookkeeping of agents and calls (``Floor``: routing the longest-idle agent first,
answered calls waiting first-in first-out until their abandon deadline) is kept apart
from the event loop (``simulate``) so that the real ``Dialer`` can take its place.

Rules applied (units: seconds):

- an answered call routed to an agent must be connected by its deadline: US, answer +
  greeting + ``hold_s``; UK, answer + ``hold_s``; otherwise it is abandoned;
- the abandon rate is abandoned live calls (AMD false positives included) over live
  answers, over the whole shift;
- occupancy is talk time inside the shift over logged-in agent time; utilisation adds
  wrap-up and machine handling;
- a call rings from the end of its post-dial delay; the pacer may hang up a call still
  ringing (``Pacer.cancels``), which then never answers. The floor carries out what it
  is asked and counts a call cut short before 15 s of ringing, which the law forbids
  ("rings cancelled before 15 s", to stay 0);
- the pacer is asked after every batch of simultaneous events and at its deadlines.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dialerd.core.compliance import MIN_RING_BEFORE_CANCEL_S
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
    PacingFact,
    PacingView,
)
from dialerd.sim.scenario import Attempt, LeadFile, Outcome, Regime, Scenario

__all__ = [
    "Floor",
    "SimResult",
    "Tally",
    "Team",
    "TimelinePoint",
    "TimelineRecorder",
    "result_of",
    "simulate",
    "staff",
]

_OUTCOME = {
    Outcome.BUSY: CallOutcome.BUSY,
    Outcome.INVALID: CallOutcome.INVALID,
    Outcome.NO_ANSWER: CallOutcome.NO_ANSWER,
}


@dataclass(slots=True)
class _Agent:
    agent_id: int
    activity: AgentActivity
    since: float
    leaving: bool = False


@dataclass(slots=True)
class _Call:
    call_id: int
    attempt: Attempt
    placed_at: float
    deadline: float = 0.0
    agent_id: int | None = None
    rang_at: float | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Figures over one interval of the shift (for the plot)."""

    end_s: float
    occupancy: float
    abandon_rate: float  # cumulative, from the start of the shift
    lines_per_agent: float


@dataclass(frozen=True, slots=True)
class SimResult:
    """The benchmark's metrics for one run."""

    scenario: str
    policy: str
    seed: int
    agents: int
    shift_s: float
    abandon_target: float
    occupancy: float
    utilisation: float
    abandon_rate: float
    live_answered: int
    abandoned: int
    amd_false_positives: int
    dials: int
    live_connects: int
    machine_connects: int
    mean_wait_s: float
    dials_per_agent_hour: float
    live_connects_per_agent_hour: float
    mean_lines_per_agent: float
    peak_lines_per_agent: float
    rings_cancelled_before_15s: int
    rings_cancelled: int = 0  # ringing calls the pacer had hung up (after 15 s)
    timeline: tuple[TimelinePoint, ...] = field(default=(), repr=False)

    @property
    def under_target(self) -> bool:
        """Whether the abandon rate stayed within the target."""
        return self.abandon_rate <= self.abandon_target + 1e-12


class Floor:
    """Agents and calls: who is free, which calls ring, wait, talk; routing.

    Every change is reported to ``emit`` as a pacing fact; ``schedule(at, action)``
    arranges future work. Metrics are accumulated for the window ``[0, shift_s]``.
    """

    def __init__(
        self,
        scenario: Scenario,
        emit: Callable[[PacingFact], None],
        schedule: Callable[[float, Callable[[float], None]], None],
    ) -> None:
        self.scenario = scenario
        self._emit = emit
        self._schedule = schedule
        self.agents: dict[int, _Agent] = {}
        self.calls: dict[int, _Call] = {}
        self.waiting: deque[int] = deque()
        self.dialing = 0
        self._next_agent = itertools.count()
        self._next_call = itertools.count()
        self.logged_in = 0
        self.idle = 0
        self.talking = 0
        # metrics
        self.shift_end = scenario.shift_s
        self.talk_s = 0.0
        self.busy_s = 0.0
        self.agent_time_s = 0.0
        self.idle_time_s = 0.0
        self.live_answered = 0
        self.abandoned = 0
        self.amd_false_positives = 0
        self.dials = 0
        self.live_connects = 0
        self.machine_connects = 0
        self.rings_cancelled = 0
        self.rings_cancelled_before_15s = 0
        self.lines_area = 0.0
        self.peak_lines_per_agent = 0.0
        self._last_t = 0.0

    # -- time integrals -------------------------------------------------------------
    def advance(self, now: float) -> None:
        """Integrate lines and agent time up to ``now`` (capped at the shift end)."""
        t = min(now, self.shift_end)
        if t > self._last_t:
            dt = t - self._last_t
            self.lines_area += self.lines_in_use * dt
            self.agent_time_s += self.logged_in * dt
            self.idle_time_s += self.idle * dt
            self.talk_s += self.talking * dt
            self.busy_s += (self.logged_in - self.idle) * dt
            self._last_t = t

    @property
    def lines_in_use(self) -> int:
        """Every call with a line: dialing, waiting or connected."""
        return len(self.calls)

    def view(self) -> PacingView:
        """The aggregate state the pacer sees."""
        cap = int(self.scenario.max_lines_per_agent * self.logged_in + 1e-9)
        return PacingView(
            agents_logged_in=self.logged_in,
            agents_idle=self.idle,
            calls_dialing=self.dialing,
            calls_waiting=len(self.waiting),
            lines_in_use=self.lines_in_use,
            max_lines=cap,
        )

    # -- agents -----------------------------------------------------------------------
    def log_in(self, now: float) -> None:
        """One more agent, idle from now."""
        agent = _Agent(next(self._next_agent), AgentActivity.IDLE, now)
        self.agents[agent.agent_id] = agent
        self.logged_in += 1
        self.idle += 1
        self._emit(AgentChanged(agent.agent_id, now, AgentActivity.IDLE))
        self._route(now)

    def log_out(self, now: float) -> None:
        """One agent leaves: an idle one now, else the next to finish."""
        idle = [a for a in self.agents.values() if a.activity is AgentActivity.IDLE]
        if idle:
            agent = min(idle, key=lambda a: a.since)
            self._set(agent, AgentActivity.AWAY, now)
            return
        busy = [
            a
            for a in self.agents.values()
            if a.activity in (AgentActivity.TALK, AgentActivity.WRAP) and not a.leaving
        ]
        if busy:
            busy[0].leaving = True

    def _set(
        self, agent: _Agent, activity: AgentActivity, now: float, call_id: int | None = None
    ) -> None:
        if agent.activity is AgentActivity.IDLE:
            self.idle -= 1
        if activity is AgentActivity.IDLE and agent.leaving:
            activity = AgentActivity.AWAY
        if activity is AgentActivity.IDLE:
            self.idle += 1
        if activity is AgentActivity.AWAY:
            self.logged_in -= 1
            agent.leaving = False
        agent.activity = activity
        agent.since = now
        self._emit(AgentChanged(agent.agent_id, now, activity, call_id))

    # -- calls ------------------------------------------------------------------------
    def place(self, attempt: Attempt, now: float) -> None:
        """Start a call that will play out as ``attempt``."""
        call = _Call(next(self._next_call), attempt, now)
        self.calls[call.call_id] = call
        self.dialing += 1
        self.dials += 1
        self._emit(CallPlaced(call.call_id, now))
        self._schedule(now + attempt.resolved_after_s, lambda t: self._answer(call, t))
        if attempt.post_dial_delay_s < attempt.resolved_after_s:
            self._schedule(now + attempt.post_dial_delay_s, lambda t: self._rang(call, t))

    def _rang(self, call: _Call, now: float) -> None:
        if not call.cancelled:
            call.rang_at = now
            self._emit(CallRang(call.call_id, now))

    def cancel(self, call_id: int, now: float) -> None:
        """Hang up a call that is still ringing (as the Dialer would: 15 s of ringing)."""
        call = self.calls.get(call_id)
        if call is None or call.cancelled or call.rang_at is None:
            return
        if now >= call.placed_at + call.attempt.resolved_after_s:
            return  # it has resolved at this very instant: too late
        if now - call.rang_at < MIN_RING_BEFORE_CANCEL_S:
            self.rings_cancelled_before_15s += 1
        call.cancelled = True
        self.rings_cancelled += 1
        self.dialing -= 1
        del self.calls[call_id]
        self._emit(CallResolved(call_id, now, CallOutcome.CANCELLED))

    def _answer(self, call: _Call, now: float) -> None:
        if call.cancelled:
            return
        attempt = call.attempt
        if attempt.outcome is Outcome.LIVE:
            # Counted even when answered after the shift end: its fate counts too.
            self.live_answered += 1
        if not attempt.answered:
            self.dialing -= 1
            del self.calls[call.call_id]
            self._emit(CallResolved(call.call_id, now, _OUTCOME[attempt.outcome]))
            return
        if self.scenario.regime is Regime.US:
            call.deadline = now + attempt.greeting_s + self.scenario.hold_s
        else:
            call.deadline = now + self.scenario.hold_s
        if attempt.verdict_after_answer_s is None:
            self._route_call(call, now)
        else:
            self._schedule(now + attempt.verdict_after_answer_s, lambda t: self._verdict(call, t))

    def _verdict(self, call: _Call, now: float) -> None:
        if call.attempt.routed:
            self._route_call(call, now)
            return
        self.dialing -= 1
        del self.calls[call.call_id]
        if call.attempt.outcome is Outcome.LIVE:
            self.abandoned += 1
            self.amd_false_positives += 1
        self._emit(CallResolved(call.call_id, now, CallOutcome.SCREENED))

    def _route_call(self, call: _Call, now: float) -> None:
        self.dialing -= 1
        self._emit(CallResolved(call.call_id, now, CallOutcome.ROUTED))
        self.waiting.append(call.call_id)
        self._schedule(call.deadline, lambda t: self._deadline(call, t))
        self._route(now)

    def _deadline(self, call: _Call, now: float) -> None:
        if call.agent_id is not None or call.call_id not in self.calls:
            return
        self.waiting.remove(call.call_id)
        del self.calls[call.call_id]
        human = call.attempt.outcome is Outcome.LIVE
        if human:
            self.abandoned += 1
        known: bool | None = True if self.scenario.amd.enabled else None
        self._emit(CallAbandoned(call.call_id, now, known))

    def _route(self, now: float) -> None:
        while self.waiting and self.idle:
            call = self.calls[self.waiting.popleft()]
            agent = min(
                (a for a in self.agents.values() if a.activity is AgentActivity.IDLE),
                key=lambda a: (a.since, a.agent_id),
            )
            self._connect(call, agent, now)

    def _connect(self, call: _Call, agent: _Agent, now: float) -> None:
        call.agent_id = agent.agent_id
        attempt = call.attempt
        human = attempt.outcome is Outcome.LIVE
        self._set(agent, AgentActivity.TALK, now, call.call_id)
        self._emit(CallConnected(call.call_id, now, human))
        if human:
            self.live_connects += 1
            self.talking += 1
            self._schedule(now + attempt.talk_s, lambda t: self._hang_up(call, agent, t, True))
        else:
            self.machine_connects += 1
            self._schedule(
                now + attempt.machine_handling_s,
                lambda t: self._hang_up(call, agent, t, False),
            )

    def _hang_up(self, call: _Call, agent: _Agent, now: float, wrap: bool) -> None:
        del self.calls[call.call_id]
        if wrap:
            self.talking -= 1
            self._set(agent, AgentActivity.WRAP, now)
            self._schedule(now + call.attempt.wrap_s, lambda t: self._ready(agent, t))
        else:
            self._ready(agent, now)

    def _ready(self, agent: _Agent, now: float) -> None:
        self._set(agent, AgentActivity.IDLE, now)
        self._route(now)


def simulate(
    scenario: Scenario,
    pacer: Pacer,
    seed: int,
    *,
    policy: str = "",
    leads: LeadFile | None = None,
    timeline_step_s: float = 900.0,
) -> SimResult:
    """Run one shift of ``scenario`` with ``pacer`` on the lead file of ``seed``."""
    leads = leads or LeadFile(scenario, seed)
    heap: list[tuple[float, int, Callable[[float], None]]] = []
    seq = itertools.count()

    def schedule(at: float, action: Callable[[float], None]) -> None:
        heapq.heappush(heap, (at, next(seq), action))

    floor = Floor(scenario, pacer.observe, schedule)
    shift_end = scenario.shift_s
    staff(scenario, floor, schedule)

    next_lead = 0
    timeline = TimelineRecorder(floor, timeline_step_s, shift_end)
    peak = 0.0

    def dial(now: float) -> None:
        nonlocal next_lead, peak
        if now >= shift_end:
            return
        view = floor.view()
        n = pacer.decide(view, now)
        for call_id in pacer.cancels():
            floor.cancel(call_id, now)
        n = min(n, view.max_lines - view.lines_in_use)
        if n > 0:
            mix = scenario.outcomes_at(now)
            for _ in range(n):
                floor.place(leads[next_lead].resolve(scenario, mix), now)
                next_lead += 1
        if floor.logged_in:
            peak = max(peak, floor.lines_in_use / floor.logged_in)

    now = 0.0
    dial(now)
    while True:
        deadline = pacer.next_deadline()
        tick = deadline if deadline is not None and deadline > now else None
        if heap and (tick is None or heap[0][0] <= tick):
            now = heap[0][0]
            timeline.reach(now)
            floor.advance(now)
            while heap and heap[0][0] == now:
                heapq.heappop(heap)[2](now)
        elif tick is not None and tick < shift_end:
            now = tick
            timeline.reach(now)
            floor.advance(now)
        else:
            break
        if now < shift_end:
            dial(now)
        elif not floor.dialing and not floor.waiting:
            break
    # The last events may come before the shift ends: the steps left close at its end.
    timeline.reach(shift_end)
    floor.advance(shift_end)

    return result_of(
        floor,
        scenario,
        policy=policy or type(pacer).__name__,
        seed=seed,
        peak_lines_per_agent=peak,
        timeline=timeline.points,
    )


class Team(Protocol):
    """What logs a simulation's agents in and out."""

    def log_in(self, now: float) -> None:
        """One agent logs in at ``now``."""

    def log_out(self, now: float) -> None:
        """One agent logs out at ``now``."""


def staff(
    scenario: Scenario, team: Team, schedule: Callable[[float, Callable[[float], None]], None]
) -> None:
    """Log the scenario's agents in at 0 and schedule its agents joining and leaving."""
    for _ in range(scenario.agents):
        team.log_in(0.0)
    for change in scenario.agent_changes:

        def apply(t: float, delta: int = change.delta) -> None:
            for _ in range(abs(delta)):
                if delta > 0:
                    team.log_in(t)
                else:
                    team.log_out(t)

        schedule(change.at_s, apply)


class Tally(Protocol):
    """The accumulators a simulation keeps for the benchmark's metrics (seconds, counts)."""

    talk_s: float
    busy_s: float
    agent_time_s: float
    idle_time_s: float
    lines_area: float
    live_answered: int
    abandoned: int
    amd_false_positives: int
    dials: int
    live_connects: int
    machine_connects: int
    rings_cancelled: int
    rings_cancelled_before_15s: int  # a compliance counter: must stay 0

    def advance(self, now: float) -> None:
        """Integrate the time-weighted figures up to ``now``."""


class TimelineRecorder:
    """The timeline of a shift, one point per step, from a simulation's accumulators."""

    def __init__(self, tally: Tally, step_s: float, end_s: float) -> None:
        self.tally = tally
        self.step_s = step_s
        self.end_s = end_s
        self.points: list[TimelinePoint] = []
        self._next_s = step_s
        self._marks = (0.0, 0.0, 0.0)

    def reach(self, now: float) -> None:
        """Close every step that ends by ``now`` (and by the end of the shift).

        Call it before the events at ``now`` change the floor: each step is integrated up
        to its own end, over the state the floor was in since the last event.
        """
        while self._next_s <= now and self._next_s <= self.end_s:
            self.tally.advance(self._next_s)
            self._close(self._next_s)
            self._next_s += self.step_s

    def _close(self, end_s: float) -> None:
        # A step's figures are what accrued since the step before it.
        t = self.tally
        talk, agent_time, lines = self._marks
        agent = t.agent_time_s - agent_time
        self.points.append(
            TimelinePoint(
                end_s=end_s,
                occupancy=(t.talk_s - talk) / agent if agent else 0.0,
                abandon_rate=t.abandoned / t.live_answered if t.live_answered else 0.0,
                lines_per_agent=(t.lines_area - lines) / agent if agent else 0.0,
            )
        )
        self._marks = (t.talk_s, t.agent_time_s, t.lines_area)


def result_of(
    tally: Tally,
    scenario: Scenario,
    *,
    policy: str,
    seed: int,
    peak_lines_per_agent: float,
    timeline: Sequence[TimelinePoint],
) -> SimResult:
    """The benchmark's metrics from a finished shift's accumulators."""
    agent_time = tally.agent_time_s or 1.0
    agent_hours = agent_time / 3600
    connects = tally.live_connects + tally.machine_connects
    return SimResult(
        scenario=scenario.name,
        policy=policy,
        seed=seed,
        agents=scenario.agents,
        shift_s=scenario.shift_s,
        abandon_target=scenario.abandon_target,
        occupancy=tally.talk_s / agent_time,
        utilisation=tally.busy_s / agent_time,
        abandon_rate=tally.abandoned / tally.live_answered if tally.live_answered else 0.0,
        live_answered=tally.live_answered,
        abandoned=tally.abandoned,
        amd_false_positives=tally.amd_false_positives,
        dials=tally.dials,
        live_connects=tally.live_connects,
        machine_connects=tally.machine_connects,
        mean_wait_s=tally.idle_time_s / connects if connects else 0.0,
        dials_per_agent_hour=tally.dials / agent_hours,
        live_connects_per_agent_hour=tally.live_connects / agent_hours,
        mean_lines_per_agent=tally.lines_area / agent_time,
        peak_lines_per_agent=peak_lines_per_agent,
        rings_cancelled_before_15s=tally.rings_cancelled_before_15s,
        rings_cancelled=tally.rings_cancelled,
        timeline=tuple(timeline),
    )
