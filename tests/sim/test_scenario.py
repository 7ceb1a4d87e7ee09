"""Scenario files: parsing, validation and the seeded draw of attempts."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import pytest

from dialerd.errors import ConfigError
from dialerd.sim.scenario import (
    LeadFile,
    Outcome,
    OutcomeMix,
    Regime,
    Scenario,
    draw_attempt,
    load_scenario,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_holds_the_defaults() -> None:
    """The documented example file parses to the default scenario."""
    scenario = load_scenario(ROOT / "config" / "scenario.example.toml")
    assert scenario == Scenario(name="example", description=scenario.description)


def test_standard_scenarios_all_parse() -> None:
    """Every shipped standard scenario is valid and has five seeds."""
    files = sorted((ROOT / "config" / "scenarios").glob("*.toml"))
    assert len(files) == 32
    for f in files:
        scenario = load_scenario(f)
        assert scenario.name == f.stem
        assert scenario.seeds == (1, 2, 3, 4, 5)


def test_robustness_scenarios_all_parse() -> None:
    """Every shipped robustness scenario is valid, named after its file, with five seeds
    (two with 200 agents, the slowest to run)."""
    files = sorted((ROOT / "config" / "scenarios" / "robustness").glob("*.toml"))
    assert len(files) == 27
    for f in files:
        scenario = load_scenario(f)
        assert scenario.name == f.stem
        assert scenario.seeds == ((1, 2) if scenario.agents == 200 else (1, 2, 3, 4, 5))


def test_small_budget_scenarios_all_parse() -> None:
    """The census's scenarios are valid and named after their files; those with AMD keep
    its false positives under the target (at or over it no pacing can comply)."""
    for folder, count in (("small-budget", 16), ("amd-small-budget", 5)):
        files = sorted((ROOT / "config" / "scenarios" / folder).glob("*.toml"))
        assert len(files) == count
        for f in files:
            scenario = load_scenario(f)
            assert scenario.name == f.stem
            if scenario.amd.enabled:
                assert scenario.amd.false_positive_rate < scenario.abandon_target


def test_unknown_top_level_key_is_named() -> None:
    """An unknown top-level key is an error naming the key."""
    with pytest.raises(ConfigError, match="'agentz'"):
        parse_scenario({"agentz": 3})


def test_unknown_nested_key_is_named_with_its_table() -> None:
    """An unknown key inside a table is named with its table."""
    with pytest.raises(ConfigError, match=r"team\.'agentz'"):
        parse_scenario({"team": {"agentz": 3}})


def test_outcome_probabilities_over_one_are_refused() -> None:
    """Outcome probabilities that sum to more than one are refused."""
    with pytest.raises(ConfigError, match="exceed 1"):
        parse_scenario({"outcomes": {"live": 0.5, "machine": 0.5, "busy": 0.1}})


def test_ring_timeout_under_fifteen_seconds_is_refused() -> None:
    """A ring timeout under the legal 15 s is refused."""
    with pytest.raises(ConfigError, match="ring_timeout_s"):
        parse_scenario({"timing": {"ring_timeout_s": 12}})


def test_bad_regime_is_refused() -> None:
    """A regime other than US or UK is refused."""
    with pytest.raises(ConfigError, match="US or UK"):
        parse_scenario({"regime": {"name": "FR"}})


def test_changes_accumulate_and_apply_by_time() -> None:
    """A live-rate step applies from its time on and agent changes are kept apart."""
    text = """
    [outcomes]
    live = 0.2
    [[changes]]
    at_s = 10800
    outcomes = { live = 0.1 }
    [[changes]]
    at_s = 3600
    agents_delta = -5
    """
    scenario = parse_scenario(tomllib.loads(text))
    assert scenario.outcomes_at(10799.0).live == 0.2
    assert scenario.outcomes_at(10800.0) == OutcomeMix(live=0.1)
    assert [(c.at_s, c.delta) for c in scenario.agent_changes] == [(3600.0, -5)]
    assert scenario.regime is Regime.US


def test_lead_file_is_the_same_for_a_seed() -> None:
    """Two lead files with the same seed hold the same attempts, in any access order."""
    scenario = Scenario()
    a, b = LeadFile(scenario, 7), LeadFile(scenario, 7)
    assert b[5] == a[5]
    assert [a[i] for i in range(10)] == [b[i] for i in range(10)]
    assert LeadFile(scenario, 8)[0] != a[0]


def test_late_answer_becomes_no_answer_at_the_timeout() -> None:
    """A live answer later than the ring timeout resolves as no-answer at the timeout."""
    draw = draw_attempt(random.Random(1), Scenario())
    late = draw.__class__(**{**_fields(draw), "u_outcome": 0.0, "live_ring_s": 30.0})
    attempt = late.resolve(Scenario())
    assert attempt.nominal is Outcome.LIVE
    assert attempt.outcome is Outcome.NO_ANSWER
    assert attempt.ring_s == 25.0
    assert not attempt.routed


def test_amd_false_positive_is_not_routed() -> None:
    """With AMD a human judged a machine is not routed to an agent."""
    scenario = Scenario().with_(amd=Scenario().amd.__class__(enabled=True))
    draw = draw_attempt(random.Random(1), scenario)
    fields = {**_fields(draw), "u_outcome": 0.0, "live_ring_s": 5.0, "greeting_s": 1.0}
    human = draw.__class__(**{**fields, "u_amd": 0.5}).resolve(scenario)
    judged_machine = draw.__class__(**{**fields, "u_amd": 0.01}).resolve(scenario)
    assert human.routed
    assert human.verdict_after_answer_s == pytest.approx(1.8)
    assert not judged_machine.routed
    assert judged_machine.outcome is Outcome.LIVE


def _fields(draw: object) -> dict[str, float]:
    return {name: getattr(draw, name) for name in draw.__slots__}  # type: ignore[attr-defined]
