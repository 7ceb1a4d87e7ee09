"""Benchmark: AMI messages parsed, translated and dispatched per second on one core.

The input is the recorded Asterisk traffic in ``tests/fixtures/ami/`` (every session, chunks
exactly as the socket delivered them), repeated with the lab ids rewritten to production
ids (``<call id>-a``/``-b``, ``ActionID`` = call id), so every copy is a distinct call to the
translator. Each chunk goes through the path the client's socket reader runs:
``ClientSession.receive`` (framing, parsing, ActionID routing, the translator) → the event
queue, and a consumer drains the queue and ``match``-es each event as the engine will.
No socket is involved: this measures dialerd's own work per message.

Usage: python scripts/bench_ami.py [--copies N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from dialerd.ami.codec import BANNER_PREFIX
from dialerd.ami.session import ClientSession
from dialerd.ami.translate import ContractIds, DialplanNames, Translator
from dialerd.core import events as ev

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ami"

# Lab ids of the recordings, longest first so that no replacement eats another's prefix.
_CALL_IDS = [
    ("lead-42-attempt-1-peer", "{c}-b"),
    ("lead-42-attempt-1", "{c}-a"),
    ("cust-1-peer", "{c}-b"),
    ("cust-1", "{c}-a"),
    ("ActionID: orig-1\r", "ActionID: {c}\r"),
    ("ActionID: orig-cust\r", "ActionID: {c}\r"),
]
_AGENT_IDS = [
    ("agent-1001-peer", "{s}-b"),
    ("agent-1001;2", "{s}-b"),
    ("agent-1001", "{s}-a"),
]


def _sessions() -> list[list[bytes]]:
    """Every recorded connection's received chunks, after its banner."""
    sessions: list[list[bytes]] = []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["dir"] != "in":
                continue
            data: str = record["data"]
            if data.startswith(BANNER_PREFIX):
                sessions.append([])
                data = data.split("\r\n", 1)[1]
            if data:
                sessions[-1].append(data.encode())
    return sessions


def _stream(copies: int) -> tuple[list[bytes], list[tuple[str, str]]]:
    """``copies`` rounds of every session with fresh ids; and the agent sessions used."""
    sessions = _sessions()
    chunks: list[bytes] = []
    agents: list[tuple[str, str]] = []
    for k in range(copies):
        for n, session in enumerate(sessions):
            call = f"{k:016x}{n:016x}"
            agent_session = f"{k:016x}{n + 1000:016x}"
            agents.append((agent_session, f"{k}-{n}"))
            for chunk in session:
                text = chunk.decode()
                for old, new in _CALL_IDS:
                    text = text.replace(old, new.format(c=call))
                for old, new in _AGENT_IDS:
                    text = text.replace(old, new.format(s=agent_session))
                chunks.append(text.encode())
    return chunks, agents


def _consume(event: object, counts: dict[str, int]) -> None:
    match event:
        case ev.CallAnswered() | ev.CustomerReady() | ev.AgentConnected():
            counts["connected-path"] += 1
        case ev.CallFailed(reason=_):
            counts["failed"] += 1
        case ev.ChannelHungUp():
            counts["hangup"] += 1
        case _:
            counts["other"] += 1


async def _run(
    chunks: list[bytes], agents: list[tuple[str, str]]
) -> tuple[int, float, dict[str, int]]:
    ids = ContractIds()
    for session_id, agent_id in agents:
        ids.add_agent_session(session_id, agent_id)
    translator = Translator(
        "bench", ids, DialplanNames(ready="LabAnswered", conference_prefix="agent")
    )
    session = ClientSession(translator)
    session.receive(BANNER_PREFIX.encode() + b"13.0.0\r\n", 0.0)
    queue: asyncio.Queue[object] = asyncio.Queue()
    counts = {"connected-path": 0, "failed": 0, "hangup": 0, "other": 0}
    messages = sum(c.count(b"\r\n\r\n") for c in chunks)
    clock = time.monotonic
    start = time.perf_counter()
    for chunk in chunks:
        # What AmiClient's reader does with each chunk: receive, then queue the events.
        for output in session.receive(chunk, clock()):
            queue.put_nowait(output)
        while not queue.empty():
            _consume(queue.get_nowait(), counts)
    elapsed = time.perf_counter() - start
    return messages, elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200, help="rounds of all recordings")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (best is reported)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    chunks, agents = _stream(args.copies)
    rates: list[float] = []
    for _ in range(args.repeat):
        messages, elapsed, counts = asyncio.run(_run(chunks, agents))
        rates.append(messages / elapsed)
    size = sum(len(c) for c in chunks)
    print(f"input: {messages} AMI messages in {len(chunks)} recorded chunks, {size / 1e6:.1f} MB")
    print(f"core events out per run: {sum(counts.values())} {counts}")
    print(
        f"throughput: best {max(rates):,.0f} msg/s, median {statistics.median(rates):,.0f} msg/s "
        f"({args.repeat} runs, one core)"
    )


if __name__ == "__main__":
    main()
