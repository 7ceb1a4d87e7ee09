"""Pacing scenarios: the benchmark's model of a dial attempt, read from TOML.

A scenario holds every parameter of the pacing benchmark's model
(``docs/pacing.md``): the outcome mix of a dial attempt, its timings, talk, wrap-up and
machine-handling times, answering-machine detection, the regulatory regime and its
abandon target, the team, the shift, the line cap, the seeds, and changes during the
shift (a live-rate step, agents joining or leaving). The virtual-time simulator and the
simulated Asterisk read their customers' behaviour from the same file.

Model of one attempt (all times in seconds):

- post-dial delay before ringing, uniform;
- nominal outcome: live, machine, busy, invalid (SIT), otherwise no answer;
- a live person answers after ringing for a mixture of uniform and normal components
  (clipped below at ``live_answer.min_s``); a machine after a clipped normal;
- an answer later than the ring timeout becomes a no-answer resolved at the timeout;
- busy and invalid resolve after their own uniform delays;
- greeting, talk and wrap-up lengths; talk and wrap are lognormal given mean and CV;
- with AMD, a machine verdict comes a uniform delay after the answer, a human verdict
  ``human_verdict_after_greeting_s`` after the greeting; false positives (humans judged
  machines) are abandoned calls, false negatives (machines judged human) reach an agent.

Common random numbers: every field of an ``AttemptDraw`` is drawn for every attempt in a
fixed order, whatever the outcome, so the i-th attempt of a seed is the same for every
policy. The outcome is kept as a uniform variate and mapped to an outcome with the
probabilities in force when the call is placed, so a live-rate change during the shift
keeps the draws common too.
"""

from __future__ import annotations

import enum
import math
import random
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dialerd.errors import ConfigError

__all__ = [
    "AgentChange",
    "Amd",
    "Attempt",
    "AttemptDraw",
    "AttemptSampler",
    "Change",
    "LeadFile",
    "LiveAnswerComponent",
    "LogNormal",
    "Normal",
    "Outcome",
    "OutcomeMix",
    "Regime",
    "Scenario",
    "Uniform",
    "draw_attempt",
    "load_scenario",
    "parse_scenario",
]


class Regime(enum.Enum):
    """Which abandon rule applies: the clock start, the window and the counting."""

    US = "US"  # FTC TSR: 2 s after the completed greeting, per campaign over 30 days
    UK = "UK"  # Ofcom: 2 s after the answer, per 24 hours

    @property
    def window_s(self) -> float:
        """Length of the regulatory window over which the abandon rate is measured."""
        return 30 * 86400.0 if self is Regime.US else 86400.0


class Outcome(enum.Enum):
    """What a dial attempt turns into once the ring timeout is applied."""

    LIVE = "live"
    MACHINE = "machine"
    BUSY = "busy"
    INVALID = "invalid"
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class Uniform:
    """A uniform distribution on [low_s, high_s]."""

    low_s: float
    high_s: float

    def draw(self, rng: random.Random) -> float:
        """One value."""
        return rng.uniform(self.low_s, self.high_s)

    @property
    def mean_s(self) -> float:
        """The mean."""
        return (self.low_s + self.high_s) / 2


@dataclass(frozen=True, slots=True)
class Normal:
    """A normal distribution clipped below at min_s."""

    mean_s: float
    sd_s: float
    min_s: float = 0.0

    def draw(self, rng: random.Random) -> float:
        """One value."""
        return max(self.min_s, rng.gauss(self.mean_s, self.sd_s))


@dataclass(frozen=True, slots=True)
class LogNormal:
    """A lognormal distribution given by its mean and coefficient of variation."""

    mean_s: float
    cv: float

    @property
    def mu(self) -> float:
        """Location of the underlying normal."""
        return math.log(self.mean_s) - self.sigma**2 / 2

    @property
    def sigma(self) -> float:
        """Scale of the underlying normal."""
        return math.sqrt(math.log(1 + self.cv**2))

    def draw(self, rng: random.Random) -> float:
        """One value."""
        return rng.lognormvariate(self.mu, self.sigma)

    def cdf(self, x: float) -> float:
        """P(X <= x)."""
        if x <= 0:
            return 0.0
        return 0.5 * math.erfc(-(math.log(x) - self.mu) / (self.sigma * math.sqrt(2)))


@dataclass(frozen=True, slots=True)
class LiveAnswerComponent:
    """One component of the live-answer delay mixture (uniform or normal)."""

    weight: float
    dist: Uniform | Normal


@dataclass(frozen=True, slots=True)
class OutcomeMix:
    """Nominal outcome probabilities of one attempt; no-answer is the remainder."""

    live: float = 0.20
    machine: float = 0.25
    busy: float = 0.05
    invalid: float = 0.10

    @property
    def no_answer(self) -> float:
        """The remainder."""
        return 1.0 - self.live - self.machine - self.busy - self.invalid

    def nominal(self, u: float) -> Outcome:
        """Map a uniform variate to a nominal outcome."""
        edge = self.live
        if u < edge:
            return Outcome.LIVE
        edge += self.machine
        if u < edge:
            return Outcome.MACHINE
        edge += self.busy
        if u < edge:
            return Outcome.BUSY
        edge += self.invalid
        if u < edge:
            return Outcome.INVALID
        return Outcome.NO_ANSWER


@dataclass(frozen=True, slots=True)
class Amd:
    """Answering-machine detection: on or off, its timing and its error rates."""

    enabled: bool = False
    machine_verdict_s: Uniform = Uniform(1.5, 3.5)
    human_verdict_after_greeting_s: float = 0.8
    false_positive_rate: float = 0.05
    false_negative_rate: float = 0.10


@dataclass(frozen=True, slots=True)
class Change:
    """At ``at_s`` into the shift, the outcome mix becomes ``outcomes``."""

    at_s: float
    outcomes: OutcomeMix


@dataclass(frozen=True, slots=True)
class AgentChange:
    """At ``at_s`` into the shift, ``delta`` agents log in (> 0) or out (< 0)."""

    at_s: float
    delta: int


@dataclass(frozen=True, slots=True)
class Scenario:
    """Every parameter of one benchmark scenario."""

    name: str = "scenario"
    description: str = ""
    # regime and team
    regime: Regime = Regime.US
    abandon_target: float = 0.03
    hold_s: float = 2.0
    agents: int = 20
    shift_s: float = 4 * 3600.0
    max_lines_per_agent: float = 6.0
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    # model of an attempt
    outcomes: OutcomeMix = OutcomeMix()
    post_dial_delay_s: Uniform = Uniform(1.0, 3.0)
    live_answer: tuple[LiveAnswerComponent, ...] = (
        LiveAnswerComponent(0.05, Uniform(0.3, 2.0)),
        LiveAnswerComponent(0.65, Normal(8.0, 2.0)),
        LiveAnswerComponent(0.30, Normal(20.0, 2.0)),
    )
    live_answer_min_s: float = 1.0
    machine_answer_s: Normal = Normal(20.0, 4.0, 5.0)
    ring_timeout_s: float = 25.0
    busy_s: Uniform = Uniform(0.5, 1.5)
    invalid_s: Uniform = Uniform(0.5, 3.0)
    greeting_s: Uniform = Uniform(0.8, 1.6)
    talk: LogNormal = LogNormal(180.0, 1.0)
    wrap: LogNormal = LogNormal(20.0, 0.5)
    machine_handling_s: Uniform = Uniform(4.0, 8.0)
    amd: Amd = Amd()
    # non-stationary changes, sorted by time
    changes: tuple[Change, ...] = ()
    agent_changes: tuple[AgentChange, ...] = field(default=())
    # per-number outcomes for the simulated Asterisk (the virtual-time simulator ignores them)
    numbers: tuple[tuple[str, str], ...] = ()

    def outcomes_at(self, t: float) -> OutcomeMix:
        """The outcome mix in force ``t`` seconds into the shift."""
        mix = self.outcomes
        for change in self.changes:
            if change.at_s <= t:
                mix = change.outcomes
        return mix

    def with_(self, **changes: Any) -> Scenario:
        """A copy with some fields replaced (for parameter sweeps)."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class AttemptDraw:
    """The pre-drawn randomness of one attempt, before outcome probabilities apply."""

    u_outcome: float
    post_dial_delay_s: float
    live_ring_s: float
    machine_ring_s: float
    busy_s: float
    invalid_s: float
    greeting_s: float
    talk_s: float
    wrap_s: float
    machine_handling_s: float
    u_amd: float
    machine_verdict_s: float

    def resolve(self, scenario: Scenario, mix: OutcomeMix | None = None) -> Attempt:
        """What this attempt does under ``mix`` (default: the scenario's base mix)."""
        nominal = (mix or scenario.outcomes).nominal(self.u_outcome)
        outcome = nominal
        timeout = scenario.ring_timeout_s
        if nominal is Outcome.LIVE:
            ring = self.live_ring_s
        elif nominal is Outcome.MACHINE:
            ring = self.machine_ring_s
        elif nominal is Outcome.BUSY:
            ring = self.busy_s
        elif nominal is Outcome.INVALID:
            ring = self.invalid_s
        else:
            ring = timeout
        if nominal in (Outcome.LIVE, Outcome.MACHINE) and ring > timeout:
            outcome, ring = Outcome.NO_ANSWER, timeout
        amd = scenario.amd
        routed = outcome in (Outcome.LIVE, Outcome.MACHINE)
        verdict_s: float | None = None
        if amd.enabled and outcome is Outcome.LIVE:
            if self.u_amd < amd.false_positive_rate:
                routed, verdict_s = False, self.machine_verdict_s
            else:
                verdict_s = self.greeting_s + amd.human_verdict_after_greeting_s
        elif amd.enabled and outcome is Outcome.MACHINE:
            routed = self.u_amd < amd.false_negative_rate
            verdict_s = self.machine_verdict_s
        return Attempt(
            nominal=nominal,
            outcome=outcome,
            post_dial_delay_s=self.post_dial_delay_s,
            ring_s=ring,
            greeting_s=self.greeting_s,
            talk_s=self.talk_s,
            wrap_s=self.wrap_s,
            machine_handling_s=self.machine_handling_s,
            routed=routed,
            verdict_after_answer_s=verdict_s,
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as it plays out: outcome, timings, and whether it reaches an agent.

    ``ring_s`` is the time from the start of ringing to the answer or the resolution
    (the ring timeout for a no-answer). ``routed`` is whether the call goes to an agent
    (live and machine calls without AMD; with AMD, humans judged human and machines
    judged human). ``verdict_after_answer_s`` is when the AMD verdict comes, or None
    without AMD; a routed call waits for it before it can be connected.
    """

    nominal: Outcome
    outcome: Outcome
    post_dial_delay_s: float
    ring_s: float
    greeting_s: float
    talk_s: float
    wrap_s: float
    machine_handling_s: float
    routed: bool
    verdict_after_answer_s: float | None

    @property
    def resolved_after_s(self) -> float:
        """Seconds from the dial to the answer or the resolution."""
        return self.post_dial_delay_s + self.ring_s

    @property
    def answered(self) -> bool:
        """Whether someone or something picked up."""
        return self.outcome in (Outcome.LIVE, Outcome.MACHINE)


def draw_attempt(rng: random.Random, scenario: Scenario) -> AttemptDraw:
    """Draw one attempt's randomness; every field is drawn, in a fixed order."""
    return AttemptSampler(scenario).draw(rng)


class AttemptSampler:
    """Draws the attempts of one scenario (``draw_attempt`` for many draws).

    A lead file draws tens of thousands of attempts and the tuned policy's true tables
    100,000 per outcome mix: the scenario's constants (the live-answer mixture's edges,
    the lognormals' parameters) are worked out once here rather than for every draw.
    The lognormals are drawn with the same arguments as ``LogNormal.draw`` would use, so
    the draws are the same.
    """

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        total = sum(c.weight for c in scenario.live_answer)
        edges: list[tuple[float, Uniform | Normal]] = []
        acc = 0.0
        for c in scenario.live_answer:
            acc += c.weight / total
            edges.append((acc, c.dist))
        self._live_edges = tuple(edges)
        self._live_last = scenario.live_answer[-1].dist
        self._talk = (scenario.talk.mu, scenario.talk.sigma)
        self._wrap = (scenario.wrap.mu, scenario.wrap.sigma)

    def _live_ring(self, rng: random.Random) -> float:
        u_mix = rng.random()
        dist = self._live_last
        for edge, d in self._live_edges:
            if u_mix < edge:
                dist = d
                break
        return max(self._scenario.live_answer_min_s, dist.draw(rng))

    def draw(self, rng: random.Random) -> AttemptDraw:
        """Draw one attempt's randomness; every field is drawn, in a fixed order."""
        sc = self._scenario
        # Keyword arguments are evaluated in the order written: that order is the draws'.
        return AttemptDraw(
            u_outcome=rng.random(),
            post_dial_delay_s=sc.post_dial_delay_s.draw(rng),
            live_ring_s=self._live_ring(rng),
            machine_ring_s=sc.machine_answer_s.draw(rng),
            busy_s=sc.busy_s.draw(rng),
            invalid_s=sc.invalid_s.draw(rng),
            greeting_s=sc.greeting_s.draw(rng),
            talk_s=rng.lognormvariate(*self._talk),
            wrap_s=rng.lognormvariate(*self._wrap),
            machine_handling_s=sc.machine_handling_s.draw(rng),
            u_amd=rng.random(),
            machine_verdict_s=sc.amd.machine_verdict_s.draw(rng),
        )


class LeadFile:
    """The pre-drawn attempts of one seed, drawn lazily in list order.

    The i-th attempt depends only on the scenario and the seed, so every policy that
    takes attempts in order sees the same ones (common random numbers).
    """

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self._rng = random.Random(f"dialerd-leads-v1:{seed}")
        self._sample = AttemptSampler(scenario).draw
        self._draws: list[AttemptDraw] = []

    def __getitem__(self, index: int) -> AttemptDraw:
        while len(self._draws) <= index:
            self._draws.append(self._sample(self._rng))
        return self._draws[index]

    def __iter__(self) -> Iterator[AttemptDraw]:
        i = 0
        while True:
            yield self[i]
            i += 1


# --- TOML --------------------------------------------------------------------------

_TOP_KEYS = {
    "name",
    "description",
    "regime",
    "team",
    "outcomes",
    "timing",
    "live_answer",
    "durations",
    "amd",
    "changes",
    "numbers",
}
NUMBER_OUTCOMES = ("live", "machine", "busy", "invalid", "no_answer", "congestion")
"""Outcomes a ``[numbers]`` entry may fix; ``congestion`` exists only there."""


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {where}{key!r} in scenario")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"scenario key {key!r} must be a table")
    return value


def _num(table: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"scenario key {where}{key!r} must be a number, not {value!r}")
    return float(value)


def _uniform(table: Mapping[str, Any], key: str, default: Uniform, where: str) -> Uniform:
    value = table.get(key)
    if value is None:
        return default
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or value[0] > value[1]
        or value[0] < 0
    ):
        raise ConfigError(f"scenario key {where}{key!r} must be [low, high] with 0 <= low <= high")
    return Uniform(float(value[0]), float(value[1]))


def _mix(table: Mapping[str, Any], base: OutcomeMix, where: str) -> OutcomeMix:
    _check_keys(table, {"live", "machine", "busy", "invalid"}, where)
    mix = OutcomeMix(
        live=_num(table, "live", base.live, where),
        machine=_num(table, "machine", base.machine, where),
        busy=_num(table, "busy", base.busy, where),
        invalid=_num(table, "invalid", base.invalid, where),
    )
    for f in fields(mix):
        p = getattr(mix, f.name)
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"scenario key {where}{f.name!r} must be a probability")
    if mix.no_answer < -1e-9:
        raise ConfigError(f"scenario outcome probabilities in {where or 'outcomes'} exceed 1")
    return mix


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    """Build a scenario from parsed TOML; an unknown or invalid key is a ConfigError."""
    _check_keys(data, _TOP_KEYS, "")
    base = Scenario()

    regime_t = _table(data, "regime")
    _check_keys(regime_t, {"name", "abandon_target", "hold_s"}, "regime.")
    regime_name = regime_t.get("name", "US")
    try:
        regime = Regime(regime_name)
    except ValueError:
        raise ConfigError(
            f"scenario key 'regime.name' must be US or UK, not {regime_name!r}"
        ) from None
    target = _num(regime_t, "abandon_target", base.abandon_target, "regime.")
    if not 0.0 <= target < 1.0:
        raise ConfigError("scenario key 'regime.abandon_target' must be in [0, 1)")
    hold = _num(regime_t, "hold_s", base.hold_s, "regime.")

    team = _table(data, "team")
    _check_keys(team, {"agents", "shift_s", "max_lines_per_agent", "seeds"}, "team.")
    agents = team.get("agents", base.agents)
    if not isinstance(agents, int) or isinstance(agents, bool) or agents < 1:
        raise ConfigError("scenario key 'team.agents' must be a positive integer")
    seeds = team.get("seeds", list(base.seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError("scenario key 'team.seeds' must be a non-empty list of integers")
    shift = _num(team, "shift_s", base.shift_s, "team.")
    lines = _num(team, "max_lines_per_agent", base.max_lines_per_agent, "team.")
    if shift <= 0:
        raise ConfigError("scenario key 'team.shift_s' must be positive")
    if lines < 1.0:
        raise ConfigError("scenario key 'team.max_lines_per_agent' must be at least 1")

    outcomes = _mix(_table(data, "outcomes"), base.outcomes, "outcomes.")

    timing = _table(data, "timing")
    _check_keys(
        timing,
        {
            "post_dial_delay_s",
            "ring_timeout_s",
            "busy_s",
            "invalid_s",
            "greeting_s",
            "machine_answer_mean_s",
            "machine_answer_sd_s",
            "machine_answer_min_s",
            "live_answer_min_s",
        },
        "timing.",
    )
    ring_timeout = _num(timing, "ring_timeout_s", base.ring_timeout_s, "timing.")
    if ring_timeout < 15.0:
        raise ConfigError("scenario key 'timing.ring_timeout_s' must be at least 15 (the law)")
    machine_answer = Normal(
        _num(timing, "machine_answer_mean_s", base.machine_answer_s.mean_s, "timing."),
        _num(timing, "machine_answer_sd_s", base.machine_answer_s.sd_s, "timing."),
        _num(timing, "machine_answer_min_s", base.machine_answer_s.min_s, "timing."),
    )

    live_answer = base.live_answer
    if "live_answer" in data:
        raw = data["live_answer"]
        if not isinstance(raw, list) or not raw:
            raise ConfigError("scenario key 'live_answer' must be an array of tables")
        components = []
        for i, comp in enumerate(raw):
            where = f"live_answer[{i}]."
            if not isinstance(comp, dict):
                raise ConfigError(f"scenario key {where!r} must be a table")
            kind = comp.get("kind")
            weight = _num(comp, "weight", 1.0, where)
            if kind == "uniform":
                _check_keys(comp, {"kind", "weight", "low_s", "high_s"}, where)
                dist: Uniform | Normal = Uniform(
                    _num(comp, "low_s", 0.0, where), _num(comp, "high_s", 0.0, where)
                )
            elif kind == "normal":
                _check_keys(comp, {"kind", "weight", "mean_s", "sd_s"}, where)
                dist = Normal(_num(comp, "mean_s", 0.0, where), _num(comp, "sd_s", 0.0, where))
            else:
                raise ConfigError(f"scenario key {where}'kind' must be 'uniform' or 'normal'")
            components.append(LiveAnswerComponent(weight, dist))
        live_answer = tuple(components)

    durations = _table(data, "durations")
    _check_keys(
        durations,
        {"talk_mean_s", "talk_cv", "wrap_mean_s", "wrap_cv", "machine_handling_s"},
        "durations.",
    )
    talk = LogNormal(
        _num(durations, "talk_mean_s", base.talk.mean_s, "durations."),
        _num(durations, "talk_cv", base.talk.cv, "durations."),
    )
    wrap = LogNormal(
        _num(durations, "wrap_mean_s", base.wrap.mean_s, "durations."),
        _num(durations, "wrap_cv", base.wrap.cv, "durations."),
    )
    if talk.mean_s <= 0 or wrap.mean_s <= 0 or talk.cv <= 0 or wrap.cv <= 0:
        raise ConfigError("scenario talk and wrap means and CVs must be positive")

    amd_t = _table(data, "amd")
    _check_keys(
        amd_t,
        {
            "enabled",
            "machine_verdict_s",
            "human_verdict_after_greeting_s",
            "false_positive_rate",
            "false_negative_rate",
        },
        "amd.",
    )
    enabled = amd_t.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError("scenario key 'amd.enabled' must be true or false")
    amd = Amd(
        enabled=enabled,
        machine_verdict_s=_uniform(amd_t, "machine_verdict_s", base.amd.machine_verdict_s, "amd."),
        human_verdict_after_greeting_s=_num(
            amd_t, "human_verdict_after_greeting_s", base.amd.human_verdict_after_greeting_s, "amd."
        ),
        false_positive_rate=_num(
            amd_t, "false_positive_rate", base.amd.false_positive_rate, "amd."
        ),
        false_negative_rate=_num(
            amd_t, "false_negative_rate", base.amd.false_negative_rate, "amd."
        ),
    )

    changes: list[Change] = []
    agent_changes: list[AgentChange] = []
    raw_changes = data.get("changes", [])
    if not isinstance(raw_changes, list):
        raise ConfigError("scenario key 'changes' must be an array of tables")
    mix_so_far = outcomes
    for i, ch in enumerate(sorted(raw_changes, key=lambda c: float(c.get("at_s", 0)))):
        where = f"changes[{i}]."
        if not isinstance(ch, dict):
            raise ConfigError(f"scenario key {where!r} must be a table")
        _check_keys(ch, {"at_s", "outcomes", "agents_delta"}, where)
        at = _num(ch, "at_s", 0.0, where)
        if "outcomes" in ch:
            mix_so_far = _mix(_table(ch, "outcomes"), mix_so_far, where + "outcomes.")
            changes.append(Change(at, mix_so_far))
        if "agents_delta" in ch:
            delta = ch["agents_delta"]
            if not isinstance(delta, int) or isinstance(delta, bool):
                raise ConfigError(f"scenario key {where}'agents_delta' must be an integer")
            agent_changes.append(AgentChange(at, delta))

    numbers_t = _table(data, "numbers")
    for number, fixed in numbers_t.items():
        if fixed not in NUMBER_OUTCOMES:
            raise ConfigError(
                f"scenario key 'numbers.{number}' must be one of {', '.join(NUMBER_OUTCOMES)}"
            )

    return Scenario(
        name=str(data.get("name", base.name)),
        description=str(data.get("description", "")),
        regime=regime,
        abandon_target=target,
        hold_s=hold,
        agents=agents,
        shift_s=shift,
        max_lines_per_agent=lines,
        seeds=tuple(seeds),
        outcomes=outcomes,
        post_dial_delay_s=_uniform(timing, "post_dial_delay_s", base.post_dial_delay_s, "timing."),
        live_answer=live_answer,
        live_answer_min_s=_num(timing, "live_answer_min_s", base.live_answer_min_s, "timing."),
        machine_answer_s=machine_answer,
        ring_timeout_s=ring_timeout,
        busy_s=_uniform(timing, "busy_s", base.busy_s, "timing."),
        invalid_s=_uniform(timing, "invalid_s", base.invalid_s, "timing."),
        greeting_s=_uniform(timing, "greeting_s", base.greeting_s, "timing."),
        talk=talk,
        wrap=wrap,
        machine_handling_s=_uniform(
            durations, "machine_handling_s", base.machine_handling_s, "durations."
        ),
        amd=amd,
        changes=tuple(changes),
        agent_changes=tuple(agent_changes),
        numbers=tuple((str(k), str(v)) for k, v in numbers_t.items()),
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read scenario {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"scenario {path} is not valid TOML: {e}") from e
    scenario = parse_scenario(data)
    if "name" not in data:
        scenario = replace(scenario, name=path.stem)
    return scenario
