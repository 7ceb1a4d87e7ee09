"""``dialerd sim-asterisk``: run the simulated Asterisk until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

from dialerd.errors import UsageError
from dialerd.sim.asterisk import BEHAVIOURS, SimAsterisk
from dialerd.sim.behaviour import OUTCOMES
from dialerd.sim.scenario import load_scenario

SECRET_ENV = "DIALERD_SIM_SECRET"  # noqa: S105 - the name of a variable, not a secret


def register(subparsers: Any) -> None:
    """Add the ``sim-asterisk`` subcommand to the ``dialerd`` command line."""
    p = subparsers.add_parser(
        "sim-asterisk",
        help="run a simulated Asterisk that speaks AMI (for tests and the demo)",
        description=(
            "Listen for AMI clients and play either the dialplan of the recorded lab sessions "
            "(--behaviour lab) or dialerd's shipped dialplan with customers drawn from a "
            "scenario (--behaviour dialerd). Dial customers as Local/<number>@sim-pstn and "
            "agent phones as Local/<agent id>@sim-agents."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=5038, help="TCP port (0 picks a free one)")
    p.add_argument("--username", default="dialerd", help="AMI user name to accept")
    p.add_argument(
        "--secret",
        default=None,
        help=f"AMI secret to accept (default: ${SECRET_ENV}, else 'dialerd')",
    )
    p.add_argument("--behaviour", choices=BEHAVIOURS, default="dialerd")
    p.add_argument("--scenario", help="scenario TOML file (the pacing simulator's format)")
    p.add_argument("--seed", type=int, default=None, help="seed for the customers' draws")
    p.add_argument(
        "--number",
        action="append",
        default=[],
        metavar="NUMBER=OUTCOME",
        help=f"fix one number's outcome ({', '.join(OUTCOMES)}); repeatable",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every dialplan duration (0.1 runs ten times faster)",
    )
    p.set_defaults(run=run)


def _overrides(items: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        number, sep, outcome = item.partition("=")
        if not sep or not number or outcome not in (*OUTCOMES, "human"):
            raise UsageError(f"--number {item!r}: write NUMBER=OUTCOME, OUTCOME one of {OUTCOMES}")
        found[number] = outcome
    return found


def run(args: argparse.Namespace) -> int:
    """Run the server until a signal asks it to stop."""
    scenario = load_scenario(args.scenario) if args.scenario else None
    sim = SimAsterisk(
        host=args.host,
        port=args.port,
        username=args.username,
        secret=args.secret or os.environ.get(SECRET_ENV, "dialerd"),
        behaviour=args.behaviour,
        scenario=scenario,
        seed=args.seed,
        overrides=_overrides(args.number),
        time_scale=args.time_scale,
    )
    asyncio.run(_serve(sim))
    return 0


async def _serve(sim: SimAsterisk) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    print(
        f"sim-asterisk: {sim.behaviour} behaviour, AMI on {sim.host}:{sim.port}",
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await sim.stop()
