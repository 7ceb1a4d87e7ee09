"""Simulated customers are drawn from the shared scenario format, seeded, with fixed numbers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dialerd.errors import ConfigError, UsageError
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.behaviour import Customers
from dialerd.sim.scenario import OutcomeMix, Scenario, parse_scenario


def test_numbers_table_fixes_outcomes() -> None:
    """A scenario's [numbers] table fixes the outcome of those numbers, congestion included."""
    scenario = parse_scenario({"numbers": {"5551": "congestion", "5552": "machine"}})
    assert scenario.numbers == (("5551", "congestion"), ("5552", "machine"))
    customers = Customers(scenario, random.Random(1))
    assert [customers.draw(n).outcome for n in ("5551", "5552", "5551")] == [
        "congestion",
        "machine",
        "congestion",
    ]


def test_numbers_table_rejects_unknown_outcomes() -> None:
    """An outcome the simulator does not know is a ConfigError naming the number."""
    with pytest.raises(ConfigError, match=r"numbers\.5551"):
        parse_scenario({"numbers": {"5551": "maybe"}})


def test_explicit_overrides_win_over_the_table() -> None:
    """Overrides given to the simulator replace the scenario's own entry for a number."""
    scenario = parse_scenario({"numbers": {"5551": "busy"}})
    customers = Customers(scenario, random.Random(1), {"5551": "invalid"})
    assert customers.draw("5551").outcome == "invalid"


def test_draws_repeat_for_a_seed() -> None:
    """Two simulators with the same seed draw the same customers in the same order."""
    first = Customers(Scenario(), random.Random(42))
    second = Customers(Scenario(), random.Random(42))
    numbers = [f"555{i:04d}" for i in range(50)]
    assert [first.draw(n) for n in numbers] == [second.draw(n) for n in numbers]


def test_outcome_mix_is_followed() -> None:
    """With every answer live, every drawn customer is live and answers after ringing."""
    everyone = Scenario().with_(outcomes=OutcomeMix(live=1.0, machine=0.0, busy=0.0, invalid=0.0))
    customers = Customers(everyone, random.Random(3))
    drawn = [customers.draw(f"{i}") for i in range(20)]
    assert {c.outcome for c in drawn} == {"live"}
    assert all(c.ring_s >= everyone.live_answer_min_s for c in drawn)


def test_unknown_override_is_refused() -> None:
    """An override with an unknown outcome is refused at start-up."""
    with pytest.raises(UsageError, match="5551"):
        Customers(Scenario(), random.Random(1), {"5551": "person"})


def test_human_is_another_name_for_live() -> None:
    """``human`` is accepted for a live answer."""
    assert Customers(Scenario(), random.Random(1), {"5551": "human"}).draw("5551").outcome == "live"


def test_simulator_loads_a_scenario_file() -> None:
    """A scenario given as a path is read with the pacing simulator's loader."""
    path = Path(__file__).resolve().parents[2] / "config" / "scenario.example.toml"
    sim = SimAsterisk(behaviour="dialerd", scenario=path, seed=1)
    assert isinstance(sim.scenario, Scenario)
    assert sim.scenario.name == "example"
