"""The synchronous do-not-call checker against a real SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from dialerd.adapters.sqlite_store import DncChecker, SqliteStore
from dialerd.core.model import CampaignSettings

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


async def _lists(store: SqliteStore) -> tuple[int, int, int, int]:
    """A campaign, another campaign, a global list and a list of the first campaign."""
    cid = (await store.create_campaign(CampaignSettings("c"), now=NOW, max_campaigns=10)).id
    other = (await store.create_campaign(CampaignSettings("o"), now=NOW, max_campaigns=10)).id
    everyone, _ = await store.create_dnc_list("all", None, now=NOW, replace_existing=False)
    await store.add_dnc_numbers(everyone, ["+14155550100", "14155550101"])
    await store.commit_dnc_list(everyone, "all", None, now=NOW)
    own, _ = await store.create_dnc_list("own", cid, now=NOW, replace_existing=False)
    await store.add_dnc_numbers(own, ["4155550100", "4155550102"])
    await store.commit_dnc_list(own, "own", None, now=NOW)
    return cid, other, everyone, own


async def test_checker_finds_global_and_own_lists_only(store: SqliteStore) -> None:
    """A number is found in the global list and its campaign's list, not another's."""
    cid, other, everyone, own = await _lists(store)
    with DncChecker(store.path) as checker:
        keys = ("+14155550100", "14155550100", "4155550100")
        assert [x.id for x in checker.matches(keys, cid)] == [everyone, own]
        assert [x.id for x in checker.matches(keys, other)] == [everyone]
        assert [x.id for x in checker.matches(keys, None)] == [everyone]
        assert [x.id for x in checker.matches(("4155550102",), cid)] == [own]
        assert checker.matches(("+14155550199", "14155550199"), cid) == []
        assert checker.matches((), cid) == []


async def test_checker_agrees_with_the_store(store: SqliteStore) -> None:
    """The checker returns exactly the lists the store's dnc_matches returns."""
    cid, _, _, _ = await _lists(store)
    keys = ("+14155550101", "14155550101", "4155550101")
    with DncChecker(store.path) as checker:
        assert checker.matches(keys, cid) == await store.dnc_matches(keys, cid)


async def test_checker_ignores_a_list_still_uploading(store: SqliteStore) -> None:
    """Numbers of an upload that is not committed yet are not honoured."""
    cid, _, _, _ = await _lists(store)
    pending, _ = await store.create_dnc_list("later", cid, now=NOW, replace_existing=False)
    await store.add_dnc_numbers(pending, ["4155550177"])
    with DncChecker(store.path) as checker:
        assert checker.matches(("4155550177",), cid) == []
        await store.commit_dnc_list(pending, "later", None, now=NOW)
        assert [x.name for x in checker.matches(("4155550177",), cid)] == ["later"]


async def test_checker_cannot_write(store: SqliteStore) -> None:
    """The checker's connection is read-only."""
    await _lists(store)
    with DncChecker(store.path) as checker, pytest.raises(sqlite3.OperationalError):
        checker._db.execute("DELETE FROM dnc_numbers")


def test_checker_of_a_missing_file_fails(tmp_path: Path) -> None:
    """Opening a checker on a file that does not exist fails instead of creating it."""
    with pytest.raises(sqlite3.OperationalError):
        DncChecker(tmp_path / "missing.sqlite3")
    assert not (tmp_path / "missing.sqlite3").exists()
