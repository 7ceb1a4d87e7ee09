"""``dialerd simulate``: run a pacing scenario in virtual time and report the metrics."""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dialerd.core.pacing import (
    Pacer,
    PowerPacer,
    PredictiveConfig,
    PredictivePacer,
    ProgressivePacer,
)
from dialerd.errors import UsageError
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import Scenario, load_scenario
from dialerd.sim.vsim import SimResult, simulate

__all__ = ["make_pacer", "register", "run", "write_plot"]

POLICIES = ("predictive", "progressive", "power")


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to ``dialerd``'s argument parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="run a pacing scenario in virtual time",
        description="Run a pacing scenario (TOML) in virtual time and print its metrics.",
    )
    parser.add_argument("--scenario", required=True, type=Path, help="scenario TOML file")
    parser.add_argument("--policy", choices=POLICIES, default="predictive")
    parser.add_argument("--ratio", type=float, default=2.0, help="lines per idle agent (power)")
    parser.add_argument("--seed", type=int, help="one seed (default: the scenario's seeds)")
    parser.add_argument(
        "--engine",
        choices=("dialer", "model"),
        default="dialer",
        help="dialer: run dialerd's own Dialer (default); model: the lighter model floor",
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--plot", type=Path, help="draw occupancy, abandon rate, lines (PNG)")
    parser.set_defaults(run=run)


def make_pacer(scenario: Scenario, policy: str, ratio: float = 2.0) -> Pacer:
    """The pacer a campaign configured like ``scenario`` would run."""
    if policy == "progressive":
        return ProgressivePacer()
    if policy == "power":
        return PowerPacer(ratio)
    if policy == "predictive":
        fp = scenario.amd.false_positive_rate if scenario.amd.enabled else 0.0
        return PredictivePacer(
            PredictiveConfig(
                abandon_target=scenario.abandon_target,
                window_s=scenario.regime.window_s,
                amd_false_positive_rate=fp,
            )
        )
    raise UsageError(f"unknown pacing policy {policy!r}; choose from {', '.join(POLICIES)}")


def run(
    args: argparse.Namespace, console: Console | None = None, status: Console | None = None
) -> int:
    """Run the scenario's seeds and print the table; returns the exit code.

    ``status`` (standard error by default) shows a progress bar while the seeds run, when
    it is a terminal: a large team's shift takes seconds, a scenario's five seeds tens.
    """
    console = console or Console()
    status = status or Console(stderr=True)
    scenario = load_scenario(args.scenario)
    if args.plot is not None:
        _require_matplotlib()
    seeds: Sequence[int] = [args.seed] if args.seed is not None else scenario.seeds
    run_one = simulate_engine if args.engine == "dialer" else simulate
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=status,
        transient=True,
        disable=not status.is_terminal,
    ) as progress:
        task = progress.add_task(f"{scenario.name}, seeds", total=len(seeds))
        for seed in seeds:
            pacer = make_pacer(scenario, args.policy, args.ratio)
            results.append(run_one(scenario, pacer, seed, policy=args.policy))
            progress.advance(task)
    console.print(results_table(scenario, results))
    if scenario.amd.enabled and scenario.amd.false_positive_rate >= scenario.abandon_target:
        console.print(
            f"[bold red]warning:[/] the AMD false-positive rate "
            f"({scenario.amd.false_positive_rate:.1%}) alone uses up the abandon target "
            f"({scenario.abandon_target:.1%}); compliance cannot be met with AMD on."
        )
    if args.json is not None:
        args.json.write_text(json.dumps([_as_json(r) for r in results], indent=1) + "\n")
    if args.plot is not None:
        write_plot(scenario, results, args.plot)
    return 0


def _as_json(result: SimResult) -> dict[str, Any]:
    row = asdict(result)
    row["under_target"] = result.under_target
    return row


def results_table(scenario: Scenario, results: Sequence[SimResult]) -> Table:
    """One row per seed, and the mean."""
    # Light rules, two-line headers and one space of padding keep the eight columns
    # whole in an 80-column terminal (rich would cut the headers to "occupa…").
    table = Table(
        title=f"{scenario.name}: {results[0].policy}, {scenario.agents} agents",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 0, 0, 1),
    )
    for column in (
        "seed",
        "occupancy",
        "utilisation",
        "abandon",
        "live\nanswers",
        "dials per\nagent-hour",
        "wait per\nconnect s",
        "lines per\nagent",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(*_cells(str(r.seed), [r]))
    if len(results) > 1:
        table.add_row(*_cells("mean", results), style="bold")
    return table


def _cells(label: str, rs: Sequence[SimResult]) -> list[str]:
    def mean(values: Sequence[float]) -> float:
        return statistics.fmean(values)

    abandon = mean([r.abandon_rate for r in rs])
    over = any(not r.under_target for r in rs)
    return [
        label,
        f"{mean([r.occupancy for r in rs]):.3f}",
        f"{mean([r.utilisation for r in rs]):.3f}",
        f"{'[red]' if over else ''}{abandon:.2%}",
        f"{mean([r.live_answered for r in rs]):.0f}",
        f"{mean([r.dials_per_agent_hour for r in rs]):.0f}",
        f"{mean([r.mean_wait_s for r in rs]):.1f}",
        f"{mean([r.mean_lines_per_agent for r in rs]):.2f}",
    ]


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401, PLC0415 - optional dependency, checked on demand
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'dialerd[plot]'") from None


def write_plot(scenario: Scenario, results: Sequence[SimResult], path: Path) -> None:
    """Occupancy, cumulative abandon rate (with the target) and lines per agent over time."""
    _require_matplotlib()
    import matplotlib as mpl  # noqa: PLC0415 - optional dependency

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - optional dependency

    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    for r in results:
        hours = [p.end_s / 3600 for p in r.timeline]
        axes[0].plot(hours, [p.occupancy for p in r.timeline], label=f"seed {r.seed}")
        axes[1].plot(hours, [100 * p.abandon_rate for p in r.timeline])
        axes[2].plot(hours, [p.lines_per_agent for p in r.timeline])
    axes[1].axhline(100 * scenario.abandon_target, color="red", linestyle="--", label="target")
    axes[0].set_ylabel("occupancy")
    axes[1].set_ylabel("abandon rate %\n(cumulative)")
    axes[2].set_ylabel("lines per agent")
    axes[2].set_xlabel("hours into the shift")
    axes[0].legend(fontsize="small")
    axes[1].legend(fontsize="small")
    fig.suptitle(f"{scenario.name}: {results[0].policy}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
