"""The tuned policy held to the per-seed limit, beside the predictive pacer.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_per_seed.py --scenarios 'config/scenarios/us-n10-*.toml' \
        'config/scenarios/us-n20-*.toml' 'config/scenarios/uk-*.toml'

The benchmark tunes the model-based policy's theta in hindsight on the pooled abandon rate
of a scenario's seeds, so single seeds end over the target; the predictive pacer must keep
every seed under it. This script lowers the tuned theta (from ``scripts/pacing_theta.json``)
step by step, by the factors in ``FACTORS``, until every seed of the scenario ends at or
under the target, and prints that policy's occupancy beside the pooled-tuned one and the
predictive pacer's (all through the Dialer, the same lead file per seed); ``--seeds 1-15``
holds it to other seeds than the scenario's. It is an analysis, not a reference policy:
like the tuned policy it is tuned in hindsight.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    analysis_parser,
    analysis_run,
    parse_run_arguments,
    print_table_header,
    print_table_row,
    tuned_scenarios,
)

FACTORS = (1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08, 0.05)


def _run(task: tuple[str, float | None, int]) -> tuple[float, float]:
    """(occupancy, abandon rate) of one seed: the tuned policy at theta, or predictive."""
    path, theta, seed = task
    result = analysis_run(path, theta, seed)
    return result.occupancy, result.abandon_rate


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__)
    args, _, seeds_given = parse_run_arguments(parser, argv)
    scenarios = tuned_scenarios(args.scenarios)
    print_table_header(
        [
            "scenario",
            "tuned (pooled)",
            "tuned, every seed under",
            "/ pooled",
            "its θ factor",
            "predictive",
            "/ tuned every seed under",
        ]
    )
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path, scenario, tuned_theta in scenarios:
            seeds = seeds_given or list(scenario.seeds)
            # The occupancy at each theta factor until every seed is under the target;
            # the first (factor 1) is the pooled-tuned policy.
            tried: list[tuple[float, float]] = []
            held: tuple[float, float] | None = None
            for factor in FACTORS:
                runs = pool.map(_run, [(path, tuned_theta * factor, s) for s in seeds])
                tried.append((statistics.fmean(o for o, _ in runs), factor))
                if all(rate <= scenario.abandon_target + 1e-12 for _, rate in runs):
                    held = tried[-1]
                    break
            pooled = tried[0][0]
            predictive = statistics.fmean(
                o for o, _ in pool.map(_run, [(path, None, s) for s in seeds])
            )
            if held is None:
                cells = [f"none of {FACTORS}", "", "", f"{predictive:.3f}", ""]
            else:
                cells = [
                    f"{held[0]:.3f}",
                    f"{held[0] / pooled:.3f}",
                    f"{held[1]:g}",
                    f"{predictive:.3f}",
                    f"{predictive / held[0]:.3f}",
                ]
            print_table_row([scenario.name, f"{pooled:.3f}", *cells])
    return 0


if __name__ == "__main__":
    sys.exit(main())
