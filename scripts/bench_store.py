"""Benchmark: the SQLite store at the sizes of issue 2.

Generates its data in a temporary directory (a contacts CSV with national and E.164
formats, about 5 % duplicates written differently, about 1 % invalid rows and two custom
columns; a do-not-call CSV in the three forms lists arrive in), then measures through the
functions the ``dialerd`` command line and daemon call:

- ``importing.import_contacts`` of the whole file, in a child process so that its peak RSS
  is its own (``ru_maxrss``); a file a quarter the size is imported the same way to show
  that memory does not grow with the file;
- ``importing.upload_dnc`` of the do-not-call file;
- a do-not-call check of random numbers, half listed and half not: through
  ``admin.check_number`` (the ``dialerd dnc check`` path: campaign lookup, parsing), through
  ``numbers.dnc_keys`` + ``SqliteStore.dnc_matches`` (the daemon's path, the number being
  E.164 already), and through ``DncChecker`` (the same query on a synchronous connection);
- ``SqliteStore.claim_next`` and ``claim_batch(count=1)`` on the imported campaign, first
  alone, then while another process imports contacts into another campaign of the same
  database file (the CLI importing while the daemon dials).

Usage: python scripts/bench_store.py [--contacts N] [--dnc N] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers

from dialerd import admin
from dialerd.adapters.sqlite_store import DncChecker, SqliteStore
from dialerd.claims import ClaimBuffer
from dialerd.config import LimitsConfig
from dialerd.importing import ImportOptions, import_contacts, upload_dnc
from dialerd.numbers import dnc_keys

_AREA_CODES_TEXT = (
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 229 231"
    " 234 239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 304 305 307"
    " 308 309 310 312 313 314 315 316 317 318 319 320 321 323 330 334 336 337 339 347 351 352"
    " 360 361 386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 419 423 425 430 432"
    " 434 435 440 443 469 478 479 480 484 501 502 503 504 505 507 508 509 510 512 513 515 516"
    " 517 518 520 530 540 541 551 559 561 562 563 567 570 571 573 574 580 585 586 601 602 603"
    " 605 606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 641 646 650"
    " 651 660 661 662 678 682 701 702 703 704 706 707 708 712 713 714 715 716 717 718 719 720"
    " 724 727 731 732 734 740 754 757 760 763 765 770 772 773 774 775 781 785 786 801 802 803"
    " 804 805 806 808 810 812 813 814 815 816 817 818 828 830 831 832 843 845 847 848 850 856"
    " 857 858 859 860 862 863 864 865 870 901 903 904 906 907 908 909 910 912 913 914 915 916"
    " 917 918 919 920 925 928 931 936 937 940 941 947 949 951 952 954 956 970 971 972 973 978"
)
_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Linda", "Yuki", "Hana")
_LAST = ("Smith", "Johnson", "Brown", "Garcia", "Miller", "Tanaka", "Suzuki", "Lopez")
_INVALID = ("", "12345", "n/a", "+1 212 555", "0000000000", "call me")


def _valid_area_codes() -> list[str]:
    """The area codes phonenumbers accepts, so generated rows are valid unless meant not to."""
    return [
        ac
        for ac in _AREA_CODES_TEXT.split()
        if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{ac}2345678", None))
    ]


def _subscriber(rng: random.Random, areas: Sequence[str]) -> str:
    """Ten digits: an area code, an exchange 200–999 and a line number."""
    return f"{rng.choice(areas)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"


def _contact_phone(rng: random.Random, ten: str) -> str:
    """One of the ways a spreadsheet writes a US number."""
    a, b, c = ten[:3], ten[3:6], ten[6:]
    match rng.randrange(5):
        case 0:
            return f"({a}) {b}-{c}"
        case 1:
            return f"{a}-{b}-{c}"
        case 2:
            return f"+1{ten}"
        case 3:
            return f"+1 {a} {b} {c}"
        case _:
            return f"1-{a}-{b}-{c}"


def write_contacts(path: Path, rows: int, areas: Sequence[str], seed: int) -> None:
    """A contacts CSV: ~5 % duplicates in another format, ~1 % invalid phones."""
    rng = random.Random(seed)
    seen: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("phone,first_name,last_name,email,company,account,plan,segment\n")
        lines: list[str] = []
        for i in range(rows):
            roll = rng.random()
            if roll < 0.01:
                phone = rng.choice(_INVALID)
            elif roll < 0.06 and seen:
                phone = _contact_phone(rng, rng.choice(seen))
            else:
                ten = _subscriber(rng, areas)
                if len(seen) < 20_000:
                    seen.append(ten)
                else:
                    seen[rng.randrange(len(seen))] = ten
                phone = _contact_phone(rng, ten)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            plan = ("gold", "silver", "bronze", "")[i % 4]
            lines.append(
                f'"{phone}",{first},{last},{first.lower()}.{last.lower()}{i}@example.com,'
                f"Acme {i % 997},A{i % 50_000},{plan},{chr(65 + i % 26)}\n"
            )
            if len(lines) >= 10_000:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)


def write_dnc(path: Path, rows: int, areas: Sequence[str], seed: int, keep_every: int) -> list[str]:
    """A do-not-call CSV in the forms lists arrive in; returns a sample of it, as E.164."""
    rng = random.Random(seed)
    sample: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("tel\n")
        lines: list[str] = []
        for i in range(rows):
            ten = _subscriber(rng, areas)
            form = i % 10
            lines.append(f"1{ten}\n" if form < 6 else f"+1{ten}\n" if form < 9 else f"{ten}\n")
            if i % keep_every == 0:
                sample.append(f"+1{ten}")
            if len(lines) >= 50_000:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)
    return sample


async def _new_campaign(db: Path, name: str) -> int:
    store = await SqliteStore.open(db)
    try:
        campaign = await admin.create_campaign(store, name, {}, LimitsConfig())
        return campaign.id
    finally:
        await store.close()


def _vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _child_import(
    db: str, csv_path: str, campaign_id: int, *, batch_rows: int, writing: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    """Import ``csv_path`` as ``dialerd contacts import`` does; report time and peak RSS."""

    async def run() -> dict[str, float]:
        base_rss = _vm_hwm_kib()
        store = await SqliteStore.open(db)
        try:
            started = time.perf_counter()
            report = await import_contacts(
                store,
                campaign_id,
                Path(csv_path),
                ImportOptions(batch_rows=batch_rows),
                error_csv=Path(csv_path).with_suffix(".errors.csv"),
                on_total=lambda _n: writing.set(),
            )
            wall = time.perf_counter() - started
        finally:
            await store.close()
        return {
            "wall_s": wall,
            "rows": report.rows,
            "imported": report.imported,
            "merged": report.merged,
            "rejected": report.rejected,
            "base_rss_mib": base_rss / 1024,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }

    results.put(asyncio.run(run()))


def _start_import(
    db: Path, csv_path: Path, campaign_id: int, batch_rows: int
) -> tuple[mp.process.BaseProcess, Any, Any]:
    ctx = mp.get_context("spawn")
    writing = ctx.Event()
    results = ctx.Queue()
    proc = ctx.Process(
        target=_child_import,
        args=(str(db), str(csv_path), campaign_id),
        kwargs={"batch_rows": batch_rows, "writing": writing, "results": results},
    )
    proc.start()
    return proc, writing, results


def import_in_child(
    db: Path, csv_path: Path, campaign_id: int, batch_rows: int = 500
) -> dict[str, float]:
    """Run one import in a fresh process and return its figures."""
    proc, _writing, results = _start_import(db, csv_path, campaign_id, batch_rows)
    figures: dict[str, float] = results.get()
    proc.join()
    return figures


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency figures of one measured operation, in microseconds."""

    name: str
    samples: int
    p50_us: float
    p99_us: float
    max_us: float

    @classmethod
    def of(cls, name: str, seconds: Sequence[float]) -> Latency:
        """Summarise a list of durations in seconds."""
        us = sorted(s * 1e6 for s in seconds)
        p99 = us[min(len(us) - 1, int(len(us) * 0.99))]
        return cls(name, len(us), statistics.median(us), p99, us[-1])


async def _timed(fn: Callable[[], Any], count: int) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def bench_checks(
    db: Path, campaign_id: int, listed: Sequence[str], unlisted: Sequence[str], count: int
) -> list[Latency]:
    """DNC check latency through the CLI's path, the daemon's path and the checker."""
    rng = random.Random(7)
    numbers = [rng.choice(listed) if i % 2 else rng.choice(unlisted) for i in range(count)]
    national = [f"({n[2:5]}) {n[5:8]}-{n[8:]}" for n in numbers]
    out: list[Latency] = []
    store = await SqliteStore.open(db)
    try:
        hits = 0
        for n in numbers[:200]:
            hits += bool(await store.dnc_matches(dnc_keys(n), campaign_id))
        if hits != 100:
            raise SystemExit(f"expected 100 of the first 200 numbers listed, found {hits}")
        it = iter(national)
        out.append(
            Latency.of(
                "check: admin.check_number (national form, campaign by id)",
                await _timed(
                    lambda: admin.check_number(store, next(it), campaign=campaign_id, region=None),
                    count,
                ),
            )
        )
        it = iter(numbers)
        out.append(
            Latency.of(
                "check: dnc_keys + SqliteStore.dnc_matches (E.164)",
                await _timed(lambda: store.dnc_matches(dnc_keys(next(it)), campaign_id), count),
            )
        )
        with DncChecker(db) as checker:
            seconds = []
            for n in numbers:
                t0 = time.perf_counter()
                checker.matches(dnc_keys(n), campaign_id)
                seconds.append(time.perf_counter() - t0)
            out.append(Latency.of("check: dnc_keys + DncChecker.matches (E.164)", seconds))
            seconds = []
            keys = [dnc_keys(n) for n in numbers]
            for k in keys:
                t0 = time.perf_counter()
                checker.matches(k, campaign_id)
                seconds.append(time.perf_counter() - t0)
            out.append(Latency.of("check: DncChecker.matches alone (keys given)", seconds))
    finally:
        await store.close()
    return out


async def bench_claims(
    db: Path,
    campaign_id: int,
    *,
    alone: int,
    other_csv: Path,
    other_campaign: int,
    pause_s: float,
    batch_rows: int = 500,
) -> tuple[list[Latency], dict[str, float]]:
    """Claim latency alone, then while another process imports into another campaign."""
    store = await SqliteStore.open(db)
    # The daemon's own connection, as in ``dialerd run``: its claims go through the
    # claim-ahead buffer, then the do-not-call check, as ``Service`` does.
    daemon = await SqliteStore.open(db)
    buffer = ClaimBuffer(daemon, "bench-daemon", clock=time.monotonic, wall=dt_now)
    out: list[Latency] = []
    try:
        first, batch, taken = await _claims(
            store, buffer, campaign_id, alone, pause_s=pause_s, go_on=lambda: True
        )
        out.append(Latency.of("claim_next, alone", first))
        out.append(Latency.of("claim_batch(1), alone", batch))
        out.append(Latency.of("daemon: next contact (claimed ahead) + DNC check, alone", taken))
        proc, writing, results = _start_import(db, other_csv, other_campaign, batch_rows)
        await asyncio.to_thread(writing.wait)
        started = time.perf_counter()
        first, batch, taken = await _claims(
            store, buffer, campaign_id, 10**9, pause_s=pause_s, go_on=proc.is_alive
        )
        busy_s = time.perf_counter() - started
        figures: dict[str, float] = results.get()
        proc.join()
        out.append(Latency.of("claim_next, during an import", first))
        out.append(Latency.of("claim_batch(1), during an import", batch))
        out.append(
            Latency.of("daemon: next contact (claimed ahead) + DNC check, during an import", taken)
        )
        figures["claim_window_s"] = busy_s
        figures["buffer_target"] = buffer.target(campaign_id)
        await buffer.release_all()
    finally:
        await store.close()
        await daemon.close()
    return out, figures


def dt_now() -> dt.datetime:
    """The wall clock the store expects (a timezone-aware datetime)."""
    return dt.datetime.now(dt.UTC)


async def _claims(
    store: SqliteStore,
    buffer: ClaimBuffer,
    campaign_id: int,
    count: int,
    *,
    pause_s: float,
    go_on: Callable[[], bool],
) -> tuple[list[float], list[float], list[float]]:
    single: list[float] = []
    batch: list[float] = []
    taken: list[float] = []
    for _ in range(count):
        if not go_on():
            break
        now = dt_now()
        t0 = time.perf_counter()
        got = await store.claim_next(campaign_id, now=now, claimer="bench")
        t1 = time.perf_counter()
        claimed = await store.claim_batch(campaign_id, 1, now=now, claimer="bench")
        t2 = time.perf_counter()
        await asyncio.sleep(pause_s)
        t3 = time.perf_counter()
        ahead = await buffer.take(campaign_id, 1)
        for c in ahead:
            await buffer.store.dnc_matches(dnc_keys(c.contact.phone), campaign_id)
        t4 = time.perf_counter()
        if got is None or not claimed or not ahead:
            raise SystemExit("the campaign ran out of contacts; import more")
        single.append(t1 - t0)
        batch.append(t2 - t1)
        taken.append(t4 - t3)
        await asyncio.sleep(pause_s)
    return single, batch, taken


async def dnc_upload(db: Path, path: Path) -> dict[str, float]:
    """Upload the do-not-call file as ``dialerd dnc upload`` does."""
    store = await SqliteStore.open(db)
    try:
        started = time.perf_counter()
        report = await upload_dnc(
            store, path, "bench", campaign_id=None, error_csv=path.with_suffix(".errors.csv")
        )
        wall = time.perf_counter() - started
    finally:
        await store.close()
    return {"wall_s": wall, "rows": report.rows, "stored": report.stored}


def _row(label: str, value: str, target: str = "") -> str:
    return f"| {label} | {value} | {target} |"


async def main(argv: Sequence[str] | None = None) -> int:
    """Generate the data, run every measurement, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--dnc", type=int, default=10_000_000)
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--claims", type=int, default=2_000, help="claims measured alone")
    parser.add_argument("--claim-pause-ms", type=float, default=2.0)
    parser.add_argument(
        "--batch-rows", type=int, default=500, help="rows per import transaction (the CLI's)"
    )
    parser.add_argument("--quick", action="store_true", help="100k contacts, 1M numbers")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--only", choices=["import", "dnc", "claims"], action="append", help="parts to run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.contacts, args.dnc = 100_000, 1_000_000
    parts = set(args.only or ["import", "dnc", "claims"])
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_store."))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.db"
    lines = [
        f"contacts {args.contacts:,}, do-not-call {args.dnc:,}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, SQLite {_sqlite_version()}",
        "",
        "| figure | value | target |",
        "| --- | --- | --- |",
    ]
    areas = _valid_area_codes()
    half = len(areas) // 2
    dnc_areas, miss_areas = areas[:half], areas[half:]

    t0 = time.perf_counter()
    big = work / "contacts.csv"
    quarter = work / "contacts-quarter.csv"
    other = work / "contacts-other.csv"
    if not big.exists():
        write_contacts(big, args.contacts, areas, seed=1)
        write_contacts(quarter, args.contacts // 4, areas, seed=2)
        write_contacts(other, args.contacts // 4, areas, seed=3)
    dnc_csv = work / "dnc.csv"
    listed = write_dnc(dnc_csv, args.dnc, dnc_areas, seed=4, keep_every=max(1, args.dnc // 20_000))
    rng = random.Random(5)
    unlisted = [f"+1{_subscriber(rng, miss_areas)}" for _ in range(20_000)]
    print(f"data generated in {time.perf_counter() - t0:.1f} s in {work}", file=sys.stderr)

    campaign = await _new_campaign(db, "bench")
    if "import" in parts or "claims" in parts:
        small = import_in_child(
            work / "quarter.db", quarter, await _new_campaign(work / "quarter.db", "quarter")
        )
        full = import_in_child(db, big, campaign, args.batch_rows)
        lines += [
            _row(
                f"contacts import, {full['rows']:,.0f} rows (wall)",
                f"{full['wall_s']:.1f} s ({full['rows'] / full['wall_s']:,.0f} rows/s)",
                "≤ 60 s",
            ),
            _row(
                "  imported / merged / rejected",
                f"{full['imported']:,.0f} / {full['merged']:,.0f} / {full['rejected']:,.0f}",
            ),
            _row(
                f"peak RSS of the import process, {small['rows']:,.0f} vs {full['rows']:,.0f} rows",
                f"{small['peak_rss_mib']:.0f} MiB vs {full['peak_rss_mib']:.0f} MiB",
                "flat",
            ),
        ]
        print("\n".join(lines), file=sys.stderr)
    if "dnc" in parts:
        up = await dnc_upload(db, dnc_csv)
        lines.append(
            _row(
                f"do-not-call upload, {up['rows']:,.0f} rows (wall)",
                f"{up['wall_s']:.1f} s ({up['rows'] / up['wall_s']:,.0f} rows/s;"
                f" {up['stored']:,.0f} stored)",
                "≤ 120 s",
            )
        )
        for lat in await bench_checks(db, campaign, listed, unlisted, args.checks):
            lines.append(
                _row(
                    f"{lat.name}, p50 / p99",
                    f"{lat.p50_us:.0f} / {lat.p99_us:.0f} µs",
                    "≤ 100 µs median",
                )
            )
        print("\n".join(lines), file=sys.stderr)
    if "claims" in parts:
        other_campaign = await _new_campaign(db, "other")
        claims, figures = await bench_claims(
            db,
            campaign,
            alone=args.claims,
            other_csv=other,
            other_campaign=other_campaign,
            pause_s=args.claim_pause_ms / 1000,
            batch_rows=args.batch_rows,
        )
        for lat in claims:
            lines.append(
                _row(
                    f"{lat.name} ({lat.samples:,} claims), p50 / p99 / max",
                    f"{lat.p50_us / 1000:.2f} / {lat.p99_us / 1000:.2f} /"
                    f" {lat.max_us / 1000:.1f} ms",
                    "≤ 2 ms p99",
                )
            )
        lines.append(
            _row(
                "  the concurrent import",
                f"{figures['rows']:,.0f} rows in {figures['wall_s']:.1f} s",
            )
        )
    print("\n".join(lines))
    return 0


def _sqlite_version() -> str:
    return sqlite3.sqlite_version


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
