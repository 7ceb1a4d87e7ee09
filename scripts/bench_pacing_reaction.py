"""How fast the predictive pacer reacts to a change of answer rate during the shift.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_reaction.py \
        --scenarios config/scenarios/robustness/live-rise-n15-t1.toml

For each scenario with a change of outcomes (``[[changes]]`` with ``outcomes``), it runs
the predictive pacer with its defaults through the Dialer, one run per seed, and prints,
for each ``--step`` (5 minutes) from three steps before the first such change to six
after it: the answers abandoned in the step, theta at the step's start, and the demand
the answer model expects of a fresh call then (q at age 0). The regime's window is days
long; this shows the pacer reacting within minutes all the same. An analysis.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pacing import (
    analysis_parser,
    parse_run_arguments,
    predictive_for,
    print_table_header,
    print_table_row,
    scenario_paths,
)

from dialerd.core.pacing import CallAbandoned, PacingFact, PacingView, PredictivePacer
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import Scenario, load_scenario

BEFORE, AFTER = 3, 6  # steps shown before and after the change


@dataclass
class Watched:
    """The predictive pacer, with what it knew at the start of each step noted down."""

    pacer: PredictivePacer
    change_s: float
    step_s: float
    abandons: Counter[int] = field(default_factory=Counter)
    seen: dict[int, tuple[float, float]] = field(default_factory=dict)

    def _step(self, at: float) -> int:
        return int((at - self.change_s) // self.step_s)

    def decide(self, view: PacingView, now: float) -> int:
        """The pacer's decision; theta and q at the first decision of each step."""
        step = self._step(now)
        if step not in self.seen and len(self.pacer.answers):
            self.seen[step] = (self.pacer.theta, self.pacer.answers.q(0.0))
        return self.pacer.decide(view, now)

    def observe(self, fact: PacingFact) -> None:
        """Count the abandons per step, then pass the fact on."""
        if isinstance(fact, CallAbandoned):
            self.abandons[self._step(fact.at)] += 1
        self.pacer.observe(fact)

    def next_deadline(self) -> float | None:
        """The pacer's own deadline."""
        return self.pacer.next_deadline()

    def cancels(self) -> Sequence[int]:
        """The pacer's own."""
        return self.pacer.cancels()


def first_change_s(scenario: Scenario) -> float | None:
    """When the scenario's outcomes first change, if they do."""
    times = [c.at_s for c in scenario.changes]
    return min(times) if times else None


def _run(task: tuple[str, int, float]) -> tuple[int, list[str], float]:
    path, seed, step_s = task
    scenario = load_scenario(path)
    change_s = first_change_s(scenario)
    assert change_s is not None
    watched = Watched(predictive_for(scenario), change_s, step_s)
    result = simulate_engine(scenario, watched, seed, policy="predictive")
    cells = []
    for step in range(-BEFORE, AFTER + 1):
        theta, q = watched.seen.get(step, (float("nan"), float("nan")))
        cells.append(f"{watched.abandons[step]} / {theta:.3f} / {q:.2f}")
    return seed, cells, result.abandon_rate


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__)
    parser.add_argument("--step", type=float, default=300.0, help="seconds (default 300)")
    args, _, seeds_given = parse_run_arguments(parser, argv)
    if args.step <= 0:
        parser.error("--step must be above 0")
    paths = [p for p in scenario_paths(args.scenarios) if first_change_s(load_scenario(p))]
    if not paths:
        parser.error("no scenario among these changes its outcomes during the shift")
    minutes = [f"{k * args.step / 60:+.0f} min" for k in range(-BEFORE, AFTER + 1)]
    print("Each cell: answers abandoned in the step / theta / q at age 0, at its start.\n")
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path in paths:
            scenario = load_scenario(path)
            print(f"{scenario.name}, outcomes change at {first_change_s(scenario):.0f} s\n")
            print_table_header(["seed", *minutes, "shift abandon"])
            seeds = seeds_given or list(scenario.seeds)
            for seed, cells, rate in pool.map(_run, [(path, s, args.step) for s in seeds]):
                print_table_row([str(seed), *cells, f"{rate:.2%}"])
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
