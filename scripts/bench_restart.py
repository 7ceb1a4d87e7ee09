"""Benchmark: what a restart costs a predictive campaign to get its abandon budget back.

Generates, in a temporary directory, a database holding 30 days of one campaign's calls
(and as many of another campaign's): created uniformly over the window, a share of them
answered live, 3 % of those abandoned, the rest busy, no answer or machine. Then measures,
with the figures of the daemon's start:

- ``SqliteStore.answer_history`` over the 30-day window, with the partial index of
  migrations 6 and 8 and with that index dropped (the read the migrations avoid);
- the Dialer starting the campaign with what it returned (``CampaignSetup.history``: the
  outcomes converted and ``PredictivePacer.seed_history``);
- the memory the seeded regime window holds (``tracemalloc``), which is also what a pacer
  that ran the whole 30 days would hold.

Usage: python scripts/bench_restart.py [--calls N] [--live-share F] [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.core.compliance import Outcome, Rules
from dialerd.core.dialer import CampaignSetup, Dialer, StartCampaign
from dialerd.core.model import DialMode
from dialerd.core.pacing import PredictivePacer
from dialerd.core.schedule import Schedule

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
WINDOW_S = 30 * 86400.0


def generate(db: Path, calls: int, live_share: float, seed: int) -> dict[str, int]:
    """Fill a migrated database with two campaigns' calls; returns the first one's counts."""
    rng = random.Random(seed)
    t_now = NOW.timestamp()
    counts = {"answered_agent": 0, "abandoned": 0}
    with sqlite3.connect(db) as conn:
        for campaign in (1, 2):
            rows = []
            for i in range(calls):
                created = t_now - rng.uniform(0, WINDOW_S)
                answered = connected = counted = None
                if rng.random() < live_share:
                    answered = created + rng.uniform(5, 25)
                    if rng.random() < 0.03:
                        outcome, ended = "abandoned", answered + 8
                        counted = rng.random()  # the pacer's count of a person
                    else:
                        outcome, connected = "answered_agent", answered + 0.5
                        ended = connected + rng.uniform(30, 600)
                else:
                    outcome = rng.choice(("busy", "no_answer", "no_answer", "answered_machine"))
                    ended = created + rng.uniform(1, 30)
                if campaign == 1 and outcome in counts and (connected or ended) >= t_now - WINDOW_S:
                    counts[outcome] += 1
                rows.append(
                    (
                        f"{campaign}-{i}",
                        campaign,
                        i,
                        f"+1212{i:07d}",
                        outcome,
                        created,
                        answered,
                        connected,
                        min(ended, t_now),
                        counted,
                    )
                )
            conn.executemany(
                "INSERT INTO calls (id, campaign_id, contact_id, number, attempt, state,"
                " outcome, created_at, answered_at, connected_at, ended_at, counted_human)"
                " VALUES (?, ?, ?, ?, 1, 'ended', ?, ?, ?, ?, ?, ?)",
                rows,
            )
        conn.execute("ANALYZE")
    return counts


async def read_history(
    db: Path, runs: int
) -> tuple[list[float], list[tuple[float, str, float | None]]]:
    """Seconds per ``answer_history`` read of campaign 1 (a fresh connection each run)."""
    times = []
    rows: list[tuple[float, str, float | None]] = []
    for _ in range(runs):
        async with await SqliteStore.open(db) as store:
            t0 = time.perf_counter()
            rows = await store.answer_history(1, since=NOW - dt.timedelta(seconds=WINDOW_S))
            times.append(time.perf_counter() - t0)
    return times, rows


def seed(
    rows: Sequence[tuple[float, str, float | None]], runs: int
) -> tuple[list[float], int, PredictivePacer]:
    """Seconds per predictive campaign start given the history (the Dialer converts the
    outcomes and seeds a new pacer), then the bytes the seeded window holds."""
    history = tuple((at, Outcome(outcome), counted) for at, outcome, counted in rows)
    setup = CampaignSetup(1, DialMode.PREDICTIVE, Rules(Schedule.build("UTC", [])), history=history)
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        Dialer().handle(StartCampaign(setup), 1000.0, NOW)
        times.append(time.perf_counter() - t0)
    gc.collect()
    tracemalloc.start()
    dialer = Dialer()
    dialer.handle(StartCampaign(setup), 1000.0, NOW)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    pacer = dialer.campaigns[1].pacer
    assert isinstance(pacer, PredictivePacer)
    return times, held, pacer


def _fmt(times: Sequence[float]) -> str:
    return f"{statistics.median(times) * 1000:,.0f} ms (min {min(times) * 1000:,.0f})"


async def main(argv: Sequence[str] | None = None) -> int:
    """Generate the data, measure, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_400_000, help="calls per campaign")
    parser.add_argument("--live-share", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="140,000 calls per campaign")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls = 140_000
    work = Path(tempfile.mkdtemp(prefix="bench_restart."))
    db = work / "bench.db"
    async with await SqliteStore.open(db):
        pass  # migrated to the current schema
    t0 = time.perf_counter()
    counts = generate(db, args.calls, args.live_share, seed=1)
    print(f"data generated in {time.perf_counter() - t0:.1f} s in {work}", file=sys.stderr)

    with_index, rows = await read_history(db, args.runs)
    assert len(rows) == counts["answered_agent"] + counts["abandoned"], (len(rows), counts)
    seeding, held, pacer = seed(rows, args.runs)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX calls_answered")
    without_index, again = await read_history(db, args.runs)
    assert again == rows

    lines = [
        f"{args.calls:,} calls per campaign over 30 days (2 campaigns), "
        f"{counts['answered_agent']:,} connected and {counts['abandoned']:,} abandoned in the "
        f"campaign read; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}; median of {args.runs} runs",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| `answer_history`, 30 days, with the answered-calls index | {_fmt(with_index)} |",
        f"| `answer_history`, 30 days, index dropped | {_fmt(without_index)} |",
        f"| `StartCampaign` with that history (conversion and `seed_history`) | {_fmt(seeding)} |",
        f"| memory held by the seeded window | {held / 2**20:,.1f} MiB |",
        f"| window after seeding: live / abandoned | {pacer.window.live:,.0f} /"
        f" {pacer.window.abandoned:,.0f} |",
    ]
    print("\n".join(lines))
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
