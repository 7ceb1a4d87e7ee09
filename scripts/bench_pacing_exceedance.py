"""How often a shift of the predictive pacer ends over its abandon target, and why.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_exceedance.py --seeds 1-30 --scenarios \
        'config/scenarios/small-budget/*.toml' 'config/scenarios/us-n10-live[12]0-t1.toml'

The benchmark holds the pacer to its target in every seed of the standard scenarios. The
pacer cannot see everything it counts: without AMD nobody heard who answered an abandoned
call, and with AMD nobody knows which people the detector hung up on (its false positives,
abandons by the benchmark's definition). It counts both by estimate, and its budget guard
keeps a reserve against the error (``reserve_calls`` plus ``reserve_sd`` standard
deviations). This runs the predictive pacer alone, through the Dialer, over many seeds, and
counts the shifts that end over the target: per scenario, the shifts over, the worst and
mean abandon rate, the mean occupancy, the AMD false positives per shift, and the true
abandons against those the pacer counted. ``--set`` changes the pacer's parameters (e.g.
``reserve_sd=2``) to show what a larger reserve buys and costs. An analysis, not a
reference policy.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    add_run_arguments,
    matching_scenarios,
    predictive_for,
    print_table_header,
    print_table_row,
    progress,
    read_run_arguments,
)

from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario


@dataclass(frozen=True, slots=True)
class Shift:
    """What one seed's shift ended with."""

    occupancy: float
    abandoned: int
    amd_false_positives: int
    live_answered: int
    counted_abandoned: float
    target: float

    @property
    def rate(self) -> float:
        """The abandon rate by the benchmark's definition."""
        return self.abandoned / self.live_answered if self.live_answered else 0.0

    @property
    def over(self) -> bool:
        """Whether the shift ended over its target."""
        return self.rate > self.target + 1e-12


def run_shift(task: tuple[str, int, Mapping[str, object]]) -> Shift:
    """One seed of the scenario file, paced by the predictive pacer with ``settings``."""
    path, seed, settings = task
    scenario = load_scenario(path)
    pacer = predictive_for(scenario, settings)
    result = simulate_engine(scenario, pacer, seed)
    return Shift(
        occupancy=result.occupancy,
        abandoned=result.abandoned,
        amd_false_positives=result.amd_false_positives,
        live_answered=result.live_answered,
        counted_abandoned=pacer.window.abandoned,
        target=scenario.abandon_target,
    )


def row(name: str, shifts: Sequence[Shift]) -> list[str]:
    """The table's cells for one scenario."""
    over = sum(s.over for s in shifts)
    true = statistics.fmean(s.abandoned for s in shifts)
    counted = statistics.fmean(s.counted_abandoned for s in shifts)
    return [
        name,
        f"{shifts[0].target:.0%}",
        str(len(shifts)),
        str(over) if not over else f"**{over}**",
        f"{max(s.rate for s in shifts):.2%}",
        f"{statistics.fmean(s.rate for s in shifts):.2%}",
        f"{statistics.fmean(s.occupancy for s in shifts):.3f}",
        f"{statistics.fmean(s.amd_false_positives for s in shifts):.1f}",
        f"{true:.1f} / {counted:.1f}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, set_help="a PredictiveConfig parameter to change (repeat)")
    args = parser.parse_args(argv)
    settings, seeds_given = read_run_arguments(parser, args)
    paths = matching_scenarios(args.scenarios)
    scenarios = [(path, load_scenario(path)) for path in paths]
    print_table_header(
        [
            "scenario",
            "target",
            "shifts",
            "over the target",
            "worst",
            "mean abandon rate",
            "occupancy",
            "AMD false positives per shift",
            "abandons, true / counted",
        ]
    )
    every: list[Shift] = []
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, (path, scenario) in enumerate(scenarios, 1):
            seeds = seeds_given or list(scenario.seeds)
            shifts = pool.map(run_shift, [(path, seed, settings) for seed in seeds])
            every += shifts
            print_table_row(row(scenario.name, shifts))
            progress(done, len(scenarios), scenario.name, time.monotonic() - started)
    over = sum(s.over for s in every)
    print()
    print(
        f"{over} of {len(every)} shifts over their target ({over / len(every):.1%}); mean"
        f" occupancy {statistics.fmean(s.occupancy for s in every):.4f}"
        + (f"; settings {settings}" if settings else "; the pacer's defaults")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
