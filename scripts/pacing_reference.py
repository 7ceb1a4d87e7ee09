"""Reference policies of the pacing benchmark (not offered to users).

- ``VicidialPacer``: VICIdial-style adaptive dial level (``AST_VDadapt.pl`` as described
  in the benchmark): every 15 s the level moves by the averaged gap between ready agents
  and waiting calls over the last 15 one-second samples; HARD_LIMIT drop clamp on the
  shift's cumulative drops / answered once more than 50 calls were placed; halved when
  more than half of over 20 calls in the last minute dropped; between 1.0 and 3.0.
- ``TunedPacer``: the model-based threshold policy. It is given the model's true
  distributions (as large Monte Carlo tables, switched when the outcome mix changes)
  and a fixed theta tuned in hindsight per scenario (``tune_theta``).
- ``oracle_occupancy``: the clairvoyant bound, agents taking only the live attempts of
  the lead file back to back: sum of talk / logged-in time, about 0.90.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dialerd.core.pacing import (
    AgentActivity,
    AgentChanged,
    AnswerModel,
    BusyModel,
    CallAbandoned,
    CallConnected,
    CallPlaced,
    CallResolved,
    PacingFact,
    PacingView,
    PredictivePacer,
    estimate_floor,
    progressive_dials,
    threshold_dials,
)
from dialerd.sim.scenario import AttemptSampler, LeadFile, OutcomeMix, Scenario
from dialerd.sim.vsim import SimResult, simulate


class VicidialPacer:
    """VICIdial-style adaptive dial level with the HARD_LIMIT drop clamp."""

    def __init__(
        self,
        abandon_target: float,
        max_level: float = 3.0,
        diff_target: float = 0.0,
        intensity: float = 0.0,
    ) -> None:
        self.target = abandon_target
        self.max_level = max_level
        self.diff_target = diff_target
        self.intensity = intensity
        self.level = 1.0
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=15)
        self._next_sample = 0.0
        self._next_adapt = 15.0
        self._calls = 0
        self._humans = 0
        self._drops = 0
        self._minute: deque[tuple[float, bool]] = deque()
        self._talking: set[int] = set()
        self._now = 0.0

    def observe(self, fact: PacingFact) -> None:
        """Count calls, drops and human answers; track who is on a call."""
        match fact:
            case CallPlaced(_, at):
                self._calls += 1
                self._minute.append((at, False))
            case CallConnected(_, _, human):
                self._humans += int(human)
            case CallAbandoned(_, at, _):
                self._drops += 1
                self._minute.append((at, True))
            case AgentChanged(agent_id, _, activity):
                if activity is AgentActivity.TALK:
                    self._talking.add(agent_id)
                else:
                    self._talking.discard(agent_id)
            case CallResolved():
                pass

    def next_deadline(self) -> float | None:
        """Sample every second."""
        return self._next_sample

    def cancels(self) -> Sequence[int]:
        """VICIdial hangs up no ringing call."""
        return ()

    def _adapt(self, now: float) -> None:
        if not self._samples:
            return
        ready = sum(s[0] for s in self._samples) / len(self._samples)
        waiting = sum(s[1] for s in self._samples) / len(self._samples)
        agents = sum(s[2] for s in self._samples) / len(self._samples)
        if agents <= 0:
            return
        mul = (ready - waiting + self.diff_target) / agents
        mul = mul * (1 + self.intensity / 100) if mul >= 0 else mul * abs(self.intensity / 100 - 1)
        self.level = min(self.max_level, self.level * (1 + mul))
        while self._minute and self._minute[0][0] < now - 60:
            self._minute.popleft()
        minute_calls = sum(1 for _, drop in self._minute if not drop)
        minute_drops = sum(1 for _, drop in self._minute if drop)
        if minute_calls > 20 and minute_drops / minute_calls > 0.5:
            self.level /= 2
        answered = self._humans + self._drops
        if self._calls > 50 and answered and self._drops / answered > self.target:
            self.level = 1.0
        self.level = max(1.0, self.level)

    def decide(self, view: PacingView, now: float) -> int:
        """Dial up to round(level x counted agents) lines."""
        self._now = now
        while now >= self._next_sample:
            self._samples.append((view.agents_idle, view.calls_waiting, view.agents_logged_in))
            self._next_sample += 1.0
        if now >= self._next_adapt:
            self._adapt(now)
            self._next_adapt = now + 15.0
        counted = view.agents_idle + len(self._talking)
        goal = round(self.level * counted)
        make = goal - view.lines_in_use
        room = view.max_lines - view.lines_in_use
        return max(0, min(make, room))


@dataclass(frozen=True)
class TrueModel:
    """Monte Carlo tables of the model's true distributions for one outcome mix."""

    answers: AnswerModel
    busy: BusyModel


def true_model(scenario: Scenario, mix: OutcomeMix, samples: int = 100_000) -> TrueModel:
    """Tables built from many draws of the model (not from any run's outcomes)."""
    rng = random.Random(f"true-model:{scenario.name}:{mix}")
    # The benchmark's policy: P(live | unresolved) at all, agents free within 15 s.
    answers = AnswerModel((1e9,), window_s=math.inf, min_attempts=samples)
    busy = BusyModel((15.0,), size=samples, rebuild_every=samples + 1, min_tail=50)
    pairs: list[tuple[float, float]] = []
    draw = AttemptSampler(scenario).draw
    for _ in range(samples):
        attempt = draw(rng).resolve(scenario, mix)
        if attempt.answered and attempt.verdict_after_answer_s is not None:
            age = attempt.resolved_after_s + attempt.verdict_after_answer_s
        else:
            age = attempt.resolved_after_s
        live = attempt.routed and attempt.outcome.value == "live"
        answers.add(0.0, age, 1.0 if live else 0.0)
        if attempt.routed:
            if attempt.outcome.value == "live":
                pairs.append((attempt.talk_s, attempt.wrap_s))
            else:
                pairs.append((attempt.machine_handling_s, 0.0))
    for talk, wrap in pairs:
        busy.add(talk, wrap)
    busy.rebuild()
    return TrueModel(answers, busy)


class TunedPacer(PredictivePacer):
    """The threshold rule with the true distributions and a fixed theta."""

    def __init__(self, scenario: Scenario, theta: float, models: dict[OutcomeMix, TrueModel]):
        super().__init__()
        self.scenario = scenario
        self.fixed_theta = theta
        self.models = models

    def observe(self, fact: PacingFact) -> None:
        """Track calls and agents only; nothing is learned."""
        match fact:
            case CallPlaced(call_id, at):
                self._dialing[call_id] = at
            case CallResolved(call_id, _, _):
                self._dialing.pop(call_id, None)
            case AgentChanged(agent_id, at, activity):
                self._agents[agent_id] = (activity, at)
            case _:
                pass

    def decide(self, view: PacingView, now: float) -> int:
        """One more call while P(L >= A) <= theta."""
        self._now = now
        if now < self._evaluated_at + self.config.min_interval_s:
            # The same evaluation cadence as the predictive pacer (see docs/pacing.md).
            return progressive_dials(view)
        self._evaluated_at = now
        model = self.models[self.scenario.outcomes_at(now)]
        est = estimate_floor(
            now,
            view.calls_waiting,
            dialing=self._dialing.values(),
            agents=self._agents.values(),
            answers=model.answers,
            busy=model.busy,
        )
        return threshold_dials(
            view,
            mean_l=est.mean_l[0],
            var_l=est.var_l[0],
            mean_a=est.mean_a[0],
            var_a=est.var_a[0],
            q_new=model.answers.q(0.0),
            theta=self.fixed_theta,
        )


def true_models(scenario: Scenario) -> dict[OutcomeMix, TrueModel]:
    """The true tables for every outcome mix the scenario uses."""
    mixes = {scenario.outcomes, *(c.outcomes for c in scenario.changes)}
    return {mix: true_model(scenario, mix) for mix in mixes}


Simulator = Callable[..., SimResult]
"""``simulate`` (the model floor) or ``simulate_engine`` (the daemon's Dialer)."""


def run_tuned(
    scenario: Scenario,
    theta: float,
    seeds: Sequence[int],
    models: dict[OutcomeMix, TrueModel],
    simulator: Simulator = simulate,
) -> list[SimResult]:
    """One run per seed of the tuned policy at ``theta``."""
    return [
        simulator(scenario, TunedPacer(scenario, theta, models), seed, policy="tuned")
        for seed in seeds
    ]


def pooled_abandon(results: Sequence[SimResult]) -> float:
    """Abandoned over live-answered, pooled over runs."""
    live = sum(r.live_answered for r in results)
    return sum(r.abandoned for r in results) / live if live else 0.0


THETA_RANGE = (0.0003, 0.3)
"""Where ``tune_theta`` looks first (a bisection in log θ)."""
THETA_FLOOR = 1e-7
"""How far down it looks when no θ of that range keeps the pooled rate under the target."""


Tried = tuple[float, list[SimResult]]
"""A theta and its runs, one per seed."""


def bisect_theta(
    run: Callable[[float], list[SimResult]],
    rate: float,
    lo: float,
    hi: float,
    steps: int,
    *,
    log: Callable[[float, float], None] | None = None,
) -> tuple[Tried | None, Tried | None]:
    """A bisection in log theta between ``lo`` and ``hi`` (logs) on the pooled abandon
    rate of ``run(theta)``: the largest theta tried at or under ``rate`` and the smallest
    tried over it, each with its runs (None where no theta tried fell on that side).
    ``log`` is told every theta tried and its rate."""
    below: Tried | None = None
    above: Tried | None = None
    for _ in range(steps):
        mid = (lo + hi) / 2
        theta = math.exp(mid)
        results = run(theta)
        got = pooled_abandon(results)
        if log:
            log(theta, got)
        if got <= rate:
            lo, below = mid, (theta, results)
        else:
            hi, above = mid, (theta, results)
    return below, above


def tune_theta(
    scenario: Scenario,
    seeds: Sequence[int],
    models: dict[OutcomeMix, TrueModel],
    steps: int = 7,
    *,
    log: Callable[[str], None] | None = None,
    simulator: Simulator = simulate,
) -> Tried:
    """The largest theta whose pooled abandon rate stays under the target (bisection).

    The search starts in ``THETA_RANGE``; if even its lower end is over the target (few
    live answers for many machines: at 5 % live the rule's θ must be tiny), it goes on
    below it, a factor of 1000 at a time down to ``THETA_FLOOR``, and returns that floor
    (over the target) only if nothing keeps the rate under.
    """

    def run(theta: float) -> list[SimResult]:
        return run_tuned(scenario, theta, seeds, models, simulator)

    def tell(theta: float, rate: float) -> None:
        if log:
            log(f"{scenario.name} theta={theta:.3g} abandon={rate:.4f}")

    lo, hi = (math.log(x) for x in THETA_RANGE)
    while True:
        best, _ = bisect_theta(run, scenario.abandon_target, lo, hi, steps, log=tell)
        if best is not None:
            return best
        results = run(math.exp(lo))
        if pooled_abandon(results) <= scenario.abandon_target:
            return math.exp(lo), results
        if lo <= math.log(THETA_FLOOR) + 1e-9:
            return math.exp(lo), results
        lo, hi = max(math.log(THETA_FLOOR), lo - math.log(1000.0)), lo


def oracle_occupancy(scenario: Scenario, seed: int, leads: LeadFile | None = None) -> float:
    """Talk over logged-in time when agents take only live attempts, back to back."""
    leads = leads or LeadFile(scenario, seed)
    free_at = [0.0] * scenario.agents
    talk = 0.0
    index = 0
    end = scenario.shift_s
    for agent in range(scenario.agents):
        t = 0.0
        while t < end:
            while True:
                attempt = leads[index].resolve(scenario, scenario.outcomes_at(t))
                index += 1
                if attempt.routed and attempt.outcome.value == "live":
                    break
            talk += min(attempt.talk_s, end - t)
            t += attempt.talk_s + attempt.wrap_s
        free_at[agent] = t
    return talk / (scenario.agents * end)
