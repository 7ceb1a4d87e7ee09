"""The exceedance census script, run as a user runs it."""

from __future__ import annotations

import subprocess

from dialerd.core.pacing import PredictiveConfig, PredictivePacer, ProgressivePacer
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario
from tests.scripts_support import ROOT, import_script, run_script

SCENARIO = "config/scenarios/small-budget/n6-live20-t1.toml"


def census(*args: str) -> subprocess.CompletedProcess[str]:
    """The script's run from the repository root."""
    return run_script("bench_pacing_exceedance", *args)


def test_the_census_reports_each_seeds_shift_as_the_simulator_ends_it() -> None:
    """The row of a scenario agrees with its shifts run here: their number, the worst and
    mean abandon rates, and how many ended over the target."""
    done = census("--scenarios", SCENARIO, "--seeds", "1-3")
    assert done.returncode == 0, done.stderr
    scenario = load_scenario(ROOT / SCENARIO)
    rates = []
    for seed in (1, 2, 3):
        pacer = PredictivePacer(PredictiveConfig(abandon_target=scenario.abandon_target))
        result = simulate_engine(scenario, pacer, seed)
        rates.append(result.abandon_rate)
    over = sum(rate > scenario.abandon_target for rate in rates)
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| n6-live20-t1 |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:6] == [
        "n6-live20-t1",
        "1%",
        "3",
        f"**{over}**" if over else "0",
        f"{max(rates):.2%}",
        f"{sum(rates) / 3:.2%}",
    ]
    assert f"{over} of 3 shifts over their target" in done.stdout
    assert "[1/1] n6-live20-t1 done" in done.stderr


def test_a_pattern_matching_nothing_is_refused() -> None:
    """A mistyped path says so and runs nothing."""
    done = census("--scenarios", "config/scenarios/no-such/*.toml")
    assert done.returncode == 2
    assert "no scenario matches config/scenarios/no-such/*.toml" in done.stderr


def test_the_window_at_a_days_end_holds_the_days_the_regime_counts() -> None:
    """Over 30 days every earlier shift is in the window; over 24 hours only the day's."""
    census_module = import_script("bench_pacing_exceedance")
    shift = census_module.Shift

    def day(abandoned: int, live: int) -> object:
        return shift(0.6, abandoned, 0, live, float(abandoned), 0.01)

    days = [day(0, 100), day(3, 100), day(1, 200)]
    assert census_module.window_rates(days, 30 * 86400.0) == [0.0, 3 / 200, 4 / 400]
    assert census_module.window_rates(days, 86400.0) == [0.0, 3 / 100, 1 / 200]


def test_a_later_day_starts_from_the_earlier_days_stored_answers() -> None:
    """Day 1 is the seed's own shift, unchanged by the days after it; day 2 runs another
    lead file, and its window still holds what day 1 counted."""
    census_module = import_script("bench_pacing_exceedance")
    first, second = census_module.run_days((SCENARIO, 1, {}, 2, False))
    scenario = load_scenario(ROOT / SCENARIO)
    pacer = PredictivePacer(PredictiveConfig(abandon_target=scenario.abandon_target))
    alone = simulate_engine(scenario, pacer, 1)
    assert (first.occupancy, first.abandoned, first.live_answered) == (
        alone.occupancy,
        alone.abandoned,
        alone.live_answered,
    )
    assert first.counted_abandoned == pacer.window.abandoned > 0
    # The stored answers are counted again, each abandon as much as it counted the first
    # time; the second day's own abandons come on top. A campaign's first day on the
    # second day's lead file paces otherwise.
    assert second.counted_abandoned >= first.counted_abandoned - 1e-9
    fresh = PredictivePacer(PredictiveConfig(abandon_target=scenario.abandon_target))
    alone_second = simulate_engine(scenario, fresh, 1 + census_module.LATER_DAY_SEED)
    assert (alone_second.occupancy, fresh.window.abandoned) != (
        second.occupancy,
        second.counted_abandoned,
    )


def test_the_census_over_days_reports_the_later_days_and_refuses_none() -> None:
    """``--days 2`` adds the later days' table and its count; ``--days 0`` is refused."""
    done = census("--scenarios", SCENARIO, "--seeds", "1", "--days", "2")
    assert done.returncode == 0, done.stderr
    (row,) = [line for line in done.stdout.splitlines() if "| 1 × 1 |" in line]
    assert row.startswith("| n6-live20-t1 | 1% | 1 × 1 |")
    assert "of 1 over their own target; the window over at" in done.stdout
    refused = census("--scenarios", SCENARIO, "--days", "0")
    assert refused.returncode == 2
    assert "--days: must be 1 or more, got 0" in refused.stderr


def test_the_census_tells_the_shifts_progressive_dialing_ends_over_too() -> None:
    """With AMD the people it hangs up on are abandons whatever the pacer does:
    ``--progressive`` dials each lead file progressively too and counts the shifts that
    end over the target that way, and those the predictive pacer ended over as well."""
    amd = "config/scenarios/amd-small-budget/n10-live20-t1-amd.toml"
    done = census("--scenarios", amd, "--seeds", "1-4", "--progressive")
    assert done.returncode == 0, done.stderr
    scenario = load_scenario(ROOT / amd)
    target = scenario.abandon_target
    predictive, progressive = [], []
    for seed in range(1, 5):
        config = PredictiveConfig(
            abandon_target=target, amd_false_positive_rate=scenario.amd.false_positive_rate
        )
        predictive.append(simulate_engine(scenario, PredictivePacer(config), seed))
        progressive.append(simulate_engine(scenario, ProgressivePacer(), seed))
    floor = [r.abandon_rate > target for r in progressive]
    both = sum(f and p.abandon_rate > target for f, p in zip(floor, predictive, strict=True))
    assert any(floor)
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| n10-live20-t1-amd |")]
    assert row.rstrip().endswith(f"| {sum(floor)} ({both} of them both) |")
    assert f"progressive dialing: {sum(floor)} of 4 over on the same lead files" in done.stdout
