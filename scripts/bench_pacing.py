"""Run the pacing benchmark's standard scenarios and write the comparison table.

Usage (from the repository root, in the virtualenv):

    python scripts/bench_pacing.py                  # every standard scenario, 2 workers
    python scripts/bench_pacing.py --tune           # re-tune the model-based policy's theta
    python scripts/bench_pacing.py --scenarios 'config/scenarios/us-n20-*.toml' --workers 1
    python scripts/bench_pacing.py --engine model   # on the lighter model floor

Every policy runs through ``simulate_engine`` by default: the daemon's own ``Dialer``,
compliance gate and state machines, with the benchmark's model playing Asterisk, the
customers and the agents (``--engine model`` uses the lighter ``vsim`` floor instead;
``--engine dialer-greeting`` the Dialer under the benchmark's own US abandon clock, in
which an agent may take a call during the greeting: see ``simulate_engine``).

Every policy runs on the same lead file per seed (common random numbers). The tuned
model-based policy's theta is tuned in hindsight per scenario (bisection on the pooled
abandon rate over the scenario's seeds) and kept in ``scripts/pacing_theta.json`` so a
plain run only evaluates; ``--tune`` recomputes it. The table goes into
``docs/benchmarks.md`` under "## Pacing" (other sections are left alone).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import multiprocessing
import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pacing_reference import (
    Simulator,
    TrueModel,
    TunedPacer,
    VicidialPacer,
    oracle_occupancy,
    pooled_abandon,
    true_models,
    tune_theta,
)

from dialerd.core.pacing import Pacer, PredictiveConfig, PredictivePacer, ProgressivePacer
from dialerd.errors import UsageError
from dialerd.sim.engine_sim import simulate_engine
from dialerd.sim.scenario import LeadFile, OutcomeMix, Scenario, load_scenario
from dialerd.sim.vsim import SimResult, simulate

ROOT = Path(__file__).resolve().parents[1]
ENGINES: dict[str, Simulator] = {
    "dialer": simulate_engine,
    "dialer-greeting": functools.partial(simulate_engine, greeting_clock=True),
    "model": simulate,
}


def theta_file(engine: str) -> Path:
    """Where tuned thetas are kept: theta tuned on one simulator is not the other's optimum."""
    suffix = "" if engine == "dialer" else "_" + engine.replace("-", "_")
    return ROOT / "scripts" / f"pacing_theta{suffix}.json"


POLICIES = ("progressive", "vicidial", "tuned", "predictive")


def scenario_paths(patterns: Sequence[str]) -> list[str]:
    """The scenario files matching any of the glob patterns (relative to the root)."""
    return sorted({str(p) for pattern in patterns for p in ROOT.glob(pattern)})


def matching_scenarios(patterns: Sequence[str]) -> list[str]:
    """``scenario_paths``, for a script that has nothing to run without one: when nothing
    matches, it says so on stderr and the script exits with status 2."""
    paths = scenario_paths(patterns)
    if not paths:
        print(f"no scenario matches {' '.join(patterns)}", file=sys.stderr)
        raise SystemExit(2)
    return paths


def tuned_scenarios(patterns: Sequence[str]) -> list[tuple[str, Scenario, float]]:
    """For the analyses: each matching scenario file, loaded, with its pooled tuned theta.

    Checked before anything runs: when nothing matches or a scenario has no tuned theta
    yet, the reason goes to stderr and the script exits with status 2.
    """
    paths = matching_scenarios(patterns)
    thetas: dict[str, float] = json.loads(theta_file("dialer").read_text())
    found = [(path, load_scenario(path)) for path in paths]
    missing = [scenario.name for _, scenario in found if scenario.name not in thetas]
    if missing:
        print(f"no tuned theta for {', '.join(missing)}; run bench_pacing.py", file=sys.stderr)
        raise SystemExit(2)
    return [(path, scenario, thetas[scenario.name]) for path, scenario in found]


def parse_seeds(text: str) -> list[int]:
    """``1-5`` or ``1,3,8`` (or both: ``1-3,7``) as a list of seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.partition("-")
            seeds += range(int(lo), int(hi) + 1) if dash else [int(lo)]
    except ValueError:
        raise ValueError(f"seeds are numbers and ranges like 1-5,8; got {text!r}") from None
    if not seeds:
        raise ValueError(f"no seed in {text!r}")
    return seeds


# Set by the campaign (and so by the scenario), not by whoever tunes the pacer.
CAMPAIGN_PARAMETERS = frozenset({"abandon_target", "window_s", "amd_false_positive_rate"})


def parse_setting(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` for one ``PredictiveConfig`` parameter, typed as its default.

    Raises ``ValueError`` naming what is wrong: no ``=``, an unknown or campaign-set
    parameter, or a value that is not of the parameter's type.
    """
    name, sep, raw = (part.strip() for part in text.partition("="))
    if not sep or not name or not raw:
        raise ValueError(f"expected NAME=VALUE, got {text!r}")
    known = [f.name for f in dataclasses.fields(PredictiveConfig)]
    if name not in known:
        raise ValueError(f"PredictiveConfig has no parameter {name!r}; it has {', '.join(known)}")
    if name in CAMPAIGN_PARAMETERS:
        raise ValueError(f"{name} is the campaign's setting, taken from the scenario")
    default = getattr(PredictiveConfig(), name)
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return name, raw.lower() == "true"
        if isinstance(default, int):
            return name, int(raw)
        if default is None and raw.lower() == "none":
            return name, None
        return name, float(raw)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else type(default).__name__
        if default is None:
            kind = "a number or none"
        raise ValueError(f"{name} takes {kind}, got {raw!r}") from None


def print_table_header(columns: Sequence[str]) -> None:
    """The header and rule of a Markdown table, as the pacing analyses print them."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))


def print_table_row(cells: Sequence[str]) -> None:
    """One row of such a table, written out at once (each takes a while to compute)."""
    print("| " + " | ".join(cells) + " |", flush=True)


def analysis_parser(
    doc: str, set_help: str | None = None, seeds_default: str = "the scenario's"
) -> argparse.ArgumentParser:
    """A pacer analysis's parser: its docstring's first line as the description, and the
    options the analyses share: scenarios, seeds (``seeds_default`` says which when none
    are given) and workers, and ``--set`` where the analysis changes the pacer's
    parameters (``set_help`` given)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["config/scenarios/*.toml"])
    if set_help is not None:
        parser.add_argument(
            "--set",
            dest="settings",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=set_help,
        )
    parser.add_argument("--seeds", default="", help=f"e.g. 1-15 (default: {seeds_default})")
    parser.add_argument("--workers", type=int, default=2)
    return parser


def parse_run_arguments(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, dict[str, object], list[int] | None]:
    """The arguments, the ``--set`` parameters and the seeds given (None: the
    scenario's); a bad one ends the script with the parser's error."""
    args = parser.parse_args(argv)
    try:
        settings = dict(parse_setting(text) for text in getattr(args, "settings", []))
        seeds = parse_seeds(args.seeds) if args.seeds else None
        PredictiveConfig(**settings)  # type: ignore[arg-type]
    except (ValueError, UsageError) as exc:
        parser.error(str(exc))
    return args, settings, seeds


def analysis_run(
    path: str,
    theta: float | None,
    seed: int,
    *,
    settings: Mapping[str, object] | None = None,
    callers_known: bool = False,
    timeline_step_s: float = 900.0,
) -> SimResult:
    """For the analyses: one seed of the scenario file through the Dialer, paced by the
    tuned policy at ``theta``, or by the predictive pacer if None (with ``settings``, as
    ``predictive_for`` takes them); ``callers_known`` as ``simulate_engine`` takes it."""
    scenario = load_scenario(path)
    pacer: Pacer
    if theta is None:
        pacer = predictive_for(scenario, settings)
    else:
        pacer = TunedPacer(scenario, theta, _true_models_of(path))
    return simulate_engine(
        scenario, pacer, seed, callers_known=callers_known, timeline_step_s=timeline_step_s
    )


def predictive_config(
    scenario: Scenario, settings: Mapping[str, object] | None = None
) -> PredictiveConfig:
    """The predictive pacer's parameters as a user would set them: target, regime, AMD
    estimate; ``settings`` change others (the ablation script's ``--set``)."""
    return PredictiveConfig(
        abandon_target=scenario.abandon_target,
        window_s=scenario.regime.window_s,
        amd_false_positive_rate=(scenario.amd.false_positive_rate if scenario.amd.enabled else 0.0),
        **dict(settings or {}),  # type: ignore[arg-type]
    )


def predictive_for(
    scenario: Scenario, settings: Mapping[str, object] | None = None
) -> PredictivePacer:
    """The predictive pacer as a user would configure it (``predictive_config``); the
    benchmark itself runs the defaults."""
    return PredictivePacer(predictive_config(scenario, settings))


def run_one(
    task: tuple[str, str, int, float | None, str], leads: LeadFile | None = None
) -> dict[str, object]:
    """One (scenario file, policy, seed, theta, engine) run; returns the result as a dict.

    ``leads``, the seed's lead file, may be shared by the runs of one seed: its attempts
    depend on the scenario and the seed alone.
    """
    path, policy, seed, theta, engine = task
    simulator = ENGINES[engine]
    scenario = load_scenario(path)
    leads = leads or LeadFile(scenario, seed)
    if policy == "oracle":
        occ = oracle_occupancy(scenario, seed, leads)
        return {"scenario": scenario.name, "policy": "oracle", "seed": seed, "occupancy": occ}
    if policy == "progressive":
        pacer: Pacer = ProgressivePacer()
    elif policy == "vicidial":
        pacer = VicidialPacer(scenario.abandon_target)
    elif policy == "tuned":
        assert theta is not None
        pacer = TunedPacer(scenario, theta, _true_models_of(path))
    else:
        pacer = predictive_for(scenario)
    result = simulator(scenario, pacer, seed, policy=policy, leads=leads)
    row = asdict(result)
    row.pop("timeline")
    return row


def progress(done: int, total: int, name: str, elapsed_s: float) -> None:
    """One line on stderr per finished scenario (redrawn in place on a terminal): a
    standard run takes minutes and prints its table only at the end."""
    line = f"[{done}/{total}] {name} done, {elapsed_s:.0f} s"
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\r\x1b[2K{line}", end=end, file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


def run_scenario(
    job: tuple[str, tuple[str, ...], float | None, str, tuple[int, ...] | None],
) -> list[dict[str, object]]:
    """Every run of one (scenario file, policies, theta, engine, seeds or the scenario's):
    each seed, oracle first.

    A scenario is one task so that its runs share each seed's lead file and, for the
    tuned policy, the true tables (100,000 draws per outcome mix): with one task per run
    every worker that drew a run of the scenario built them again.
    """
    path, policies, theta, engine, seeds = job
    scenario = load_scenario(path)
    rows = []
    for seed in seeds or scenario.seeds:
        leads = LeadFile(scenario, seed)
        for policy in ("oracle", *policies):
            rows.append(run_one((path, policy, seed, theta, engine), leads))
    # The next task is another scenario: its tables are not needed again.
    _true_models_of.cache_clear()
    return rows


@functools.cache
def _true_models_of(path: str) -> dict[OutcomeMix, TrueModel]:
    """The scenario's true tables, built once per worker process.

    They are drawn from a fixed seed, so every run of the scenario gets the same tables;
    building them (100,000 draws per outcome mix) cost a third of a tuned run.
    """
    return true_models(load_scenario(path))


def tune_one(task: tuple[str, str]) -> tuple[str, float, float]:
    """Tune theta for one (scenario file, engine); returns (name, theta, pooled abandon)."""
    path, engine = task
    scenario = load_scenario(path)
    # Large teams pool variance within a run: three seeds tune theta as well as five.
    seeds = scenario.seeds[:3] if scenario.agents >= 50 else scenario.seeds
    theta, results = tune_theta(scenario, seeds, true_models(scenario), simulator=ENGINES[engine])
    return scenario.name, theta, pooled_abandon(results)


def _cost(path: str) -> float:
    scenario = load_scenario(path)
    return scenario.agents * scenario.shift_s * (1.5 - scenario.outcomes.live)


def _fmt_range(values: Sequence[float], pct: bool = False) -> str:
    scale, unit = (100.0, " %") if pct else (1.0, "")
    mean = statistics.fmean(values) * scale
    lo, hi = min(values) * scale, max(values) * scale
    digits = 2 if pct else 3
    return f"{mean:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f}){unit}"


def table(rows: list[dict[str, object]], thetas: dict[str, float]) -> str:
    """The markdown comparison table."""
    by: dict[tuple[str, str], list[dict[str, object]]] = {}
    for row in rows:
        by.setdefault((str(row["scenario"]), str(row["policy"])), []).append(row)
    names = sorted({s for s, _ in by}, key=_scenario_key)
    lines = [
        "| scenario | policy | occupancy mean (min–max) | / oracle | gap closed "
        "| abandon mean (min–max) | every seed ≤ target | lines/agent |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        oracle = statistics.fmean(float(r["occupancy"]) for r in by[(name, "oracle")])  # type: ignore[arg-type]
        prog_runs = by.get((name, "progressive"))
        prog = (
            statistics.fmean(float(r["occupancy"]) for r in prog_runs)  # type: ignore[arg-type]
            if prog_runs
            else None
        )
        lines.append(f"| {name} | oracle | {oracle:.3f} | 1.000 | 1.00 | 0 | yes | |")
        for policy in POLICIES:
            runs = by.get((name, policy))
            if not runs:
                continue
            occ = [float(r["occupancy"]) for r in runs]  # type: ignore[arg-type]
            ab = [float(r["abandon_rate"]) for r in runs]  # type: ignore[arg-type]
            target = float(runs[0]["abandon_target"])  # type: ignore[arg-type]
            over = sum(1 for a in ab if a > target + 1e-12)
            lines_pa = statistics.fmean(float(r["mean_lines_per_agent"]) for r in runs)  # type: ignore[arg-type]
            mean = statistics.fmean(occ)
            # Without progressive in the run (--policies) there is no floor to close from.
            if prog is None:
                gap = "–"
            else:
                gap = f"{(mean - prog) / (oracle - prog) if oracle > prog else 0.0:.2f}"
            label = f"tuned (θ={thetas[name]:.3g})" if policy == "tuned" else policy
            verdict = "yes" if not over else f"**no** ({over} of {len(ab)})"
            lines.append(
                f"| {name} | {label} | {_fmt_range(occ)} | {mean / oracle:.3f} | {gap} "
                f"| {_fmt_range(ab, pct=True)} | {verdict} | {lines_pa:.2f} |"
            )
    return "\n".join(lines)


def _scenario_key(name: str) -> tuple[str, int, int, int, str]:
    m = re.match(r"(\w+)-n(\d+)-live(\d+)-t(\d+)(.*)", name)
    if not m:
        return (name, 0, 0, 0, "")
    return ((m[1] != "us" and m[1]) or "", int(m[2]), int(m[3]), int(m[4]), m[5])


def summary(rows: list[dict[str, object]]) -> str:
    """The judged criteria, scenario by scenario."""
    by: dict[tuple[str, str], list[float]] = {}
    ok: dict[str, bool] = {}
    agents: dict[str, int] = {}
    for row in rows:
        if row["policy"] == "oracle":
            continue
        by.setdefault((str(row["scenario"]), str(row["policy"])), []).append(
            float(row["occupancy"])  # type: ignore[arg-type]
        )
        if row["policy"] == "predictive":
            name = str(row["scenario"])
            under = float(row["abandon_rate"]) <= float(row["abandon_target"]) + 1e-12  # type: ignore[arg-type]
            ok[name] = ok.get(name, True) and under
            agents[name] = int(row["agents"])  # type: ignore[call-overload]
    lines = [
        "| scenario | predictive / tuned | predictive − VICIdial-style | every seed ≤ target |",
        "|---|---|---|---|",
    ]
    for name in sorted(ok, key=_scenario_key):
        pred = statistics.fmean(by[(name, "predictive")])
        tuned = by.get((name, "tuned"))
        vici = by.get((name, "vicidial"))
        ratio = f"{pred / statistics.fmean(tuned):.3f}" if tuned else "–"
        diff = f"{(pred - statistics.fmean(vici)) * 100:+.1f} pts" if vici else "–"
        lines.append(f"| {name} | {ratio} | {diff} | {'yes' if ok[name] else '**no**'} |")
    return "\n".join(lines)


_ENGINE_TEXT = {
    "dialer": "Every policy runs through the daemon's own `Dialer` (with its compliance gate "
    "and state machines), the benchmark's model playing Asterisk, customers and agents "
    "(`dialerd/sim/engine_sim.py`).",
    "dialer-greeting": "Every policy runs through the daemon's own `Dialer` under the "
    "benchmark's US abandon clock: an agent may take a call from its answer until 2 s after "
    "its greeting ends (`simulate_engine(greeting_clock=True)`).",
    "model": "Every policy runs on the lighter model floor (`dialerd/sim/vsim.py`), not "
    "through the daemon's `Dialer`.",
}


def render(saved: dict[str, Any], thetas: dict[str, float]) -> str:
    """The section's text from a run's saved rows and metadata."""
    rows = saved["rows"]
    return (
        f"Command: `{saved['command']}` ({saved['workers']} workers, {saved['scenarios']} "
        f"scenarios, {saved['runs']} runs, {saved['elapsed_s']:.0f} s wall time on the "
        "2-core development machine). One 4-hour, 20-agent shift with the predictive "
        f"pacer simulates in {saved.get('one_shift_s', float('nan')):.2f} s. "
        + _ENGINE_TEXT[saved.get("engine", "model")]
        + "\n\n"
        "Occupancy = talk time / logged-in time; abandon = abandoned live calls "
        "(AMD false positives included) / live answers over the 4-hour shift; "
        f"mean (min–max) over seeds {saved.get('seeds', '1–5')}, every policy on the same lead "
        'file per seed. "tuned" is the model-based threshold policy given the true '
        "distributions, its θ tuned in hindsight per scenario on the pooled abandon "
        'rate (so single seeds may exceed the target); "predictive" is dialerd\'s '
        "pacer with its defaults, learning online. See docs/pacing.md for the method.\n\n"
        "### Criteria\n\n" + summary(rows) + "\n\n### All policies\n\n" + table(rows, thetas)
    )


def write_section(path: Path, body: str) -> None:
    """Replace the "## Pacing" section of ``path`` (create the file if needed)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"## Pacing\n\n{body.rstrip()}\n"
    pattern = re.compile(r"^## Pacing\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["config/scenarios/*.toml"])
    parser.add_argument(
        "--seeds", default="", help="e.g. 1-45 instead of the scenarios' (with --out -)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tune", action="store_true", help="re-tune theta in hindsight")
    parser.add_argument(
        "--engine",
        choices=sorted(ENGINES),
        default="dialer",
        help=(
            "dialer: the daemon's Dialer (default); dialer-greeting: the same with the"
            " benchmark's US clock (a call can be taken during the greeting); model: the"
            " lighter model floor"
        ),
    )
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--out", default="docs/benchmarks.md", help="'-' to skip writing")
    parser.add_argument("--json", default="", help="also write every run's metrics here")
    parser.add_argument("--from-json", default="", help="render a saved --json run instead")
    args = parser.parse_args(argv)
    thetas_at = theta_file(args.engine)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        saved_thetas = json.loads(thetas_at.read_text()) if thetas_at.exists() else {}
        body = render(saved, saved_thetas)
        print(body)
        if args.out != "-":
            write_section(ROOT / args.out, body)
        return 0

    paths = matching_scenarios(args.scenarios)
    try:
        seeds = tuple(parse_seeds(args.seeds)) if args.seeds else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if seeds and args.out != "-":
        # The section in docs/benchmarks.md is the standard run, on the scenarios' seeds.
        print("--seeds needs --out - (the docs table is the standard run)", file=sys.stderr)
        return 2
    paths.sort(key=_cost, reverse=True)
    policies = [p for p in args.policies.split(",") if p]
    thetas: dict[str, float] = json.loads(thetas_at.read_text()) if thetas_at.exists() else {}
    started = time.monotonic()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.workers) as pool:
        names = {p: load_scenario(p).name for p in paths}
        if "tuned" in policies:
            todo = [p for p in paths if args.tune or names[p] not in thetas]
            jobs = [(p, args.engine) for p in todo]
            for name, theta, rate in pool.imap_unordered(tune_one, jobs):
                thetas[name] = theta
                print(f"tuned {name}: theta={theta:.4g} pooled abandon={rate:.4f}", flush=True)
            if todo:
                thetas_at.write_text(json.dumps(dict(sorted(thetas.items())), indent=1) + "\n")
        # Largest first, so that the last tasks to finish are short ones and neither
        # worker waits long for the other at the end.
        work = [(p, tuple(policies), thetas.get(names[p]), args.engine, seeds) for p in paths]
        rows = []
        for done, rows_of in enumerate(pool.imap_unordered(run_scenario, work), 1):
            rows += rows_of
            name = str(rows_of[0]["scenario"]) if rows_of else ""
            progress(done, len(work), name, time.monotonic() - started)
    runs = len(rows)
    elapsed = time.monotonic() - started
    # The speed target: one 4-hour, 20-agent shift, timed alone after the pool is done.
    shift = load_scenario(ROOT / "config" / "scenarios" / "us-n20-live20-t3.toml")
    t0 = time.perf_counter()
    ENGINES[args.engine](shift, predictive_for(shift), 1)
    one_shift_s = time.perf_counter() - t0
    saved = {
        "one_shift_s": one_shift_s,
        "command": "python scripts/bench_pacing.py"
        + (" --tune" if args.tune else "")
        + (f" --engine {args.engine}" if args.engine != "dialer" else "")
        + (f" --policies {args.policies}" if args.policies != ",".join(POLICIES) else "")
        + (f" --seeds {args.seeds} --out -" if seeds else "")
        + (
            " --scenarios " + " ".join(f"'{p}'" for p in args.scenarios)
            if args.scenarios != parser.get_default("scenarios")
            else ""
        ),
        "seeds": args.seeds.replace("-", "–") if seeds else "1–5",
        "engine": args.engine,
        "workers": args.workers,
        "scenarios": len(paths),
        "runs": runs,
        "elapsed_s": elapsed,
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(saved, indent=1))
    body = render(saved, thetas)
    print(body)
    if args.out != "-":
        write_section(ROOT / args.out, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
