"""A campaign's second day: the predictive pacer started from the first day's stored answers.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing_second_day.py --scenarios 'config/scenarios/us-n10-*.toml'

The benchmark's shift is a campaign's first: its regime window (30 days, or 24 hours) is
empty, and the pacer must earn its abandon budget as it goes. This runs a first day on
another lead file (the seed + 100), keeps what the Dialer records as the daemon's store
keeps it, and starts the second day (the judged seed) from that, as a restarted daemon
does: once with each abandon's count of people as recorded, once without it (every
abandon nobody heard then counts as a person, as it did before the store kept the count).
It prints the second day's occupancy as a ratio to the tuned policy's on the same lead
file, beside a first day's (the benchmark's own run), with the worst seed's abandon rate
over the second day and over both days (the regime counts both). An analysis, not a
reference policy.
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
    predictive_for,
    print_table_header,
    print_table_row,
    tuned_scenarios,
)

from dialerd.core.commands import RecordDisposition, RecordOutcome
from dialerd.core.compliance import Outcome
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import load_scenario
from dialerd.sim.vsim import SimResult

DAY_S = 86400.0
FIRST_DAY_SEED = 100  # added to the judged seed: the first day's lead file


def stored_history(
    records: Sequence[RecordOutcome | RecordDisposition], *, recorded: bool, days_before: int = 1
) -> tuple[tuple[float, Outcome, float | None], ...]:
    """The live answers the store would give back ``days_before`` days later
    (``answer_history``): connected calls at their connection unless the agent's verdict
    said a machine, abandons at their end with their count of people (dropped unless
    ``recorded``), as many days earlier than they happened."""
    machines = {r.call_id for r in records if isinstance(r, RecordDisposition) and r.human is False}
    rows = []
    for o in records:
        if not isinstance(o, RecordOutcome):
            continue
        if o.outcome is Outcome.ANSWERED_AGENT:
            if o.call_id in machines:
                continue
            at = o.connected_at or o.wall_at
        elif o.outcome is Outcome.ABANDONED:
            at = o.wall_at
        else:
            continue
        counted = o.counted_human if recorded else None
        rows.append((at.timestamp() - days_before * DAY_S, o.outcome, counted))
    return tuple(sorted(rows, key=lambda r: r[0]))


def _run(task: tuple[str, float, int]) -> dict[str, SimResult]:
    """One seed: the tuned policy, a first day, and second days from its outcomes."""
    path, theta, seed = task
    scenario = load_scenario(path)
    records: list[RecordOutcome | RecordDisposition] = []
    first = simulate_engine(
        scenario, predictive_for(scenario), seed + FIRST_DAY_SEED, records=records
    )
    runs = {
        "tuned": analysis_run(path, theta, seed),
        "fresh": analysis_run(path, None, seed),
        "first": first,
    }
    for name, recorded in (("recorded", True), ("unrecorded", False)):
        history = stored_history(records, recorded=recorded)
        runs[name] = simulate_engine(scenario, predictive_for(scenario), seed, history=history)
    return runs


def _ratio(runs: Sequence[dict[str, SimResult]], name: str, tuned: float) -> str:
    return f"{statistics.fmean(r[name].occupancy for r in runs) / tuned:.3f}"


def _worst(runs: Sequence[dict[str, SimResult]], name: str) -> str:
    return f"{max(r[name].abandon_rate for r in runs):.2%}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = analysis_parser(__doc__)
    args, _, seeds_given = parse_run_arguments(parser, argv)
    scenarios = tuned_scenarios(args.scenarios)
    print_table_header(
        [
            "scenario",
            "target",
            "first day / tuned",
            "second day, counts recorded / tuned",
            "its worst seed",
            "both days' worst",
            "second day, counts not recorded / tuned",
            "its worst seed",
        ]
    )
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for path, scenario, theta in scenarios:
            seeds = seeds_given or list(scenario.seeds)
            runs = pool.map(_run, [(path, theta, s) for s in seeds])
            tuned = statistics.fmean(r["tuned"].occupancy for r in runs)

            both = max(
                (r["first"].abandoned + r["recorded"].abandoned)
                / max(1, r["first"].live_answered + r["recorded"].live_answered)
                for r in runs
            )
            cells = [
                scenario.name,
                f"{scenario.abandon_target:.0%}",
                _ratio(runs, "fresh", tuned),
                _ratio(runs, "recorded", tuned),
                _worst(runs, "recorded"),
                f"{both:.2%}",
                _ratio(runs, "unrecorded", tuned),
                _worst(runs, "unrecorded"),
            ]
            print_table_row(cells)
    return 0


if __name__ == "__main__":
    sys.exit(main())
