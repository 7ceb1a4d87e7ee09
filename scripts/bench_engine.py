"""Benchmark: the call engine with hundreds of calls in progress at once (issue 4).

The simulated Asterisk runs in its own process (``dialerd sim-asterisk``, ``dialerd``
behaviour, real time) with long talk times, so that about ``--agents`` customer calls are up
at once. The engine runs in this process exactly as ``dialerd run`` wires it — a real SQLite
store set up through the admin commands, the AMI pool, :class:`~dialerd.service.Service`
consuming the event stream and waking at its deadlines, ``auto_agents = true`` so that every
agent of the campaign is logged in at start — in a power-mode campaign.

Measured in the steady state (from the moment ``--calls`` calls are in flight, for
``--steady-s`` seconds):

* ready → Redirect on the wire: from the moment the bytes carrying a customer's
  ``UserEvent: DialerReady`` were read from the socket to the moment the Redirect for that
  customer was written to it. Only customers the engine could give an agent at once count;
  a customer who had to wait for an agent to free up (power dialing overshoots) is counted
  apart, since that wait is the pacing's and not the engine's latency.
* event-loop lag: a callback scheduled every 10 ms records how late it ran.
* calls in flight (sampled every 10 ms), and the CPU time of this process and of the
  simulator's (from ``/proc``, so Linux only).

    python scripts/bench_engine.py --agents 500 --calls 500 --steady-s 90
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialerd import admin, log
from dialerd.adapters import ami as ami_adapter
from dialerd.adapters.ami_pool import AmiPool
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.ami.session import ClientSession, SessionOutput
from dialerd.cli import main as cli
from dialerd.config import Config, LimitsConfig, parse_config
from dialerd.core import commands as cmd
from dialerd.core import events as ev
from dialerd.core.dialer import AgentState, Dialer, Input
from dialerd.core.model import Agent
from dialerd.service import Service

SCENARIO = """
name = "bench-engine"
[outcomes]
live = {live}
machine = 0.0
busy = 0.1
invalid = 0.05
[timing]
post_dial_delay_s = [0.5, 1.5]
ring_timeout_s = 20.0
busy_s = [0.5, 1.5]
invalid_s = [0.5, 2.0]
machine_answer_mean_s = 10.0
machine_answer_sd_s = 2.0
machine_answer_min_s = 5.0
[[live_answer]]
kind = "uniform"
weight = 1.0
low_s = 2.0
high_s = 8.0
[durations]
talk_mean_s = {talk_s}
talk_cv = {talk_cv}
"""

CONFIG = """
node_name = "bench"
[store]
path = "{db}"
[[ami.servers]]
name = "sim"
port = {port}
secret = {{ value = "dialerd" }}
max_concurrent_calls = 5000
action_timeout_s = 10.0
[engine]
auto_agents = true
route = "Local/{{digits}}@sim-pstn"
startup_timeout_s = 30
[log]
format = "json"
"""

_BUSY = (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_model() -> str:
    """The processor's name, as Linux reports it."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def proc_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- setting up the store ------------------------------------------------------------------


def setup_store(db: Path, tmp: Path, *, agents: int, contacts: int, power_ratio: float) -> None:
    """A running power campaign (always open) with its contacts and agents."""

    def run(*args: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(["--db", str(db), "--json", *args])
        if code != 0:
            raise SystemExit(f"setup failed: dialerd {' '.join(args)}")

    csv = tmp / "contacts.csv"
    csv.write_text(
        "phone\n" + "".join(f"+1212{5550000 + i:07d}\n" for i in range(contacts)),
        encoding="utf-8",
    )
    run(
        "campaign",
        "create",
        "bench",
        "--dial-mode",
        "power",
        f"--power-ratio={power_ratio}",
        "--timezone",
        "UTC",
        "--local-hours",
        "00:00-24:00",
        "--max-attempts",
        "1",
        "--ring-timeout-s",
        "20",
        "--wrapup-limit-s",
        "1",
    )
    run("campaign", "hours", "bench", "mon-sun 00:00-24:00")
    run("contacts", "import", "bench", str(csv))
    ids = [str(1000 + i) for i in range(agents)]
    asyncio.run(_add_agents(db, ids))
    run("campaign", "activate", "bench")
    run("campaign", "start", "bench")


async def _add_agents(db: Path, ids: list[str]) -> None:
    store = await SqliteStore.open(str(db))
    try:
        for agent_id in ids:
            await admin.add_agent(store, Agent(agent_id, agent_id, f"Local/{agent_id}@sim-agents"))
        await admin.assign_agents(store, "bench", ids, assigned=True, limits=LimitsConfig())
    finally:
        await store.close()


# -- the simulator -------------------------------------------------------------------------


async def start_sim(scenario: Path, seed: int) -> tuple[asyncio.subprocess.Process, int]:
    """Start ``dialerd sim-asterisk`` on a free port; returns the process and the port."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dialerd",
        "sim-asterisk",
        "--port",
        "0",
        "--behaviour",
        "dialerd",
        "--scenario",
        str(scenario),
        "--seed",
        str(seed),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while True:
            line = (await proc.stderr.readline()).decode()
            if not line:
                raise SystemExit("the simulator exited before listening")
            if "AMI on" in line:
                port = int(line.rsplit(":", 1)[1])
                break
    # Keep reading so that the simulator never blocks on a full pipe.
    asyncio.get_running_loop().create_task(_drain(proc.stderr))
    return proc, port


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


# -- instruments ---------------------------------------------------------------------------


@dataclass
class Figures:
    """What the instruments collected; lists are cleared when the steady state begins."""

    ready_read_at: dict[str, float] = field(default_factory=dict)
    immediate: set[str] = field(default_factory=set)
    latency_s: list[float] = field(default_factory=list)
    waited_s: list[float] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    peak_in_flight: int = 0
    ready: int = 0
    abandoned: int = 0


class NotingDialer(Dialer):
    """The engine, noting the customers it gave an agent in the step that saw them ready."""

    def __init__(self, figures: Figures) -> None:
        super().__init__()
        self.figures = figures

    def handle(self, item: Input, now: float, wall_now: dt.datetime) -> list[cmd.Command]:
        """As :meth:`Dialer.handle`."""
        out = super().handle(item, now, wall_now)
        if isinstance(item, ev.SafeHarborPlayed):
            self.figures.abandoned += 1
        if isinstance(item, ev.CustomerReady):
            self.figures.ready += 1
        if isinstance(item, ev.CustomerReady) and any(
            isinstance(c, cmd.Redirect) and c.call_id == item.call_id for c in out
        ):
            self.figures.immediate.add(item.call_id)
        return out


def stamped_session(figures: Figures) -> type[ClientSession]:
    """An AMI session that notes when the bytes carrying each ``DialerReady`` were read."""

    class StampedSession(ClientSession):
        def receive(self, data: bytes, now: float) -> list[SessionOutput]:
            out = super().receive(data, now)
            for item in out:
                if isinstance(item, ev.CustomerReady):
                    # ``now`` is the client's clock, read as the chunk came off the socket.
                    figures.ready_read_at[item.call_id] = now
            return out

    return StampedSession


def stamp_redirects(figures: Figures, pool: AmiPool) -> None:
    """Note when each Redirect is written, against its customer's ``DialerReady`` read."""
    for client in pool.clients.values():
        send_redirect = client.redirect_to_agent

        async def redirect(
            call_id: str, agent_id: str, send: Callable[..., Any] = send_redirect
        ) -> None:
            # Nothing is awaited between here and the write of the action's bytes.
            written = time.monotonic()
            read = figures.ready_read_at.pop(call_id, None)
            if read is not None:
                bucket = figures.latency_s if call_id in figures.immediate else figures.waited_s
                bucket.append(written - read)
            figures.immediate.discard(call_id)
            await send(call_id, agent_id)

        client.redirect_to_agent = redirect  # type: ignore[method-assign]


def start_monitor(figures: Figures, service: Service, period_s: float = 0.01) -> None:
    """Every ``period_s``: how late this callback runs, and how many calls are in flight."""
    loop = asyncio.get_running_loop()

    def tick(due: float) -> None:
        now = loop.time()
        figures.lag_s.append(max(0.0, now - due))
        calls = service.dialer.in_flight()
        figures.in_flight.append(calls)
        figures.peak_in_flight = max(figures.peak_in_flight, calls)
        loop.call_at(max(due + period_s, now), tick, max(due + period_s, now))

    first = loop.time() + period_s
    loop.call_at(first, tick, first)


# -- the run -------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, tmp: Path, db: Path) -> dict[str, Any]:
    """Run the engine against the simulator and return the steady-state figures."""
    scenario = tmp / "scenario.toml"
    scenario.write_text(
        SCENARIO.format(live=args.live, talk_s=args.talk_s, talk_cv=args.talk_cv), encoding="utf-8"
    )
    sim, port = await start_sim(scenario, args.seed)
    config: Config = parse_config(CONFIG.format(db=db, port=port))
    with (tmp / "dialerd.log").open("w", encoding="utf-8") as log_file:
        log.configure("info", "json", stream=log_file)
        try:
            return await _engine(args, config, sim.pid)
        finally:
            with contextlib.suppress(ProcessLookupError):
                sim.terminate()
            await sim.wait()


async def _engine(args: argparse.Namespace, config: Config, sim_pid: int) -> dict[str, Any]:
    figures = Figures()
    store = await SqliteStore.open(config.store.path)
    pool = AmiPool([(s, s.secret.load("ami")) for s in config.ami.servers])
    service = Service(config, store, pool, dialer=NotingDialer(figures))
    stamp_redirects(figures, pool)
    started = time.monotonic()
    try:
        await service.recover()
        # Sessions are created on connect: from here on, the clients make stamped ones.
        patch = mock.patch.object(ami_adapter, "ClientSession", stamped_session(figures))
        patch.start()
        pool.start()
        await pool.wait_any_up(config.engine.startup_timeout_s)
        async with asyncio.TaskGroup() as tg:
            events = tg.create_task(service.consume(pool.events()), name="ami-events")
            timers = tg.create_task(service.timers(), name="engine-timers")
            await service.start_campaigns()
            start_monitor(figures, service)
            result = await _measure(args, figures, service, sim_pid, started)
            events.cancel()
            timers.cancel()
    finally:
        await pool.close()
        await store.close()
        mock.patch.stopall()
    return result


async def _measure(
    args: argparse.Namespace, figures: Figures, service: Service, sim_pid: int, started: float
) -> dict[str, Any]:
    # The ramp: wait (in one-second steps) until enough calls are in flight, nine agents in
    # ten are busy, and the first calls have had time to end (so that calls come and go).
    ramp_end = started + args.ramp_max_s
    warm = started + args.warmup_s
    while time.monotonic() < ramp_end:
        busy = sum(1 for a in service.dialer.agents.values() if a.state in _BUSY)
        enough = service.dialer.in_flight() >= args.calls and busy >= 0.9 * args.agents
        if enough and time.monotonic() >= warm:
            break
        await asyncio.sleep(1.0)
    ramp_s = time.monotonic() - started
    figures.latency_s.clear()
    service.redirect_latency.clear()
    figures.waited_s.clear()
    figures.lag_s.clear()
    figures.in_flight.clear()
    figures.peak_in_flight = 0
    figures.ready = figures.abandoned = 0
    load = os.getloadavg()[0]
    cpu0, sim_cpu0, t0 = time.process_time(), proc_cpu_s(sim_pid), time.monotonic()
    await asyncio.sleep(args.steady_s)
    cpu1, sim_cpu1, t1 = time.process_time(), proc_cpu_s(sim_pid), time.monotonic()
    span = t1 - t0
    return {
        "ramp_s": ramp_s,
        "steady_s": span,
        "latency_ms": [1000 * x for x in figures.latency_s],
        "waited_ms": [1000 * x for x in figures.waited_s],
        "service_ms": [1000 * x for x in service.redirect_latency],
        "lag_ms": [1000 * x for x in figures.lag_s],
        "in_flight": list(figures.in_flight),
        "peak_in_flight": figures.peak_in_flight,
        "engine_cpu": (cpu1 - cpu0) / span,
        "sim_cpu": (sim_cpu1 - sim_cpu0) / span,
        "ready": figures.ready,
        "abandoned": figures.abandoned,
        "load": (load, os.getloadavg()[0]),
    }


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures as a Markdown table."""
    lat, lag, flight = r["latency_ms"], r["lag_ms"], r["in_flight"]
    svc = r["service_ms"]
    rows = [
        ("start to the steady state", f"{r['ramp_s']:.1f} s"),
        ("steady state measured", f"{r['steady_s']:.1f} s"),
        (
            "calls in flight, min / median / peak",
            f"{min(flight, default=0)} / {int(quantile(flight, 0.5))} / {r['peak_in_flight']}",
        ),
        (
            "customers redirected at once (ready → Redirect measured)",
            f"{len(lat)} ({len(lat) / r['steady_s']:.1f}/s)",
        ),
        (
            "ready → Redirect on the wire, p50 / p99 / max",
            f"{quantile(lat, 0.5):.2f} / {quantile(lat, 0.99):.2f} / {max(lat, default=0):.2f} ms",
        ),
        (
            "of which from CustomerReady dequeued to Redirect, p50 / p99 / max",
            f"{quantile(svc, 0.5):.2f} / {quantile(svc, 0.99):.2f} / {max(svc, default=0):.2f} ms",
        ),
        ("customers ready (answered, human) in the steady state", f"{r['ready']}"),
        ("customers who waited for an agent to free up", f"{len(r['waited_ms'])}"),
        ("customers abandoned (no agent within the 2 s hold)", f"{r['abandoned']}"),
        (
            "event-loop lag (10 ms ticker), p50 / p99 / max",
            f"{quantile(lag, 0.5):.2f} / {quantile(lag, 0.99):.2f} / {max(lag, default=0):.2f} ms",
        ),
        (
            "CPU (share of one core): engine process / simulator process",
            f"{r['engine_cpu']:.0%} / {r['sim_cpu']:.0%}",
        ),
        ("machine load average (1 min) at start / end", "{:.1f} / {:.1f}".format(*r["load"])),
    ]
    lines = ["| figure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    lines.append(
        f"| targets | ready → Redirect p99 ≤ {args.target_latency_ms:g} ms: "
        f"{'met' if quantile(lat, 0.99) <= args.target_latency_ms else 'MISSED'}; "
        f"lag p99 < {args.target_lag_ms:g} ms: "
        f"{'met' if quantile(lag, 0.99) < args.target_lag_ms else 'MISSED'} |"
    )
    return "\n".join(lines)


def main() -> int:
    """Set up, run and report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=500, help="agents logged in (auto_agents)")
    p.add_argument("--calls", type=int, default=500, help="calls in flight that start the count")
    p.add_argument("--contacts", type=int, default=6000)
    p.add_argument("--power-ratio", type=float, default=1.2)
    p.add_argument("--live", type=float, default=0.75, help="share of customers who answer")
    p.add_argument("--talk-s", type=float, default=60.0, help="mean talk time")
    p.add_argument(
        "--talk-cv", type=float, default=0.5, help="talk time's coefficient of variation"
    )
    p.add_argument("--warmup-s", type=float, default=60.0, help="least time before measuring")
    p.add_argument("--steady-s", type=float, default=120.0, help="length of the measurement")
    p.add_argument("--ramp-max-s", type=float, default=180.0, help="give up waiting for --calls")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--target-latency-ms", type=float, default=20.0)
    p.add_argument("--target-lag-ms", type=float, default=50.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as name:
        tmp = Path(name)
        db = tmp / "bench.sqlite3"
        t = time.monotonic()
        setup_store(
            db, tmp, agents=args.agents, contacts=args.contacts, power_ratio=args.power_ratio
        )
        print(f"store set up in {time.monotonic() - t:.1f} s", file=sys.stderr)
        result = asyncio.run(bench(args, tmp, db))
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs ({cpu_model()}); {vars(args)}"
    )
    print(report(result, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
