"""The SQLite store: migrations, atomic claims, crash safety, refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dialerd.adapters.schema import MIGRATIONS, SCHEMA_VERSION
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.core.model import CampaignSettings, CampaignState, ContactFilter, ContactStatus
from dialerd.errors import ConflictError, NotFoundError, UsageError
from dialerd.ports import ContactRow, Store
from tests.conftest import dump

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def rows(n: int, start: int = 0) -> list[ContactRow]:
    """``n`` distinct contacts."""
    return [
        ContactRow(phone=f"+1212555{i:04d}", dedupe_key=f"+1212555{i:04d}", first_name=f"c{i}")
        for i in range(start, start + n)
    ]


async def make_campaign(store: SqliteStore, name: str = "c") -> int:
    """A fresh campaign's id."""
    return (await store.create_campaign(CampaignSettings(name), now=NOW, max_campaigns=10)).id


async def test_open_sets_wal_foreign_keys_and_the_latest_schema(db_path: Path) -> None:
    """A new file is migrated to the latest version, in WAL mode with NORMAL sync."""
    store = await SqliteStore.open(db_path, busy_timeout_ms=1234)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store._one("PRAGMA journal_mode") == ("wal",)
        assert await store._one("PRAGMA synchronous") == (1,)
        assert await store._one("PRAGMA foreign_keys") == (1,)
        assert await store._one("PRAGMA busy_timeout") == (1234,)
    finally:
        await store.close()


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
async def test_migrates_from_every_earlier_version_keeping_data(
    db_path: Path, version: int
) -> None:
    """A database left at an earlier version is brought up to date with its rows intact."""
    with sqlite3.connect(db_path) as conn:
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(
            "INSERT INTO campaigns (name, state, settings, created_at, updated_at)"
            " VALUES ('old', 'inactive', '{}', 0, 0)"
        )
    store = await SqliteStore.open(db_path)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        campaign = await store.get_campaign("old")
        assert campaign.settings == CampaignSettings("old")
    finally:
        await store.close()


async def test_a_newer_schema_is_refused_untouched(db_path: Path) -> None:
    """A database from a newer dialerd is not opened, and not changed."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = dump(db_path)
    with pytest.raises(UsageError, match="newer than this dialerd"):
        await SqliteStore.open(db_path)
    assert dump(db_path) == before


async def test_reopening_keeps_everything(db_path: Path) -> None:
    """What one store wrote, the next one opened on the file reads back."""
    async with await SqliteStore.open(db_path) as store:
        cid = await make_campaign(store)
        await store.add_contacts(cid, rows(3), now=NOW)
    async with await SqliteStore.open(db_path) as store:
        assert [c.first_name for c in await store.contacts(cid)] == ["c0", "c1", "c2"]


async def test_claims_hand_out_each_contact_once_in_list_order(store: SqliteStore) -> None:
    """Concurrent claims never share a contact and take the list in order."""
    cid = await make_campaign(store)
    await store.add_contacts(cid, rows(50), now=NOW)
    claims = await asyncio.gather(
        *(store.claim_next(cid, now=NOW, claimer=f"t{i}") for i in range(60))
    )
    got = [c.id for c in claims if c is not None]
    assert sorted(got) == list(range(1, 51))
    assert claims.count(None) == 10
    assert (
        await store.count_contacts(cid, ContactFilter(status=frozenset({ContactStatus.CLAIMED})))
        == 50
    )


async def test_claims_skip_trashed_and_not_yet_due_contacts(store: SqliteStore) -> None:
    """A trashed contact, or one whose retry is not due, is not claimed."""
    cid = await make_campaign(store)
    await store.add_contacts(cid, rows(3), now=NOW)
    await store.bulk_update(cid, ContactFilter(phone_prefix="+12125550000"), {"trashed": 1})
    later = NOW.timestamp() + 600
    await store.bulk_update(
        cid, ContactFilter(phone_prefix="+12125550001"), {"next_attempt_at": later}
    )
    claimed = await store.claim_next(cid, now=NOW, claimer="x")
    assert claimed is not None and claimed.phone == "+12125550002"
    assert await store.claim_next(cid, now=NOW, claimer="x") is None
    due = await store.claim_next(cid, now=NOW + dt.timedelta(minutes=10), claimer="x")
    assert due is not None and due.phone == "+12125550001"


CLAIMER = textwrap.dedent(
    """
    import asyncio, datetime as dt, sys
    from dialerd.adapters.sqlite_store import SqliteStore

    async def main() -> None:
        store = await SqliteStore.open(sys.argv[1])
        now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
        while True:
            c = await store.claim_next(1, now=now, claimer=sys.argv[2])
            if c is None:
                break
            print(c.id, flush=True)
        await store.close()

    asyncio.run(main())
    """
)


async def test_two_processes_never_claim_the_same_contact(
    store: SqliteStore, db_path: Path
) -> None:
    """Claims from two processes on one file are disjoint and cover the campaign."""
    cid = await make_campaign(store)
    await store.add_contacts(cid, rows(400), now=NOW)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(db_path), name],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    claimed = [int(x) for out in outs for x in out]
    assert len(claimed) == len(set(claimed)) == 400


async def test_a_kill_loses_no_acknowledged_claim(store: SqliteStore, db_path: Path) -> None:
    """After kill -9, every claim the process had reported is in the file."""
    cid = await make_campaign(store)
    await store.add_contacts(cid, rows(5000), now=NOW)
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(db_path), "k"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked = [int(proc.stdout.readline()) for _ in range(200)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    async with await SqliteStore.open(db_path) as fresh:
        claimed = {
            c.id
            for c in await fresh.contacts(
                cid, ContactFilter(status=frozenset({ContactStatus.CLAIMED}))
            )
        }
    assert set(acked) <= claimed


async def test_campaign_names_are_unique_and_the_limit_holds(store: SqliteStore) -> None:
    """A taken name and a campaign beyond the limit are refused, changing nothing."""
    await store.create_campaign(CampaignSettings("a"), now=NOW, max_campaigns=2)
    with pytest.raises(ConflictError, match="named 'a' exists"):
        await store.create_campaign(CampaignSettings("a"), now=NOW, max_campaigns=2)
    await store.create_campaign(CampaignSettings("b"), now=NOW, max_campaigns=2)
    with pytest.raises(ConflictError, match=r"campaign limit \(2\)"):
        await store.create_campaign(CampaignSettings("c"), now=NOW, max_campaigns=2)
    assert [c.name for c in await store.list_campaigns()] == ["a", "b"]


async def test_ids_are_never_reused(store: SqliteStore) -> None:
    """A deleted campaign's number is not handed to the next one."""
    first = await make_campaign(store, "a")
    await store.delete_campaign(first)
    second = await make_campaign(store, "b")
    assert second == first + 1


async def test_a_running_campaign_cannot_be_edited_or_deleted(store: SqliteStore) -> None:
    """The store itself refuses to change a running campaign."""
    cid = await make_campaign(store)
    await store.set_campaign_state(cid, CampaignState.INACTIVE, CampaignState.ACTIVE, now=NOW)
    await store.set_campaign_state(cid, CampaignState.ACTIVE, CampaignState.RUNNING, now=NOW)
    with pytest.raises(ConflictError, match="running"):
        await store.update_campaign(cid, CampaignSettings("renamed"), now=NOW)
    with pytest.raises(ConflictError, match="running"):
        await store.delete_campaign(cid)
    with pytest.raises(ConflictError, match="running"):
        await store.set_business_hours(cid, [])
    assert (await store.get_campaign(cid)).name == "c"


async def test_a_stale_state_change_is_a_conflict(store: SqliteStore) -> None:
    """Changing state from a state the campaign has left is refused."""
    cid = await make_campaign(store)
    with pytest.raises(ConflictError, match="no longer active"):
        await store.set_campaign_state(cid, CampaignState.ACTIVE, CampaignState.RUNNING, now=NOW)


async def test_deleting_a_campaign_keeps_contacts_and_history(store: SqliteStore) -> None:
    """Deletion drops lists, schedules and memberships but not contacts or call history."""
    cid = await make_campaign(store)
    other = await make_campaign(store, "other")
    await store.add_contacts(cid, rows(2), now=NOW)
    await store.add_contacts(other, rows(1), now=NOW)
    list_id, _ = await store.create_dnc_list("l", cid, now=NOW, replace_existing=False)
    await store.add_dnc_numbers(list_id, ["0312345678"])
    await store.commit_dnc_list(list_id, "l", None, now=NOW)
    await store.add_run_window(cid, dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    await store._db.execute(
        "INSERT INTO calls (id, campaign_id, contact_id, number, attempt, state, created_at)"
        " VALUES ('x', ?, 1, '+1', 1, 'ended', 0)",
        (cid,),
    )
    await store.delete_campaign(cid)
    with pytest.raises(NotFoundError):
        await store.get_campaign(cid)
    assert await store._one("SELECT count(*) FROM contacts") == (3,)
    assert await store._one("SELECT count(*) FROM calls") == (1,)
    assert await store._one("SELECT count(*) FROM dnc_numbers") == (0,)
    assert await store._one("SELECT count(*) FROM run_windows") == (0,)
    assert await store._one("SELECT count(*) FROM campaign_contacts") == (1,)


async def test_duplicates_merge_inside_a_batch_and_across_batches(store: SqliteStore) -> None:
    """The same dedupe key twice becomes one contact; later non-empty fields win."""
    cid = await make_campaign(store)
    a = ContactRow(phone="+1", dedupe_key="k", first_name="Ann", email="", custom={"x": "1"})
    b = ContactRow(phone="+1", dedupe_key="k", first_name="", email="a@x", custom={"y": "2"})
    first = await store.add_contacts(cid, [a, b], now=NOW)
    assert (first.imported, first.merged) == (1, 1)
    c = ContactRow(phone="+1", dedupe_key="k", last_name="Lee", custom={"x": "3"})
    second = await store.add_contacts(cid, [c], now=NOW)
    assert (second.imported, second.merged) == (0, 1)
    (contact,) = await store.contacts(cid)
    assert (contact.first_name, contact.last_name, contact.email) == ("Ann", "Lee", "a@x")
    assert contact.custom == {"x": "3", "y": "2"}


async def test_times_must_be_timezone_aware(store: SqliteStore) -> None:
    """A naive datetime would silently shift by the host's offset, so it is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.create_campaign(
            CampaignSettings("x"), now=dt.datetime(2026, 1, 1), max_campaigns=5
        )


def test_the_sqlite_store_implements_the_store_port() -> None:
    """Every operation of the Store protocol exists on SqliteStore (mypy checks signatures)."""
    public = {n for n in vars(Store) if not n.startswith("_")}
    assert public <= set(dir(SqliteStore))


async def test_the_store_port_is_satisfied_structurally(store: SqliteStore) -> None:
    """A SqliteStore can be passed wherever a Store is expected."""
    port: Store = store
    assert await port.list_campaigns() == []
