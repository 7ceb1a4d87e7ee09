"""Where in the shift the predictive pacer's occupancy falls behind the tuned policy's.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_timeline.py --scenarios 'config/scenarios/us-n10-live10-*.toml'

For each scenario it runs the tuned model-based policy (its pooled theta from
``scripts/pacing_theta.json``) and the predictive pacer with its defaults on the same
lead file per seed, through the Dialer, and prints their mean occupancy over each
``--step`` of the shift (30 minutes by default). The last columns split the difference in
occupancy over the whole shift into the part made in the first step, while the
predictive pacer is still learning (it dials progressively until it has seen enough
attempts and finished calls), and the part made over the rest. An analysis, not a
reference policy.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import analysis_run, print_table_header, print_table_row, tuned_scenarios


def _run(task: tuple[str, float | None, int, float]) -> tuple[float, list[float]]:
    """Occupancy over the shift and over each step of one seed (tuned at theta, or predictive)."""
    path, theta, seed, step_s = task
    result = analysis_run(path, theta, seed, timeline_step_s=step_s)
    return result.occupancy, [point.occupancy for point in result.timeline]


def _mean_profile(runs: list[tuple[float, list[float]]]) -> tuple[float, list[float]]:
    # Every seed has a point per step: the simulator closes the steps to the shift's end.
    columns = zip(*(profile for _, profile in runs), strict=True)
    return statistics.fmean(o for o, _ in runs), [statistics.fmean(c) for c in columns]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["config/scenarios/*.toml"])
    parser.add_argument("--step", type=float, default=1800.0, help="seconds per column")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.step <= 0:
        print("--step must be positive", file=sys.stderr)
        return 2
    scenarios = tuned_scenarios(args.scenarios)
    header_done = False
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path, scenario, theta in scenarios:
            seeds = scenario.seeds
            tasks: list[tuple[str, float | None, int, float]] = [
                (path, theta, s, args.step) for s in seeds
            ]
            tasks += [(path, None, s, args.step) for s in seeds]
            runs = pool.map(_run, tasks)
            tuned_occ, tuned = _mean_profile(runs[: len(seeds)])
            pred_occ, predictive = _mean_profile(runs[len(seeds) :])
            steps = len(tuned)
            if not header_done:
                labels = [f"{(k + 1) * args.step / 60:g} min" for k in range(steps)]
                print_table_header(
                    [
                        "scenario",
                        "policy",
                        *labels,
                        "whole shift",
                        "gap",
                        "of it, first step",
                        "of it, the rest",
                    ]
                )
                header_done = True
            total = tuned_occ - pred_occ
            # Agents stay logged in all shift: each step weighs step / shift of the whole.
            first = (tuned[0] - predictive[0]) * min(1.0, args.step / scenario.shift_s)
            for label, occ, profile in (
                ("tuned", tuned_occ, tuned),
                ("predictive", pred_occ, predictive),
            ):
                tail = (
                    [f"{total:.3f}", f"{first:.3f}", f"{total - first:.3f}"]
                    if label == "predictive"
                    else ["", "", ""]
                )
                cells = [f"{x:.3f}" for x in profile[:steps]]
                print_table_row([scenario.name, label, *cells, f"{occ:.3f}", *tail])
    return 0


if __name__ == "__main__":
    sys.exit(main())
