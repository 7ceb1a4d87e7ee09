"""Pacing: how many new calls to place now.

Theory of operation
===================

A pacer is asked, at every event and at its own deadlines, how many new calls to start
(``decide(view, now) -> int``) and, after that, which ringing calls to hang up
(``cancels()``; the engine hangs up only calls that have rung the legal 15 s). It learns
from facts the engine feeds it (``observe(fact)``): calls placed, ringing, resolved (with
the outcome and so the time rung), connected, abandoned; agents changing activity. Time
is an argument (monotonic seconds).

Three pacers share the ``Pacer`` protocol:

- ``ProgressivePacer``: one call in flight per idle agent. Never abandons by design.
- ``PowerPacer``: a fixed number of calls in flight per idle agent (``ratio``).
- ``PredictivePacer``: the rule below.

The predictive rule (units: seconds, calls, agents)
---------------------------------------------------
An answered call that needs an agent can wait only ``hold_s`` (2 s) before it counts as
abandoned: US TSR, 2 s after the completed greeting; UK Ofcom, 2 s after the answer;
the abandon rate is abandoned / live-answered calls over a window per campaign
(30 days US, 24 h UK) and must stay under the target (3 % by default). AMD false
positives (humans judged machines and hung up on) count as abandons.

At a decision the pacer estimates

- L = answered calls waiting + sum over calls in flight of q(age), where q(age) is the
  expected demand for an agent of a call not resolved ``age`` seconds after it was
  placed: 1 for a human, ``machine_weight`` (0.5) for a machine that reaches an agent
  (without AMD an agent spends a few seconds dismissing it), 0 otherwise. Who answered
  is learned from the agents' verdicts on connected calls; an abandoned answer counts
  as what it is estimated to be (below). An answer counts fully from when it is routed
  and the verdict (a person's comes minutes later, with the agent's result) or the
  abandon then sets its weight: left out until then, the people still talking would be
  missing from q. q is kept from the recently resolved attempts (15 minutes and at
  least 400 attempts), so a change of answer rate during the day shows within minutes;
- A = idle agents + sum over busy agents of p(activity, elapsed), the probability that
  an agent who has spent ``elapsed`` seconds in talk (or wrap) is free within
  ``horizon_s`` (15 s). p is learned from the last 1000 (talk, wrap) pairs; calls still
  in progress count as censored observations, so early in the day, when only short
  calls have ended, long calls are not expected to end soon. Past the elapsed time that
  fewer than 20 calls outlasted, talk ends at a constant rate (their ends over their
  time beyond it) and one of their wraps follows: a count over so few calls would be
  noise, and the heavy tail of talk times keeps many agents there. While fewer than 20
  wraps have ended, an agent in wrap takes the share of them that ended within the
  horizon, whatever its elapsed time (never "surely free"). Without AMD machines reach
  agents too, and are dismissed in seconds: an agent on an answer takes p from separate
  tables for people's calls and machines' (``CallerMix``, kept apart by the agents'
  verdicts), weighed by the share of people at its call's ring time and by how long the
  call has lasted;

and places one more call while P(L >= A) <= theta (L and A as sums of independent
Bernoulli variables, normal approximation with continuity correction), never fewer
calls than progressive and never more lines than ``max_lines`` (the cap on lines per
logged-in agent). With a sum of Bernoullis the rule looks at the distribution of
L - A, not at its mean: matching expected answers to expected free agents abandons
far too many calls. Full evaluations are at most every ``min_interval_s`` (0.5 s);
events in between get progressive dialing, which never adds risk.

theta, the risk a marginal call may carry, is not tuned per campaign: an integral
controller moves logit(theta) after every live answer, up by ``gain * internal_target``
when the call was connected and down by ``gain * (1 - internal_target)`` per abandon,
so the abandon rate settles at the internal target (90 % of the legal target). It
starts at ``theta_initial``, by default 0.01 at a 3 % target and above and higher below
it (0.0003 / target, at most 0.02): theta climbs in proportion to the target, and at
1 % a start of 0.01 was still climbing at the end of a 10-agent shift. It is
not credited for live answers while the pacer falls back to progressive (no wind-up:
theta would climb during the quiet spell and burst afterwards). Its upper bound
``theta_max`` (0.95) is far from a real risk on purpose: P(L >= A) overstates the risk
where many lines ring per agent, and a large team at a low live rate needs theta near 1
to spend its budget.

Abandons are rare, so a climb paced by them alone is slow: at 5 % live with 20 agents,
theta took most of the first hour to climb from 0.01 to where it settles. Near misses
come sooner: an answer that finds at most one agent idle is several times as common as
an abandon (6-17 times in the benchmark), and while such answers are fewer than
``near_miss_ref`` (2) times the pacer's own share of the target (the target less the
AMD false-positive estimate), over about the last ``near_miss_answers`` (200) routed
answers, theta climbs faster in proportion, at most ``near_miss_boost`` (3) times. The
boost fades as dialing nears the edge, before the first abandons, and an abandon's step
down is never boosted.

The budget guard makes the legal target a hard limit: over the regime's window, the
pacer dials predictively only while
``abandons + E[(L - A)+] + reserve_calls + reserve_sd * sd <= target * (live + credit)``
(E[(L - A)+]: the abandons the calls in flight are heading for; sd: the spread of the
abandon count's estimated part and of those calls; credit: an opening credit of 2.25
abandons' worth of live answers, repaid over three times as many); otherwise, and while
it has too few observations or too few agents, it dials progressively, which adds no
abandons, and the rate falls back under the target as live answers accrue. Within
``soft_budget_abandons`` (2) of the guard theta is scaled down in proportion to the
slack left, so that one abandon slows dialing down instead of stopping it for an hour.

Calls that have rung for at least ``min_ring_before_cancel_s`` (15 s, the legal minimum
in the US and the UK) can be taken back: when P(L >= A) is over ``cancel_risk`` (0.1) at a
decision, the pacer hangs up ringing calls, those most likely to need an agent first,
until it is not. The bar is never below the risk the pacer is dialing at (theta times the
budget's share), so where P(L >= A) overstates the risk and theta is high, calls are let
ring. A call still ringing after 15 s is unlikely to need an agent (most live answers
come after 6-10 s), so this costs few contacts, and it removes answers that would have
found no agent when agents stay busy longer than expected. A call so taken
back is a no-answer for the contact's retries; for the answer model it is censored (it
counts as q at the age it was taken back, not as an answer that never came).

Extra calls (beyond progressive) are rationed to ``max_extra_rate`` (0.1) per logged-in
agent and second, with at most a second's worth or ``max_extra_burst`` (3) in hand: calls
placed in a burst are answered in a burst, which the rule's independent calls do not
foresee (100 agents starting at once placed 4.5 lines each and spent a day's budget in a
minute).

An abandon whose caller is unknown (no AMD: nobody heard who answered) counts as the
share of people among connected answers of the same ring time (``HumanShare``, 1 s bins,
the last 30 minutes): answers still waiting for their verdict count as people (a person's
verdict comes with the agent's result, minutes after a machine's), the share is raised by
one standard deviation and half an answer, and a ring time with fewer than 20 answers
takes in the ring times up to 2 s either side, then counts the abandon as a person if
there are still too few. This is the reasoned estimate Ofcom accepts ("answer
machine calls put through to live operators as a proportion of connected calls"), per
ring time; ``estimate_unknown_callers=False`` counts every one as a person.
``recount_after_s`` (15 minutes) later the abandon is counted again the same way, from
the verdicts of the half hour then: when the share of people rises during the day, the
first count lags the rise. The new count goes to the window and to theta, and through
``recounts()`` to the engine, which stores it. With AMD
every human verdict
also carries the configured false-positive estimate fp / (1 - fp) (its variance,
fp / (1 - fp)^2, goes to the guard's reserve), and when fp alone
reaches the target the pacer stays progressive (``amd_budget_spent``): no pacing can
comply then.

After a restart the regime window is not learned afresh: the daemon reads the campaign's
live answers and abandons of the window from the store and hands them to
``PredictivePacer.seed_history`` before the first fact, counted as ``observe`` would have
counted them (wall times become monotonic ones; an abandon of unknown caller counts as
much as the earlier run counted it, recorded with the call, or as a person where that was
not recorded). The
opening credit follows the live answers in the window, so a window that has history gets
only what is left of it.

Sources: the per-agent "free within a window given time already spent" weights and the
abandon feedback are the EIS/ITC patent family (US 5,640,445; US 4,933,964); the
survival-conditioned hit rate follows UNICOM's ring-time analysis; see docs/pacing.md.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dialerd.core.compliance import MIN_RING_BEFORE_CANCEL_S
from dialerd.errors import UsageError

__all__ = [
    "AgentActivity",
    "AgentChanged",
    "AnswerModel",
    "BusyModel",
    "CallAbandoned",
    "CallConnected",
    "CallOutcome",
    "CallPlaced",
    "CallRang",
    "CallResolved",
    "CallerMix",
    "Estimate",
    "HumanShare",
    "Pacer",
    "PacingFact",
    "PacingView",
    "PastAnswer",
    "PowerPacer",
    "PredictiveConfig",
    "PredictivePacer",
    "ProgressivePacer",
    "RegimeWindow",
    "estimate_floor",
    "expected_excess",
    "p_at_least",
    "progressive_dials",
    "threshold_dials",
]


class CallOutcome(enum.Enum):
    """How a placed call resolved, as far as pacing is concerned."""

    ROUTED = "routed"  # answered and now needs an agent
    SCREENED = "screened"  # answered, judged a machine by AMD, not routed
    BUSY = "busy"
    INVALID = "invalid"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELLED = "cancelled"  # hung up by the dialer while ringing (``Pacer.cancels``)


class AgentActivity(enum.Enum):
    """What an agent is doing, as far as pacing is concerned."""

    IDLE = "idle"
    TALK = "talk"
    WRAP = "wrap"
    AWAY = "away"  # logged out or paused


@dataclass(frozen=True, slots=True)
class CallPlaced:
    """A new call was started."""

    call_id: int
    at: float


@dataclass(frozen=True, slots=True)
class CallResolved:
    """A call stopped ringing: answered (routed or screened) or failed."""

    call_id: int
    at: float
    outcome: CallOutcome


@dataclass(frozen=True, slots=True)
class CallRang:
    """A placed call started ringing (the far end is alerting)."""

    call_id: int
    at: float


@dataclass(frozen=True, slots=True)
class CallConnected:
    """A routed call reached an agent; ``human`` is the agent's verdict."""

    call_id: int
    at: float
    human: bool


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """A routed call found no agent in time; ``human`` is None when nobody knows."""

    call_id: int
    at: float
    human: bool | None


@dataclass(frozen=True, slots=True)
class AgentChanged:
    """An agent started a new activity; with TALK, ``call_id`` is the call it was given."""

    agent_id: int
    at: float
    activity: AgentActivity
    call_id: int | None = None


@dataclass(frozen=True, slots=True)
class PastAnswer:
    """A live answer of an earlier run, for the regime window of a new pacer.

    ``at_s`` is its wall time in UTC epoch seconds; ``abandoned`` and ``human`` mean what
    they mean on ``CallConnected`` and ``CallAbandoned``. ``counted``: for an abandon whose
    caller nobody heard, how much the earlier run counted it as a person
    (``PredictivePacer.last_abandon_counted``); without it the abandon counts as a person.
    """

    at_s: float
    abandoned: bool
    human: bool | None = True
    counted: float | None = None


PacingFact = CallPlaced | CallRang | CallResolved | CallConnected | CallAbandoned | AgentChanged


@dataclass(frozen=True, slots=True)
class PacingView:
    """What the dialer's bookkeeping knows at a decision."""

    agents_logged_in: int
    agents_idle: int
    calls_dialing: int  # placed, not resolved yet
    calls_waiting: int  # routed, waiting for an agent
    lines_in_use: int  # every line, connected calls included
    max_lines: int  # cap on lines_in_use (lines per agent x agents logged in)


class Pacer(Protocol):
    """The interface the dialer drives every pacing method through."""

    def decide(self, view: PacingView, now: float) -> int:
        """How many new calls to start now (>= 0)."""
        ...

    def observe(self, fact: PacingFact) -> None:
        """Learn from something that happened."""
        ...

    def next_deadline(self) -> float | None:
        """When to ask ``decide`` again even if nothing happens, or None."""
        ...

    def cancels(self) -> Sequence[int]:
        """Ringing calls to hang up, chosen at the last ``decide`` (asked once after it)."""
        ...


def progressive_dials(view: PacingView) -> int:
    """Calls progressive dialing would start: one in flight per idle agent."""
    want = view.agents_idle - view.calls_dialing - view.calls_waiting
    return max(0, min(want, view.max_lines - view.lines_in_use))


class ProgressivePacer:
    """One call in flight per idle agent."""

    def decide(self, view: PacingView, now: float) -> int:
        """Fill each idle agent's single line."""
        return progressive_dials(view)

    def observe(self, fact: PacingFact) -> None:
        """Progressive dialing learns nothing."""

    def next_deadline(self) -> float | None:
        """Only events matter."""
        return None

    def cancels(self) -> Sequence[int]:
        """Never: every call has an idle agent."""
        return ()


class PowerPacer:
    """A fixed number of calls in flight per idle agent."""

    def __init__(self, ratio: float) -> None:
        if ratio < 1.0:
            raise UsageError("a power ratio below 1 would leave idle agents without a call")
        self.ratio = ratio

    def decide(self, view: PacingView, now: float) -> int:
        """Keep ``ratio`` calls in flight per idle agent, within the line cap."""
        want = math.floor(self.ratio * view.agents_idle + 1e-9)
        want -= view.calls_dialing + view.calls_waiting
        return max(0, min(want, view.max_lines - view.lines_in_use))

    def observe(self, fact: PacingFact) -> None:
        """Power dialing learns nothing."""

    def next_deadline(self) -> float | None:
        """Only events matter."""
        return None

    def cancels(self) -> Sequence[int]:
        """Never: every call has an idle agent."""
        return ()


# --- the distribution of answered calls minus free agents -----------------------------


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def p_at_least(mean: float, var: float) -> float:
    """P(D >= 0) for an integer D of this mean and variance (normal, continuity-corrected)."""
    if var <= 1e-12:
        return 1.0 if mean > -0.5 else 0.0
    z = (-0.5 - mean) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def expected_excess(mean: float, var: float) -> float:
    """E[max(D, 0)] for D normal with this mean and variance."""
    if var <= 1e-12:
        return max(mean, 0.0)
    sd = math.sqrt(var)
    z = mean / sd
    return sd * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) + mean * 0.5 * math.erfc(
        -z / math.sqrt(2)
    )


def threshold_dials(
    view: PacingView,
    *,
    mean_l: float,
    var_l: float,
    mean_a: float,
    var_a: float,
    q_new: float,
    theta: float,
) -> int:
    """Calls to start: one more while P(L >= A) <= theta, at least progressive.

    ``mean_l``/``var_l`` describe the calls that will need an agent (waiting and in
    flight), ``mean_a``/``var_a`` the agents that will be free; ``q_new`` is the chance a
    new call will need one.
    """
    room = view.max_lines - view.lines_in_use
    n = 0
    mean = mean_l - mean_a
    var = var_l + var_a
    step_var = q_new * (1 - q_new)
    while n < room and p_at_least(mean, var) <= theta:
        n += 1
        mean += q_new
        var += step_var
    return max(n, progressive_dials(view))


# --- learned models --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean and variance of L_h (calls needing an agent) and A_h (free agents) per horizon."""

    mean_l: list[float]
    var_l: list[float]
    mean_a: list[float]
    var_a: list[float]


@dataclass(slots=True, eq=False)
class Sample:
    """One sample of a sliding window: when, its bin (-1 once it has left), its weight."""

    at: float
    bin: int
    weight: float


class _BinnedWindow:
    """Counts and weights per bin over a sliding window of samples.

    Keeps the samples of the last ``window_s`` seconds, and at least the last
    ``min_kept``; ``counts[b]`` and ``weights[b]`` are their number and summed weight in
    bin b, ``weight`` the summed weight of all.
    """

    def __init__(self, nbins: int, window_s: float, min_kept: int) -> None:
        self.window_s = window_s
        self.min_kept = min_kept
        self.counts = [0] * nbins
        self.weights = [0.0] * nbins
        self.weight = 0.0
        self._recent: deque[Sample] = deque()

    def __len__(self) -> int:
        return len(self._recent)

    def add(self, at: float, b: int, weight: float) -> Sample:
        """Count a sample of bin ``b`` at time ``at``; forget what left the window.

        Returns the sample, for ``reweigh``."""
        sample = Sample(at, b, weight)
        self._recent.append(sample)
        self.counts[b] += 1
        self.weights[b] += weight
        self.weight += weight
        while len(self._recent) > self.min_kept and self._recent[0].at < at - self.window_s:
            old = self._recent.popleft()
            self.counts[old.bin] -= 1
            self.weights[old.bin] -= old.weight
            self.weight -= old.weight
            old.bin = -1
        return sample

    def reweigh(self, sample: Sample, weight: float) -> None:
        """Give a sample still in the window another weight (none once it has left)."""
        if sample.bin < 0:
            return
        self.weights[sample.bin] += weight - sample.weight
        self.weight += weight - sample.weight
        sample.weight = weight


class AnswerModel:
    """q_h(age): P(a call unresolved ``age`` s after placing needs an agent within h s).

    Kept from a sliding window of resolved attempts: those of the last ``window_s``
    seconds, and at least the last ``min_attempts``. Each attempt carries a weight in
    [0, 1] (1: it needed an agent). ``rows()[bin]`` holds, per horizon, q then q(1 - q).
    """

    BIN_S = 0.5

    def __init__(
        self,
        horizons_s: Sequence[float],
        window_s: float = 900.0,
        min_attempts: int = 400,
        max_age_s: float = 60.0,
    ) -> None:
        self.horizons_s = tuple(horizons_s)
        self._nbins = int(max_age_s / self.BIN_S) + 1
        self._window = _BinnedWindow(self._nbins, window_s, min_attempts)
        self._rows: list[tuple[float, ...]] = []
        self._adds = 0

    def __len__(self) -> int:
        return len(self._window)

    @property
    def live_weight(self) -> float:
        """The summed weight of the attempts in the window."""
        return self._window.weight

    def add(self, at: float, age: float, live: float) -> Sample:
        """Record an attempt that resolved ``age`` s after it was placed.

        Returns it, for ``reweigh``."""
        self._adds += 1
        return self._window.add(at, min(self._nbins - 1, int(age / self.BIN_S)), live)

    def reweigh(self, attempt: Sample, live: float) -> None:
        """Change what an attempt recorded earlier weighs (once its caller is known)."""
        self._adds += 1
        self._window.reweigh(attempt, live)

    def q(self, age: float) -> float:
        """q for the first horizon of a call not resolved ``age`` s after it was placed."""
        rows = self.rows()
        return rows[min(len(rows) - 1, int(age / self.BIN_S))][0]

    def rows(self) -> list[tuple[float, ...]]:
        """Per age bin: q_h for every horizon, then q_h (1 - q_h) for every horizon."""
        # Recomputing after every attempt buys nothing: one attempt moves q by little.
        if self._adds >= 20 or not self._rows:
            self._adds = 0
            n = self._nbins
            total = [0] * (n + 1)
            live = [0.0] * (n + 1)
            for b in range(n - 1, -1, -1):
                total[b] = total[b + 1] + self._window.counts[b]
                live[b] = live[b + 1] + self._window.weights[b]
            spans = [int(min(h, 1e6) / self.BIN_S) for h in self.horizons_s]
            rows = []
            for b in range(n):
                qs = [
                    max(0.0, live[b] - live[min(n, b + span)]) / total[b] if total[b] else 0.0
                    for span in spans
                ]
                rows.append((*qs, *(q * (1 - q) for q in qs)))
            self._rows = rows
        return self._rows


class BusyModel:
    """p_h(activity, elapsed): P(a busy agent is free within h s), per horizon.

    Learned from the last ``size`` (talk, wrap) pairs of finished calls. Where fewer
    than ``min_tail`` samples lasted longer than ``elapsed`` the last reliable value is
    used (for wraps, the first row is built from however few there are). ``rows``
    hold, per horizon, p then p(1 - p), per ``GRID_S`` of elapsed time.
    """

    GRID_S = 2.0

    def __init__(
        self,
        horizons_s: Sequence[float],
        size: int = 1000,
        rebuild_every: int = 100,
        min_tail: int = 20,
    ) -> None:
        self.horizons_s = tuple(horizons_s)
        self.size = size
        self.rebuild_every = rebuild_every
        self.min_tail = min_tail
        self._pairs: deque[tuple[float, float]] = deque(maxlen=size)
        self._since_rebuild = 0
        self._talk_rows: list[tuple[float, ...]] = []
        self._wrap_rows: list[tuple[float, ...]] = []
        self._talks: list[float] = []

    def __len__(self) -> int:
        return len(self._pairs)

    def survival(self, elapsed: float) -> float:
        """The share of the talks (at the last rebuild) that lasted longer than ``elapsed``."""
        if not self._talks:
            return 1.0
        return 1.0 - bisect.bisect_right(self._talks, elapsed) / len(self._talks)

    @property
    def longest_talk(self) -> float:
        """The longest talk at the last rebuild (0 without any)."""
        return self._talks[-1] if self._talks else 0.0

    def add(self, talk_s: float, wrap_s: float) -> None:
        """Record one finished busy period."""
        self._pairs.append((talk_s, wrap_s))
        self._since_rebuild += 1

    @property
    def stale(self) -> bool:
        """Whether enough new pairs arrived to rebuild the tables."""
        return self._since_rebuild >= self.rebuild_every or not self._talk_rows

    def rebuild(self, censored: Sequence[float] = ()) -> None:
        """Recompute the tables from the pairs.

        ``censored`` are the elapsed talk times of calls still in progress: they count
        as still talking at every shorter elapsed time, so early in the day, when only
        short calls have finished, long calls are not taken to end soon.
        """
        self._since_rebuild = 0
        pairs = sorted(self._pairs)
        talks = [t for t, _ in pairs]
        self._talks = talks
        ends = [t + w for t, w in pairs]
        wraps = sorted(w for _, w in pairs)
        still = sorted(censored)
        n = len(pairs)
        longest = max(self.horizons_s)
        rows: list[tuple[float, ...]] = []
        e = 0.0
        while True:
            lo = bisect.bisect_right(talks, e)
            tail = n - lo + len(still) - bisect.bisect_right(still, e)
            if tail < self.min_tail:
                break
            hi = bisect.bisect_right(talks, e + longest)
            window = [ends[i] for i in range(lo, hi)]
            ps = [sum(1 for end in window if end <= e + h) / tail for h in self.horizons_s]
            rows.append((*ps, *(p * (1 - p) for p in ps)))
            e += self.GRID_S
        rows.append(self._long_talk_row(pairs, still, e))
        self._talk_rows = rows
        rows = []
        w = 0.0
        m = len(wraps)
        while True:
            lo = bisect.bisect_right(wraps, w)
            tail = m - lo
            # The first row takes whatever wraps there are: without it every agent in
            # wrap would count as surely free (early in the day, while fewer than
            # min_tail wraps have ended, that sent bursts of calls to nobody).
            if tail < self.min_tail and (rows or tail == 0):
                break
            ps = [(bisect.bisect_right(wraps, w + h) - lo) / tail for h in self.horizons_s]
            rows.append((*ps, *(p * (1 - p) for p in ps)))
            w += self.GRID_S
        self._wrap_rows = rows or [self._flat(1.0)]

    def _long_talk_row(
        self, pairs: Sequence[tuple[float, float]], still: Sequence[float], cut: float
    ) -> tuple[float, ...]:
        # Beyond the last elapsed time with min_tail samples a count over the few calls
        # left is mostly noise (1 in 20 is already 5 %), and the heavy tail of talk
        # times keeps many agents there. Past the cut the talk is taken to end at a
        # constant rate, learned from every call that lasted longer (exposure over
        # events), followed by one of their wraps.
        exposure = sum(t - cut for t, _ in pairs if t > cut)
        exposure += sum(c - cut for c in still if c > cut)
        wraps = sorted(w for t, w in pairs if t > cut)
        if not wraps or exposure <= 0:
            return self._flat(0.0)
        rate = len(wraps) / exposure
        step = 0.5
        ps = []
        for h in self.horizons_s:
            p = 0.0
            s = 0.0
            while s < min(h, 1e6):
                ended = math.exp(-rate * s) - math.exp(-rate * (s + step))
                p += ended * bisect.bisect_right(wraps, h - s - step / 2) / len(wraps)
                s += step
            ps.append(p)
        return (*ps, *(p * (1 - p) for p in ps))

    def _flat(self, p: float) -> tuple[float, ...]:
        k = len(self.horizons_s)
        return (p,) * k + (p * (1 - p),) * k

    def rows(self) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
        """The talk and wrap rows, indexed by elapsed // GRID_S (last row beyond)."""
        return self._talk_rows, self._wrap_rows

    def p(self, activity: AgentActivity, elapsed: float, k: int = 0) -> float:
        """The probability for one agent and horizon index ``k``."""
        talk, wrap = self.rows()
        table = talk if activity is AgentActivity.TALK else wrap
        if not table:
            return 0.0
        return table[min(len(table) - 1, int(max(0.0, elapsed) / self.GRID_S))][k]


class CallerMix:
    """p for an agent on an answer that may be a person or a machine, the two kept apart.

    Without AMD every answer reaches an agent, and at a low live rate most are machines
    that the agent dismisses in seconds. The pooled ``BusyModel`` gives an agent who has
    just taken a call the mixture's chance of being free soon, whoever answered. Knowing
    the call's ring time, and so the share of people who answer after that long, the
    chance is a person's or a machine's, weighed by the posterior that a person answered
    given that the agent is still on the call after ``elapsed`` s. Talk and wrap pairs
    are kept apart by the agents' verdicts.
    """

    def __init__(self, horizon_s: float, min_pairs: int = 20) -> None:
        self.people = BusyModel((horizon_s,))
        self.machines = BusyModel((horizon_s,))
        self.min_pairs = min_pairs

    def add(self, human: bool, talk_s: float, wrap_s: float) -> None:
        """Record one finished busy period whose caller the agent named."""
        (self.people if human else self.machines).add(talk_s, wrap_s)

    def refresh(self, censored: Sequence[float] = ()) -> None:
        """Rebuild each table that has enough periods, new ones among them (``stale``).

        ``censored``: the talks in progress, taken as people's (see ``BusyModel``).
        """
        if len(self.people) >= self.min_pairs and self.people.stale:
            self.people.rebuild(censored)
        if len(self.machines) >= self.min_pairs and self.machines.stale:
            self.machines.rebuild()

    @property
    def ready(self) -> bool:
        """Whether both kinds of call have enough finished periods to go by."""
        return min(len(self.people), len(self.machines)) >= self.min_pairs and bool(
            self.people.rows()[0] and self.machines.rows()[0]
        )

    @property
    def machine_talk_s(self) -> float:
        """Beyond this an agent still on a call is on a person's (no machine took longer)."""
        return self.machines.longest_talk

    def p(self, share: float, elapsed: float) -> float:
        """P(free within the horizon) for an agent ``elapsed`` s into a call whose ring time
        has this share of people."""
        # P(person | still on the call): the share, weighed by how many of each kind of
        # call lasted this long.
        alive_p = share * self.people.survival(elapsed)
        alive_m = (1.0 - share) * self.machines.survival(elapsed)
        person = alive_p / (alive_p + alive_m) if alive_p + alive_m > 0 else 1.0
        talk = AgentActivity.TALK
        return person * self.people.p(talk, elapsed) + (1 - person) * self.machines.p(talk, elapsed)

    def correction(
        self, on_answer: Iterable[tuple[float, float]], pooled: BusyModel
    ) -> tuple[float, float]:
        """What these agents, (share, elapsed) each, change in A's mean and variance when
        they get their own p instead of ``pooled``'s."""
        d_mean = d_var = 0.0
        for share, elapsed in on_answer:
            before = pooled.p(AgentActivity.TALK, elapsed)
            after = self.p(share, elapsed)
            d_mean += after - before
            d_var += after * (1 - after) - before * (1 - before)
        return d_mean, d_var


def _column_sums(rows: list[tuple[float, ...]], width: int) -> list[float]:
    return [sum(col) for col in zip(*rows, strict=True)] if rows else [0.0] * width


def estimate_floor(
    now: float,
    waiting: int,
    *,
    dialing: Iterable[float],
    agents: Iterable[tuple[AgentActivity, float]],
    answers: AnswerModel,
    busy: BusyModel,
) -> Estimate:
    """L_h and A_h from the calls in flight (placing times) and the agents' activities."""
    # The hot loop of the simulator: gather table rows in comprehensions, let sum()
    # add the columns.
    q_rows = answers.rows()
    last_q = len(q_rows) - 1
    per_bin = 1.0 / AnswerModel.BIN_S
    picked = [
        q_rows[i if i < last_q else last_q]
        for placed in dialing
        for i in (int((now - placed) * per_bin),)
    ]
    k = len(answers.horizons_s)
    sums = _column_sums(picked, 2 * k)
    mean_l = [waiting + x for x in sums[:k]]
    var_l = sums[k:]
    talk, wrap = busy.rows()
    last_t, last_w = len(talk) - 1, len(wrap) - 1
    per_step = 1.0 / BusyModel.GRID_S
    idle_, talking, wrapping = AgentActivity.IDLE, AgentActivity.TALK, AgentActivity.WRAP
    agents = list(agents)
    idle = sum(1 for activity, _ in agents if activity is idle_)
    busy_rows = [
        (
            talk[i if i < last_t else last_t]
            if activity is talking
            else wrap[i if i < last_w else last_w]
        )
        for activity, since in agents
        if activity is talking or activity is wrapping
        for i in (int((now - since) * per_step),)
    ]
    kb = len(busy.horizons_s)
    sums = _column_sums(busy_rows, 2 * kb)
    return Estimate(mean_l, var_l, [idle + x for x in sums[:kb]], sums[kb:])


class HumanShare:
    """w(age): P(a person answered | the call was answered ``age`` s after it was placed).

    Learned from the agents' verdicts on connected answers, per ``BIN_S`` of age, over the
    last ``window_s`` seconds (and at least the last ``min_verdicts``). Every estimate
    errs towards people: the routed answers still without a verdict (the caller's
    ``pending`` ages) count as people (a person's verdict comes with the agent's result,
    minutes after a machine's, so the verdicts in hand under-represent people), the value
    is the upper end of a one-sd interval, and a bin with fewer than ``min_bin`` answers
    takes in the bins either side, up to ``max_spread`` of them, and says 1 if there are
    still too few.
    """

    BIN_S = 1.0

    def __init__(
        self,
        window_s: float = 1800.0,
        min_verdicts: int = 600,
        min_bin: int = 20,
        max_spread: int = 2,
        max_age_s: float = 60.0,
    ) -> None:
        self.min_bin = min_bin
        self.max_spread = max_spread
        self._nbins = int(max_age_s / self.BIN_S) + 1
        self._window = _BinnedWindow(self._nbins, window_s, min_verdicts)

    def _bin(self, age: float) -> int:
        return min(self._nbins - 1, max(0, int(age / self.BIN_S)))

    def verdict(self, at: float, age: float, human: bool) -> None:
        """An agent's verdict on a connected answer."""
        self._window.add(at, self._bin(age), 1.0 if human else 0.0)

    def weight(self, age: float, pending: Iterable[float] = ()) -> float:
        """How much an abandoned answer of unknown caller at ``age`` counts as a person.

        ``pending``: the ages of routed answers still waiting for their verdict.
        """
        b = self._bin(age)
        waiting = [self._bin(a) for a in pending]
        # A sparse bin borrows its neighbours' answers (the share changes little from
        # one second to the next) before it falls back to counting a person.
        for k in range(self.max_spread + 1):
            lo, hi = max(0, b - k), min(self._nbins - 1, b + k)
            pending_here = sum(1 for a in waiting if lo <= a <= hi)
            n = sum(self._window.counts[lo : hi + 1]) + pending_here
            if n >= self.min_bin:
                break
        else:
            return 1.0
        w = (sum(self._window.weights[lo : hi + 1]) + pending_here) / n
        return min(1.0, w + math.sqrt(w * (1 - w) / n) + 0.5 / n)


@dataclass(slots=True, eq=False)
class Counted:
    """Live answers and abandons counted at one time in a regime window (``left`` once it
    has left the window)."""

    at: float
    live: float
    abandoned: float
    variance: float
    left: bool = False


class RegimeWindow:
    """Live answers and abandons over a sliding window (weights allow estimates).

    ``uncertainty`` is the variance of the abandon count: an abandon whose caller is
    unknown, counted as a human with probability w, adds w (1 - w).
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._events: deque[Counted] = deque()
        self.live = 0.0
        self.abandoned = 0.0
        self.uncertainty = 0.0

    def __len__(self) -> int:
        return len(self._events)

    def add(self, at: float, live: float, abandoned: float, variance: float = 0.0) -> Counted:
        """Count ``live`` live answers of which ``abandoned`` were abandoned.

        Returns what was counted, for ``recount``."""
        entry = Counted(at, live, abandoned, variance)
        self._events.append(entry)
        self.live += live
        self.abandoned += abandoned
        self.uncertainty += variance
        self.expire(at)
        return entry

    def recount(self, entry: Counted, live: float, abandoned: float, variance: float) -> None:
        """Count an entry still in the window again (nothing once it has left)."""
        if entry.left:
            return
        self.live += live - entry.live
        self.abandoned += abandoned - entry.abandoned
        self.uncertainty += variance - entry.variance
        entry.live, entry.abandoned, entry.variance = live, abandoned, variance

    def expire(self, now: float) -> None:
        """Forget what left the window."""
        while self._events and self._events[0].at < now - self.window_s:
            entry = self._events.popleft()
            entry.left = True
            self.live -= entry.live
            self.abandoned -= entry.abandoned
            self.uncertainty -= entry.variance


@dataclass(frozen=True, slots=True)
class PredictiveConfig:
    """Parameters of the predictive pacer (see the module header and docs/pacing.md)."""

    abandon_target: float = 0.03
    window_s: float = 30 * 86400.0  # regulatory window: 30 days US, 24 h UK
    internal_target_share: float = 0.9  # the controller aims at this share of the target
    horizon_s: float = 15.0  # busy agents: free within this horizon
    min_interval_s: float = 0.5  # between full evaluations; progressive in between
    gain: float = 1.0  # change of logit(theta) per abandon, at the start
    gain_min: float = 1.0  # ... and at the least, later on
    gain_halving_live: float = 100.0  # the gain falls as 1 / sqrt(1 + live answers / this)
    # None: 0.0003 / abandon_target, at most 0.02 and at least 0.01 (``theta_start``).
    theta_initial: float | None = None
    # Within this many abandons of the guard theta is scaled down in proportion.
    soft_budget_abandons: float = 2.0
    theta_min: float = 0.0001
    theta_max: float = 0.95  # far from a real risk on purpose (module header)
    # Live answers credited to a new window so it can start before it has earned a
    # budget, repaid linearly over three times as many. None: opening_credit_abandons
    # abandons' worth (2.25 / target live answers).
    opening_credit_live: float | None = None
    # 1.5 left three standard scenarios under 0.97 of the tuned policy once ringing calls
    # were taken back; 3 put an AMD shift over its target (docs/pacing.md).
    opening_credit_abandons: float = 2.25
    reserve_calls: float = 0.5  # abandons kept in hand by the budget guard ...
    reserve_sd: float = 1.0  # ... plus this many sd of the abandons counted and coming
    min_agents: int = 2
    min_attempts: int = 100
    min_busy_periods: int = 20  # finished calls, and at least one per logged-in agent
    hit_window_s: float = 900.0
    hit_min_attempts: int = 400
    amd_false_positive_rate: float = 0.0
    count_machines: bool = False  # q counts routed machines fully, like humans
    # A routed answer counts fully in q at once, its verdict or abandon setting its
    # weight later (False: it enters q only then, which left out the people still
    # talking; kept to measure the difference, docs/pacing.md).
    provisional_answers: bool = True
    # Without AMD an abandoned answer counts as the share of people agents found on
    # connected answers of the same ring time (HumanShare); False: as a person.
    estimate_unknown_callers: bool = True
    machine_weight: float = 0.5  # otherwise a routed machine counts this much
    tick_s: float = 1.0
    # Calls beyond progressive, per second and logged-in agent (a burst of dials is
    # answered in a burst, which the independent-calls model does not foresee).
    max_extra_rate: float = 0.1
    max_extra_burst: float = 3.0  # ... and at least this many in hand (small teams)
    # Ringing calls are hung up while P(L >= A) is over this (0: never), once they have
    # rung this long (never less than the law's minimum, which the Dialer enforces too).
    cancel_risk: float = 0.1
    min_ring_before_cancel_s: float = MIN_RING_BEFORE_CANCEL_S
    # theta climbs up to this many times faster while few answers find at most one
    # agent idle: fewer than near_miss_ref times the pacer's own share of the target
    # (over about the last near_miss_answers routed answers). 1: never faster.
    near_miss_boost: float = 3.0
    near_miss_ref: float = 2.0
    near_miss_answers: float = 200.0
    # An abandon nobody heard is counted again this long after it (0: never).
    recount_after_s: float = 900.0

    @property
    def theta_start(self) -> float:
        """Where theta starts: ``theta_initial``, or by default higher for lower targets."""
        if self.theta_initial is not None:
            return self.theta_initial
        # The controller climbs in proportion to the target; a low target's theta would
        # spend most of a small team's shift climbing from where a 3 % target's starts.
        # Higher than 0.02 put 5-agent shifts at 1 % over the target (docs/pacing.md).
        start = 0.01
        if 0 < self.abandon_target < 0.03:
            start = min(0.02, 0.01 * 0.03 / self.abandon_target)
        return min(self.theta_max, max(self.theta_min, start))

    def __post_init__(self) -> None:
        # A value out of range would not fail here but pace oddly for hours (a gain
        # below gain_min is silently raised to it, a zero soft zone divides by zero).
        def check(name: str, ok: bool, what: str) -> None:
            if not ok:
                raise UsageError(f"{name}: must be {what}, got {getattr(self, name)!r}")

        check("abandon_target", 0 <= self.abandon_target < 1, "a fraction from 0 to below 1")
        check(
            "amd_false_positive_rate",
            0 <= self.amd_false_positive_rate < 1,
            "a fraction from 0 to below 1",
        )
        check("internal_target_share", 0 < self.internal_target_share <= 1, "in (0, 1]")
        check("machine_weight", 0 <= self.machine_weight <= 1, "in [0, 1]")
        for name in (
            "window_s",
            "horizon_s",
            "gain",
            "gain_min",
            "gain_halving_live",
            "soft_budget_abandons",
            "hit_window_s",
            "tick_s",
        ):
            check(name, getattr(self, name) > 0, "above 0")
        for name in (
            "min_interval_s",
            "reserve_calls",
            "reserve_sd",
            "min_attempts",
            "min_busy_periods",
            "hit_min_attempts",
            "max_extra_rate",
            "max_extra_burst",
            "recount_after_s",
            "opening_credit_abandons",
        ):
            check(name, getattr(self, name) >= 0, "0 or more")
        check("min_agents", self.min_agents >= 1, "1 or more")
        check("near_miss_boost", self.near_miss_boost >= 1, "1 (never faster) or more")
        check("near_miss_ref", self.near_miss_ref > 0, "above 0")
        check("near_miss_answers", self.near_miss_answers >= 1, "1 or more")
        check("cancel_risk", 0 <= self.cancel_risk < 1, "0 (never) or a probability below 1")
        check(
            "min_ring_before_cancel_s",
            self.min_ring_before_cancel_s >= MIN_RING_BEFORE_CANCEL_S,
            f"{MIN_RING_BEFORE_CANCEL_S:g} or more (no ringing call may be cut short sooner)",
        )
        check("gain_min", self.gain_min <= self.gain, f"at most gain ({self.gain!r})")
        check("theta_max", 0 < self.theta_max < 1, "a probability between 0 and 1")
        check(
            "theta_min", 0 < self.theta_min <= self.theta_max, f"in (0, theta_max={self.theta_max}]"
        )
        check(
            "theta_initial",
            self.theta_initial is None or self.theta_min <= self.theta_initial <= self.theta_max,
            f"between theta_min ({self.theta_min}) and theta_max ({self.theta_max})",
        )
        check(
            "opening_credit_live",
            self.opening_credit_live is None or self.opening_credit_live >= 0,
            "None or 0 or more",
        )


class PredictivePacer:
    """Learns online and keeps the abandon rate under the target (module header)."""

    def __init__(self, config: PredictiveConfig | None = None) -> None:
        self.config = config or PredictiveConfig()
        cfg = self.config
        # q: will the call need an agent at all; p: is the agent free within the horizon.
        self.answers = AnswerModel((math.inf,), cfg.hit_window_s, cfg.hit_min_attempts)
        self.busy = BusyModel((cfg.horizon_s,))
        self.callers = CallerMix(cfg.horizon_s, cfg.min_busy_periods)
        self.window = RegimeWindow(cfg.window_s)
        self.share = HumanShare()
        self.logit_theta = _logit(cfg.theta_start)
        self._dialing: dict[int, float] = {}
        self._ringing: dict[int, float] = {}  # call -> when it started ringing
        self._cancels: list[int] = []
        self._routed: dict[int, tuple[float, float]] = {}
        self._answer_of: dict[int, Sample] = {}  # routed call -> its attempt in q
        self._agents: dict[int, tuple[AgentActivity, float]] = {}
        self._talk_len: dict[int, float] = {}
        # Agents on an answer that may be a machine: the share of people at its ring time.
        self._on_answer: dict[int, float] = {}
        self._agent_of: dict[int, int] = {}  # routed call -> the agent it was given
        self._verdicts: dict[int, bool] = {}  # agent -> who answered its last call
        self._shares: dict[int, tuple[float, float]] = {}  # ring-time bin -> (at, share)
        self.spend = 1.0  # the share of theta the budget allows now
        # How much the last abandon observed counted as a person (the engine records it,
        # so that a restart counts the window's abandons as this run did).
        self.last_abandon_counted: float | None = None
        self._live_seen = 0.0
        # Abandons nobody heard, to count again once the answers around them have their
        # verdicts: (when, call, its ring time if its share was estimated, how much it
        # counted, its window entry); and those counted again, for ``recounts``.
        self._recounts: deque[tuple[float, int, float | None, float, Counted]] = deque()
        self._recounted: list[tuple[int, float]] = []
        self._near_answers = 0.0  # routed answers, decaying ...
        self._near_misses = 0.0  # ... and those that found at most one agent idle
        self._humans_connected = 0
        self._answered_connected = 0
        self._now = 0.0
        self._busy_rebuilt_at = -math.inf
        self._evaluated_at = -math.inf
        self._extra_tokens = math.inf  # full: the first decision caps it
        self.fallback_reason: str | None = "start"

    @property
    def theta(self) -> float:
        """The risk a marginal call may carry now."""
        return 1 / (1 + math.exp(-self.logit_theta))

    @property
    def internal_target(self) -> float:
        """The abandon rate the controller aims at."""
        return self.config.abandon_target * self.config.internal_target_share

    @property
    def amd_budget_spent(self) -> bool:
        """Whether AMD false positives alone use up the abandon budget."""
        return self.config.amd_false_positive_rate >= self.config.abandon_target

    def opening_credit(self) -> float:
        """Live answers credited now: the opening credit, shrinking as answers accrue."""
        cfg = self.config
        credit = cfg.opening_credit_live
        if credit is None:
            credit = (
                cfg.opening_credit_abandons / cfg.abandon_target if cfg.abandon_target > 0 else 0.0
            )
        if credit <= 0:
            return 0.0
        return credit * max(0.0, 1.0 - self.window.live / (3.0 * credit))

    def seed_history(
        self, answers: Iterable[PastAnswer], now: float, wall_now: dt.datetime
    ) -> None:
        """Count an earlier run's live answers and abandons in the regime window.

        Call it once, before the pacer counts anything, with ``wall_now`` the wall time of
        the monotonic ``now``. Answers are counted as ``observe`` counts them; those older
        than the window are dropped; an answer stamped after ``wall_now`` (a clock step)
        counts as happening now.
        """
        if wall_now.tzinfo is None:
            raise ValueError("wall_now must be timezone-aware")
        if len(self.window):
            raise UsageError("seed a pacer's history before it counts any answer")
        offset = wall_now.timestamp() - now
        extra, extra_var = self._false_positives_per_human()
        for answer in sorted(answers, key=lambda a: a.at_s):
            at = min(now, answer.at_s - offset)
            if not answer.abandoned:
                if answer.human:
                    self.window.add(at, 1.0 + extra, extra, extra_var)
                continue
            weight = 1.0 if answer.human is None else float(answer.human)
            if answer.human is None and answer.counted is not None:
                # As the earlier run counted it: counting it again as a person would
                # make a restart cost budget (at 10 % live most such abandons are
                # machines, and the window holds them for days).
                weight = min(1.0, max(0.0, answer.counted))
            if weight > 0:
                self.window.add(at, weight, weight, weight * (1 - weight))
        self.window.expire(now)

    def _false_positives_per_human(self) -> tuple[float, float]:
        # AMD hangs up on a share fp of the people it hears: the people it hangs up on
        # between two it lets through are geometric, of mean fp / (1 - fp) and variance
        # fp / (1 - fp)^2. The variance goes to the guard's reserve: the count is an
        # estimate, and over a shift the real one strays by several abandons.
        fp = self.config.amd_false_positive_rate
        if not 0 < fp < 1:
            return 0.0, 0.0
        return fp / (1 - fp), fp / (1 - fp) ** 2

    def climb_boost(self) -> float:
        """How many times faster theta climbs now: more while answers rarely find at most
        one agent idle, which they do several times as often as they are abandoned."""
        cfg = self.config
        if cfg.near_miss_boost <= 1.0:
            return 1.0
        fp, _ = self._false_positives_per_human()
        own = max(0.0, cfg.abandon_target - fp)
        # One near miss assumed beyond those seen: few answers prove little.
        share = (self._near_misses + 1.0) / (self._near_answers + 1.0)
        return min(cfg.near_miss_boost, max(1.0, cfg.near_miss_ref * own / share))

    def _near_miss(self) -> None:
        idle = sum(1 for activity, _ in self._agents.values() if activity is AgentActivity.IDLE)
        keep = 1.0 - 1.0 / self.config.near_miss_answers
        self._near_answers = self._near_answers * keep + 1.0
        self._near_misses = self._near_misses * keep + (1.0 if idle <= 1 else 0.0)

    def _count(self, at: float, live: float, abandoned: float, variance: float = 0.0) -> Counted:
        entry = self.window.add(at, live, abandoned, variance)
        self._step(live, abandoned)
        return entry

    def _step(self, live: float, abandoned: float, *, recount: bool = False) -> None:
        cfg = self.config
        # Large steps while little is known, smaller ones as live answers accrue.
        if not recount:
            self._live_seen += live
        gain = max(cfg.gain_min, cfg.gain / math.sqrt(1 + self._live_seen / cfg.gain_halving_live))
        step = live * self.internal_target - abandoned
        if step > 0 and self.fallback_reason is not None:
            # No credit for quiet spells of progressive dialing (no wind-up): theta
            # would otherwise climb while the budget guard holds and burst afterwards.
            step = 0.0
        if step > 0 and not recount:
            step *= self.climb_boost()
        self.logit_theta += gain * step
        self.logit_theta = min(_logit(cfg.theta_max), max(_logit(cfg.theta_min), self.logit_theta))

    def observe(self, fact: PacingFact) -> None:
        """Learn from one fact."""
        match fact:
            case CallPlaced(call_id, at):
                self._dialing[call_id] = at
            case CallRang(call_id, at):
                if call_id in self._dialing:
                    self._ringing.setdefault(call_id, at)
            case CallResolved(call_id, at, outcome):
                if outcome is CallOutcome.ROUTED:
                    self._near_miss()
                self._ringing.pop(call_id, None)
                placed = self._dialing.pop(call_id, None)
                if placed is None:
                    pass
                elif outcome is CallOutcome.CANCELLED:
                    # Censored: it had not resolved by then, and what it would have
                    # become is unknown. It counts as what q expected of it then.
                    self.answers.add(at, at - placed, self.answers.q(at - placed))
                elif outcome is CallOutcome.ROUTED and not self.config.count_machines:
                    # Whether a human answered is known once an agent hears the call.
                    self._routed[call_id] = (at, at - placed)
                    if self.config.provisional_answers:
                        self._answer_of[call_id] = self.answers.add(at, at - placed, 1.0)
                else:
                    routed = outcome is CallOutcome.ROUTED
                    self.answers.add(at, at - placed, 1.0 if routed else 0.0)
            case CallConnected(call_id, at, human):
                agent_id = self._agent_of.pop(call_id, None)
                if agent_id is not None:
                    self._verdicts[agent_id] = human
                    if agent_id in self._on_answer:
                        self._on_answer[agent_id] = 1.0 if human else 0.0
                pending = self._routed.pop(call_id, None)
                if pending is not None:
                    weight = 1.0 if human else self.config.machine_weight
                    self._answered(call_id, pending, weight)
                    self.share.verdict(pending[0], pending[1], human)
                self._answered_connected += 1
                if human:
                    self._humans_connected += 1
                    extra, extra_var = self._false_positives_per_human()
                    self._count(at, 1.0 + extra, extra, extra_var)
            case CallAbandoned(call_id, at, human):
                pending = self._routed.pop(call_id, None)
                self._agent_of.pop(call_id, None)  # given to an agent it never reached
                # Nobody heard who answered an abandoned call without AMD: it counts as
                # the share of people among connected answers of the same ring time,
                # estimated towards people (HumanShare), or as a person.
                weight = 1.0 if human is None else float(human)
                if pending is not None:
                    if human is None and self.config.estimate_unknown_callers:
                        waiting = (age for _, age in self._routed.values())
                        weight = self.share.weight(pending[1], waiting)
                    demand = weight + (1 - weight) * self.config.machine_weight
                    self._answered(call_id, pending, demand)
                self.last_abandon_counted = weight
                entry = self._count(at, weight, weight, weight * (1 - weight))
                if human is None and self.config.recount_after_s > 0:
                    estimated = pending is not None and self.config.estimate_unknown_callers
                    ring_s = pending[1] if pending is not None and estimated else None
                    due = at + self.config.recount_after_s
                    self._recounts.append((due, call_id, ring_s, weight, entry))
            case AgentChanged(agent_id, at, activity, call_id):
                self._agent_changed(agent_id, at, activity, call_id)

    def _recount_due(self, now: float) -> None:
        # An abandon nobody heard was counted from the verdicts of the half hour before
        # it; once the answers of the minutes after it have theirs, it is counted again
        # from the half hour around it. When the share of people rises (more people
        # answer later in the day), the first count lags the rise.
        while self._recounts and self._recounts[0][0] <= now:
            _, call_id, ring_s, counted, entry = self._recounts.popleft()
            weight = counted
            if ring_s is not None and not entry.left:
                waiting = (age for _, age in self._routed.values())
                weight = self.share.weight(ring_s, waiting)
                if weight != counted:
                    self.window.recount(entry, weight, weight, weight * (1 - weight))
                    self._step(weight - counted, weight - counted, recount=True)
            self._recounted.append((call_id, weight))

    def recounts(self) -> list[tuple[int, float]]:
        """Abandons nobody heard, counted again at the last decision: (call, how much it
        now counts as a person), each given once (the engine records the new count)."""
        done, self._recounted = self._recounted, []
        return done

    def _answered(self, call_id: int, pending: tuple[float, float], demand: float) -> None:
        attempt = self._answer_of.pop(call_id, None)
        if attempt is None:
            self.answers.add(pending[0], pending[1], demand)
        elif demand != attempt.weight:
            self.answers.reweigh(attempt, demand)

    def _agent_changed(
        self, agent_id: int, at: float, activity: AgentActivity, call_id: int | None
    ) -> None:
        previous = self._agents.get(agent_id)
        if previous is not None and previous[0] is activity:
            # Still the same activity (a reserved agent whose call is now connected):
            # the period goes on; a zero-length talk would teach the busy model that
            # calls end at once.
            return
        if previous is not None:
            prev_activity, since = previous
            if prev_activity is AgentActivity.TALK:
                self._talk_len[agent_id] = at - since
                if activity is not AgentActivity.WRAP:
                    self._finished(agent_id, at - since, 0.0)
                    self._talk_len.pop(agent_id, None)
            elif prev_activity is AgentActivity.WRAP:
                talk = self._talk_len.pop(agent_id, None)
                if talk is not None:
                    self._finished(agent_id, talk, at - since)
        self._agents[agent_id] = (activity, at)
        self._on_answer.pop(agent_id, None)
        if activity is AgentActivity.TALK and call_id is not None:
            pending = self._routed.get(call_id)
            if pending is not None:
                self._on_answer[agent_id] = self._share_at(pending[1], call_id, at)
                self._agent_of[call_id] = agent_id

    def _share_at(self, ring_s: float, call_id: int, now: float) -> float:
        # The share moves slowly, and the answers awaiting a verdict are many in a large
        # team: one estimate per ring-time bin and half minute.
        key = int(ring_s / HumanShare.BIN_S)
        cached = self._shares.get(key)
        if cached is not None and now < cached[0] + 30.0:
            return cached[1]
        others = (age for other, (_, age) in self._routed.items() if other != call_id)
        share = self.share.weight(ring_s, others)
        self._shares[key] = (now, share)
        return share

    def _finished(self, agent_id: int, talk_s: float, wrap_s: float) -> None:
        self.busy.add(talk_s, wrap_s)
        human = self._verdicts.pop(agent_id, None)
        if human is not None:
            self.callers.add(human, talk_s, wrap_s)

    def next_deadline(self) -> float | None:
        """Re-evaluate every ``tick_s`` while anything is happening."""
        return self._now + self.config.tick_s

    def cancels(self) -> Sequence[int]:
        """Ringing calls to hang up, chosen at the last decision (each given once)."""
        chosen, self._cancels = self._cancels, []
        return chosen

    def _choose_cancels(self, mean: float, var: float, now: float) -> None:
        # A call that answers while P(L >= A) is high is likely to find no agent; one still
        # ringing after the legal minimum is unlikely to answer at all. Taking back the
        # likeliest of those first brings the risk down with the fewest contacts.
        cfg = self.config
        # Never below the risk the pacer is dialing at: where P(L >= A) overstates the
        # risk (many lines per agent) theta is high, and a call worth placing is worth
        # letting ring.
        limit = max(cfg.cancel_risk, self.theta * self.spend)
        if p_at_least(mean, var) <= limit:
            return
        oldest = now - cfg.min_ring_before_cancel_s
        candidates = sorted(
            (
                (self.answers.q(now - self._dialing[c]), c)
                for c, rang in self._ringing.items()
                if rang <= oldest
            ),
            reverse=True,
        )
        for q, call_id in candidates:
            if q <= 0 or p_at_least(mean, var) <= limit:
                break  # a call that will not need an agent adds no risk: let it ring
            self._cancels.append(call_id)
            del self._ringing[call_id]  # asked once; it stays in flight until it resolves
            mean -= q
            var -= q * (1 - q)

    def _ready(self, view: PacingView) -> str | None:
        cfg = self.config
        if view.agents_logged_in < cfg.min_agents:
            return "too few agents"
        if len(self.answers) < cfg.min_attempts or self.answers.live_weight < 5:
            return "too few attempts"
        if len(self.busy) < max(cfg.min_busy_periods, view.agents_logged_in):
            # A team that starts together first sees its shortest calls end; until as
            # many calls as agents have ended the busy model over-promises free agents.
            return "too few finished calls"
        if self.amd_budget_spent:
            return "AMD false positives use up the abandon budget"
        return None

    def _sharpened(self, est: Estimate, now: float) -> Estimate:
        # Agents who took an answer that may be a machine: their own chance of being free
        # soon (CallerMix) instead of the pooled one. Past the longest machine's talk only
        # people are left and the pooled model is theirs.
        if not self._on_answer or not self.callers.ready:
            return est
        longest = self.callers.machine_talk_s
        on_answer = []
        for agent_id, share in list(self._on_answer.items()):
            elapsed = now - self._agents[agent_id][1]
            if elapsed > longest:
                del self._on_answer[agent_id]
            else:
                on_answer.append((share, elapsed))
        d_mean, d_var = self.callers.correction(on_answer, self.busy)
        mean_a = [est.mean_a[0] + d_mean, *est.mean_a[1:]]
        var_a = [max(0.0, est.var_a[0] + d_var), *est.var_a[1:]]
        return Estimate(est.mean_l, est.var_l, mean_a, var_a)

    def decide(self, view: PacingView, now: float) -> int:
        """Calls to start now."""
        self._now = now
        cfg = self.config
        if now < self._evaluated_at + cfg.min_interval_s:
            # Events come in bursts; an evaluation half a second old still holds, and
            # progressive dialing in between never adds risk (whatever the fallback).
            return progressive_dials(view)
        self.window.expire(now)
        self._recounted = []
        self._recount_due(now)
        # Extra calls are rationed: tokens accrue with the team and time, at most a
        # second's worth (or max_extra_burst) in hand.
        per_s = cfg.max_extra_rate * view.agents_logged_in
        elapsed = min(1.0, max(0.0, now - self._evaluated_at))
        self._extra_tokens = min(
            max(per_s, cfg.max_extra_burst), self._extra_tokens + per_s * elapsed
        )
        self.fallback_reason = self._ready(view)
        if self.fallback_reason is not None:
            return progressive_dials(view)
        if self.busy.stale or now >= self._busy_rebuilt_at + 120.0:
            self._busy_rebuilt_at = now
            talking = [
                now - since for act, since in self._agents.values() if act is AgentActivity.TALK
            ]
            self.busy.rebuild(talking)
            self.callers.refresh(talking)
        self._evaluated_at = now
        est = self._sharpened(
            estimate_floor(
                now,
                view.calls_waiting,
                dialing=self._dialing.values(),
                agents=self._agents.values(),
                answers=self.answers,
                busy=self.busy,
            ),
            now,
        )
        # Budget guard: the abandons already counted plus those the calls in flight are
        # heading for, plus a reserve, must fit in the budget earned so far.
        mean = est.mean_l[0] - est.mean_a[0]
        var = est.var_l[0] + est.var_a[0]
        heading = expected_excess(mean, var + 1 / 12)
        allowed = cfg.abandon_target * (self.window.live + self.opening_credit())
        reserve = cfg.reserve_calls + cfg.reserve_sd * math.sqrt(self.window.uncertainty + heading)
        slack = allowed - self.window.abandoned - heading - reserve
        # Close to the guard theta shrinks with the slack instead of falling to zero at
        # the guard: one abandon then slows dialing down rather than sending the pacer
        # back to progressive for an hour, and the guard is rarely reached.
        self.spend = min(1.0, max(0.0, slack / cfg.soft_budget_abandons))
        if slack < 0:
            self.fallback_reason = "abandon budget spent"
            return progressive_dials(view)
        n = threshold_dials(
            view,
            mean_l=est.mean_l[0],
            var_l=est.var_l[0],
            mean_a=est.mean_a[0],
            var_a=est.var_a[0],
            q_new=self.answers.q(0.0),
            theta=self.theta * self.spend,
        )
        if cfg.cancel_risk > 0:
            self._choose_cancels(mean, var, now)
        floor = progressive_dials(view)
        extra = max(0, n - floor)
        if extra > self._extra_tokens:
            extra = int(self._extra_tokens)
        self._extra_tokens -= extra
        return floor + extra
