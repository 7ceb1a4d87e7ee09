"""The store operations the engine uses: batch claims, attempts, outcomes, recovery."""

from __future__ import annotations

import datetime as dt

from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.core.commands import RecordOutcome
from dialerd.core.compliance import Outcome
from dialerd.core.model import (
    Agent,
    CampaignSettings,
    CampaignState,
    ContactFilter,
    ContactStatus,
    DedupeKey,
)
from dialerd.ports import ContactRow

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


async def seeded(store: SqliteStore, owners: list[str] | None = None) -> int:
    """A campaign with one contact per owner given (or four unowned ones)."""
    cid = (await store.create_campaign(CampaignSettings("c"), now=NOW, max_campaigns=9)).id
    owners = owners if owners is not None else ["", "", "", ""]
    await store.add_contacts(
        cid,
        [
            ContactRow(phone=f"+1212555010{i}", dedupe_key=str(i), owner=o)
            for i, o in enumerate(owners)
        ],
        now=NOW,
    )
    return cid


async def test_a_batch_claim_takes_due_contacts_in_order(store: SqliteStore) -> None:
    """Up to ``count`` contacts are claimed at once, in list order, with empty history."""
    cid = await seeded(store)
    got = await store.claim_batch(cid, 3, now=NOW, claimer="n1")
    assert [c.contact.phone[-1] for c in got] == ["0", "1", "2"]
    assert got[0].attempts == ()
    assert [
        c.contact.phone[-1] for c in await store.claim_batch(cid, 3, now=NOW, claimer="n1")
    ] == ["3"]
    assert await store.claim_batch(cid, 3, now=NOW, claimer="n1") == []


async def test_preview_claims_serve_the_owner_first_and_never_anothers(store: SqliteStore) -> None:
    """An agent gets its own contacts before unowned ones, and never someone else's."""
    cid = await seeded(store, ["", "bob", "alice", ""])
    first = await store.claim_batch(
        cid, 1, now=NOW, claimer="n", owner=("alice", "alice@example.com")
    )
    assert first[0].contact.owner == "alice"
    rest = await store.claim_batch(
        cid, 5, now=NOW, claimer="n", owner=("alice", "alice@example.com")
    )
    assert [c.contact.owner for c in rest] == ["", ""]


async def test_the_contact_lock_spans_campaigns(store: SqliteStore) -> None:
    """A contact claimed in one campaign is not claimed in another within the lock time."""
    a = await seeded(store)
    b = (await store.create_campaign(CampaignSettings("b"), now=NOW, max_campaigns=9)).id
    await store.copy_contacts(a, ContactFilter(), b, target_key=DedupeKey.NUMBER)
    taken = await store.claim_batch(a, 1, now=NOW, claimer="n")
    again = await store.claim_batch(b, 4, now=NOW, claimer="n", lock_s=300)
    assert taken[0].contact.id not in {c.contact.id for c in again}
    assert len(again) == 3


async def test_outcomes_schedule_or_finish_the_contact(store: SqliteStore) -> None:
    """A busy outcome sets the next attempt; a final one finishes; history comes back."""
    cid = await seeded(store, [""])
    (c,) = await store.claim_batch(cid, 1, now=NOW, claimer="n")
    await store.record_attempt("c1", cid, c.contact.id, c.contact.phone, 1, agent_id=None, at=NOW)
    retry = NOW + dt.timedelta(minutes=10)
    await store.record_outcome(
        RecordOutcome(
            "c1", cid, c.contact.id, Outcome.BUSY, None, NOW, None, None, retry_at=retry, reason=5
        )
    )
    (after,) = await store.contacts(cid)
    assert (after.status, after.attempts, after.last_result) == (ContactStatus.RETRY, 1, "busy")
    assert await store.claim_batch(cid, 1, now=NOW, claimer="n") == []
    assert await store.next_due(cid) == retry
    (again,) = await store.claim_batch(cid, 1, now=retry, claimer="n")
    assert again.attempts == ((NOW.timestamp(), "busy"),)
    assert again.number_history == ((NOW.timestamp(), "busy"),)
    await store.record_attempt(
        "c2", cid, c.contact.id, c.contact.phone, 2, agent_id="1001", at=retry
    )
    await store.record_outcome(
        RecordOutcome(
            "c2", cid, c.contact.id, Outcome.ANSWERED_AGENT, "1001", retry, None, None, final=True
        )
    )
    await store.record_disposition("c2", 7, "sold")
    (done,) = await store.contacts(cid)
    assert done.status is ContactStatus.DONE
    history = await store.calls_of(cid)
    assert [(h.call_id, h.outcome, h.result_id) for h in history] == [
        ("c1", "busy", None),
        ("c2", "answered_agent", 7),
    ]


async def test_refusals_are_recorded_and_release_the_contact(store: SqliteStore) -> None:
    """A DNC refusal finishes the contact as dnc_blocked; a timing refusal makes it due later."""
    cid = await seeded(store, ["", ""])
    a, b = await store.claim_batch(cid, 2, now=NOW, claimer="n")
    await store.record_refusal(cid, a.contact.id, reason="dnc", final=True, retry_at=None, at=NOW)
    later = NOW + dt.timedelta(hours=2)
    await store.record_refusal(
        cid, b.contact.id, reason="local_hours", final=False, retry_at=later, at=NOW
    )
    first, second = await store.contacts(cid)
    assert (first.status, first.last_result) == (ContactStatus.DONE, "dnc_blocked")
    assert second.status is ContactStatus.RETRY
    assert await store._one("SELECT count(*) FROM refusals") == (2,)
    (blocked,) = await store.calls_of(cid)
    assert (blocked.contact_id, blocked.outcome, blocked.attempt) == (
        a.contact.id,
        "dnc_blocked",
        0,
    )


async def test_recovery_finds_open_calls_and_frees_undialled_claims(store: SqliteStore) -> None:
    """After a crash: open calls are listed; claims that never became calls are released."""
    cid = await seeded(store, ["", ""])
    a, _b = await store.claim_batch(cid, 2, now=NOW, claimer="n")
    await store.record_attempt("c1", cid, a.contact.id, a.contact.phone, 1, agent_id=None, at=NOW)
    await store.record_call_state("c1", "answered", server="pbx1")
    (open_call,) = await store.open_calls()
    assert (open_call.call_id, open_call.state, open_call.server) == ("c1", "answered", "pbx1")
    assert await store.release_stale_claims() == 1
    statuses = [c.status for c in await store.contacts(cid)]
    assert statuses == [ContactStatus.CLAIMED, ContactStatus.RETRY]


async def test_ownership_changes_wait_for_a_recycle(store: SqliteStore) -> None:
    """A reassignment made while the list runs applies once the campaign is recycled."""
    cid = await seeded(store, ["bob", ""])
    await store.set_campaign_state(cid, CampaignState.INACTIVE, CampaignState.ACTIVE, now=NOW)
    await store.set_campaign_state(cid, CampaignState.ACTIVE, CampaignState.RUNNING, now=NOW)
    await store.bulk_update(cid, ContactFilter(owner="bob"), {"owner": "alice"})
    got = await store.claim_batch(cid, 5, now=NOW, claimer="n", owner=("alice",))
    assert [c.contact.phone[-1] for c in got] == ["1"]  # bob's record is still bob's
    await store.record_refusal(
        cid, got[0].contact.id, reason="skipped", final=False, retry_at=None, at=NOW
    )
    assert await store.recycle(cid) == 2
    again = await store.claim_batch(cid, 5, now=NOW, claimer="n", owner=("alice",))
    assert [c.contact.phone[-1] for c in again] == ["0", "1"]


async def test_owners_that_are_no_assigned_agent_are_reported(store: SqliteStore) -> None:
    """Records owned by an unknown or unassigned agent are listed as problems."""
    cid = await seeded(store, ["a1", "a1@example.com", "ghost", "a2", ""])
    await store.add_agent(Agent("a1", "A", "PJSIP/1", "a1@example.com"), now=NOW)
    await store.add_agent(Agent("a2", "B", "PJSIP/2"), now=NOW)
    await store.assign_agents(cid, ["a1"], assigned=True, limit=None)
    problems = await store.owner_problems(cid)
    assert [owner for _, owner in problems] == ["ghost", "a2"]
