"""End-to-end fixtures: the real ``dialerd run`` process against the simulated Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from dialerd.ami.codec import Message
from dialerd.cli import main as cli
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.scenario import parse_scenario

# Quick, predictable customers: live answers after 1-2 s of ringing, short talk.
FAST = """
name = "e2e"
[outcomes]
live = 1.0
machine = 0.0
busy = 0.0
invalid = 0.0
[timing]
post_dial_delay_s = [0.2, 0.4]
ring_timeout_s = 15.0
busy_s = [0.2, 0.4]
invalid_s = [0.2, 0.4]
machine_answer_mean_s = 2.0
machine_answer_sd_s = 0.2
machine_answer_min_s = 1.0
[[live_answer]]
kind = "uniform"
weight = 1.0
low_s = 1.0
high_s = 2.0
[durations]
talk_mean_s = 3.0
talk_cv = 0.2
"""


class Sim:
    """A simulated Asterisk that also counts the Originates each number receives."""

    def __init__(self, overrides: dict[str, str], time_scale: float) -> None:
        self.server = SimAsterisk(
            behaviour="dialerd",
            scenario=parse_scenario(tomllib.loads(FAST)),
            seed=7,
            overrides=overrides,
            time_scale=time_scale,
        )
        self.dialled: dict[str, int] = {}
        original = self.server._originate

        async def counting(session: Any, action: Message) -> None:
            channel = action.get("Channel") or ""
            if "@sim-pstn" in channel:
                number = channel.removeprefix("Local/").split("@")[0]
                self.dialled[number] = self.dialled.get(number, 0) + 1
            await original(session, action)

        self.server._originate = counting  # type: ignore[method-assign]

    async def __aenter__(self) -> Sim:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()


class Daemon:
    """One ``dialerd run`` process, its JSON log lines and a way to wait on them."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: asyncio.subprocess.Process | None = None
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the process and follow its log."""
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dialerd",
            "--config",
            str(self.config),
            "run",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(raw))
            self._changed.set()

    def count(self, event: str) -> int:
        """How many log lines had this event name."""
        return sum(1 for e in self.events if e.get("event") == event)

    async def wait_for(self, test: Callable[[], bool], limit_s: float = 30.0) -> None:
        """Wait until ``test()`` holds, re-checking at each new log line; fail at timeout."""

        async def until() -> None:
            while not test():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), limit_s)

    async def stop(self, sig: int = signal.SIGTERM, limit_s: float = 30.0) -> int:
        """Signal the process and wait for it to exit; returns its exit status."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            code = await asyncio.wait_for(self.proc.wait(), limit_s)
        except TimeoutError:
            print("daemon did not stop; its last log lines:", *self.events[-20:], sep="\n")
            raise
        if self._reader is not None:
            await asyncio.wait_for(self._reader, limit_s)
        return code


def admin(db: Path, *args: str) -> None:
    """Run one administration command on the test's store; it must succeed."""
    assert cli(["--db", str(db), *args]) == 0, args


def write_config(path: Path, db: Path, port: int, **engine: object) -> Path:
    """A daemon configuration pointing at the simulator."""
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in engine.items())
    path.write_text(
        f'node_name = "e2e"\n[store]\npath = "{db}"\n'
        f'[[ami.servers]]\nname = "sim"\nport = {port}\nsecret = {{ value = "dialerd" }}\n'
        "ping_interval_s = 1.0\nreconnect_min_s = 0.05\nreconnect_max_s = 0.5\n"
        '[engine]\nauto_agents = true\nroute = "Local/{digits}@sim-pstn"\n'
        f"drain_timeout_s = 20\n{extra}"
        '[log]\nformat = "json"\n',
        encoding="utf-8",
    )
    return path


async def launch(daemons: list[Daemon], tmp: Path, db: Path, port: int) -> Daemon:
    """Start a daemon on ``db`` against the simulator at ``port``; the fixture stops it."""
    daemon = Daemon(write_config(tmp / "c.toml", db, port))
    daemons.append(daemon)
    await daemon.start()
    return daemon


@pytest.fixture
async def daemons() -> AsyncIterator[list[Daemon]]:
    """Daemons started by a test are stopped (killed if need be) at its end."""
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc is not None and d.proc.returncode is None:
            d.proc.kill()
            await d.proc.wait()
