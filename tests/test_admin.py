"""Administration services: campaign rules, schedules, bulk actions, results, agents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dialerd import admin
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import LimitsConfig
from dialerd.core.model import (
    Agent,
    BusinessHours,
    CampaignState,
    ContactFilter,
    ContactStatus,
    DialMode,
)
from dialerd.errors import ConflictError, NotFoundError, UsageError
from dialerd.ports import ContactRow
from tests.conftest import dump

LIMITS = LimitsConfig(max_campaigns=5, agents_per_owned_campaign=2)
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


async def test_create_applies_changes_and_validates(store: SqliteStore) -> None:
    """Settings given as text are converted and checked; the campaign starts inactive."""
    c = await admin.create_campaign(
        store, "Renewals", {"dial_mode": "power", "max_attempts": "5", "power_ratio": "2.5"}, LIMITS
    )
    assert c.state is CampaignState.INACTIVE
    assert (c.settings.dial_mode, c.settings.max_attempts, c.settings.power_ratio) == (
        DialMode.POWER,
        5,
        2.5,
    )


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("", {}, "name: must be 1 to 100"),
        ("x" * 101, {}, "name: must be 1 to 100"),
        ("ok", {"description": "d" * 501}, "description: must be at most 500"),
        ("ok", {"max_attempts": "0"}, "max_attempts: must be at least 1"),
        ("ok", {"max_attempts": "many"}, "max_attempts: 'many' is not a valid whole number"),
        ("ok", {"dial_mode": "robot"}, "dial_mode: 'robot' is not a valid dial mode"),
        ("ok", {"ring_timeout_s": "10"}, "ring_timeout_s: must be 15 to 120"),
        ("ok", {"timezone": "Mars/Base"}, "timezone: 'Mars/Base' is not a known"),
        ("ok", {"agent_owned": "yes"}, "agent_owned: only preview campaigns"),
        ("ok", {"colour": "red"}, "colour: not a campaign setting"),
        ("ok", {"start_date": "2026-02-01", "end_date": "2026-01-01"}, "end_date: must not be"),
        ("ok", {"caller_id": "12-34"}, "caller_id: must be digits"),
    ],
)
async def test_create_refuses_bad_input_and_stores_nothing(
    store: SqliteStore, db_path: object, name: str, changes: dict[str, str], message: str
) -> None:
    """Each broken rule is named, and no campaign is stored."""
    with pytest.raises(UsageError, match=message):
        await admin.create_campaign(store, name, changes, LIMITS)
    assert await store.list_campaigns() == []


async def test_the_state_table_allows_only_legal_moves(store: SqliteStore) -> None:
    """Campaigns move inactive → active → running → paused → inactive, and nothing else."""
    c = await admin.create_campaign(store, "c", {}, LIMITS)
    with pytest.raises(ConflictError, match="cannot start a campaign that is inactive"):
        await admin.change_state(store, c.id, "start")
    for command, state in [
        ("activate", "active"),
        ("start", "running"),
        ("pause", "paused"),
        ("start", "running"),
        ("stop", "active"),
        ("deactivate", "inactive"),
    ]:
        c = await admin.change_state(store, c.id, command)
        assert c.state.value == state
    with pytest.raises(ConflictError):
        await admin.change_state(store, c.id, "deactivate")


async def test_passivating_keeps_contacts_attempts_and_results(store: SqliteStore) -> None:
    """Deactivate then reactivate: contacts, attempts, claims and results are untouched."""
    c = await admin.create_campaign(store, "c", {}, LIMITS)
    await store.add_contacts(
        c.id, [ContactRow(phone=f"+1212555000{i}", dedupe_key=str(i)) for i in range(3)], now=NOW
    )
    await admin.add_result(store, c.id, "Sale", contact=True, complete=True, success=True)
    await admin.change_state(store, c.id, "activate")
    await store.claim_next(c.id, now=NOW, claimer="x")
    before = await store.contacts(c.id)
    await admin.change_state(store, c.id, "deactivate")
    await admin.change_state(store, c.id, "activate")
    assert await store.contacts(c.id) == before
    assert [r.name for r in await store.results(c.id)] == ["Sale"]


async def test_running_campaigns_refuse_edits_and_deletion(
    store: SqliteStore, db_path: object
) -> None:
    """A running campaign must be paused or stopped before it changes."""
    c = await admin.create_campaign(store, "c", {}, LIMITS)
    await admin.change_state(store, c.id, "activate")
    await admin.change_state(store, c.id, "start")
    with pytest.raises(ConflictError, match="running: pause or stop it first"):
        await admin.edit_campaign(store, "c", {"max_attempts": 9})
    with pytest.raises(ConflictError, match="running"):
        await admin.delete_campaign(store, "c")
    with pytest.raises(ConflictError, match="running"):
        await admin.set_hours(store, "c", ["mon 09:00-17:00"])
    await admin.change_state(store, c.id, "pause")
    edited = await admin.edit_campaign(store, "c", {"max_attempts": 9})
    assert edited.settings.max_attempts == 9


async def test_an_agent_owned_preview_campaign_keeps_its_mode(store: SqliteStore) -> None:
    """The dial mode of an agent-owned preview campaign is fixed at creation."""
    await admin.create_campaign(store, "own", {"dial_mode": "preview", "agent_owned": True}, LIMITS)
    with pytest.raises(ConflictError, match="keeps its mode"):
        await admin.edit_campaign(store, "own", {"dial_mode": "progressive"})
    with pytest.raises(ConflictError, match="fixed when the campaign is created"):
        await admin.edit_campaign(store, "own", {"agent_owned": False})


def test_hours_parse_ranges_lists_and_midnight() -> None:
    """Day ranges, day lists and a 24:00 end become weekly intervals."""
    hours = admin.parse_hours(["mon-wed 09:00-18:00", "sat,sun 20:00-24:00"])
    assert [(h.weekday, h.start.hour, h.end.hour) for h in hours] == [
        (0, 9, 18),
        (1, 9, 18),
        (2, 9, 18),
        (5, 20, 0),
        (6, 20, 0),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("monday 9-5", "write it like"),
        ("mon 18:00-09:00", "is empty"),
        ("fri-mon 09:00-10:00", "runs backwards"),
        ("mon 25:00-26:00", "not a time of day"),
        ("xyz 09:00-10:00", "days are mon"),
    ],
)
def test_bad_hours_are_explained(spec: str, message: str) -> None:
    """A malformed interval is refused with the reason."""
    with pytest.raises(UsageError, match=message):
        admin.parse_hours([spec])


def test_overlapping_hours_are_refused() -> None:
    """Two intervals overlapping on one day are a mistake, not a union."""
    with pytest.raises(UsageError, match="mon intervals overlap"):
        admin.parse_hours(["mon 09:00-12:00", "mon 11:00-13:00"])


async def test_hours_replace_the_week(store: SqliteStore) -> None:
    """Setting hours replaces the previous schedule whole."""
    c = await admin.create_campaign(store, "c", {}, LIMITS)
    await admin.set_hours(store, c.id, ["mon-fri 09:00-18:00"])
    await admin.set_hours(store, c.id, ["sat 10:00-14:00"])
    assert await store.business_hours(c.id) == [BusinessHours(5, dt.time(10), dt.time(14))]


async def test_public_holidays_come_from_the_country_and_region(store: SqliteStore) -> None:
    """The holidays package supplies the dates, with the campaign's subdivision."""
    c = await admin.create_campaign(
        store, "c", {"holiday_country": "US", "holiday_subdivision": "CA"}, LIMITS
    )
    days = admin.public_holidays(c, 2026)
    assert days[dt.date(2026, 7, 4)] == "Independence Day"
    assert dt.date(2026, 3, 31) in days  # César Chávez Day, California only
    jp = await admin.create_campaign(store, "jp", {"holiday_country": "JP"}, LIMITS)
    assert dt.date(2026, 1, 1) in admin.public_holidays(jp, 2026)


async def test_an_unknown_holiday_country_is_explained(store: SqliteStore) -> None:
    """A country the holidays package does not know is a clear error."""
    c = await admin.create_campaign(store, "c", {"holiday_country": "QQ"}, LIMITS)
    with pytest.raises(UsageError, match="no public holiday calendar for 'QQ'"):
        admin.public_holidays(c, 2026)


async def seeded(store: SqliteStore) -> int:
    """A campaign with five contacts, two owned by agent a1, and agents a1 and a2."""
    c = await admin.create_campaign(store, "c", {}, LIMITS)
    for agent_id in ("a1", "a2"):
        await admin.add_agent(
            store, Agent(agent_id, agent_id, f"PJSIP/{agent_id}", f"{agent_id}@example.com")
        )
    contacts = [
        ContactRow(
            phone=f"+1212555010{i}",
            dedupe_key=f"+1212555010{i}",
            owner="a1" if i < 2 else "",
            custom={"tier": "gold" if i % 2 else "silver"},
        )
        for i in range(5)
    ]
    await store.add_contacts(c.id, contacts, now=NOW)
    return c.id


async def test_filters_combine(store: SqliteStore) -> None:
    """Owner, custom field and status filters narrow the set together."""
    cid = await seeded(store)
    gold = ContactFilter(custom={"tier": "gold"})
    assert [c.phone[-1] for c in await store.contacts(cid, gold)] == ["1", "3"]
    owned_gold = ContactFilter(owner="a1", custom={"tier": "gold"})
    assert [c.phone[-1] for c in await store.contacts(cid, owned_gold)] == ["1"]
    assert await store.count_contacts(cid, ContactFilter(unowned=True)) == 3
    assert await store.count_contacts(cid, ContactFilter(never_called=True)) == 5
    assert await store.count_contacts(cid, ContactFilter(status=frozenset())) == 0


async def test_reassign_set_owner_and_unassign(store: SqliteStore) -> None:
    """Reassign moves every record of one owner; set-owner accepts an email; unassign clears."""
    cid = await seeded(store)
    moved = await admin.bulk_action(store, cid, "reassign", ContactFilter(owner="a1"), owner="a2")
    assert moved == 2
    assert await store.count_contacts(cid, ContactFilter(owner="a2")) == 2
    n = await admin.bulk_action(
        store, cid, "set-owner", ContactFilter(unowned=True), owner="a1@example.com"
    )
    assert n == 3
    assert await store.count_contacts(cid, ContactFilter(owner="a1")) == 3
    await admin.bulk_action(store, cid, "unassign", ContactFilter())
    assert await store.count_contacts(cid, ContactFilter(unowned=True)) == 5


async def test_set_owner_to_an_unknown_agent_changes_nothing(
    store: SqliteStore, db_path: object
) -> None:
    """An owner that is no agent is refused before anything is written."""
    cid = await seeded(store)
    before = await store.contacts(cid)
    with pytest.raises(NotFoundError, match="no agent with id or email 'ghost'"):
        await admin.bulk_action(store, cid, "set-owner", ContactFilter(), owner="ghost")
    assert await store.contacts(cid) == before


async def test_assigning_a_whole_account(store: SqliteStore) -> None:
    """Every contact of one account goes to one agent in a single action."""
    c = await admin.create_campaign(store, "acct", {}, LIMITS)
    await admin.add_agent(store, Agent("a1", "A", "PJSIP/1"))
    await store.add_contacts(
        c.id,
        [
            ContactRow(phone=f"+1212555020{i}", dedupe_key=str(i), account="ACME" if i < 2 else "")
            for i in range(3)
        ],
        now=NOW,
    )
    n = await admin.bulk_action(store, c.id, "set-owner", ContactFilter(account="ACME"), owner="a1")
    assert n == 2
    assert [x.owner for x in await store.contacts(c.id)] == ["a1", "a1", ""]


async def test_trash_and_restore(store: SqliteStore) -> None:
    """Trashed contacts leave listings and claims, and come back when restored."""
    cid = await seeded(store)
    assert await admin.bulk_action(store, cid, "trash", ContactFilter(owner="a1")) == 2
    assert await store.count_contacts(cid) == 3
    assert await store.count_contacts(cid, ContactFilter(trashed=True)) == 2
    assert await admin.bulk_action(store, cid, "restore", ContactFilter(owner="a1")) == 2
    assert await store.count_contacts(cid) == 5


async def test_remove_and_keep_only(store: SqliteStore) -> None:
    """Remove drops the matching memberships; keep drops all the others; records stay."""
    cid = await seeded(store)
    assert await admin.bulk_action(store, cid, "remove", ContactFilter(owner="a1")) == 2
    assert await admin.bulk_action(store, cid, "keep", ContactFilter(custom={"tier": "gold"})) == 2
    assert [c.phone[-1] for c in await store.contacts(cid)] == ["3"]
    assert await store._one("SELECT count(*) FROM contacts") == (5,)


async def test_copy_adds_new_members_and_merges_known_ones(store: SqliteStore) -> None:
    """Copy adds matching contacts to another campaign, fresh; duplicates count as merged."""
    cid = await seeded(store)
    other = await admin.create_campaign(store, "other", {}, LIMITS)
    await store.claim_next(cid, now=NOW, claimer="x")
    first = await admin.bulk_action(store, cid, "copy", ContactFilter(owner="a1"), target="other")
    assert not isinstance(first, int)
    assert (first.imported, first.merged) == (2, 0)
    again = await admin.bulk_action(store, cid, "copy", ContactFilter(), target=other.id)
    assert not isinstance(again, int)
    assert (again.imported, again.merged) == (3, 2)
    copied = await store.contacts(other.id)
    assert len(copied) == 5
    assert {c.status for c in copied} == {ContactStatus.NEW}
    assert [c.owner for c in copied[:2]] == ["a1", "a1"]


async def test_set_status_refuses_claimed_and_unknown(store: SqliteStore) -> None:
    """Only the dialer claims; other statuses can be set in bulk."""
    cid = await seeded(store)
    with pytest.raises(UsageError, match="only the dialer claims"):
        await admin.bulk_action(store, cid, "set-status", ContactFilter(), status="claimed")
    with pytest.raises(UsageError, match="status must be one of"):
        await admin.bulk_action(store, cid, "set-status", ContactFilter(), status="gone")
    assert await admin.bulk_action(store, cid, "set-status", ContactFilter(), status="done") == 5
    assert await store.claim_next(cid, now=NOW, claimer="x") is None


async def test_results_order_and_names(store: SqliteStore) -> None:
    """Results keep their flags and display order; names are unique and at most 60 chars."""
    c = await admin.create_campaign(store, "c", {}, LIMITS)
    await admin.add_result(store, c.id, "Sale", contact=True, complete=True, success=True)
    no = await admin.add_result(
        store, c.id, "No interest", contact=True, complete=True, success=False
    )
    await admin.add_result(
        store, c.id, "First", contact=False, complete=False, success=False, order=0
    )
    assert [r.name for r in await store.results(c.id)] == ["First", "Sale", "No interest"]
    with pytest.raises(ConflictError, match="has a result 'Sale'"):
        await admin.add_result(store, c.id, "Sale", contact=False, complete=False, success=False)
    with pytest.raises(UsageError, match="1 to 60"):
        await admin.add_result(store, c.id, "x" * 61, contact=False, complete=False, success=False)
    edited = await admin.edit_result(
        store, c.id, no.id, {"memo": "do not retry", "is_success": False}
    )
    assert edited.memo == "do not retry"


async def test_agents_assignments_and_the_owned_campaign_cap(
    store: SqliteStore, db_path: object
) -> None:
    """Agents are assigned and copied; an agent-owned campaign takes at most the cap."""
    for i in range(3):
        await admin.add_agent(store, Agent(f"a{i}", f"A{i}", f"PJSIP/10{i}"))
    src = await admin.create_campaign(store, "src", {}, LIMITS)
    await admin.assign_agents(store, src.id, ["a0", "a1", "a2"], assigned=True, limits=LIMITS)
    dst = await admin.create_campaign(store, "dst", {}, LIMITS)
    assert await admin.copy_assignments(store, "src", "dst", LIMITS) == 3
    assert [a.id for a in await store.agents(dst.id)] == ["a0", "a1", "a2"]
    owned = await admin.create_campaign(
        store, "owned", {"dial_mode": "preview", "agent_owned": True}, LIMITS
    )
    with pytest.raises(ConflictError, match="at most 2"):
        await admin.copy_assignments(store, "src", "owned", LIMITS)
    assert await store.agents(owned.id) == []
    with pytest.raises(NotFoundError, match="no agent 'zz'"):
        await admin.assign_agents(store, src.id, ["zz"], assigned=True, limits=LIMITS)


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        (Agent("bad id", "x", "PJSIP/1"), "id: 1 to 32"),
        (Agent("ok", "x", "1001"), "endpoint: a dial string"),
    ],
)
async def test_bad_agents_are_refused(store: SqliteStore, agent: Agent, message: str) -> None:
    """An agent id must be dialplan-safe and its endpoint a dial string."""
    with pytest.raises(UsageError, match=message):
        await admin.add_agent(store, agent)
    assert await store.agents() == []


async def test_a_failed_operation_leaves_the_file_byte_identical(
    store: SqliteStore, db_path: object
) -> None:
    """Refusals happen before or inside the transaction, so nothing of them is written."""
    cid = await seeded(store)
    path = Path(str(db_path))
    before = dump(path)
    for attempt in (
        admin.create_campaign(store, "c", {}, LIMITS),
        admin.bulk_action(store, cid, "copy", ContactFilter(), target="missing"),
        admin.assign_agents(store, cid, ["a1", "nobody"], assigned=True, limits=LIMITS),
        admin.edit_campaign(store, cid, {"max_attempts": -1}),
    ):
        with pytest.raises(UsageError):
            await attempt
    assert dump(path) == before
