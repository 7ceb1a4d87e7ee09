"""Benchmark: the simulated Asterisk sustaining N concurrent answered calls.

The simulator runs in its own process (``--serve``), with the ``dialerd`` behaviour in real
time. The driver logs in N agents (each an agent session: Originate into ``dialerd-agent``),
then originates N customers at a fixed rate; each answered customer raises ``DialerReady``
and is redirected into its own agent's conference, where it talks for the drawn talk time
(fixed near ``--talk-s``). Once N calls are connected at once the driver keeps N calls up
for ``--hold-s``: every customer that hangs up is replaced by a new call to its agent.

Measured: the Originate rate the simulator accepted (responses per second during the ramp),
events delivered per second and Originates per second in the steady state, the simulator's
event-loop lag in the steady state (a 50 ms ticker's lateness, p50/p99/max), and the
simulator process's peak RSS. The AMI session logs in with
``Events: system,call,user`` like dialerd's user (no dialplan-class events).

    python scripts/bench_sim.py --calls 1000 --rate 100 --hold-s 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import signal
import sys
import time
import uuid
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialerd.ami import contract
from dialerd.ami.codec import Decoder, Message, encode
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.scenario import (
    LiveAnswerComponent,
    LogNormal,
    OutcomeMix,
    Scenario,
    Uniform,
)


def bench_scenario(talk_s: float) -> Scenario:
    """Everyone answers after about a second and talks for about ``talk_s``."""
    return Scenario().with_(
        outcomes=OutcomeMix(live=1.0, machine=0.0, busy=0.0, invalid=0.0),
        post_dial_delay_s=Uniform(0.2, 0.5),
        live_answer=(LiveAnswerComponent(1.0, Uniform(0.5, 1.5)),),
        live_answer_min_s=0.5,
        talk=LogNormal(talk_s, 0.01),
    )


async def serve(talk_s: float) -> None:
    """Child process: run the simulator, measure loop lag, print stats on SIGTERM."""
    # stdout carries the JSON lines the parent reads; keep the simulator's logs off it.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    scenario = bench_scenario(talk_s)
    sim = SimAsterisk(behaviour="dialerd", scenario=scenario, seed=1)
    await sim.start()
    print(json.dumps({"port": sim.port}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    lags: list[float] = []
    # SIGUSR1 marks the start of the steady state: lag is reported from there on.
    loop.add_signal_handler(signal.SIGUSR1, lags.clear)
    tick = 0.05

    async def ticker() -> None:
        while True:
            due = loop.time() + tick
            await asyncio.sleep(tick)
            lags.append(max(0.0, loop.time() - due))

    task = loop.create_task(ticker())
    await stop.wait()
    task.cancel()
    lags.sort()
    stats = {
        "events_raised": sim.events_sent,
        "originates": sim.originates,
        "lag_p50_ms": 1000 * lags[len(lags) // 2] if lags else 0.0,
        "lag_p99_ms": 1000 * lags[int(len(lags) * 0.99)] if lags else 0.0,
        "lag_max_ms": 1000 * lags[-1] if lags else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    await sim.stop()
    print(json.dumps(stats), flush=True)


class Driver:
    """One AMI connection that places calls and connects each to its agent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events = 0
        self.responses: dict[str, Message] = {}
        self.agent_ready: set[str] = set()
        self.connected: set[str] = set()
        self.ended: set[str] = set()
        self.agent_of: dict[str, str] = {}
        self.peak = 0
        self.churn = False
        self.abandoned = 0
        self.placed = 0
        self.changed = asyncio.Event()

    def place(self, agent: str) -> None:
        """Originate one customer call meant for ``agent``."""
        call = uuid.uuid4().hex
        self.agent_of[call] = agent
        self.placed += 1
        self.send(
            [
                ("Action", "Originate"),
                ("ActionID", call),
                ("Channel", f"Local/555{self.placed:07d}@sim-pstn"),
                ("Context", contract.CUSTOMER_CONTEXT),
                ("Exten", "s"),
                ("Priority", "1"),
                ("Timeout", "30000"),
                ("Async", "true"),
                ("ChannelId", contract.customer_channel_id(call)),
                ("OtherChannelId", contract.peer_channel_id(call)),
                ("Variable", f"{contract.VAR_CALL_ID}={call},{contract.VAR_HOLD_MS}=2000"),
            ]
        )

    def send(self, pairs: list[tuple[str, str]]) -> None:
        self.writer.write(encode(pairs))

    async def read(self) -> None:
        decoder = Decoder(expect_banner=True)
        while data := await self.reader.read(1 << 16):
            for msg in decoder.feed(data):
                if isinstance(msg, Message):
                    self.handle(msg)
            self.changed.set()

    def handle(self, msg: Message) -> None:
        if msg.kind == "response":
            self.responses[msg.action_id or ""] = msg
            return
        self.events += 1
        name = msg.name
        if name == "UserEvent":
            kind = msg.get("UserEvent")
            if kind == contract.EV_AGENT_READY:
                self.agent_ready.add(msg[contract.H_AGENT_ID])
            elif kind == contract.EV_READY:
                call = msg[contract.H_CALL_ID]
                self.send(
                    [
                        ("Action", "Redirect"),
                        ("ActionID", "r" + call),
                        ("Channel", contract.customer_channel_id(call)),
                        ("Context", contract.CONNECT_CONTEXT),
                        ("Exten", self.agent_of[call]),
                        ("Priority", "1"),
                    ]
                )
            elif kind == contract.EV_SAFE_HARBOR:
                self.abandoned += 1
            elif kind == contract.EV_CONNECTED:
                self.connected.add(msg[contract.H_CALL_ID])
                self.peak = max(self.peak, len(self.connected) - len(self.ended))
        elif name == "Hangup":
            gone = contract.call_id_of(msg.get("Uniqueid") or "")
            if gone in self.agent_of and msg["Uniqueid"].endswith(contract.CUSTOMER_SUFFIX):
                self.ended.add(gone)
                if self.churn:
                    self.place(self.agent_of[gone])

    async def until(self, predicate: object, within_s: float) -> None:
        async def wait() -> None:
            while not predicate():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), within_s)


async def drive(args: argparse.Namespace) -> dict[str, float]:
    """Parent process: start the simulator child and load it."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        "--talk-s",
        str(args.talk_s),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    try:
        measured = await load(child.stdout, child.pid, args)
        child.send_signal(signal.SIGTERM)
        stats = json.loads(await child.stdout.readline())
    finally:
        if child.returncode is None:
            child.terminate()
        await child.wait()
    return {**measured, **stats}


async def load(out: asyncio.StreamReader, pid: int, args: argparse.Namespace) -> dict[str, float]:
    """Log the agents in, ramp the calls up, hold, and report what the client saw."""
    port = json.loads(await out.readline())["port"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    d = Driver(reader, writer)
    reading = asyncio.get_running_loop().create_task(d.read())
    d.send(
        [
            ("Action", "Login"),
            ("ActionID", "login"),
            ("Username", "dialerd"),
            ("Secret", "dialerd"),
            ("Events", "system,call,user"),
        ]
    )
    agents = [f"{1000 + i}" for i in range(args.calls)]
    for agent in agents:
        session = uuid.uuid4().hex
        d.send(
            [
                ("Action", "Originate"),
                ("ActionID", session),
                ("Channel", f"Local/{agent}@sim-agents"),
                ("Context", contract.AGENT_CONTEXT),
                ("Exten", agent),
                ("Priority", "1"),
                ("Async", "true"),
                ("ChannelId", contract.customer_channel_id(session)),
                ("OtherChannelId", contract.peer_channel_id(session)),
            ]
        )
    await d.until(lambda: len(d.agent_ready) == len(agents), 120)
    start_events = d.events
    t0 = time.perf_counter()
    interval = 1.0 / args.rate
    for i, agent in enumerate(agents):
        d.place(agent)
        await asyncio.sleep(max(0.0, t0 + (i + 1) * interval - time.perf_counter()))
    ramp_s = time.perf_counter() - t0
    accepted = sum(1 for c in d.agent_of if c in d.responses)
    await d.until(lambda: len(d.connected) - len(d.ended) >= args.calls, 120)
    reached_s = time.perf_counter() - t0
    # Steady state: every call that ends is replaced at once (agents have no wrap-up).
    d.churn = True
    os.kill(pid, signal.SIGUSR1)
    hold_events, hold_placed = d.events, d.placed
    await asyncio.sleep(args.hold_s)
    held = len(d.connected) - len(d.ended)
    hold_rate = (d.events - hold_events) / args.hold_s
    churn_rate = (d.placed - hold_placed) / args.hold_s
    total_s = time.perf_counter() - t0
    reading.cancel()
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return {
        "calls": args.calls,
        "originate_rate_per_s": accepted / ramp_s,
        "time_to_all_connected_s": reached_s,
        "concurrent_connected_peak": d.peak,
        "concurrent_connected_at_end": held,
        "safe_harbor_abandoned": d.abandoned,
        "calls_in_setup_at_end": len(d.agent_of) - len(d.connected) - d.abandoned,
        "events_per_s_overall": (d.events - start_events) / total_s,
        "steady_events_per_s": hold_rate,
        "steady_originates_per_s": churn_rate,
    }


def main() -> None:
    """Parse the options and run the parent or the child side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="originates per second")
    parser.add_argument("--hold-s", type=float, default=20.0)
    parser.add_argument("--talk-s", type=float, default=120.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.talk_s))
        return
    result = asyncio.run(drive(args))
    for key, value in result.items():
        print(f"{key:34} {value:.1f}" if isinstance(value, float) else f"{key:34} {value}")


if __name__ == "__main__":
    main()
