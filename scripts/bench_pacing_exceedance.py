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
``reserve_sd=2``) to show what a larger reserve buys and costs. ``--progressive`` also
dials each seed's first day progressively and counts the shifts that end over that way:
with AMD, the shifts whose false positives alone put them over, which no pacing could
have kept under.

The benchmark's shift is a campaign's first day, its window empty. The law counts a
window (30 days in the US, 24 hours in the UK) that holds a campaign's earlier days.
``--days N`` runs N days of the campaign, one shift a day, each on its own lead file and
started from the earlier days' stored answers as the restarted daemon reads them, and adds
a table of the later days: how many ended over the target on their own, and how many
left the regime's window over it at their end. An analysis, not a reference policy.
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
    analysis_parser,
    matching_scenarios,
    parse_run_arguments,
    predictive_for,
    print_table_header,
    print_table_row,
    progress,
)
from bench_pacing_second_day import DAY_S, stored_history

from dialerd.core.commands import RecordDisposition, RecordOutcome
from dialerd.core.compliance import Outcome
from dialerd.core.pacing import ProgressivePacer
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario

LATER_DAY_SEED = 1000  # day d of a seed runs the lead file seed + (d - 1) * this


@dataclass(frozen=True, slots=True)
class Shift:
    """What one seed's shift ended with."""

    occupancy: float
    abandoned: int
    amd_false_positives: int
    live_answered: int
    counted_abandoned: float  # what the pacer's window held at the end, earlier days too
    target: float
    progressive_over: bool | None = None  # progressive dialing on the same lead file

    @property
    def rate(self) -> float:
        """The abandon rate by the benchmark's definition."""
        return self.abandoned / self.live_answered if self.live_answered else 0.0

    @property
    def over(self) -> bool:
        """Whether the shift ended over its target."""
        return self.rate > self.target + 1e-12


def run_days(
    task: tuple[str, int, Mapping[str, object], int, bool],
) -> tuple[Shift, ...]:
    """One seed of the scenario file over ``days`` days, paced by the predictive pacer
    with ``settings``; day 1 is the seed's own lead file, with an empty window. With
    ``progressive``, day 1 is also dialled progressively, to tell whether it ends over
    whatever the pacer does (AMD's false positives alone)."""
    path, seed, settings, days, progressive = task
    scenario = load_scenario(path)
    progressive_over = None
    if progressive:
        progressive_over = not simulate_engine(scenario, ProgressivePacer(), seed).under_target
    kept: list[list[RecordOutcome | RecordDisposition]] = []
    shifts = []
    for day in range(days):
        history: list[tuple[float, Outcome, float | None]] = []
        for before, records in enumerate(reversed(kept), 1):
            history += stored_history(records, recorded=True, days_before=before)
        history.sort(key=lambda answer: answer[0])
        records = []
        pacer = predictive_for(scenario, settings)
        result = simulate_engine(
            scenario,
            pacer,
            seed + day * LATER_DAY_SEED,
            history=tuple(history),
            records=records if day < days - 1 else None,
        )
        kept.append(records)
        shifts.append(
            Shift(
                occupancy=result.occupancy,
                abandoned=result.abandoned,
                amd_false_positives=result.amd_false_positives,
                live_answered=result.live_answered,
                counted_abandoned=pacer.window.abandoned,
                target=scenario.abandon_target,
                progressive_over=progressive_over if day == 0 else None,
            )
        )
    return tuple(shifts)


def window_rates(shifts: Sequence[Shift], window_s: float) -> list[float]:
    """The abandon rate over the regime's window at the end of each day's shift (a
    shift of day j is in day d's window while d - j days is less than the window)."""
    rates = []
    for d in range(len(shifts)):
        inside = [s for j, s in enumerate(shifts[: d + 1]) if (d - j) * DAY_S < window_s]
        live = sum(s.live_answered for s in inside)
        rates.append(sum(s.abandoned for s in inside) / live if live else 0.0)
    return rates


def row(name: str, shifts: Sequence[Shift]) -> list[str]:
    """The table's cells for one scenario (with the progressive column when it ran)."""
    over = sum(s.over for s in shifts)
    true = statistics.fmean(s.abandoned for s in shifts)
    counted = statistics.fmean(s.counted_abandoned for s in shifts)
    progressive_cells = []
    if shifts[0].progressive_over is not None:
        both = sum(bool(s.over and s.progressive_over) for s in shifts)
        progressive = sum(bool(s.progressive_over) for s in shifts)
        progressive_cells = [f"{progressive} ({both} of them both)"]
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
        *progressive_cells,
    ]


def later_over(runs: Sequence[Sequence[Shift]], window_s: float) -> tuple[int, int, int]:
    """Of the seeds' days after the first: how many ended over the target on their own
    rate, how many left the window over it at their end, and how many there were."""
    target = runs[0][0].target
    own = sum(s.over for run in runs for s in run[1:])
    ends = [rate for run in runs for rate in window_rates(run, window_s)[1:]]
    return own, sum(rate > target + 1e-12 for rate in ends), len(ends)


def later_row(name: str, runs: Sequence[Sequence[Shift]], window_s: float) -> list[str]:
    """The multi-day table's cells for one scenario: its seeds' days after the first."""
    later = [s for run in runs for s in run[1:]]
    windows = [window_rates(run, window_s) for run in runs]
    at_ends = [rate for rates in windows for rate in rates[1:]]
    target = runs[0][0].target
    over_own, over_window, _ = later_over(runs, window_s)
    last_true = statistics.fmean(
        sum(s.abandoned for j, s in enumerate(run) if (len(run) - 1 - j) * DAY_S < window_s)
        for run in runs
    )
    last_counted = statistics.fmean(run[-1].counted_abandoned for run in runs)
    return [
        name,
        f"{target:.0%}",
        f"{len(runs)} × {len(runs[0]) - 1}",
        str(over_own) if not over_own else f"**{over_own}**",
        str(over_window) if not over_window else f"**{over_window}**",
        f"{max(at_ends):.2%}",
        f"{statistics.fmean(rates[-1] for rates in windows):.2%}",
        f"{statistics.fmean(run[0].occupancy for run in runs):.3f}"
        f" / {statistics.fmean(s.occupancy for s in later):.3f}",
        f"{last_true:.1f} / {last_counted:.1f}",
    ]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__, "a PredictiveConfig parameter to change (repeat)")
    parser.add_argument(
        "--days", type=positive_int, default=1, help="days of the campaign per seed (default 1)"
    )
    parser.add_argument(
        "--progressive",
        action="store_true",
        help="also dial each first day progressively and count the shifts that end over",
    )
    args, settings, seeds_given = parse_run_arguments(parser, argv)
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
            *(["progressive dialing over"] if args.progressive else []),
        ]
    )
    every: list[Shift] = []
    later_rows: list[list[str]] = []
    over_own = over_window = later_ends = 0
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, (path, scenario) in enumerate(scenarios, 1):
            seeds = seeds_given or list(scenario.seeds)
            runs = pool.map(
                run_days,
                [(path, seed, settings, args.days, args.progressive) for seed in seeds],
            )
            shifts = [run[0] for run in runs]
            every += shifts
            print_table_row(row(scenario.name, shifts))
            if args.days > 1:
                window_s = scenario.regime.window_s
                later_rows.append(later_row(scenario.name, runs, window_s))
                own, window, ends = later_over(runs, window_s)
                over_own += own
                over_window += window
                later_ends += ends
            progress(done, len(scenarios), scenario.name, time.monotonic() - started)
    over = sum(s.over for s in every)
    print()
    print(
        f"{over} of {len(every)} shifts over their target ({over / len(every):.1%}); mean"
        f" occupancy {statistics.fmean(s.occupancy for s in every):.4f}"
        + (f"; settings {settings}" if settings else "; the pacer's defaults")
    )
    if args.progressive:
        progressive = sum(bool(s.progressive_over) for s in every)
        both = sum(bool(s.over and s.progressive_over) for s in every)
        print(
            f"progressive dialing: {progressive} of {len(every)} over on the same lead files,"
            f" {both} of them shifts the predictive pacer ended over too"
        )
    if later_rows:
        print()
        print_table_header(
            [
                "scenario",
                "target",
                "seeds × later days",
                "later days over the target",
                "window over at a later day's end",
                "window's worst at a later day's end",
                "window's mean at the last day's end",
                "occupancy, first day / later days",
                "window's abandons at the end, true / counted",
            ]
        )
        for cells in later_rows:
            print_table_row(cells)
        print()
        print(
            f"later days: {over_own} of {later_ends} over their own target;"
            f" the window over at {over_window} of {later_ends} days' ends"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
