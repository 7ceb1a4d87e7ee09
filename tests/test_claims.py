"""Claiming ahead: contacts handed out from a buffer that is claimed in the store, refilled
in the background, given back when stale or when the campaign stops."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.claims import ClaimBuffer
from dialerd.core.model import CampaignSettings, ContactStatus
from dialerd.ports import ContactRow

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def campaign(store: SqliteStore, contacts: int) -> int:
    """A campaign with ``contacts`` due contacts."""
    cid = (await store.create_campaign(CampaignSettings("c"), now=NOW, max_campaigns=9)).id
    rows = [ContactRow(phone=f"+1212555{i:04d}", dedupe_key=str(i)) for i in range(contacts)]
    await store.add_contacts(cid, rows, now=NOW)
    return cid


async def statuses(store: SqliteStore, cid: int) -> dict[ContactStatus, int]:
    """How many of the campaign's contacts are in each status."""
    counts: dict[ContactStatus, int] = {}
    for c in await store.contacts(cid):
        counts[c.status] = counts.get(c.status, 0) + 1
    return counts


def buffer(store: SqliteStore, clock: Clock, claimer: str = "node-a") -> ClaimBuffer:
    """A buffer aiming at 5 contacts ahead."""
    return ClaimBuffer(store, claimer, clock=clock, wall=lambda: NOW, min_ahead=5)


async def test_contacts_beyond_the_one_taken_are_claimed_ahead(store: SqliteStore) -> None:
    """The first take claims at once; the buffer then holds its target, claimed in the store."""
    cid = await campaign(store, 20)
    claims = buffer(store, Clock())
    [first] = await claims.take(cid, 1)
    await claims.refilled(cid)
    assert claims.held(cid) == 5
    assert (await statuses(store, cid))[ContactStatus.CLAIMED] == 6
    later = await claims.take(cid, 3)
    assert len({first.contact.id, *(c.contact.id for c in later)}) == 4


async def test_two_buffers_never_hand_out_the_same_contact(db_path: Path) -> None:
    """Two daemons claiming ahead from one file share out the contacts without overlap."""
    a_store, b_store = await SqliteStore.open(db_path), await SqliteStore.open(db_path)
    try:
        cid = await campaign(a_store, 60)
        a, b = buffer(a_store, Clock(), "node-a"), buffer(b_store, Clock(), "node-b")
        taken: list[int] = []
        for _ in range(40):
            for claims in (a, b):
                taken += [c.contact.id for c in await claims.take(cid, 1)]
        await asyncio.gather(a.refilled(cid), b.refilled(cid))
        held = a.held(cid) + b.held(cid)
        assert len(taken) == len(set(taken))
        assert len(taken) + held == 60
    finally:
        await a_store.close()
        await b_store.close()


async def test_a_stopping_campaign_gives_back_what_it_holds(store: SqliteStore) -> None:
    """Released contacts are due again; only the one handed out stays claimed."""
    cid = await campaign(store, 20)
    claims = buffer(store, Clock())
    await claims.take(cid, 1)
    await claims.refilled(cid)
    assert await claims.release(cid) == 5
    counts = await statuses(store, cid)
    assert (counts[ContactStatus.CLAIMED], counts[ContactStatus.RETRY]) == (1, 5)


async def test_contacts_held_too_long_are_given_back_not_dialled(store: SqliteStore) -> None:
    """A contact claimed more than max_age_s ago is released and a fresh one claimed."""
    cid = await campaign(store, 20)
    clock = Clock()
    claims = buffer(store, clock)
    await claims.take(cid, 1)
    await claims.refilled(cid)
    held = await statuses(store, cid)
    clock.t += claims.max_age_s + 1
    claims.min_ahead = claims.max_ahead = 0  # no refill: only the take itself claims
    [fresh] = await claims.take(cid, 1)
    counts = await statuses(store, cid)
    assert held[ContactStatus.CLAIMED] == 6
    # The five stale ones went back; one of them was claimed again, with fresh history.
    assert (counts[ContactStatus.CLAIMED], counts[ContactStatus.RETRY]) == (2, 4)
    assert fresh.contact.status is ContactStatus.CLAIMED


async def test_a_take_from_the_buffer_does_not_wait_for_a_writer(
    store: SqliteStore, db_path: Path
) -> None:
    """While another connection holds the write lock, contacts still come from the buffer."""
    cid = await campaign(store, 20)
    claims = buffer(store, Clock())
    await claims.take(cid, 1)
    await claims.refilled(cid)
    writer = sqlite3.connect(db_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # an import's batch, held open
        got = await asyncio.wait_for(claims.take(cid, 2), timeout=2.0)
        assert len(got) == 2
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    await claims.refilled(cid)
    assert claims.held(cid) == 5


async def test_the_buffer_follows_the_claim_rate(store: SqliteStore) -> None:
    """At 10 contacts a second the buffer aims at lead_s (3 s) of them: 30."""
    cid = await campaign(store, 700)
    clock = Clock()
    claims = buffer(store, clock)
    for _ in range(600):  # a minute: the 10-second memory has forgotten the start
        await claims.take(cid, 1)
        clock.t += 0.1
        if claims.held(cid) == 0:
            await claims.refilled(cid)
    assert claims.target(cid) == 30
