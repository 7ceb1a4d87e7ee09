"""Shared fixtures: real SQLite files in a temporary directory."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog

from dialerd.adapters.sqlite_store import SqliteStore


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts with structlog's defaults: a command run by an earlier test
    configures logging for the process (its level filter would hide info lines)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database file lives."""
    return tmp_path / "dialerd.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """A migrated store on a fresh SQLite file."""
    s = await SqliteStore.open(db_path)
    try:
        yield s
    finally:
        await s.close()


def dump(path: Path) -> list[str]:
    """Every schema statement and row of a database, to compare before and after."""
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())
