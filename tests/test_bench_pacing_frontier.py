"""The frontier analysis: the predictive rule given the tuned policy's advantages in steps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from types import ModuleType

import pytest

from dialerd.core.pacing import CallAbandoned, PacingFact, PacingView, PredictivePacer
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario
from tests.scripts_support import ROOT, import_script

SCENARIO = ROOT / "config/scenarios/us-n10-live10-t3.toml"


@pytest.fixture(scope="module")
def scripts() -> tuple[ModuleType, ModuleType]:
    """``bench_pacing_frontier`` and ``pacing_reference``, imported as the scripts do."""
    return import_script("bench_pacing_frontier"), import_script("pacing_reference")


class Shadowed:
    """Paces with ``lead`` and asks ``shadow`` too, on the same facts: their decisions
    are kept where both made a full evaluation in the same call."""

    def __init__(self, lead: PredictivePacer, shadow: PredictivePacer) -> None:
        self.lead = lead
        self.shadow = shadow
        self.both: list[tuple[int, int]] = []

    def decide(self, view: PacingView, now: float) -> int:
        # A pacer evaluates at most every min_interval_s, and a call in between (even at
        # the same instant) gets progressive dialing: compare the calls both evaluated in.
        before = (self.lead._evaluated_at, self.shadow._evaluated_at)
        mine = self.lead.decide(view, now)
        theirs = self.shadow.decide(view, now)
        after = (self.lead._evaluated_at, self.shadow._evaluated_at)
        if after[0] != before[0] and after[1] != before[1]:
            self.both.append((mine, theirs))
        return mine

    def observe(self, fact: PacingFact) -> None:
        self.lead.observe(fact)
        self.shadow.observe(fact)

    def next_deadline(self) -> float | None:
        return self.lead.next_deadline()

    def cancels(self) -> Sequence[int]:
        return self.lead.cancels()


def test_the_last_step_decides_as_the_tuned_policy_once_it_has_started(
    scripts: tuple[ModuleType, ModuleType],
) -> None:
    """Given the true tables, no ration and the same theta, the predictive pacer's rule
    places the calls the tuned policy places: only its start is left between them."""
    frontier, reference = scripts
    scenario = dataclasses.replace(load_scenario(SCENARIO), shift_s=1800.0)
    models = reference.true_models(scenario)
    tuned = reference.TunedPacer(scenario, 0.007, models)
    rule = frontier.FixedRule(scenario, "true busy", 0.007, models)
    pair = Shadowed(tuned, rule)
    simulate_engine(scenario, pair, 1, callers_known=True)
    assert len(pair.both) > 500
    assert sum(mine > 1 for mine, _ in pair.both) > 20  # predictive dialing, not only 1s
    assert [theirs for _, theirs in pair.both] == [mine for mine, _ in pair.both]


def test_the_earlier_steps_use_what_the_pacer_learned(
    scripts: tuple[ModuleType, ModuleType],
) -> None:
    """Before its step a model is the pacer's own; from it on, the true one."""
    frontier, reference = scripts
    scenario = load_scenario(SCENARIO)
    models = reference.true_models(scenario)
    true_rows = models[scenario.outcomes].answers.rows()
    rationed = frontier.FixedRule(scenario, "learned", 0.01, models)
    learned = frontier.FixedRule(scenario, "no ration", 0.01, models)
    told = frontier.FixedRule(scenario, "true answers", 0.01, models)
    assert rationed.config.max_extra_rate < learned.config.max_extra_rate
    assert rationed.answers.rows() != true_rows
    assert learned.answers.rows() != true_rows
    assert told.answers.rows() == true_rows
    assert told.busy.rows() != models[scenario.outcomes].busy.rows()


def test_theta_stays_where_it_was_set(scripts: tuple[ModuleType, ModuleType]) -> None:
    """An abandon moves the predictive pacer's theta; the analysis holds it."""
    frontier, reference = scripts
    scenario = load_scenario(SCENARIO)
    rule = frontier.FixedRule(scenario, "learned", 0.02, reference.true_models(scenario))
    rule.observe(CallAbandoned(1, 10.0, True))
    assert rule.theta == 0.02


def test_the_occupancy_is_read_between_the_thetas_either_side(
    scripts: tuple[ModuleType, ModuleType],
) -> None:
    """On the line between the closest points under and over the rate; from the one
    point there is otherwise."""
    frontier, _ = scripts
    under = frontier.Point(0.1, 0.02, 0.60)
    over = frontier.Point(0.2, 0.04, 0.70)
    assert frontier.at_rate(under, over, 0.03) == pytest.approx(0.65)
    assert frontier.at_rate(under, None, 0.03) == 0.60
    assert frontier.at_rate(None, over, 0.03) == 0.70
