"""What taking back ringing calls gives and costs: the predictive pacer with and without it.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_takeback.py --scenarios 'config/scenarios/us-n10-*.toml' \
        --seeds 1-5

For each scenario it runs the predictive pacer with its defaults and with
``cancel_risk = 0`` (no ringing call hung up), on the same lead file per seed, through the
Dialer, and prints for each: mean occupancy, worst seed's abandon rate, dials and live
connects per agent-hour, and the calls hung up while ringing per agent-hour (with the
share of all dials). A call taken back is a contact tried again later, so the dials are
what the occupancy is bought with. An analysis; the benchmark itself runs the defaults.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    analysis_parser,
    analysis_run,
    matching_scenarios,
    parse_run_arguments,
    print_table_header,
    print_table_row,
)

from dialerd.sim.scenario import load_scenario
from dialerd.sim.vsim import SimResult

WITHOUT: Mapping[str, object] = {"cancel_risk": 0.0}


def _run(task: tuple[str, bool, int]) -> SimResult:
    path, take_back, seed = task
    return analysis_run(path, None, seed, settings=None if take_back else WITHOUT)


def _cells(runs: Sequence[SimResult]) -> list[str]:
    hours = sum(r.shift_s * r.agents for r in runs) / 3600
    dials = sum(r.dials for r in runs)
    cancelled = sum(r.rings_cancelled for r in runs)
    return [
        f"{statistics.fmean(r.occupancy for r in runs):.3f}",
        f"{max(r.abandon_rate for r in runs):.2%}",
        f"{dials / hours:.1f}",
        f"{sum(r.live_connects for r in runs) / hours:.2f}",
        f"{cancelled / hours:.1f} ({cancelled / dials:.0%})" if dials else "0",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__)
    args, _, seeds_given = parse_run_arguments(parser, argv)
    paths = matching_scenarios(args.scenarios)
    print_table_header(
        [
            "scenario",
            "occupancy",
            "worst seed",
            "dials / agent-hour",
            "live connects / agent-hour",
            "taken back / agent-hour",
            "without: occupancy",
            "worst seed",
            "dials / agent-hour",
            "live connects / agent-hour",
            "rings cut before 15 s",
        ]
    )
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path in paths:
            scenario = load_scenario(path)
            seeds = seeds_given or list(scenario.seeds)
            tasks = [(str(path), take_back, s) for take_back in (True, False) for s in seeds]
            runs = pool.map(_run, tasks)
            with_, without = runs[: len(seeds)], runs[len(seeds) :]
            early = sum(r.rings_cancelled_before_15s for r in runs)
            print_table_row([scenario.name, *_cells(with_), *_cells(without)[:4], str(early)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
