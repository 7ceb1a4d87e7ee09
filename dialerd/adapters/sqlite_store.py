"""The SQLite store: the single source of truth for everything dialerd knows.

One ``aiosqlite`` connection per process, in WAL mode with ``synchronous=NORMAL`` (a
commit survives a crash of dialerd; readers never block the writer), foreign keys on and a
busy timeout so that the CLI and the daemon can share the file. Every operation that
changes data runs in one ``BEGIN IMMEDIATE`` transaction under an asyncio lock, so an
operation either happens whole or not at all, and two coroutines never interleave
statements in one transaction. The schema is migrated on open (see ``schema.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from dialerd.adapters.schema import MIGRATIONS, SCHEMA_VERSION
from dialerd.core.commands import RecordOutcome
from dialerd.core.model import (
    Agent,
    BusinessHours,
    Campaign,
    CampaignSettings,
    CampaignState,
    Contact,
    ContactFilter,
    ContactStatus,
    DedupeKey,
    DialMode,
    DncList,
    ResultCode,
    RunWindow,
    ScheduleException,
)
from dialerd.errors import ConflictError, NotFoundError, UsageError
from dialerd.ports import (
    BatchResult,
    CallRecord,
    ClaimedContact,
    ContactRow,
    ImportJob,
    OpenCall,
)

_SETTINGS_DATES = ("start_date", "end_date")
_encode_json = msgspec.json.Encoder().encode  # an import writes one custom document per row

# The outcome condition is the partial index's own (migration 6), so SQLite uses it, and
# the index holds every column read, so no table row is visited; a call ends after it
# connects, so its end bounds the range read.
ANSWER_HISTORY_SQL = (
    "SELECT at, outcome, counted_human FROM (SELECT CASE outcome WHEN 'answered_agent'"
    " THEN coalesce(connected_at, ended_at) ELSE ended_at END AS at, outcome, counted_human"
    " FROM calls WHERE campaign_id = ? AND outcome IN ('answered_agent', 'abandoned')"
    " AND coalesce(human, 1) = 1 AND ended_at >= ?) WHERE at >= ? ORDER BY at, outcome"
)


def _ts(moment: dt.datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("times given to the store must be timezone-aware")
    return moment.timestamp()


def _dt(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def settings_to_json(s: CampaignSettings) -> str:
    """Serialise campaign settings (all but the name, which has its own column)."""
    data = asdict(s)
    data.pop("name")
    for key in _SETTINGS_DATES:
        if data[key] is not None:
            data[key] = data[key].isoformat()
    data["ami_servers"] = list(data["ami_servers"])
    return json.dumps(data, sort_keys=True)


def settings_from_json(name: str, text: str) -> CampaignSettings:
    """Rebuild campaign settings; keys unknown to this version are ignored on read."""
    data: dict[str, Any] = json.loads(text)
    known = set(CampaignSettings.__dataclass_fields__)
    data = {k: v for k, v in data.items() if k in known}
    for key in _SETTINGS_DATES:
        if data.get(key):
            data[key] = dt.date.fromisoformat(data[key])
    if "ami_servers" in data:
        data["ami_servers"] = tuple(data["ami_servers"])
    if "dial_mode" in data:
        data["dial_mode"] = DialMode(data["dial_mode"])
    if "dedupe_key" in data:
        data["dedupe_key"] = DedupeKey(data["dedupe_key"])
    return CampaignSettings(name=name, **data)


_CONTACT_COLUMNS = (
    "c.id, cc.campaign_id, c.phone, c.first_name, c.last_name, c.email, c.company, c.account,"
    " cc.owner, c.timezone, c.custom, cc.status, cc.attempts, cc.last_result, cc.last_call_at,"
    " cc.next_attempt_at, cc.trashed"
)


def _contact(row: sqlite3.Row | tuple[Any, ...]) -> Contact:
    return Contact(
        id=row[0],
        campaign_id=row[1],
        phone=row[2],
        first_name=row[3],
        last_name=row[4],
        email=row[5],
        company=row[6],
        account=row[7],
        owner=row[8],
        timezone=row[9],
        custom=json.loads(row[10]),
        status=ContactStatus(row[11]),
        attempts=row[12],
        last_result=row[13],
        last_call_at=_dt(row[14]),
        next_attempt_at=_dt(row[15]) if row[15] else None,
        trashed=bool(row[16]),
    )


def filter_sql(f: ContactFilter) -> tuple[str, list[Any]]:
    """The WHERE fragment (over ``cc`` memberships joined to ``c`` contacts) for a filter."""
    where = ["cc.trashed = ?"]
    params: list[Any] = [1 if f.trashed else 0]
    if f.status is not None:
        if not f.status:
            return "0", []
        where.append(f"cc.status IN ({','.join('?' * len(f.status))})")
        params.extend(sorted(s.value for s in f.status))
    if f.owner is not None:
        where.append("cc.owner = ?")
        params.append(f.owner)
    if f.unowned:
        where.append("cc.owner = ''")
    if f.account is not None:
        where.append("c.account = ?")
        params.append(f.account)
    if f.min_attempts is not None:
        where.append("cc.attempts >= ?")
        params.append(f.min_attempts)
    if f.max_attempts is not None:
        where.append("cc.attempts <= ?")
        params.append(f.max_attempts)
    if f.last_result is not None:
        where.append("cc.last_result = ?")
        params.append(f.last_result)
    if f.called_before is not None:
        where.append("cc.last_call_at < ?")
        params.append(_ts(f.called_before))
    if f.called_after is not None:
        where.append("cc.last_call_at >= ?")
        params.append(_ts(f.called_after))
    if f.never_called:
        where.append("cc.last_call_at IS NULL")
    if f.phone_prefix is not None:
        where.append("substr(c.phone, 1, ?) = ?")
        params.extend([len(f.phone_prefix), f.phone_prefix])
    for key, value in sorted(f.custom.items()):
        if '"' in key or "\\" in key:
            raise UsageError(f"custom field name {key!r} cannot contain quotes or backslashes")
        where.append("json_extract(c.custom, ?) = ?")
        params.extend([f'$."{key}"', value])
    return " AND ".join(where), params


class SqliteStore:
    """The SQLite implementation of :class:`dialerd.ports.Store`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()
        self._dnc: DncChecker | None = None

    # -- life cycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 5000) -> SqliteStore:
        """Open (creating if needed) and migrate the database at ``path``."""
        p = Path(path)
        if p.parent and not p.parent.exists():
            raise UsageError(f"{p}: the directory {p.parent} does not exist")
        db = await aiosqlite.connect(p, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            store = cls(db, p)
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection; pending writes were committed by their operations."""
        if self._dnc is not None:
            self._dnc.close()
            self._dnc = None
        await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """The database's migration version."""
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"{self.path}: database schema {version} is newer than this dialerd "
                f"({SCHEMA_VERSION}); upgrade dialerd"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            async with self._tx() as db:
                for statement in _split_sql(MIGRATIONS[target - 1]):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {target}")

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            yield self._db

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # One hand-off to the connection's thread (a cursor costs three: run, fetch, close).
        async with self._read() as db:
            rows = await db.execute_fetchall(sql, params)
        return [tuple(r) for r in rows]

    # -- campaigns ----------------------------------------------------------------------

    async def create_campaign(
        self, settings: CampaignSettings, *, now: dt.datetime, max_campaigns: int
    ) -> Campaign:
        """Insert a campaign (state ``inactive``); refuse a taken name or one too many."""
        async with self._tx() as db:
            async with db.execute("SELECT count(*) FROM campaigns") as cur:
                row = await cur.fetchone()
            assert row is not None
            if row[0] >= max_campaigns:
                raise ConflictError(
                    f"the campaign limit ({max_campaigns}) is reached; delete one or raise "
                    "limits.max_campaigns"
                )
            try:
                cur2 = await db.execute(
                    "INSERT INTO campaigns (name, state, settings, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        settings.name,
                        CampaignState.INACTIVE.value,
                        settings_to_json(settings),
                        _ts(now),
                        _ts(now),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ConflictError(f"a campaign named {settings.name!r} exists") from None
            campaign_id = cur2.lastrowid
        assert campaign_id is not None
        return Campaign(campaign_id, CampaignState.INACTIVE, settings, now, now)

    async def get_campaign(self, ref: int | str) -> Campaign:
        """A campaign by id or by exact name."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            row = await self._one(
                "SELECT id, name, state, settings, created_at, updated_at FROM campaigns"
                " WHERE id = ?",
                (int(ref),),
            )
        else:
            row = None
        if row is None and isinstance(ref, str):
            row = await self._one(
                "SELECT id, name, state, settings, created_at, updated_at FROM campaigns"
                " WHERE name = ?",
                (ref,),
            )
        if row is None:
            raise NotFoundError(f"no campaign {ref!r}")
        return _campaign(row)

    async def list_campaigns(self) -> list[Campaign]:
        """Every campaign, by id."""
        rows = await self._all(
            "SELECT id, name, state, settings, created_at, updated_at FROM campaigns ORDER BY id"
        )
        return [_campaign(r) for r in rows]

    async def update_campaign(
        self, campaign_id: int, settings: CampaignSettings, *, now: dt.datetime
    ) -> Campaign:
        """Replace a campaign's settings unless it is running (checked in the same write)."""
        async with self._tx() as db:
            try:
                cur = await db.execute(
                    "UPDATE campaigns SET name = ?, settings = ?, updated_at = ?"
                    " WHERE id = ? AND state != 'running'",
                    (settings.name, settings_to_json(settings), _ts(now), campaign_id),
                )
            except sqlite3.IntegrityError:
                raise ConflictError(f"a campaign named {settings.name!r} exists") from None
            if cur.rowcount == 0:
                await _raise_missing_or_running(db, campaign_id)
        return await self.get_campaign(campaign_id)

    async def set_campaign_state(
        self,
        campaign_id: int,
        expected: CampaignState,
        new: CampaignState,
        *,
        now: dt.datetime,
    ) -> Campaign:
        """Move a campaign from ``expected`` to ``new``; a concurrent change is a conflict."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                (new.value, _ts(now), campaign_id, expected.value),
            )
            if cur.rowcount == 0:
                raise ConflictError(f"campaign {campaign_id} is no longer {expected.value}")
            if new is CampaignState.RUNNING and expected is CampaignState.ACTIVE:
                # Starting the list fixes who owns which record until the next recycle.
                await db.execute(
                    "UPDATE campaign_contacts SET queue_owner = owner WHERE campaign_id = ?",
                    (campaign_id,),
                )
        return await self.get_campaign(campaign_id)

    async def delete_campaign(self, campaign_id: int) -> None:
        """Delete a stopped campaign with its lists, schedules, windows and memberships.

        Contacts stay (they may belong to other campaigns) and so does call history.
        """
        async with self._tx() as db:
            async with db.execute(
                "SELECT state FROM campaigns WHERE id = ?", (campaign_id,)
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFoundError(f"no campaign {campaign_id}")
            if row[0] == CampaignState.RUNNING.value:
                raise ConflictError(f"campaign {campaign_id} is running: pause or stop it first")
            await db.execute(
                "DELETE FROM dnc_numbers WHERE list_id IN"
                " (SELECT id FROM dnc_lists WHERE campaign_id = ?)",
                (campaign_id,),
            )
            await db.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,))

    # -- schedules ----------------------------------------------------------------------

    async def set_business_hours(self, campaign_id: int, hours: Iterable[BusinessHours]) -> None:
        """Replace the weekly schedule; refused while the campaign runs."""
        async with self._tx() as db:
            await _require_not_running(db, campaign_id)
            await db.execute("DELETE FROM business_hours WHERE campaign_id = ?", (campaign_id,))
            await db.executemany(
                'INSERT INTO business_hours (campaign_id, weekday, start, "end")'
                " VALUES (?, ?, ?, ?)",
                [
                    (
                        campaign_id,
                        h.weekday,
                        h.start.isoformat("minutes"),
                        h.end.isoformat("minutes"),
                    )
                    for h in hours
                ],
            )

    async def business_hours(self, campaign_id: int) -> list[BusinessHours]:
        """The weekly schedule, by weekday and start."""
        await self.get_campaign(campaign_id)
        rows = await self._all(
            'SELECT weekday, start, "end" FROM business_hours WHERE campaign_id = ?'
            " ORDER BY weekday, start",
            (campaign_id,),
        )
        return [
            BusinessHours(r[0], dt.time.fromisoformat(r[1]), dt.time.fromisoformat(r[2]))
            for r in rows
        ]

    async def put_exception(self, campaign_id: int, exc: ScheduleException) -> None:
        """Add or replace the exception for one date."""
        async with self._tx() as db:
            await _require_not_running(db, campaign_id)
            await db.execute(
                "INSERT OR REPLACE INTO schedule_exceptions"
                ' (campaign_id, day, closed, start, "end", note) VALUES (?, ?, ?, ?, ?, ?)',
                (
                    campaign_id,
                    exc.day.isoformat(),
                    int(exc.closed),
                    exc.start.isoformat("minutes") if exc.start else None,
                    exc.end.isoformat("minutes") if exc.end else None,
                    exc.note,
                ),
            )

    async def delete_exception(self, campaign_id: int, day: dt.date) -> None:
        """Remove the exception for one date."""
        async with self._tx() as db:
            cur = await db.execute(
                "DELETE FROM schedule_exceptions WHERE campaign_id = ? AND day = ?",
                (campaign_id, day.isoformat()),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"campaign {campaign_id} has no exception on {day}")

    async def exceptions(self, campaign_id: int) -> list[ScheduleException]:
        """Dated exceptions, by date."""
        rows = await self._all(
            'SELECT day, closed, start, "end", note FROM schedule_exceptions'
            " WHERE campaign_id = ? ORDER BY day",
            (campaign_id,),
        )
        return [
            ScheduleException(
                dt.date.fromisoformat(r[0]),
                bool(r[1]),
                dt.time.fromisoformat(r[2]) if r[2] else None,
                dt.time.fromisoformat(r[3]) if r[3] else None,
                r[4],
            )
            for r in rows
        ]

    async def add_run_window(
        self, campaign_id: int, start: dt.date, end: dt.date, note: str = ""
    ) -> RunWindow:
        """Add a dated batch (inclusive) during which the campaign may dial."""
        async with self._tx() as db:
            await _require_not_running(db, campaign_id)
            cur = await db.execute(
                'INSERT INTO run_windows (campaign_id, start, "end", note) VALUES (?, ?, ?, ?)',
                (campaign_id, start.isoformat(), end.isoformat(), note),
            )
        assert cur.lastrowid is not None
        return RunWindow(cur.lastrowid, start, end, note)

    async def delete_run_window(self, campaign_id: int, window_id: int) -> None:
        """Remove a run window."""
        async with self._tx() as db:
            cur = await db.execute(
                "DELETE FROM run_windows WHERE campaign_id = ? AND id = ?",
                (campaign_id, window_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"campaign {campaign_id} has no run window {window_id}")

    async def run_windows(self, campaign_id: int) -> list[RunWindow]:
        """The run windows, by start date."""
        rows = await self._all(
            'SELECT id, start, "end", note FROM run_windows WHERE campaign_id = ?'
            " ORDER BY start, id",
            (campaign_id,),
        )
        return [
            RunWindow(r[0], dt.date.fromisoformat(r[1]), dt.date.fromisoformat(r[2]), r[3])
            for r in rows
        ]

    # -- contacts -----------------------------------------------------------------------

    async def add_contacts(
        self,
        campaign_id: int,
        rows: Sequence[ContactRow],
        *,
        now: dt.datetime,
        import_id: int | None = None,
        progress: Mapping[str, int] | None = None,
    ) -> BatchResult:
        """Add a batch of contacts to a campaign in one transaction.

        A row whose dedupe key the campaign already has is merged into that contact:
        non-empty fields of the new row win, custom fields are combined. When
        ``import_id`` is given, the import's checkpoint (``progress``) is written in the
        same transaction, so a crash never leaves rows without their checkpoint.
        """
        merged_rows = _merge_in_batch(rows)
        async with self._tx() as db:
            existing: dict[str, int] = {}
            keys = list(merged_rows)
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                # execute_fetchall is one hand-off to the connection's thread; iterating a
                # cursor is one per row, each while this transaction holds the write lock.
                found = await db.execute_fetchall(
                    "SELECT dedupe_key, contact_id FROM campaign_contacts"
                    f" WHERE campaign_id = ? AND dedupe_key IN ({','.join('?' * len(part))})",
                    [campaign_id, *part],
                )
                existing.update((k, cid) for k, cid in found)
            if existing:
                await _merge_existing(db, merged_rows, existing)
            fresh = [merged_rows[k] for k in keys if k not in existing]
            if fresh:
                await _insert_fresh(db, campaign_id, fresh, _ts(now))
            if import_id is not None and progress is not None:
                await db.execute(
                    "UPDATE imports SET rows_read = ?, rows_imported = rows_imported + ?,"
                    " rows_merged = rows_merged + ?, rows_rejected = ?"
                    " WHERE id = ?",
                    (
                        progress["rows_read"],
                        len(fresh),
                        len(rows) - len(fresh),
                        progress["rows_rejected"],
                        import_id,
                    ),
                )
        return BatchResult(imported=len(fresh), merged=len(rows) - len(fresh))

    async def contacts(
        self,
        campaign_id: int,
        f: ContactFilter = ContactFilter(),  # noqa: B008 - frozen, safe to share
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Contact]:
        """The campaign's contacts matching ``f``, in list order."""
        where, params = filter_sql(f)
        sql = (
            f"SELECT {_CONTACT_COLUMNS} FROM campaign_contacts cc JOIN contacts c"
            f" ON c.id = cc.contact_id WHERE cc.campaign_id = ? AND {where}"
            " ORDER BY cc.position"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        rows = await self._all(sql, [campaign_id, *params])
        return [_contact(r) for r in rows]

    async def iter_contacts(
        self,
        campaign_id: int,
        f: ContactFilter = ContactFilter(),  # noqa: B008 - frozen, safe to share
        *,
        page: int = 5000,
    ) -> AsyncIterator[Contact]:
        """Stream the campaign's matching contacts in list order, a page at a time."""
        where, params = filter_sql(f)
        last = -1
        while True:
            rows = await self._all(
                f"SELECT {_CONTACT_COLUMNS}, cc.position FROM campaign_contacts cc"
                " JOIN contacts c ON c.id = cc.contact_id"
                f" WHERE cc.campaign_id = ? AND cc.position > ? AND {where}"
                f" ORDER BY cc.position LIMIT {int(page)}",
                [campaign_id, last, *params],
            )
            for r in rows:
                yield _contact(r)
            if len(rows) < page:
                return
            last = rows[-1][-1]

    async def count_contacts(
        self,
        campaign_id: int,
        f: ContactFilter = ContactFilter(),  # noqa: B008 - frozen, safe to share
    ) -> int:
        """How many of the campaign's contacts match ``f``."""
        where, params = filter_sql(f)
        row = await self._one(
            "SELECT count(*) FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id"
            f" WHERE cc.campaign_id = ? AND {where}",
            [campaign_id, *params],
        )
        assert row is not None
        return int(row[0])

    async def bulk_update(
        self, campaign_id: int, f: ContactFilter, assignments: Mapping[str, Any]
    ) -> int:
        """Set membership columns (``owner``, ``status``, ``trashed``) on matching contacts."""
        allowed = {"owner", "status", "trashed", "next_attempt_at"}
        if not assignments or set(assignments) - allowed:
            raise UsageError(f"bulk update may set only {sorted(allowed)}")
        where, params = filter_sql(f)
        sets = ", ".join(f"{k} = ?" for k in sorted(assignments))
        values = [assignments[k] for k in sorted(assignments)]
        async with self._tx() as db:
            cur = await db.execute(
                f"UPDATE campaign_contacts SET {sets} WHERE campaign_id = ? AND rowid IN"
                " (SELECT cc.rowid FROM campaign_contacts cc JOIN contacts c"
                f" ON c.id = cc.contact_id WHERE cc.campaign_id = ? AND {where})",
                [*values, campaign_id, campaign_id, *params],
            )
            return cur.rowcount

    async def remove_contacts(self, campaign_id: int, f: ContactFilter, *, invert: bool) -> int:
        """Remove matching memberships (or, with ``invert``, every one not matching).

        Contact records stay: they may belong to other campaigns and to call history.
        """
        where, params = filter_sql(f)
        inner = (
            "SELECT cc.rowid FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id"
            f" WHERE cc.campaign_id = ? AND {where}"
        )
        op = "NOT IN" if invert else "IN"
        async with self._tx() as db:
            await _require_not_running(db, campaign_id)
            cur = await db.execute(
                f"DELETE FROM campaign_contacts WHERE campaign_id = ? AND rowid {op} ({inner})",
                [campaign_id, campaign_id, *params],
            )
            return cur.rowcount

    async def copy_contacts(
        self, source_id: int, f: ContactFilter, target_id: int, *, target_key: DedupeKey
    ) -> BatchResult:
        """Add the matching contacts of one campaign to another, as new, unattempted members.

        A contact whose dedupe key the target already has is counted as merged.
        """
        if source_id == target_id:
            raise UsageError("copy: the source and target campaigns are the same")
        where, params = filter_sql(f)
        key_expr = {
            DedupeKey.NUMBER: "c.phone",
            DedupeKey.EMAIL: "lower(c.email)",
            DedupeKey.ACCOUNT: "c.account",
        }[target_key]
        async with self._tx() as db:
            async with db.execute(
                "SELECT coalesce(max(position), 0) FROM campaign_contacts WHERE campaign_id = ?",
                (target_id,),
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            base = int(row[0])
            async with db.execute(
                "SELECT count(*) FROM campaign_contacts cc JOIN contacts c"
                f" ON c.id = cc.contact_id WHERE cc.campaign_id = ? AND {where}",
                [source_id, *params],
            ) as cur:
                total_row = await cur.fetchone()
            assert total_row is not None
            cur2 = await db.execute(
                "INSERT OR IGNORE INTO campaign_contacts (campaign_id, contact_id, dedupe_key,"
                f" position, owner, queue_owner) SELECT ?, c.id, {key_expr},"
                " ? + row_number() OVER (ORDER BY cc.position), cc.owner, cc.owner"
                " FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id"
                f" WHERE cc.campaign_id = ? AND {where} AND {key_expr} != ''",
                [target_id, base, source_id, *params],
            )
            added = max(cur2.rowcount, 0)
        return BatchResult(imported=added, merged=int(total_row[0]) - added)

    async def claim_next(
        self, campaign_id: int, *, now: dt.datetime, claimer: str
    ) -> Contact | None:
        """Atomically take the next dialable contact of a campaign, or ``None``.

        One UPDATE … RETURNING picks and marks the contact, so two callers (tasks,
        processes) can never be handed the same one.
        """
        # The UPDATE is its own transaction (autocommit) and each statement is one
        # hand-off to the connection's thread: the write lock, which an import in another
        # process is waiting for, is held for one statement only.
        async with self._lock:
            claimed = await self._db.execute_fetchall(
                "UPDATE campaign_contacts SET status = 'claimed', claimed_by = ?,"
                " claimed_at = ? WHERE rowid = (SELECT rowid FROM campaign_contacts"
                " WHERE campaign_id = ? AND trashed = 0 AND status IN ('new', 'retry')"
                " AND next_attempt_at <= ? ORDER BY next_attempt_at, position LIMIT 1)"
                " RETURNING contact_id",
                (claimer, _ts(now), campaign_id, _ts(now)),
            )
            if not claimed:
                return None
            [full] = await self._db.execute_fetchall(
                f"SELECT {_CONTACT_COLUMNS} FROM campaign_contacts cc JOIN contacts c"
                " ON c.id = cc.contact_id WHERE cc.campaign_id = ? AND cc.contact_id = ?",
                (campaign_id, next(iter(claimed))[0]),
            )
        return _contact(tuple(full))

    # -- imports ------------------------------------------------------------------------

    async def start_import(
        self, campaign_id: int, source: str, fingerprint: str, options: str, *, now: dt.datetime
    ) -> ImportJob:
        """Record a new import, or return the unfinished one for the same file and options."""
        async with self._tx() as db:
            async with db.execute(
                "SELECT id FROM imports WHERE campaign_id = ? AND fingerprint = ?"
                " AND options = ? AND state = 'running' ORDER BY id DESC LIMIT 1",
                (campaign_id, fingerprint, options),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                cur2 = await db.execute(
                    "INSERT INTO imports (campaign_id, source, fingerprint, options, state,"
                    " started_at) VALUES (?, ?, ?, ?, 'running', ?)",
                    (campaign_id, source, fingerprint, options, _ts(now)),
                )
                job_id = cur2.lastrowid
            else:
                job_id = row[0]
        assert job_id is not None
        return await self.get_import(job_id)

    async def get_import(self, import_id: int) -> ImportJob:
        """An import's record."""
        row = await self._one(
            "SELECT id, campaign_id, source, fingerprint, options, state, rows_read,"
            " rows_imported, rows_merged, rows_rejected FROM imports WHERE id = ?",
            (import_id,),
        )
        if row is None:
            raise NotFoundError(f"no import {import_id}")
        return ImportJob(*row)

    async def finish_import(
        self, import_id: int, *, now: dt.datetime, rows_read: int, rows_rejected: int
    ) -> ImportJob:
        """Mark an import complete."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE imports SET state = 'done', finished_at = ?, rows_read = ?,"
                " rows_rejected = ? WHERE id = ?",
                (_ts(now), rows_read, rows_rejected, import_id),
            )
        return await self.get_import(import_id)

    # -- do-not-call --------------------------------------------------------------------

    async def create_dnc_list(
        self, name: str, campaign_id: int | None, *, now: dt.datetime, replace_existing: bool
    ) -> tuple[int, int | None]:
        """Create a list; returns (new id, id of the list it will replace, if any).

        With ``replace_existing`` a list of that name is kept until :meth:`commit_dnc_list`
        swaps it out, so the numbers never stop being honoured during a re-upload.
        """
        if not 1 <= len(name) <= 100:
            raise UsageError("name: a list name must be 1 to 100 characters")
        async with self._tx() as db:
            if campaign_id is not None:
                await _require_campaign(db, campaign_id)
            async with db.execute(
                "SELECT id FROM dnc_lists WHERE coalesce(campaign_id, 0) = ? AND name = ?",
                (campaign_id or 0, name),
            ) as cur:
                row = await cur.fetchone()
            if row is not None and not replace_existing:
                raise ConflictError(f"a do-not-call list named {name!r} exists; use --replace")
            pending = f"\x00pending:{name}:{_ts(now)}"
            cur2 = await db.execute(
                "INSERT INTO dnc_lists (campaign_id, name, numbers, uploaded_at)"
                " VALUES (?, ?, 0, ?)",
                (campaign_id, pending, _ts(now)),
            )
        assert cur2.lastrowid is not None
        return cur2.lastrowid, (row[0] if row is not None else None)

    async def add_dnc_numbers(self, list_id: int, numbers: Sequence[str]) -> None:
        """Add a batch of normalised numbers to a list being uploaded."""
        async with self._tx() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO dnc_numbers (number, list_id) VALUES (?, ?)",
                [(n, list_id) for n in numbers],
            )

    async def commit_dnc_list(
        self, list_id: int, name: str, replaces: int | None, *, now: dt.datetime
    ) -> DncList:
        """Give an uploaded list its name, dropping the list it replaces, in one step."""
        async with self._tx() as db:
            if replaces is not None:
                await db.execute("DELETE FROM dnc_numbers WHERE list_id = ?", (replaces,))
                await db.execute("DELETE FROM dnc_lists WHERE id = ?", (replaces,))
            async with db.execute(
                "SELECT count(*) FROM dnc_numbers WHERE list_id = ?", (list_id,)
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            await db.execute(
                "UPDATE dnc_lists SET name = ?, numbers = ?, uploaded_at = ? WHERE id = ?",
                (name, row[0], _ts(now), list_id),
            )
        return await self.get_dnc_list(list_id)

    async def abort_dnc_list(self, list_id: int) -> None:
        """Drop a list whose upload failed."""
        async with self._tx() as db:
            await db.execute("DELETE FROM dnc_numbers WHERE list_id = ?", (list_id,))
            await db.execute("DELETE FROM dnc_lists WHERE id = ?", (list_id,))

    async def get_dnc_list(self, list_id: int) -> DncList:
        """A list by id."""
        row = await self._one(
            "SELECT id, name, campaign_id, numbers, uploaded_at FROM dnc_lists WHERE id = ?",
            (list_id,),
        )
        if row is None or row[1].startswith("\x00"):
            raise NotFoundError(f"no do-not-call list {list_id}")
        return DncList(row[0], row[1], row[2], row[3], _dt(row[4]) or dt.datetime.now(dt.UTC))

    async def dnc_lists(self, campaign_id: int | None = None) -> list[DncList]:
        """Lists: all of them, or the global ones plus one campaign's."""
        sql = "SELECT id, name, campaign_id, numbers, uploaded_at FROM dnc_lists"
        params: list[Any] = []
        if campaign_id is not None:
            sql += " WHERE campaign_id IS NULL OR campaign_id = ?"
            params.append(campaign_id)
        rows = await self._all(sql + " ORDER BY id", params)
        return [
            DncList(r[0], r[1], r[2], r[3], _dt(r[4]) or dt.datetime.now(dt.UTC))
            for r in rows
            if not r[1].startswith("\x00")
        ]

    async def delete_dnc_list(self, list_id: int) -> None:
        """Delete a list and its numbers."""
        await self.get_dnc_list(list_id)
        async with self._tx() as db:
            await db.execute("DELETE FROM dnc_numbers WHERE list_id = ?", (list_id,))
            await db.execute("DELETE FROM dnc_lists WHERE id = ?", (list_id,))

    async def dnc_matches(self, keys: Sequence[str], campaign_id: int | None) -> list[DncList]:
        """The committed lists (global, and the campaign's) that hold any of ``keys``."""
        # A few point lookups on the primary key: cheaper in this thread than the hand-off
        # to the connection's thread and back (see DncChecker).
        if self._dnc is None:
            self._dnc = DncChecker(self.path)
        return self._dnc.matches(keys, campaign_id)

    # -- results ------------------------------------------------------------------------

    async def add_result(self, r: ResultCode) -> ResultCode:
        """Add a result (disposition) to a campaign; the name is unique in the campaign."""
        async with self._tx() as db:
            await _require_campaign(db, r.campaign_id)
            try:
                cur = await db.execute(
                    "INSERT INTO results (campaign_id, name, is_contact, is_complete,"
                    " is_success, memo, display_order) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.campaign_id,
                        r.name,
                        int(r.is_contact),
                        int(r.is_complete),
                        int(r.is_success),
                        r.memo,
                        r.display_order,
                    ),
                )
            except sqlite3.IntegrityError:
                raise ConflictError(f"campaign {r.campaign_id} has a result {r.name!r}") from None
        assert cur.lastrowid is not None
        return replace(r, id=cur.lastrowid)

    async def update_result(self, r: ResultCode) -> ResultCode:
        """Replace a result's fields."""
        async with self._tx() as db:
            try:
                cur = await db.execute(
                    "UPDATE results SET name = ?, is_contact = ?, is_complete = ?,"
                    " is_success = ?, memo = ?, display_order = ? WHERE id = ? AND"
                    " campaign_id = ?",
                    (
                        r.name,
                        int(r.is_contact),
                        int(r.is_complete),
                        int(r.is_success),
                        r.memo,
                        r.display_order,
                        r.id,
                        r.campaign_id,
                    ),
                )
            except sqlite3.IntegrityError:
                raise ConflictError(f"campaign {r.campaign_id} has a result {r.name!r}") from None
            if cur.rowcount == 0:
                raise NotFoundError(f"campaign {r.campaign_id} has no result {r.id}")
        return r

    async def delete_result(self, campaign_id: int, result_id: int) -> None:
        """Remove a result."""
        async with self._tx() as db:
            cur = await db.execute(
                "DELETE FROM results WHERE id = ? AND campaign_id = ?", (result_id, campaign_id)
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"campaign {campaign_id} has no result {result_id}")

    async def results(self, campaign_id: int) -> list[ResultCode]:
        """A campaign's results in display order."""
        rows = await self._all(
            "SELECT id, campaign_id, name, is_contact, is_complete, is_success, memo,"
            " display_order FROM results WHERE campaign_id = ? ORDER BY display_order, id",
            (campaign_id,),
        )
        return [
            ResultCode(r[0], r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5]), r[6], r[7])
            for r in rows
        ]

    # -- agents -------------------------------------------------------------------------

    async def add_agent(self, agent: Agent, *, now: dt.datetime) -> Agent:
        """Add an agent; ids are unique."""
        async with self._tx() as db:
            try:
                await db.execute(
                    "INSERT INTO agents (id, name, endpoint, email, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (agent.id, agent.name, agent.endpoint, agent.email, _ts(now)),
                )
            except sqlite3.IntegrityError:
                raise ConflictError(f"an agent {agent.id!r} exists") from None
        return agent

    async def agents(self, campaign_id: int | None = None) -> list[Agent]:
        """All agents, or those assigned to a campaign."""
        if campaign_id is None:
            rows = await self._all("SELECT id, name, endpoint, email FROM agents ORDER BY id")
        else:
            rows = await self._all(
                "SELECT a.id, a.name, a.endpoint, a.email FROM agents a JOIN agent_campaigns ac"
                " ON ac.agent_id = a.id WHERE ac.campaign_id = ? ORDER BY a.id",
                (campaign_id,),
            )
        return [Agent(*r) for r in rows]

    async def get_agent(self, agent_id: str) -> Agent:
        """An agent by id."""
        row = await self._one(
            "SELECT id, name, endpoint, email FROM agents WHERE id = ?", (agent_id,)
        )
        if row is None:
            raise NotFoundError(f"no agent {agent_id!r}")
        return Agent(*row)

    async def delete_agent(self, agent_id: str) -> None:
        """Remove an agent and its assignments (call history keeps its id)."""
        async with self._tx() as db:
            cur = await db.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"no agent {agent_id!r}")

    async def assign_agents(
        self, campaign_id: int, agent_ids: Sequence[str], *, assigned: bool, limit: int | None
    ) -> None:
        """Assign agents to (or remove them from) a campaign, within ``limit`` agents."""
        async with self._tx() as db:
            await _require_campaign(db, campaign_id)
            for agent_id in agent_ids:
                async with db.execute("SELECT 1 FROM agents WHERE id = ?", (agent_id,)) as cur:
                    if await cur.fetchone() is None:
                        raise NotFoundError(f"no agent {agent_id!r}")
                if assigned:
                    await db.execute(
                        "INSERT OR IGNORE INTO agent_campaigns (agent_id, campaign_id)"
                        " VALUES (?, ?)",
                        (agent_id, campaign_id),
                    )
                else:
                    await db.execute(
                        "DELETE FROM agent_campaigns WHERE agent_id = ? AND campaign_id = ?",
                        (agent_id, campaign_id),
                    )
            if limit is not None:
                await _check_agent_limit(db, campaign_id, limit)

    async def copy_assignments(self, source_id: int, target_id: int, *, limit: int | None) -> int:
        """Give the target campaign every agent of the source; returns how many were added."""
        async with self._tx() as db:
            await _require_campaign(db, source_id)
            await _require_campaign(db, target_id)
            cur = await db.execute(
                "INSERT OR IGNORE INTO agent_campaigns (agent_id, campaign_id)"
                " SELECT agent_id, ? FROM agent_campaigns WHERE campaign_id = ?",
                (target_id, source_id),
            )
            if limit is not None:
                await _check_agent_limit(db, target_id, limit)
            return cur.rowcount

    # -- the engine's records -----------------------------------------------------------

    async def claim_batch(
        self,
        campaign_id: int,
        count: int,
        *,
        now: dt.datetime,
        claimer: str,
        owner: tuple[str, ...] | None = None,
        lock_s: float = 0.0,
    ) -> list[ClaimedContact]:
        """Atomically claim up to ``count`` due contacts, each with its call history.

        With ``owner`` (preview: the agent's id and email), the agent's own contacts come
        first, then unowned ones; contacts owned by someone else are never handed out. A
        contact already claimed in another campaign within ``lock_s`` seconds is skipped
        (the contact lock).
        """
        ts = _ts(now)
        owner_sql = ""
        params: list[Any] = [claimer, ts, campaign_id, ts]
        order = "next_attempt_at, position"
        if owner is not None:
            keys = [k for k in owner if k]
            placeholders = ", ".join(["?"] * len(keys) + ["''"])
            owner_sql = f" AND cc.queue_owner IN ({placeholders})"
            params.extend(keys)
            order = "(cc.queue_owner = ''), next_attempt_at, position"
        params.extend([ts - lock_s, count])
        async with self._tx() as db:
            async with db.execute(
                "UPDATE campaign_contacts SET status = 'claimed', claimed_by = ?, claimed_at = ?"
                " WHERE rowid IN (SELECT cc.rowid FROM campaign_contacts cc"
                " WHERE cc.campaign_id = ? AND cc.trashed = 0 AND cc.status IN ('new', 'retry')"
                f" AND cc.next_attempt_at <= ?{owner_sql}"
                " AND NOT EXISTS (SELECT 1 FROM campaign_contacts o WHERE o.contact_id ="
                " cc.contact_id AND o.status = 'claimed' AND o.claimed_at > ?)"
                f" ORDER BY {order} LIMIT ?)"
                " RETURNING contact_id",
                params,
            ) as cur:
                ids = [r[0] async for r in cur]
            claimed: list[ClaimedContact] = []
            for contact_id in ids:
                async with db.execute(
                    f"SELECT {_CONTACT_COLUMNS} FROM campaign_contacts cc JOIN contacts c"
                    " ON c.id = cc.contact_id WHERE cc.campaign_id = ? AND cc.contact_id = ?",
                    (campaign_id, contact_id),
                ) as cur:
                    row = await cur.fetchone()
                assert row is not None
                contact = _contact(tuple(row))
                async with db.execute(
                    "SELECT created_at, outcome FROM calls WHERE campaign_id = ? AND"
                    " contact_id = ? AND outcome IS NOT NULL ORDER BY created_at",
                    (campaign_id, contact_id),
                ) as cur:
                    own = [(float(r[0]), str(r[1])) async for r in cur]
                async with db.execute(
                    "SELECT created_at, outcome FROM calls WHERE number = ? AND created_at > ?"
                    " AND outcome IS NOT NULL ORDER BY created_at",
                    (contact.phone, ts - 72 * 3600),
                ) as cur:
                    recent = [(float(r[0]), str(r[1])) async for r in cur]
                claimed.append(ClaimedContact(contact, tuple(own), tuple(recent)))
        return claimed

    async def next_due(self, campaign_id: int) -> dt.datetime | None:
        """When the campaign's next waiting contact becomes due, if it has one."""
        row = await self._one(
            "SELECT min(next_attempt_at) FROM campaign_contacts WHERE campaign_id = ?"
            " AND trashed = 0 AND status IN ('new', 'retry')",
            (campaign_id,),
        )
        return _dt(row[0]) if row is not None and row[0] is not None else None

    async def record_attempt(
        self,
        call_id: str,
        campaign_id: int,
        contact_id: int,
        number: str,
        attempt: int,
        *,
        agent_id: str | None,
        at: dt.datetime,
    ) -> None:
        """Write a call about to be placed; durable before its Originate is sent."""
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO calls (id, campaign_id, contact_id, number, attempt, agent_id,"
                " state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'dialing', ?)",
                (call_id, campaign_id, contact_id, number, attempt, agent_id, _ts(at)),
            )
            await db.execute(
                "UPDATE campaign_contacts SET attempts = attempts + 1, last_call_at = ?"
                " WHERE campaign_id = ? AND contact_id = ?",
                (_ts(at), campaign_id, contact_id),
            )

    async def record_call_state(
        self, call_id: str, state: str, *, server: str | None = None, agent_id: str | None = None
    ) -> None:
        """Note a call's progress (answered, connected) so a restart can reconcile it."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE calls SET state = ?, server = coalesce(?, server),"
                " agent_id = coalesce(?, agent_id) WHERE id = ? AND state != 'ended'",
                (state, server, agent_id, call_id),
            )

    async def record_outcome(self, o: RecordOutcome) -> None:
        """Close a call and schedule (or finish) its contact, in one transaction."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE calls SET state = 'ended', outcome = ?, agent_id = coalesce(?, agent_id),"
                " reason = ?, dial_status = ?, cause = ?, answered_at = ?, connected_at = ?,"
                " ended_at = ?, counted_human = ? WHERE id = ?",
                (
                    o.outcome.value,
                    o.agent_id,
                    o.reason,
                    o.dial_status,
                    o.cause,
                    _ts(o.answered_at) if o.answered_at else None,
                    _ts(o.connected_at) if o.connected_at else None,
                    _ts(o.wall_at),
                    o.counted_human,
                    o.call_id,
                ),
            )
            await db.execute(
                "UPDATE campaign_contacts SET status = ?, last_result = ?, next_attempt_at = ?,"
                " claimed_by = NULL, claimed_at = NULL WHERE campaign_id = ? AND contact_id = ?",
                (
                    "done" if o.final else "retry",
                    o.outcome.value,
                    _ts(o.retry_at) if o.retry_at else 0,
                    o.campaign_id,
                    o.contact_id,
                ),
            )

    async def recount_abandon(self, call_id: str, counted_human: float) -> None:
        """Store how much an abandoned call nobody heard now counts as a person."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE calls SET counted_human = ? WHERE id = ? AND outcome = 'abandoned'",
                (counted_human, call_id),
            )

    async def record_refusal(
        self,
        campaign_id: int,
        contact_id: int,
        *,
        reason: str,
        final: bool,
        retry_at: dt.datetime | None,
        at: dt.datetime,
    ) -> None:
        """Record a refusal at the gate and release the contact (finished, or due later)."""
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO refusals (campaign_id, contact_id, reason, final, retry_at, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    campaign_id,
                    contact_id,
                    reason,
                    int(final),
                    _ts(retry_at) if retry_at else None,
                    _ts(at),
                ),
            )
            status = "done" if final else "skipped" if reason == "skipped" else "retry"
            last = "dnc_blocked" if reason == "dnc" else None
            if last is not None:
                # A blocked dial is part of the contact's history, though no call was placed.
                await db.execute(
                    "INSERT INTO calls (id, campaign_id, contact_id, number, attempt, state,"
                    " outcome, created_at, ended_at) SELECT ?, cc.campaign_id, cc.contact_id,"
                    " c.phone, cc.attempts, 'ended', ?, ?, ? FROM campaign_contacts cc"
                    " JOIN contacts c ON c.id = cc.contact_id"
                    " WHERE cc.campaign_id = ? AND cc.contact_id = ?",
                    (uuid.uuid4().hex, last, _ts(at), _ts(at), campaign_id, contact_id),
                )
            await db.execute(
                "UPDATE campaign_contacts SET status = ?, next_attempt_at = ?,"
                " last_result = coalesce(?, last_result), claimed_by = NULL, claimed_at = NULL"
                " WHERE campaign_id = ? AND contact_id = ?",
                (status, _ts(retry_at) if retry_at else _ts(at), last, campaign_id, contact_id),
            )

    async def record_disposition(
        self, call_id: str, result_id: int | None, memo: str, *, human: bool | None = None
    ) -> None:
        """Attach the agent's result to a call, with its verdict on who answered if said."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE calls SET result_id = coalesce(?, result_id), memo = ?,"
                " human = coalesce(?, human) WHERE id = ?",
                (result_id, memo, None if human is None else int(human), call_id),
            )

    async def open_calls(self) -> list[OpenCall]:
        """Calls not yet ended (after a crash: the ones to reconcile)."""
        rows = await self._all(
            "SELECT id, campaign_id, contact_id, number, attempt, state, server, agent_id"
            " FROM calls WHERE state != 'ended' ORDER BY created_at"
        )
        return [OpenCall(*r) for r in rows]

    async def release_claims(self, campaign_id: int, contact_ids: Sequence[int]) -> int:
        """Return these claimed contacts of a campaign to the queue (claimed, not dialled)."""
        if not contact_ids:
            return 0
        async with self._tx() as db:
            cur = await db.executemany(
                "UPDATE campaign_contacts SET status = 'retry', claimed_by = NULL,"
                " claimed_at = NULL WHERE campaign_id = ? AND contact_id = ?"
                " AND status = 'claimed'",
                [(campaign_id, c) for c in contact_ids],
            )
            return cur.rowcount

    async def release_stale_claims(self) -> int:
        """Return claimed contacts without an open call to the queue (a crash before dial)."""
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE campaign_contacts SET status = 'retry', claimed_by = NULL,"
                " claimed_at = NULL WHERE status = 'claimed' AND NOT EXISTS (SELECT 1 FROM"
                " calls WHERE calls.campaign_id = campaign_contacts.campaign_id AND"
                " calls.contact_id = campaign_contacts.contact_id AND calls.state != 'ended')"
            )
            return cur.rowcount

    async def recycle(self, campaign_id: int) -> int:
        """Start the list again: skipped records return and ownership changes apply.

        Finished records stay finished.
        """
        async with self._tx() as db:
            await _require_campaign(db, campaign_id)
            cur = await db.execute(
                "UPDATE campaign_contacts SET status = CASE status WHEN 'skipped' THEN 'retry'"
                " ELSE status END, next_attempt_at = CASE status WHEN 'skipped' THEN 0"
                " ELSE next_attempt_at END, queue_owner = owner WHERE campaign_id = ?",
                (campaign_id,),
            )
            return cur.rowcount

    async def owner_problems(self, campaign_id: int) -> list[tuple[int, str]]:
        """Waiting contacts whose owner is no agent assigned to the campaign (by id or email)."""
        return [
            (int(r[0]), str(r[1]))
            for r in await self._all(
                "SELECT cc.contact_id, cc.queue_owner FROM campaign_contacts cc"
                " WHERE cc.campaign_id = ? AND cc.queue_owner != '' AND cc.trashed = 0"
                " AND cc.status IN ('new', 'retry') AND NOT EXISTS (SELECT 1 FROM"
                " agent_campaigns ac JOIN agents a ON a.id = ac.agent_id"
                " WHERE ac.campaign_id = cc.campaign_id"
                " AND cc.queue_owner IN (a.id, a.email)) ORDER BY cc.position",
                (campaign_id,),
            )
        ]

    async def answer_history(
        self, campaign_id: int, *, since: dt.datetime
    ) -> list[tuple[float, str, float | None]]:
        """(epoch seconds, outcome, counted as a person) of the campaign's live answers since
        ``since``, oldest first.

        Live answers are the calls the predictive pacer counts: connected to an agent
        (``answered_agent``, timed at the connection; not when the agent's verdict said a
        machine) or abandoned (``abandoned``, timed at the call's end, with how much the
        pacer counted it as a person when nobody heard who answered, if it was recorded).
        Calls still open are not included.
        """
        rows = await self._all(ANSWER_HISTORY_SQL, (campaign_id, _ts(since), _ts(since)))
        return [
            (float(at), str(outcome), None if counted is None else float(counted))
            for at, outcome, counted in rows
        ]

    async def calls_of(self, campaign_id: int) -> list[CallRecord]:
        """A campaign's call history, oldest first."""
        rows = await self._all(
            "SELECT id, campaign_id, contact_id, number, attempt, agent_id, state, outcome,"
            " result_id, created_at, answered_at, connected_at, ended_at FROM calls"
            " WHERE campaign_id = ? ORDER BY created_at, id",
            (campaign_id,),
        )
        return [
            CallRecord(
                call_id=r[0],
                campaign_id=r[1],
                contact_id=r[2],
                number=r[3],
                attempt=r[4],
                agent_id=r[5],
                state=r[6],
                outcome=r[7],
                result_id=r[8],
                created_at=_dt(r[9]) or dt.datetime.now(dt.UTC),
                answered_at=_dt(r[10]),
                connected_at=_dt(r[11]),
                ended_at=_dt(r[12]),
            )
            for r in rows
        ]


class DncChecker:
    """Synchronous do-not-call lookups on a read-only connection of their own.

    The daemon checks a number immediately before dialling it. The lookup itself is two to
    four probes of the ``dnc_numbers`` primary key, a few microseconds each, while a query
    through ``aiosqlite`` hands the work to the connection's thread and back, which costs
    more than the probes and waits for any operation queued ahead of it. In WAL mode a
    reader never waits for the writer, so this connection answers at once from the last
    committed state, from the thread that owns it.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
        # A reader waits only while another connection recovers the WAL after a crash.
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")

    def matches(self, keys: Sequence[str], campaign_id: int | None) -> list[DncList]:
        """The committed lists (global, and the campaign's) that hold any of ``keys``."""
        if not keys:
            return []
        rows = self._db.execute(
            "SELECT DISTINCT l.id, l.name, l.campaign_id, l.numbers, l.uploaded_at"
            " FROM dnc_numbers n JOIN dnc_lists l ON l.id = n.list_id"
            f" WHERE n.number IN ({','.join('?' * len(keys))})"
            " AND (l.campaign_id IS NULL OR l.campaign_id = ?) ORDER BY l.id",
            [*keys, campaign_id if campaign_id is not None else -1],
        ).fetchall()
        return [
            DncList(r[0], r[1], r[2], r[3], _dt(r[4]) or dt.datetime.now(dt.UTC))
            for r in rows
            if not r[1].startswith("\x00")
        ]

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> DncChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _campaign(row: tuple[Any, ...]) -> Campaign:
    created = _dt(row[4])
    updated = _dt(row[5])
    assert created is not None
    assert updated is not None
    return Campaign(
        id=row[0],
        state=CampaignState(row[2]),
        settings=settings_from_json(row[1], row[3]),
        created_at=created,
        updated_at=updated,
    )


async def _require_campaign(db: aiosqlite.Connection, campaign_id: int) -> str:
    async with db.execute("SELECT state FROM campaigns WHERE id = ?", (campaign_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError(f"no campaign {campaign_id}")
    return str(row[0])


async def _require_not_running(db: aiosqlite.Connection, campaign_id: int) -> None:
    if await _require_campaign(db, campaign_id) == CampaignState.RUNNING.value:
        raise ConflictError(f"campaign {campaign_id} is running: pause or stop it first")


async def _raise_missing_or_running(db: aiosqlite.Connection, campaign_id: int) -> None:
    await _require_not_running(db, campaign_id)
    raise NotFoundError(f"no campaign {campaign_id}")  # pragma: no cover - raced delete


async def _check_agent_limit(db: aiosqlite.Connection, campaign_id: int, limit: int) -> None:
    async with db.execute(
        "SELECT count(*) FROM agent_campaigns WHERE campaign_id = ?", (campaign_id,)
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    if row[0] > limit:
        raise ConflictError(f"campaign {campaign_id} would have {row[0]} agents; at most {limit}")


def _merge_in_batch(rows: Sequence[ContactRow]) -> dict[str, ContactRow]:
    merged: dict[str, ContactRow] = {}
    for row in rows:
        prior = merged.get(row.dedupe_key)
        merged[row.dedupe_key] = row if prior is None else _merge(prior, row)
    return merged


def _merge(old: ContactRow, new: ContactRow) -> ContactRow:
    custom = {**(old.custom or {}), **{k: v for k, v in (new.custom or {}).items() if v}}
    return ContactRow(
        phone=new.phone or old.phone,
        dedupe_key=old.dedupe_key,
        first_name=new.first_name or old.first_name,
        last_name=new.last_name or old.last_name,
        email=new.email or old.email,
        company=new.company or old.company,
        account=new.account or old.account,
        owner=new.owner or old.owner,
        timezone=new.timezone or old.timezone,
        custom=custom,
    )


async def _merge_existing(
    db: aiosqlite.Connection, rows: Mapping[str, ContactRow], existing: Mapping[str, int]
) -> None:
    params = []
    for key, contact_id in existing.items():
        r = rows[key]
        params.append(
            (
                r.first_name,
                r.last_name,
                r.email,
                r.company,
                r.account,
                r.timezone,
                json.dumps(r.custom or {}, ensure_ascii=False),
                contact_id,
            )
        )
    await db.executemany(
        "UPDATE contacts SET first_name = coalesce(nullif(?1, ''), first_name),"
        " last_name = coalesce(nullif(?2, ''), last_name),"
        " email = coalesce(nullif(?3, ''), email), company = coalesce(nullif(?4, ''), company),"
        " account = coalesce(nullif(?5, ''), account),"
        " timezone = coalesce(nullif(?6, ''), timezone),"
        " custom = json_patch(custom, ?7) WHERE id = ?8",
        params,
    )
    owners = [(rows[k].owner, cid) for k, cid in existing.items() if rows[k].owner]
    if owners:
        await db.executemany("UPDATE campaign_contacts SET owner = ? WHERE contact_id = ?", owners)


async def _insert_fresh(
    db: aiosqlite.Connection, campaign_id: int, rows: Sequence[ContactRow], now: float
) -> None:
    [(max_id, max_pos)] = await db.execute_fetchall(
        "SELECT (SELECT coalesce(max(id), 0) FROM contacts),"
        " (SELECT coalesce(max(position), 0) FROM campaign_contacts WHERE campaign_id = ?)",
        (campaign_id,),
    )
    first_id = int(max_id) + 1
    first_pos = int(max_pos) + 1
    await db.executemany(
        "INSERT INTO contacts (id, phone, first_name, last_name, email, company, account,"
        " timezone, custom, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                first_id + i,
                r.phone,
                r.first_name,
                r.last_name,
                r.email,
                r.company,
                r.account,
                r.timezone,
                _encode_json(r.custom).decode() if r.custom else "{}",
                now,
            )
            for i, r in enumerate(rows)
        ],
    )
    await db.executemany(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, dedupe_key, position, owner,"
        " queue_owner) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (campaign_id, first_id + i, r.dedupe_key, first_pos + i, r.owner, r.owner)
            for i, r in enumerate(rows)
        ],
    )


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
