"""The exceedance census script, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dialerd.core.pacing import PredictiveConfig, PredictivePacer
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "config/scenarios/small-budget/n6-live20-t1.toml"


def census(*args: str) -> subprocess.CompletedProcess[str]:
    """The script's run from the repository root."""
    return subprocess.run(
        [sys.executable, "scripts/bench_pacing_exceedance.py", "--workers", "1", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
