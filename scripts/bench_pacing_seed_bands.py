"""The predictive pacer against the tuned policy over many seeds, five at a time.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_seed_bands.py --seeds 1-30 --scenarios \
        'config/scenarios/us-n10-*.toml' 'config/scenarios/us-n20-*.toml'

The benchmark judges a scenario's occupancy ratio (the predictive pacer's mean occupancy
over the tuned model-based policy's) on five seeds, and a shift's occupancy varies from
seed to seed by more than the ratio's distance from 0.97 in the small teams. This runs
both policies (the tuned one at its pooled theta from ``scripts/pacing_theta.json``, the
predictive pacer with its defaults or the ``--set`` parameters) on the same lead file per
seed, through the Dialer, and prints each scenario's ratio for each band of ``--band``
consecutive seeds, then over all the seeds with its standard error (the delta method
over the seeds' paired shifts), and the predictive pacer's worst abandon rate: whether a
ratio under 0.97 on one band is the seeds' luck or the pacer's. An analysis, not a
reference policy.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    analysis_parser,
    analysis_run,
    parse_run_arguments,
    print_table_header,
    print_table_row,
    progress,
    tuned_scenarios,
)

BAR = 0.97


def _run(task: tuple[str, float | None, Mapping[str, object], int]) -> tuple[float, float]:
    """(occupancy, abandon rate) of one seed: the tuned policy at theta, or predictive."""
    path, theta, settings, seed = task
    result = analysis_run(path, theta, seed, settings=settings or None)
    return result.occupancy, result.abandon_rate


def ratio_and_error(predictive: Sequence[float], tuned: Sequence[float]) -> tuple[float, float]:
    """mean(predictive) / mean(tuned) over paired seeds, and its standard error."""
    ratio = statistics.fmean(predictive) / statistics.fmean(tuned)
    if len(tuned) < 2:
        return ratio, math.nan
    residuals = [p - ratio * t for p, t in zip(predictive, tuned, strict=True)]
    error = statistics.stdev(residuals) / (math.sqrt(len(tuned)) * statistics.fmean(tuned))
    return ratio, error


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(
        __doc__, "a PredictiveConfig parameter to change (repeat for several)", "1-30"
    )
    parser.add_argument("--band", type=int, default=5, help="seeds per band (default 5)")
    args, settings, seeds_given = parse_run_arguments(parser, argv)
    if args.band < 1:
        parser.error(f"--band: must be at least 1, got {args.band}")
    seeds = seeds_given or list(range(1, 31))
    bands = [seeds[i : i + args.band] for i in range(0, len(seeds), args.band)]
    scenarios = tuned_scenarios(args.scenarios)
    if settings:
        print("predictive pacer: " + " ".join(f"{k}={v}" for k, v in settings.items()))
    band_names = [f"{band[0]}–{band[-1]}" if len(band) > 1 else f"{band[0]}" for band in bands]
    print_table_header(
        [
            "scenario",
            *band_names,
            f"all {len(seeds)} seeds",
            "± se",
            "bands under 0.97",
            "worst seed",
            "target",
        ]
    )
    overall: list[float] = []
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, (path, scenario, theta) in enumerate(scenarios, 1):
            # The tuned policy, then the predictive pacer.
            policies: list[tuple[float | None, Mapping[str, object]]] = [
                (theta, {}),
                (None, settings),
            ]
            tasks = [(path, t, s, seed) for t, s in policies for seed in seeds]
            runs = pool.map(_run, tasks)
            tuned = dict(zip(seeds, (o for o, _ in runs[: len(seeds)]), strict=True))
            paced = dict(zip(seeds, runs[len(seeds) :], strict=True))
            cells = [scenario.name]
            under = 0
            for band in bands:
                ratio, _ = ratio_and_error([paced[s][0] for s in band], [tuned[s] for s in band])
                under += ratio < BAR
                cells.append(f"{ratio:.3f}")
            ratio, error = ratio_and_error([paced[s][0] for s in seeds], [tuned[s] for s in seeds])
            overall.append(ratio)
            worst = max(rate for _, rate in paced.values())
            mark = " (over)" if worst > scenario.abandon_target + 1e-12 else ""
            cells += [f"{ratio:.3f}", f"{error:.3f}", f"{under} of {len(bands)}"]
            cells += [f"{worst:.2%}{mark}", f"{scenario.abandon_target:.0%}"]
            print_table_row(cells)
            progress(done, len(scenarios), scenario.name, time.monotonic() - started)
    print(
        f"over all the seeds: mean / tuned {statistics.fmean(overall):.3f}, "
        f"at or above {BAR} in {sum(r >= BAR for r in overall)} of {len(overall)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
