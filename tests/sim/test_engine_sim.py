"""The virtual-time simulator driving the daemon's own Dialer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from dialerd.core import commands as cmd
from dialerd.core.pacing import (
    AgentActivity,
    AgentChanged,
    CallAbandoned,
    CallConnected,
    CallOutcome,
    CallPlaced,
    CallRang,
    CallResolved,
    PacingFact,
    PowerPacer,
    PredictiveConfig,
    PredictivePacer,
    ProgressivePacer,
)
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import AgentChange, Regime, Scenario, Uniform, load_scenario
from dialerd.sim.vsim import simulate
from tests.sim.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
SHORT = dataclasses.replace(Scenario(), agents=10, shift_s=3600.0)


def test_the_same_seed_gives_the_same_shift() -> None:
    """Common random numbers: a seed replays exactly."""
    a = simulate_engine(SHORT, ProgressivePacer(), 3)
    b = simulate_engine(SHORT, ProgressivePacer(), 3)
    assert a == b


def test_progressive_never_abandons_and_matches_the_model_floor() -> None:
    """One call per idle agent abandons nobody; the engine's figures track the model's."""
    engine = simulate_engine(SHORT, ProgressivePacer(), 1)
    floor = simulate(SHORT, ProgressivePacer(), 1)
    assert engine.abandoned == 0
    assert engine.dials > 100
    assert abs(engine.occupancy - floor.occupancy) < 0.03
    assert engine.peak_lines_per_agent <= 1.0


def test_the_dialer_names_the_call_each_agent_takes() -> None:
    """Through the engine, every talk begins with the call the agent was given (the
    connection that follows repeats the talk without it), and the agent's verdict is
    about that call."""
    recorder = Recorder(PowerPacer(2.0))
    simulate_engine(SHORT, recorder, 2)
    last: dict[int, AgentActivity] = {}
    given = []
    for f in recorder.facts:
        if isinstance(f, AgentChanged):
            if f.activity is AgentActivity.TALK and last.get(f.agent_id) is not f.activity:
                assert f.call_id is not None
                given.append(f.call_id)
            last[f.agent_id] = f.activity
    judged = [f.call_id for f in recorder.facts if isinstance(f, CallConnected)]
    assert len(given) > 50
    assert set(judged) <= set(given)
    assert len(set(given)) == len(given)


def test_power_dialling_abandons_and_respects_the_line_cap() -> None:
    """Three lines per idle agent overflow sometimes, never past the campaign's line cap."""
    result = simulate_engine(SHORT, PowerPacer(3.0), 1)
    assert result.abandoned > 0
    assert result.peak_lines_per_agent <= SHORT.max_lines_per_agent


def test_predictive_through_the_engine_stays_under_target() -> None:
    """The predictive pacer, run by the real Dialer for a shift, keeps under 3 %."""
    result = simulate_engine(
        SHORT, PredictivePacer(PredictiveConfig(abandon_target=0.03)), 2, policy="predictive"
    )
    progressive = simulate_engine(SHORT, ProgressivePacer(), 2)
    assert result.under_target
    assert result.occupancy > progressive.occupancy
    assert result.policy == "predictive"


def test_timeline_covers_the_whole_shift_when_the_floor_empties_early() -> None:
    """Every agent gone at 20 minutes: the steps after the last call still close."""
    scenario = SHORT.with_(agent_changes=(AgentChange(1200.0, -SHORT.agents),))
    result = simulate_engine(scenario, ProgressivePacer(), 1, timeline_step_s=900.0)
    assert [p.end_s for p in result.timeline] == [900.0, 1800.0, 2700.0, 3600.0]
    assert result.timeline[0].occupancy > 0
    assert result.timeline[-1].occupancy == 0.0


def test_timeline_counts_talk_in_the_steps_it_happens() -> None:
    """A call's talk falls in the steps it spans, not all in the step it was connected
    in: no step is over full occupancy, and the steps add up to the whole shift's."""
    result = simulate_engine(SHORT, PowerPacer(2.0), 1, timeline_step_s=60.0)
    steps = [p.occupancy for p in result.timeline]
    assert len(steps) == 60
    assert max(steps) <= 1.0
    # Ten agents logged in for the whole shift: every step weighs the same.
    assert abs(sum(steps) / len(steps) - result.occupancy) < 1e-9


def test_abandoned_callers_are_unknown_unless_the_analysis_tells_them() -> None:
    """Without AMD nobody heard who answered; ``callers_known`` tells the simulator's truth."""
    unknown, told = Recorder(PowerPacer(3.0)), Recorder(PowerPacer(3.0))
    plain = simulate_engine(SHORT, unknown, 1)
    known = simulate_engine(SHORT, told, 1, callers_known=True)
    unknown_abandons = [f for f in unknown.facts if isinstance(f, CallAbandoned)]
    told_abandons = [f for f in told.facts if isinstance(f, CallAbandoned)]
    assert plain == dataclasses.replace(known, policy=plain.policy)
    assert len(unknown_abandons) == len(told_abandons) > plain.abandoned > 0
    assert all(fact.human is None for fact in unknown_abandons)
    assert sum(fact.human is True for fact in told_abandons) == known.abandoned
    assert all(fact.human is not None for fact in told_abandons)


def _since_answer(recorder: Recorder) -> tuple[list[float], list[float]]:
    """Without AMD: for each call an agent took, and for each call abandoned, the time
    from its answer (when the Dialer tells the pacer an agent will be needed)."""
    answered = {
        f.call_id: f.at
        for f in recorder.facts
        if isinstance(f, CallResolved) and f.outcome is CallOutcome.ROUTED
    }
    taken = [
        f.at - answered[f.call_id]
        for f in recorder.facts
        if isinstance(f, AgentChanged) and f.activity is AgentActivity.TALK and f.call_id
    ]
    abandoned = [f.at - answered[f.call_id] for f in recorder.facts if isinstance(f, CallAbandoned)]
    return taken, abandoned


def test_the_greeting_clock_lets_an_agent_take_a_us_call_during_its_greeting() -> None:
    """By default a US call is ready for an agent when its greeting ends; on the benchmark's
    clock an agent can take it from its answer. It is abandoned 2 s after the greeting
    either way."""
    scenario = SHORT.with_(greeting_s=Uniform(1.5, 1.5))
    plain, greeting = Recorder(PowerPacer(3.0)), Recorder(PowerPacer(3.0))
    simulate_engine(scenario, plain, 1)
    simulate_engine(scenario, greeting, 1, greeting_clock=True)
    plain_taken, plain_abandoned = _since_answer(plain)
    greeting_taken, greeting_abandoned = _since_answer(greeting)
    assert min(plain_taken) >= 1.5 - 1e-9
    assert sum(t < 1.5 for t in greeting_taken) > 10
    assert plain_abandoned and greeting_abandoned
    assert all(abs(t - 3.5) < 1e-9 for t in plain_abandoned + greeting_abandoned)


def test_the_greeting_clock_changes_nothing_in_the_uk() -> None:
    """The UK's 2 seconds start at the answer either way."""
    scenario = SHORT.with_(regime=Regime.UK)
    plain = simulate_engine(scenario, PowerPacer(3.0), 1)
    assert plain.abandoned > 0
    assert simulate_engine(scenario, PowerPacer(3.0), 1, greeting_clock=True) == plain


class _TakesEverythingBack(ProgressivePacer):
    """Progressive dialing that asks, at every decision, to hang up every call in flight."""

    def __init__(self) -> None:
        self.in_flight: set[int] = set()

    def observe(self, fact: PacingFact) -> None:
        if isinstance(fact, CallPlaced):
            self.in_flight.add(fact.call_id)
        elif isinstance(fact, CallResolved):
            self.in_flight.discard(fact.call_id)

    def cancels(self) -> Sequence[int]:
        return sorted(self.in_flight)


def test_the_dialer_cuts_no_ring_short_whatever_the_pacer_asks() -> None:
    """A pacer asking to hang up every call at once: the model floor, which obeys, cuts
    rings short; the Dialer hangs up only calls that have rung 15 s."""
    floor = simulate(SHORT, _TakesEverythingBack(), 1)
    engine = simulate_engine(SHORT, _TakesEverythingBack(), 1)
    assert floor.rings_cancelled_before_15s > 0
    assert engine.rings_cancelled > 0
    assert engine.rings_cancelled_before_15s == 0


def test_the_predictive_pacer_takes_back_late_calls_and_every_call_resolves() -> None:
    """At 10 % live with 10 agents the pacer hangs up some calls still ringing; each had
    rung 15 s, and each resolves once, as cancelled."""
    scenario = dataclasses.replace(
        load_scenario(ROOT / "config/scenarios/us-n10-live10-t3.toml"), shift_s=3600.0
    )
    recorder = Recorder(PredictivePacer(PredictiveConfig(abandon_target=0.03)))
    result = simulate_engine(scenario, recorder, 1)
    rang = {f.call_id: f.at for f in recorder.facts if isinstance(f, CallRang)}
    placed = [f.call_id for f in recorder.facts if isinstance(f, CallPlaced)]
    resolved = [f for f in recorder.facts if isinstance(f, CallResolved)]
    cancelled = [f for f in resolved if f.outcome is CallOutcome.CANCELLED]
    assert result.rings_cancelled == len(cancelled) > 0
    assert result.rings_cancelled_before_15s == 0
    assert all(f.at - rang[f.call_id] >= 15.0 for f in cancelled)
    ids = [f.call_id for f in resolved]
    assert len(set(ids)) == len(ids)  # each resolves once
    assert set(ids) <= set(placed)
    assert result.under_target


class _Recounting(PredictivePacer):
    """A predictive pacer that notes how it counted each abandon nobody heard, last."""

    def __init__(self, config: PredictiveConfig) -> None:
        super().__init__(config)
        self.counted: dict[int, float] = {}
        self.changed = 0

    def observe(self, fact: PacingFact) -> None:
        super().observe(fact)
        if isinstance(fact, CallAbandoned) and fact.human is None:
            assert self.last_abandon_counted is not None
            self.counted[fact.call_id] = self.last_abandon_counted

    def recounts(self) -> list[tuple[int, float]]:
        done = super().recounts()
        for call_id, counted in done:
            self.changed += counted != self.counted[call_id]
            self.counted[call_id] = counted
        return done


def test_the_records_keep_an_abandons_last_count() -> None:
    """An abandon counted again is recorded with its new count, as the store keeps it (the
    second-day benchmark reads the records)."""
    pacer = _Recounting(PredictiveConfig(abandon_target=0.03, recount_after_s=300.0))
    records: list[cmd.RecordOutcome | cmd.RecordDisposition] = []
    simulate_engine(dataclasses.replace(SHORT, agents=20), pacer, 1, records=records)
    stored = sorted(
        r.counted_human
        for r in records
        if isinstance(r, cmd.RecordOutcome) and r.counted_human is not None
    )
    assert pacer.changed > 0
    assert stored == sorted(pacer.counted.values())
