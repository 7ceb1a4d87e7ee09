"""The predictive rule against the tuned policy at equal abandons, one difference at a time.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_frontier.py --seeds 1-5 \
        --scenarios config/scenarios/us-n10-live10-t3.toml

The tuned policy and the predictive pacer apply the same rule (dial while P(L >= A) <=
theta). What separates them is what each knows and how it starts: the tuned policy is
given the model's true distributions, predicts from the first second, places every
call the rule allows, and has its theta fixed in hindsight; the predictive pacer learns
its models, dials progressively until it has 100 attempts and as many finished calls as
agents (at least 20), rations its extra calls, learns theta within the shift and keeps
margins under its budget guard.

Here the predictive pacer's theta is held fixed, its budget guard is off and it is told
who answered each abandoned call, and it is given the tuned policy's advantages one at a
time, cumulatively:

1. ``learned``: its own models, start and ration;
2. ``no ration``: every call the rule allows;
3. ``true answers``: the answer model's rows from the model's true distributions
   (people only, as the tuned policy counts them);
4. ``true busy``: the busy model's rows too, the tuned policy's table that mixes people's
   calls and machines' (so no ``CallerMix`` sharpening).

What is left between step 4 and the tuned policy is the start. For each step, theta is
found by bisection in log theta so that the pooled abandon rate over the seeds meets the
tuned policy's, and the occupancy is read there (interpolated between the two closest
thetas on either side). Each column is the step's occupancy as a ratio to the tuned
policy's: the difference between neighbouring columns is what that one difference costs
at equal abandons. Learning theta and the guard's margins come on top (see
docs/benchmarks.md, "What knowing the callers would change"). An analysis, not a policy.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    _true_models_of,
    analysis_parser,
    analysis_run,
    parse_run_arguments,
    predictive_config,
    print_table_header,
    print_table_row,
    tuned_scenarios,
)
from pacing_reference import TrueModel, bisect_theta, pooled_abandon

from dialerd.core.pacing import (
    AnswerModel,
    BusyModel,
    Estimate,
    PacingView,
    PredictiveConfig,
    PredictivePacer,
)
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import OutcomeMix, Scenario, load_scenario
from dialerd.sim.vsim import SimResult

STEPS = ("learned", "no ration", "true answers", "true busy")
THETA_RANGE = (1e-5, 0.95)
"""Where the bisection looks: the predictive rule's theta, unlike the tuned policy's,
counts a machine that reaches an agent as half a call, so it runs higher."""
BISECTIONS = 8


class _TrueAnswers(AnswerModel):
    """Learns as the pacer's own model does (its start waits on the count) but answers
    with the true rows of the outcome mix in force."""

    def __init__(self, config: PredictiveConfig, pacer: FixedRule) -> None:
        super().__init__((math.inf,), config.hit_window_s, config.hit_min_attempts)
        self.pacer = pacer

    def rows(self) -> list[tuple[float, ...]]:
        """The true model's rows."""
        return self.pacer.true_model.answers.rows()


class _TrueBusy(BusyModel):
    """Learns as the pacer's own model does, but answers with the true rows."""

    def __init__(self, config: PredictiveConfig, pacer: FixedRule) -> None:
        super().__init__((config.horizon_s,))
        self.pacer = pacer

    def rows(self) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
        """The true model's rows."""
        return self.pacer.true_model.busy.rows()


class FixedRule(PredictivePacer):
    """The predictive pacer at a fixed theta, with some of its models made true."""

    def __init__(
        self,
        scenario: Scenario,
        step: str,
        theta: float,
        models: dict[OutcomeMix, TrueModel],
    ) -> None:
        level = STEPS.index(step)
        # No guard; and no calls taken back while ringing, which the tuned policy does not
        # do either (the analysis compares the two rules as they were measured).
        settings: dict[str, object] = {"opening_credit_live": 1e9, "cancel_risk": 0.0}
        if level >= STEPS.index("no ration"):
            settings |= {"max_extra_rate": 1e6, "max_extra_burst": 1e9}
        super().__init__(predictive_config(scenario, settings))
        self.scenario = scenario
        self.fixed_theta = theta
        self.models = models
        self.true_model = models[scenario.outcomes]
        self.true_busy = level >= STEPS.index("true busy")
        if level >= STEPS.index("true answers"):
            self.answers = _TrueAnswers(self.config, self)
        if self.true_busy:
            self.busy = _TrueBusy(self.config, self)

    @property
    def theta(self) -> float:
        """Fixed."""
        return self.fixed_theta

    def decide(self, view: PacingView, now: float) -> int:
        """As the predictive pacer decides, with the true tables of the mix in force."""
        self.true_model = self.models[self.scenario.outcomes_at(now)]
        return super().decide(view, now)

    def _sharpened(self, est: Estimate, now: float) -> Estimate:
        return est if self.true_busy else super()._sharpened(est, now)


@dataclass(frozen=True)
class Point:
    """One theta's runs: pooled abandon rate and mean occupancy over the seeds."""

    theta: float
    abandon: float
    occupancy: float

    @classmethod
    def of(cls, theta: float, results: Sequence[SimResult]) -> Point:
        """From the runs of every seed at ``theta``."""
        return cls(theta, pooled_abandon(results), statistics.mean(r.occupancy for r in results))


def _runs(path: str, step: str, theta: float, seeds: Sequence[int]) -> list[SimResult]:
    if step == "tuned":
        return [analysis_run(path, theta, seed, callers_known=True) for seed in seeds]
    scenario = load_scenario(path)
    models = _true_models_of(path)
    return [
        simulate_engine(
            scenario, FixedRule(scenario, step, theta, models), seed, callers_known=True
        )
        for seed in seeds
    ]


def _tuned(path: str, theta: float, seeds: Sequence[int]) -> Point:
    return Point.of(theta, _runs(path, "tuned", theta, seeds))


def at_rate(below: Point | None, above: Point | None, rate: float) -> float:
    """The occupancy at ``rate``, read on the line between the points either side of it
    (from the one point there is if the bisection found no other)."""
    if below is None or above is None:
        point = below or above
        assert point is not None
        return point.occupancy
    if above.abandon <= below.abandon:
        return below.occupancy
    share = (rate - below.abandon) / (above.abandon - below.abandon)
    return below.occupancy + share * (above.occupancy - below.occupancy)


def _frontier(task: tuple[str, str, float, tuple[int, ...]]) -> tuple[str, str, float]:
    """(path, step, its occupancy at the rate) for one step."""
    path, step, rate, seeds = task
    lo, hi = (math.log(x) for x in THETA_RANGE)
    below, above = bisect_theta(
        lambda theta: _runs(path, step, theta, seeds), rate, lo, hi, BISECTIONS
    )
    points = [None if tried is None else Point.of(*tried) for tried in (below, above)]
    return path, step, at_rate(points[0], points[1], rate)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__)
    args, _, seeds_given = parse_run_arguments(parser, argv)
    scenarios = tuned_scenarios(args.scenarios)
    seeds_of = {path: tuple(seeds_given or scenario.seeds) for path, scenario, _ in scenarios}
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        tuned = dict(
            zip(
                [path for path, _, _ in scenarios],
                pool.starmap(
                    _tuned, [(path, theta, seeds_of[path]) for path, _, theta in scenarios]
                ),
                strict=True,
            )
        )
        tasks = [
            (path, step, tuned[path].abandon, seeds_of[path])
            for path, _, _ in scenarios
            for step in STEPS
        ]
        found = {(path, step): occ for path, step, occ in pool.imap(_frontier, tasks)}
    print_table_header(
        ["scenario", "tuned", "its abandons", *(f"{step}: / tuned" for step in STEPS)]
    )
    columns: dict[str, list[float]] = {step: [] for step in STEPS}
    for path, scenario, _ in scenarios:
        reference = tuned[path]
        ratios = [found[path, step] / reference.occupancy for step in STEPS]
        for step, ratio in zip(STEPS, ratios, strict=True):
            columns[step].append(ratio)
        print_table_row(
            [
                scenario.name,
                f"{reference.occupancy:.3f}",
                f"{100 * reference.abandon:.2f}%",
                *(f"{ratio:.3f}" for ratio in ratios),
            ]
        )
    means = ", ".join(f"{step} {statistics.mean(v):.3f}" for step, v in columns.items())
    print(f"\n- mean / tuned: {means}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
