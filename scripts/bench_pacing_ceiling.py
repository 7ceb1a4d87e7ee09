"""What not hearing who answered costs a pacer that keeps every seed under the target.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_ceiling.py --margin-sd 2 --set theta_initial=0.05 \
        --scenarios 'config/scenarios/us-n10-live10-*.toml' --seeds 1-5

Without AMD nobody hears who answered a call that no agent took, so a dialer can only
estimate how many of its abandons were people; with AMD it can only estimate how many
people AMD hung up on. A pacer that must keep every seed under the target has to stay
below it by the error of that estimate. This script measures what that costs at best,
for the predictive pacer's estimates and controller:

1. the pacer runs told who answered every abandoned call (which no dialer can know),
   without the budget guard, its controller aiming at the whole target: its abandons
   are then known exactly, and the controller alone holds them near the target. Beside
   it, the script counts what the count's error would have been had the callers not been
   told, in the most favourable case: each abandoned answer a person with the share of
   people among all the shift's answers of the same ring time (1 s bins, known in
   hindsight), so the count's variance is the sum of w (1 - w) over the abandoned
   answers; with AMD, plus the variance of the people it hung up on (as the pacer
   counts it). Its square root is the sd of the count, in abandons.
2. the same pacer runs again, its controller aiming ``--margin-sd`` of those sd below the
   target (as a share of the target: 1 - margin x sd / (target x live answers)).

Each run is on the same lead file per seed, through the Dialer, beside the tuned policy
(its pooled theta). The second ratio to the tuned policy is what a pacer that holds every
seed under the target with that margin could reach, if it knew the share of people at
every ring time exactly and its controller were the only thing between it and the
target. An analysis, not a setting to use.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    analysis_parser,
    analysis_run,
    parse_run_arguments,
    predictive_for,
    print_table_header,
    print_table_row,
    tuned_scenarios,
)

from dialerd.core.pacing import (
    CallAbandoned,
    CallConnected,
    CallOutcome,
    CallPlaced,
    CallResolved,
    PacingFact,
    PacingView,
    PredictivePacer,
)
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario

# No budget guard: an opening credit that no shift repays.
NO_GUARD: Mapping[str, object] = {"opening_credit_live": 1e9}


@dataclass
class CallerCount:
    """Passes the facts on to the pacer, noting the ring time and caller of each answer."""

    pacer: PredictivePacer
    placed: dict[int, float] = field(default_factory=dict)
    ring: dict[int, int] = field(default_factory=dict)
    people: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))
    answers: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))
    abandoned: list[int] = field(default_factory=list)

    def decide(self, view: PacingView, now: float) -> int:
        return self.pacer.decide(view, now)

    def next_deadline(self) -> float | None:
        return self.pacer.next_deadline()

    def cancels(self) -> Sequence[int]:
        return self.pacer.cancels()

    def observe(self, fact: PacingFact) -> None:
        match fact:
            case CallPlaced(call_id, at):
                self.placed[call_id] = at
            case CallResolved(call_id, at, CallOutcome.ROUTED) if call_id in self.placed:
                self.ring[call_id] = int(at - self.placed.pop(call_id))
            case CallResolved(call_id, _, _):
                self.placed.pop(call_id, None)
            case CallConnected(call_id, _, human) | CallAbandoned(call_id, _, human):
                ring = self.ring.pop(call_id, None)
                if ring is not None and human is not None:
                    self.answers[ring] += 1
                    self.people[ring] += human
                    if isinstance(fact, CallAbandoned):
                        self.abandoned.append(ring)
        self.pacer.observe(fact)

    def variance(self) -> float:
        """The variance of the count of people among the abandoned answers (see above)."""
        shares = {ring: self.people[ring] / n for ring, n in self.answers.items()}
        unknown = sum(shares[ring] * (1 - shares[ring]) for ring in self.abandoned)
        # With AMD the pacer is told nothing of the people it hung up on: its own variance.
        return unknown + self.pacer.window.uncertainty


def _run(task: tuple[str, float | None, Mapping[str, object], int]) -> tuple[float, ...]:
    """(occupancy, abandon rate, live answers, sd of the count) of one seed."""
    path, theta, settings, seed = task
    if theta is not None:
        tuned = analysis_run(path, theta, seed)
        return tuned.occupancy, tuned.abandon_rate, float(tuned.live_answered), 0.0
    scenario = load_scenario(path)
    count = CallerCount(predictive_for(scenario, settings))
    result = simulate_engine(scenario, count, seed, callers_known=True)
    return (
        result.occupancy,
        result.abandon_rate,
        float(result.live_answered),
        math.sqrt(count.variance()),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(
        __doc__, "another PredictiveConfig parameter to change (repeat for several)"
    )
    parser.add_argument(
        "--margin-sd", type=float, default=2.0, help="sd of the count to aim below the target"
    )
    args, settings, seeds_given = parse_run_arguments(parser, argv)
    if args.margin_sd < 0:
        parser.error("--margin-sd is a number of sd, 0 or more")
    for name in ("internal_target_share", "opening_credit_live"):
        if name in settings:
            parser.error(f"{name} is what this analysis sets; it cannot be --set")
    scenarios = tuned_scenarios(args.scenarios)
    print_table_header(
        [
            "scenario",
            "target",
            "tuned",
            "whole target: / tuned",
            "its abandons",
            "sd of the count",
            "aimed at",
            f"{args.margin_sd:g} sd below: / tuned",
            "its abandons",
            "worst seed",
        ]
    )
    ratios: list[float] = []
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path, scenario, theta in scenarios:
            seeds = seeds_given or list(scenario.seeds)
            target = scenario.abandon_target
            whole = {**settings, **NO_GUARD, "internal_target_share": 1.0}
            tasks: list[tuple[str, float | None, Mapping[str, object], int]] = [
                (path, theta, {}, s) for s in seeds
            ]
            tasks += [(path, None, whole, s) for s in seeds]
            runs = pool.map(_run, tasks)
            tuned = statistics.fmean(r[0] for r in runs[: len(seeds)])
            first = runs[len(seeds) :]
            sd = statistics.fmean(r[3] for r in first)
            live = statistics.fmean(r[2] for r in first)
            share = max(0.0, 1 - args.margin_sd * sd / (target * live))
            aimed = {**settings, **NO_GUARD, "internal_target_share": share}
            second = pool.map(_run, [(path, None, aimed, s) for s in seeds])
            occupancy = statistics.fmean(r[0] for r in second)
            ratios.append(occupancy / tuned)
            cells = [
                scenario.name,
                f"{target:.0%}",
                f"{tuned:.3f}",
                f"{statistics.fmean(r[0] for r in first) / tuned:.3f}",
                f"{statistics.fmean(r[1] for r in first):.2%}",
                f"{sd:.1f} ({sd / live:.2%})",
                f"{share * target:.2%}",
                f"{occupancy / tuned:.3f}",
                f"{statistics.fmean(r[1] for r in second):.2%}",
                f"{max(r[1] for r in second):.2%}",
            ]
            print_table_row(cells)
    print(
        f"{args.margin_sd:g} sd below: mean / tuned {statistics.fmean(ratios):.3f}, "
        f"at or above 0.97 in {sum(r >= 0.97 for r in ratios)} of {len(scenarios)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
