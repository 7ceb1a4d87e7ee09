"""The store's answer history: a campaign's live answers in a window, for a restarted pacer."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from dialerd.adapters.schema import MIGRATIONS, SCHEMA_VERSION
from dialerd.adapters.sqlite_store import ANSWER_HISTORY_SQL, SqliteStore
from dialerd.core.commands import RecordOutcome
from dialerd.core.compliance import Outcome
from dialerd.core.model import CampaignSettings
from dialerd.ports import ContactRow

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
T = NOW.timestamp()
SINCE = NOW - dt.timedelta(days=30)


def ago(seconds: float) -> dt.datetime:
    """``seconds`` before NOW."""
    return NOW - dt.timedelta(seconds=seconds)


async def campaign(store: SqliteStore, name: str) -> tuple[int, int]:
    """A campaign with one contact: (campaign id, contact id)."""
    cid = (await store.create_campaign(CampaignSettings(name), now=NOW, max_campaigns=9)).id
    await store.add_contacts(cid, [ContactRow(phone="+12125550100", dedupe_key="k")], now=NOW)
    (c,) = await store.contacts(cid)
    return cid, c.id


async def call(
    store: SqliteStore,
    ids: tuple[int, int],
    call_id: str,
    outcome: Outcome | None,
    *,
    placed: float,
    ended: float | None = None,
    connected: float | None = None,
    counted: float | None = None,
) -> None:
    """A call placed ``placed`` s ago, ended (with ``outcome``) ``ended`` s ago unless open;
    ``counted``: how much the pacer counted it as a person (an abandon nobody heard)."""
    cid, contact_id = ids
    await store.record_attempt(
        call_id, cid, contact_id, "+12125550100", 1, agent_id=None, at=ago(placed)
    )
    if outcome is not None and ended is not None:
        await store.record_outcome(
            RecordOutcome(
                call_id,
                cid,
                contact_id,
                outcome,
                "1001" if connected is not None else None,
                ago(ended),
                ago(placed - 8),
                ago(connected) if connected is not None else None,
                counted_human=counted,
            )
        )


async def test_live_answers_in_the_window_come_back_oldest_first(store: SqliteStore) -> None:
    """Connected calls at their connection, abandons at their end; nothing else, nothing
    older than the window, nothing of another campaign, no call still open."""
    ids = await campaign(store, "a")
    other = await campaign(store, "b")
    day = 86400.0
    await call(store, ids, "old", Outcome.ABANDONED, placed=31 * day, ended=31 * day - 20)
    # Connected just before the window opened, ended inside it: not a live answer of it.
    await call(
        store,
        ids,
        "edge",
        Outcome.ANSWERED_AGENT,
        placed=30 * day + 20,
        connected=30 * day + 5,
        ended=30 * day - 100,
    )
    await call(store, ids, "sold", Outcome.ANSWERED_AGENT, placed=3600, connected=3585, ended=3000)
    await call(store, ids, "drop", Outcome.ABANDONED, placed=1800, ended=1780)
    await call(store, ids, "busy", Outcome.BUSY, placed=1700, ended=1695)
    await call(store, ids, "vm", Outcome.ANSWERED_MACHINE, placed=1600, ended=1570)
    await call(store, ids, "open", None, placed=100)
    await call(store, other, "elsewhere", Outcome.ABANDONED, placed=500, ended=480)
    await store.record_refusal(ids[0], ids[1], reason="dnc", final=True, retry_at=None, at=NOW)
    assert await store.answer_history(ids[0], since=SINCE) == [
        (T - 3585, "answered_agent", None),
        (T - 1780, "abandoned", None),
    ]
    assert await store.answer_history(other[0], since=SINCE) == [(T - 480, "abandoned", None)]


async def test_a_connected_call_without_a_connection_time_counts_at_its_end(
    store: SqliteStore,
) -> None:
    """A call recovered after a restart as connected has no connection time; its end is used."""
    ids = await campaign(store, "a")
    await call(store, ids, "recovered", Outcome.ANSWERED_AGENT, placed=600, ended=500)
    assert await store.answer_history(ids[0], since=SINCE) == [(T - 500, "answered_agent", None)]


async def test_an_abandon_keeps_how_much_the_pacer_counted_it(store: SqliteStore) -> None:
    """The fraction of a person the pacer counted an abandon nobody heard as comes back with
    it; an abandon recorded without one comes back without one."""
    ids = await campaign(store, "a")
    await call(store, ids, "machine-like", Outcome.ABANDONED, placed=900, ended=880, counted=0.25)
    await call(store, ids, "unrecorded", Outcome.ABANDONED, placed=800, ended=780)
    assert await store.answer_history(ids[0], since=SINCE) == [
        (T - 880, "abandoned", 0.25),
        (T - 780, "abandoned", None),
    ]


async def test_an_abandon_counted_again_comes_back_with_its_new_count(
    store: SqliteStore,
) -> None:
    """A recount replaces an abandon's stored count; on any other call it changes nothing."""
    ids = await campaign(store, "a")
    await call(store, ids, "abandoned", Outcome.ABANDONED, placed=900, ended=880, counted=0.25)
    await call(
        store, ids, "connected", Outcome.ANSWERED_AGENT, placed=800, ended=700, connected=790
    )
    await store.recount_abandon("abandoned", 0.75)
    await store.recount_abandon("connected", 0.5)
    assert await store.answer_history(ids[0], since=SINCE) == [
        (T - 880, "abandoned", 0.75),
        (T - 790, "answered_agent", None),
    ]


async def test_a_machine_an_agent_dismissed_is_no_live_answer(store: SqliteStore) -> None:
    """A connected call whose result says a machine answered is left out, as the pacer
    left it out; one whose result says a person, or says nothing, counts."""
    ids = await campaign(store, "a")
    for name, human in (("machine", False), ("person", True), ("unsaid", None)):
        await call(store, ids, name, Outcome.ANSWERED_AGENT, placed=900, connected=890, ended=880)
        await store.record_disposition(name, None, "", human=human)
    await store.record_disposition("person", None, "later edit")  # keeps the verdict
    assert await store.answer_history(ids[0], since=SINCE) == [
        (T - 890, "answered_agent", None),
        (T - 890, "answered_agent", None),
    ]


async def test_the_history_is_read_through_its_own_index(store: SqliteStore) -> None:
    """The query reads only the partial index of live answers, not the calls themselves."""
    plan = await store._all(f"EXPLAIN QUERY PLAN {ANSWER_HISTORY_SQL}", (1, 0.0, 0.0))
    assert any("USING COVERING INDEX calls_answered" in str(row[-1]) for row in plan), plan


@pytest.mark.parametrize("version", [5, 7])
async def test_the_migrations_index_the_history_already_stored(db_path: Path, version: int) -> None:
    """A database from before migration 6 (the index) or 8 (verdicts and counted shares)
    with call history is migrated and its answers read back, with no share recorded."""
    with sqlite3.connect(db_path) as conn:
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(
            "INSERT INTO calls (id, campaign_id, contact_id, number, attempt, state, outcome,"
            " created_at, connected_at, ended_at) VALUES"
            " ('x', 1, 1, '+1', 1, 'ended', 'answered_agent', ?, ?, ?),"
            " ('y', 1, 2, '+2', 1, 'ended', 'abandoned', ?, NULL, ?)",
            (T - 100, T - 90, T - 50, T - 40, T - 30),
        )
    async with await SqliteStore.open(db_path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        names = {r[0] for r in await store._all("SELECT name FROM sqlite_master")}
        assert "calls_answered" in names
        assert await store.answer_history(1, since=SINCE) == [
            (T - 90, "answered_agent", None),
            (T - 30, "abandoned", None),
        ]
