"""The ports: the interfaces through which the core's work reaches the outside world.

Adapters implement these ``typing.Protocol``s (``adapters/sqlite_store.py`` implements
:class:`Store`); services and the engine depend only on the protocols, so a PostgreSQL
store, say, can be added without touching them. The records here cross the boundary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dialerd.core.commands import RecordOutcome
from dialerd.core.model import (
    Agent,
    BusinessHours,
    Campaign,
    CampaignSettings,
    CampaignState,
    Contact,
    ContactFilter,
    DedupeKey,
    DncList,
    ResultCode,
    RunWindow,
    ScheduleException,
)


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A parsed, normalised contact ready to be stored (the importer's output)."""

    phone: str
    dedupe_key: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    company: str = ""
    account: str = ""
    owner: str = ""
    timezone: str = ""
    custom: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one import batch did."""

    imported: int
    merged: int


@dataclass(frozen=True, slots=True)
class ImportJob:
    """A row of the ``imports`` table: where a resumable import stands."""

    id: int
    campaign_id: int
    source: str
    fingerprint: str
    options: str
    state: str
    rows_read: int
    rows_imported: int
    rows_merged: int
    rows_rejected: int


@dataclass(frozen=True, slots=True)
class ClaimedContact:
    """A claimed contact with its attempts here and its number's recent calls anywhere.

    History entries are (epoch seconds, outcome), oldest first.
    """

    contact: Contact
    attempts: tuple[tuple[float, str], ...]
    number_history: tuple[tuple[float, str], ...]


@dataclass(frozen=True, slots=True)
class OpenCall:
    """A call the store has not seen end."""

    call_id: str
    campaign_id: int
    contact_id: int
    number: str
    attempt: int
    state: str
    server: str | None
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One row of call history."""

    call_id: str
    campaign_id: int
    contact_id: int
    number: str
    attempt: int
    agent_id: str | None
    state: str
    outcome: str | None
    result_id: int | None
    created_at: dt.datetime
    answered_at: dt.datetime | None
    connected_at: dt.datetime | None
    ended_at: dt.datetime | None


class Store(Protocol):
    """Everything dialerd keeps: campaigns, schedules, contacts, lists, results, agents.

    Each method is one atomic operation: it happens whole or raises and changes nothing.
    """

    async def close(self) -> None:
        """Close the connection; pending writes were committed by their operations."""
        ...

    async def schema_version(self) -> int:
        """The database's migration version."""
        ...

    async def create_campaign(
        self, settings: CampaignSettings, *, now: dt.datetime, max_campaigns: int
    ) -> Campaign:
        """Insert a campaign (state ``inactive``); refuse a taken name or one too many."""
        ...

    async def get_campaign(self, ref: int | str) -> Campaign:
        """A campaign by id or by exact name."""
        ...

    async def list_campaigns(self) -> list[Campaign]:
        """Every campaign, by id."""
        ...

    async def update_campaign(
        self, campaign_id: int, settings: CampaignSettings, *, now: dt.datetime
    ) -> Campaign:
        """Replace a campaign's settings unless it is running (checked in the same write)."""
        ...

    async def set_campaign_state(
        self,
        campaign_id: int,
        expected: CampaignState,
        new: CampaignState,
        *,
        now: dt.datetime,
    ) -> Campaign:
        """Move a campaign from ``expected`` to ``new``; a concurrent change is a conflict."""
        ...

    async def delete_campaign(self, campaign_id: int) -> None:
        """Delete a stopped campaign with its lists, schedules, windows and memberships."""
        ...

    async def set_business_hours(self, campaign_id: int, hours: Iterable[BusinessHours]) -> None:
        """Replace the weekly schedule; refused while the campaign runs."""
        ...

    async def business_hours(self, campaign_id: int) -> list[BusinessHours]:
        """The weekly schedule, by weekday and start."""
        ...

    async def put_exception(self, campaign_id: int, exc: ScheduleException) -> None:
        """Add or replace the exception for one date."""
        ...

    async def delete_exception(self, campaign_id: int, day: dt.date) -> None:
        """Remove the exception for one date."""
        ...

    async def exceptions(self, campaign_id: int) -> list[ScheduleException]:
        """Dated exceptions, by date."""
        ...

    async def add_run_window(
        self, campaign_id: int, start: dt.date, end: dt.date, note: str = ""
    ) -> RunWindow:
        """Add a dated batch (inclusive) during which the campaign may dial."""
        ...

    async def delete_run_window(self, campaign_id: int, window_id: int) -> None:
        """Remove a run window."""
        ...

    async def run_windows(self, campaign_id: int) -> list[RunWindow]:
        """The run windows, by start date."""
        ...

    async def add_contacts(
        self,
        campaign_id: int,
        rows: Sequence[ContactRow],
        *,
        now: dt.datetime,
        import_id: int | None = None,
        progress: Mapping[str, int] | None = None,
    ) -> BatchResult:
        """Add a batch of contacts to a campaign in one transaction."""
        ...

    async def contacts(
        self,
        campaign_id: int,
        f: ContactFilter = ContactFilter(),  # noqa: B008 - frozen, safe to share
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Contact]:
        """The campaign's contacts matching ``f``, in list order."""
        ...

    def iter_contacts(
        self,
        campaign_id: int,
        f: ContactFilter = ContactFilter(),  # noqa: B008 - frozen, safe to share
        *,
        page: int = 5000,
    ) -> AsyncIterator[Contact]:
        """Stream the campaign's matching contacts in list order, a page at a time."""
        ...

    async def count_contacts(
        self,
        campaign_id: int,
        f: ContactFilter = ContactFilter(),  # noqa: B008 - frozen, safe to share
    ) -> int:
        """How many of the campaign's contacts match ``f``."""
        ...

    async def bulk_update(
        self, campaign_id: int, f: ContactFilter, assignments: Mapping[str, Any]
    ) -> int:
        """Set membership columns (``owner``, ``status``, ``trashed``) on matching contacts."""
        ...

    async def remove_contacts(self, campaign_id: int, f: ContactFilter, *, invert: bool) -> int:
        """Remove matching memberships (or, with ``invert``, every one not matching)."""
        ...

    async def copy_contacts(
        self, source_id: int, f: ContactFilter, target_id: int, *, target_key: DedupeKey
    ) -> BatchResult:
        """Add the matching contacts of one campaign to another, as new, unattempted members."""
        ...

    async def claim_next(
        self, campaign_id: int, *, now: dt.datetime, claimer: str
    ) -> Contact | None:
        """Atomically take the next dialable contact of a campaign, or ``None``."""
        ...

    async def start_import(
        self, campaign_id: int, source: str, fingerprint: str, options: str, *, now: dt.datetime
    ) -> ImportJob:
        """Record a new import, or return the unfinished one for the same file and options."""
        ...

    async def get_import(self, import_id: int) -> ImportJob:
        """An import's record."""
        ...

    async def finish_import(
        self, import_id: int, *, now: dt.datetime, rows_read: int, rows_rejected: int
    ) -> ImportJob:
        """Mark an import complete."""
        ...

    async def create_dnc_list(
        self, name: str, campaign_id: int | None, *, now: dt.datetime, replace_existing: bool
    ) -> tuple[int, int | None]:
        """Create a list; returns (new id, id of the list it will replace, if any)."""
        ...

    async def add_dnc_numbers(self, list_id: int, numbers: Sequence[str]) -> None:
        """Add a batch of normalised numbers to a list being uploaded."""
        ...

    async def commit_dnc_list(
        self, list_id: int, name: str, replaces: int | None, *, now: dt.datetime
    ) -> DncList:
        """Give an uploaded list its name, dropping the list it replaces, in one step."""
        ...

    async def abort_dnc_list(self, list_id: int) -> None:
        """Drop a list whose upload failed."""
        ...

    async def get_dnc_list(self, list_id: int) -> DncList:
        """A list by id."""
        ...

    async def dnc_lists(self, campaign_id: int | None = None) -> list[DncList]:
        """Lists: all of them, or the global ones plus one campaign's."""
        ...

    async def delete_dnc_list(self, list_id: int) -> None:
        """Delete a list and its numbers."""
        ...

    async def dnc_matches(self, keys: Sequence[str], campaign_id: int | None) -> list[DncList]:
        """The committed lists (global, and the campaign's) that hold any of ``keys``."""
        ...

    async def add_result(self, r: ResultCode) -> ResultCode:
        """Add a result (disposition) to a campaign; the name is unique in the campaign."""
        ...

    async def update_result(self, r: ResultCode) -> ResultCode:
        """Replace a result's fields."""
        ...

    async def delete_result(self, campaign_id: int, result_id: int) -> None:
        """Remove a result."""
        ...

    async def results(self, campaign_id: int) -> list[ResultCode]:
        """A campaign's results in display order."""
        ...

    async def add_agent(self, agent: Agent, *, now: dt.datetime) -> Agent:
        """Add an agent; ids are unique."""
        ...

    async def agents(self, campaign_id: int | None = None) -> list[Agent]:
        """All agents, or those assigned to a campaign."""
        ...

    async def get_agent(self, agent_id: str) -> Agent:
        """An agent by id."""
        ...

    async def delete_agent(self, agent_id: str) -> None:
        """Remove an agent and its assignments (call history keeps its id)."""
        ...

    async def assign_agents(
        self, campaign_id: int, agent_ids: Sequence[str], *, assigned: bool, limit: int | None
    ) -> None:
        """Assign agents to (or remove them from) a campaign, within ``limit`` agents."""
        ...

    async def copy_assignments(self, source_id: int, target_id: int, *, limit: int | None) -> int:
        """Give the target campaign every agent of the source; returns how many were added."""
        ...

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
        """Atomically claim up to ``count`` due contacts, each with its call history."""
        ...

    async def next_due(self, campaign_id: int) -> dt.datetime | None:
        """When the campaign's next waiting contact becomes due, if it has one."""
        ...

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
        ...

    async def record_call_state(
        self, call_id: str, state: str, *, server: str | None = None, agent_id: str | None = None
    ) -> None:
        """Note a call's progress (answered, connected) so a restart can reconcile it."""
        ...

    async def record_outcome(self, o: RecordOutcome) -> None:
        """Close a call and schedule (or finish) its contact, in one transaction."""
        ...

    async def recount_abandon(self, call_id: str, counted_human: float) -> None:
        """Store how much an abandoned call nobody heard now counts as a person."""
        ...

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
        ...

    async def record_disposition(
        self, call_id: str, result_id: int | None, memo: str, *, human: bool | None = None
    ) -> None:
        """Attach the agent's result to a call, with its verdict on who answered if said."""
        ...

    async def open_calls(self) -> list[OpenCall]:
        """Calls not yet ended (after a crash: the ones to reconcile)."""
        ...

    async def release_claims(self, campaign_id: int, contact_ids: Sequence[int]) -> int:
        """Return these claimed contacts of a campaign to the queue (claimed, not dialled)."""
        ...

    async def release_stale_claims(self) -> int:
        """Return claimed contacts without an open call to the queue (a crash before dial)."""
        ...

    async def answer_history(
        self, campaign_id: int, *, since: dt.datetime
    ) -> list[tuple[float, str, float | None]]:
        """(epoch seconds, outcome, counted as a person) of the campaign's live answers since
        ``since``, oldest first: ``answered_agent`` at the connection, ``abandoned`` at the
        call's end with how much the pacer counted it as a person (None: not recorded)."""
        ...

    async def calls_of(self, campaign_id: int) -> list[CallRecord]:
        """A campaign's call history, oldest first."""
        ...

    async def recycle(self, campaign_id: int) -> int:
        """Start the list again: skipped records return and ownership changes apply."""
        ...

    async def owner_problems(self, campaign_id: int) -> list[tuple[int, str]]:
        """Waiting contacts whose owner is no agent assigned to the campaign (by id or email)."""
        ...
