"""``dialerd ami-check``: log in to every configured Asterisk server and report what is there.

For operators: it proves the host, port, user and secret of each ``[[ami.servers]]`` entry
work, that the user may run ``CoreShowChannels``, and shows how many channels (and how many
of them dialerd's) each server has. It changes nothing on any server. Exit status 0 when
every server answered, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dialerd.adapters.ami import AmiClient
from dialerd.config import AmiServerConfig, Config, load_config
from dialerd.core.events import ChannelsSnapshot, LinkUp
from dialerd.errors import DialerdError, UsageError


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """What one server said, or why it could not be asked."""

    name: str
    address: str
    up: bool
    uptime_s: int | None = None
    channels: int | None = None
    our_calls: int | None = None
    our_agents: int | None = None
    error: str | None = None


async def check_server(server: AmiServerConfig, index: int, timeout_s: float) -> ServerCheck:
    """Log in to one server, take its snapshot, log out."""
    address = f"{server.host}:{server.port}"
    try:
        secret = server.secret.load(f"ami.servers[{index}].secret")
    except DialerdError as exc:
        return ServerCheck(server.name, address, False, error=str(exc))
    client = AmiClient(server, secret)
    events = client.events()
    client.start()
    snapshot: ChannelsSnapshot | None = None
    try:
        await client.wait_up(timeout_s)
        async with asyncio.timeout(timeout_s):
            async for event in events:
                match event:
                    case ChannelsSnapshot():
                        snapshot = event
                    case LinkUp(uptime_s=uptime) if snapshot is not None:
                        return ServerCheck(
                            server.name,
                            address,
                            True,
                            uptime,
                            len(snapshot.uniqueids),
                            len(snapshot.call_ids),
                            len(snapshot.agent_ids),
                        )
    except (DialerdError, TimeoutError) as exc:
        return ServerCheck(server.name, address, False, error=str(exc) or type(exc).__name__)
    finally:
        await client.close()
    return ServerCheck(server.name, address, False, error="no snapshot received")


async def check_all(config: Config, timeout_s: float) -> list[ServerCheck]:
    """Check every configured server at once."""
    servers: Sequence[AmiServerConfig] = config.ami.servers
    if not servers:
        raise UsageError("the configuration names no [[ami.servers]]")
    return list(
        await asyncio.gather(*(check_server(s, i, timeout_s) for i, s in enumerate(servers)))
    )


def format_checks(checks: Sequence[ServerCheck]) -> list[str]:
    """One line per server, as printed."""
    lines = []
    for c in checks:
        if c.up:
            lines.append(
                f"{c.name} ({c.address}): up {c.uptime_s} s, {c.channels} channel(s), "
                f"{c.our_calls} dialerd call(s), {c.our_agents} agent session(s)"
            )
        else:
            lines.append(f"{c.name} ({c.address}): DOWN: {c.error}")
    return lines


def register(subparsers: Any) -> None:
    """Add the ``ami-check`` subcommand to the ``dialerd`` command line."""
    p = subparsers.add_parser(
        "ami-check",
        help="log in to every configured Asterisk server and show its channels",
        description=__doc__.replace("``", ""),
    )
    p.add_argument("--config", help="configuration file (default: $DIALERD_CONFIG)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per server")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``ami-check``; the exit status says whether every server answered."""
    path = args.config or os.environ.get("DIALERD_CONFIG")
    if not path:
        raise UsageError("give --config FILE or set DIALERD_CONFIG")
    checks = asyncio.run(check_all(load_config(path), args.timeout))
    for line in format_checks(checks):
        print(line)
    return 0 if all(c.up for c in checks) else 1
