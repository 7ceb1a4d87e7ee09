"""The benchmark harness's tuning of the reference threshold policy."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from dialerd.core.pacing import Pacer
from dialerd.sim.scenario import Scenario
from dialerd.sim.vsim import SimResult
from tests.scripts_support import import_script


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    """``scripts/pacing_reference.py``, imported as the scripts import it."""
    return import_script("pacing_reference")


def fake_simulator(rate_of: Callable[[float], float]) -> Callable[..., SimResult]:
    """A stand-in for the simulator whose abandon rate is a known function of θ."""

    def run(scenario: Scenario, pacer: Pacer, seed: int, *, policy: str = "") -> SimResult:
        theta: float = getattr(pacer, "fixed_theta")  # noqa: B009 - TunedPacer's field
        live = 100_000
        abandoned = round(rate_of(theta) * live)
        return SimResult(
            scenario.name, policy, seed, scenario.agents, scenario.shift_s,
            scenario.abandon_target, 0.7, 0.8, abandoned / live, live, abandoned,
            0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0,
        )  # fmt: skip

    return run


def tuned(reference: ModuleType, rate_of: Callable[[float], float]) -> tuple[float, float]:
    """The θ the tuning settles on, and its pooled abandon rate."""
    theta, results = reference.tune_theta(
        Scenario(abandon_target=0.03), [1, 2], {}, simulator=fake_simulator(rate_of)
    )
    return theta, reference.pooled_abandon(results)


def test_tuning_finds_the_largest_theta_under_the_target(reference: ModuleType) -> None:
    """The rate reaches the target at θ = 0.003: the tuning lands just under it."""
    theta, rate = tuned(reference, lambda theta: 10 * theta)
    assert rate <= 0.03
    assert 0.003 / 1.1 < theta <= 0.003


def test_tuning_looks_below_its_first_range_when_it_must(reference: ModuleType) -> None:
    """At 5 % live the rule must be tight: a θ of 0.0003, the first range's end, is still
    over the target here (the rate reaches it at 3e-6), and the tuning goes on below."""
    theta, rate = tuned(reference, lambda theta: 10_000 * theta)
    assert rate <= 0.03
    assert 3e-6 / 1.1 < theta <= 3e-6


def test_tuning_that_cannot_meet_the_target_says_so_in_its_rate(
    reference: ModuleType,
) -> None:
    """Over the target whatever θ: the tuning stops at its floor, the rate over."""
    theta, rate = tuned(reference, lambda theta: 0.05)
    assert theta == pytest.approx(reference.THETA_FLOOR)
    assert rate > 0.03
