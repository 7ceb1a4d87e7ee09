"""The predictive pacer with some of its parameters changed, beside its defaults.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_ablation.py --set soft_budget_abandons=1 \
        --set reserve_sd=0.5 --scenarios 'config/scenarios/us-n10-live10-*.toml' --seeds 1-5

For each scenario it runs the tuned model-based policy (its pooled theta from
``scripts/pacing_theta.json``), the predictive pacer with its defaults, and the
predictive pacer with the ``--set`` parameters of ``PredictiveConfig`` changed (and, with
``--known-callers``, told who answered each call abandoned without AMD, which no dialer
can know: what estimating the callers costs), on the same lead file per seed, through
the Dialer. It prints each one's mean occupancy, the
predictive pacer's ratio to the tuned policy, and its worst seed's abandon rate (marked
when over the target). This is how the trials under "What was tried" in docs/pacing.md
are measured. An analysis: the parameters a campaign sets (target, window, AMD estimate)
come from the scenario and cannot be changed here.
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
    parse_run_arguments,
    print_table_header,
    print_table_row,
    tuned_scenarios,
)


def _run(
    task: tuple[str, float | None, Mapping[str, object] | None, bool, int],
) -> tuple[float, float]:
    """(occupancy, abandon rate) of one seed: the tuned policy at theta, or predictive."""
    path, theta, settings, callers_known, seed = task
    result = analysis_run(path, theta, seed, settings=settings, callers_known=callers_known)
    return result.occupancy, result.abandon_rate


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__, "a PredictiveConfig parameter to change (repeat for several)")
    parser.add_argument(
        "--known-callers",
        action="store_true",
        help="tell the changed pacer who answered each call abandoned without AMD",
    )
    args, settings, seeds_given = parse_run_arguments(parser, argv)
    if not settings and not args.known_callers:
        parser.error("nothing to compare: give --known-callers or at least one --set NAME=VALUE")
    scenarios = tuned_scenarios(args.scenarios)
    changed = " ".join(
        [f"{k}={v}" for k, v in settings.items()] + ["callers known"] * args.known_callers
    )
    print(f"changed: {changed}")
    print_table_header(
        [
            "scenario",
            "tuned",
            "defaults",
            "/ tuned",
            "worst seed",
            "changed",
            "/ tuned",
            "worst seed",
            "target",
        ]
    )
    ratios: dict[str, list[float]] = {"defaults": [], "changed": []}
    over = {"defaults": 0, "changed": 0}
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path, scenario, theta in scenarios:
            seeds = seeds_given or list(scenario.seeds)
            # (theta, settings, callers known) of each policy: tuned at theta, or
            # predictive. One map for all of them, so that neither worker waits at the end
            # of each policy.
            policies = {
                "tuned": (theta, None, False),
                "defaults": (None, None, False),
                "changed": (None, settings, args.known_callers),
            }
            tasks = [(path, t, c, k, s) for t, c, k in policies.values() for s in seeds]
            runs = pool.map(_run, tasks)
            n = len(seeds)
            by = {name: runs[i * n : (i + 1) * n] for i, name in enumerate(policies)}
            tuned = statistics.fmean(o for o, _ in by["tuned"])
            cells = [scenario.name, f"{tuned:.3f}"]
            for policy in ("defaults", "changed"):
                occupancy = statistics.fmean(o for o, _ in by[policy])
                worst = max(rate for _, rate in by[policy])
                ratios[policy].append(occupancy / tuned)
                mark = ""
                if worst > scenario.abandon_target + 1e-12:
                    over[policy] += 1
                    mark = " (over)"
                cells += [f"{occupancy:.3f}", f"{occupancy / tuned:.3f}", f"{worst:.2%}{mark}"]
            cells.append(f"{scenario.abandon_target:.0%}")
            print_table_row(cells)
    for policy in ("defaults", "changed"):
        print(
            f"{policy}: mean / tuned {statistics.fmean(ratios[policy]):.3f}, "
            f"at or above 0.97 in {sum(r >= 0.97 for r in ratios[policy])} of {len(scenarios)}, "
            f"a seed over the target in {over[policy]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
