"""A restarted service starts a predictive campaign with the abandons already in the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import cast

import pytest
import structlog
from structlog.testing import capture_logs

from dialerd.adapters.ami_pool import AmiPool
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import Config
from dialerd.core import events as ev
from dialerd.core.commands import RecordOutcome, RecountAbandon
from dialerd.core.compliance import Outcome
from dialerd.core.model import CampaignSettings, CampaignState, DialMode
from dialerd.core.pacing import PredictivePacer
from dialerd.ports import ContactRow
from dialerd.service import Service

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """Info lines reach ``capture_logs`` whatever level an earlier test configured."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


async def running_campaign(store: SqliteStore, mode: DialMode, contacts: int) -> int:
    """A running campaign of ``mode`` with ``contacts`` contacts."""
    cid = (
        await store.create_campaign(CampaignSettings("c", dial_mode=mode), now=NOW, max_campaigns=9)
    ).id
    await store.add_contacts(
        cid,
        [ContactRow(phone=f"+1212555{i:04d}", dedupe_key=str(i)) for i in range(contacts)],
        now=NOW,
    )
    await store.set_campaign_state(cid, CampaignState.INACTIVE, CampaignState.RUNNING, now=NOW)
    return cid


async def earlier_run(
    store: SqliteStore, cid: int, outcomes: list[Outcome], *, counted: float | None = None
) -> None:
    """Calls of a previous run, one per contact, ended with ``outcomes`` in the last hours;
    each abandon recorded as ``counted`` of a person by the pacer (None: not recorded)."""
    for i, (contact, outcome) in enumerate(zip(await store.contacts(cid), outcomes, strict=False)):
        placed = NOW - dt.timedelta(hours=5, minutes=-i)
        await store.record_attempt(
            f"call{i}", cid, contact.id, contact.phone, 1, agent_id=None, at=placed
        )
        connected = placed + dt.timedelta(seconds=12)
        await store.record_outcome(
            RecordOutcome(
                f"call{i}",
                cid,
                contact.id,
                outcome,
                "1001" if outcome is Outcome.ANSWERED_AGENT else None,
                placed + dt.timedelta(seconds=90),
                placed + dt.timedelta(seconds=10),
                connected if outcome is Outcome.ANSWERED_AGENT else None,
                counted_human=counted if outcome is Outcome.ABANDONED else None,
            )
        )


def service(store: SqliteStore) -> Service:
    """A service on the store whose clocks stand still; no AMI server is needed to start."""
    return Service(Config(), store, cast(AmiPool, object()), clock=lambda: 500.0, wall=lambda: NOW)


def window(s: Service, cid: int) -> tuple[float, float]:
    """Live answers and abandons the campaign's pacer counts."""
    pacer = s.dialer.campaigns[cid].pacer
    assert isinstance(pacer, PredictivePacer)
    return pacer.window.live, pacer.window.abandoned


async def test_a_restart_starts_the_pacer_with_the_stored_abandons(store: SqliteStore) -> None:
    """Six connected calls and two abandons of the earlier run are counted at start."""
    cid = await running_campaign(store, DialMode.PREDICTIVE, 10)
    ended = [Outcome.ANSWERED_AGENT] * 6 + [Outcome.ABANDONED] * 2 + [Outcome.BUSY] * 2
    await earlier_run(store, cid, ended)
    s = service(store)
    with capture_logs() as logs:
        assert await s.start_campaigns() == [cid]
    assert window(s, cid) == (8.0, 2.0)
    (read,) = [e for e in logs if e["event"] == "abandon_history"]
    assert (read["live_answers"], read["abandoned"], read["window_s"]) == (8, 2, 30 * 86400.0)


async def test_a_restart_counts_abandons_and_machines_as_the_earlier_run_did(
    store: SqliteStore,
) -> None:
    """Abandons stored with the share of a person the pacer counted count that share, and a
    connected call the agent judged a machine is no live answer, as in the earlier run."""
    cid = await running_campaign(store, DialMode.PREDICTIVE, 4)
    ended = [Outcome.ANSWERED_AGENT] * 2 + [Outcome.ABANDONED] * 2
    await earlier_run(store, cid, ended, counted=0.25)
    await store.record_disposition("call0", None, "", human=True)
    await store.record_disposition("call1", None, "", human=False)
    s = service(store)
    with capture_logs() as logs:
        assert await s.start_campaigns() == [cid]
    assert window(s, cid) == pytest.approx((1.5, 0.5))
    (read,) = [e for e in logs if e["event"] == "abandon_history"]
    assert (read["live_answers"], read["abandoned"], read["counted_as_people"]) == (3, 2, 0.5)


async def test_a_progressive_campaign_reads_no_history(store: SqliteStore) -> None:
    """Only predictive campaigns keep an abandon budget, so only they read the history."""
    cid = await running_campaign(store, DialMode.PROGRESSIVE, 2)
    await earlier_run(store, cid, [Outcome.ABANDONED] * 2)
    s = service(store)
    with capture_logs() as logs:
        assert await s.start_campaigns() == [cid]
    assert [e for e in logs if e["event"] == "abandon_history"] == []


async def test_a_call_ending_while_the_history_is_read_is_counted_once(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A customer left from the earlier run who hangs up during the read is one abandon:
    not yet in the history read, then seen by the new pacer."""
    cid = await running_campaign(store, DialMode.PREDICTIVE, 3)
    await earlier_run(store, cid, [Outcome.ANSWERED_AGENT, Outcome.ABANDONED])
    (left,) = [c for c in await store.contacts(cid) if c.attempts == 0]
    await store.record_attempt(
        "left", cid, left.id, left.phone, 1, agent_id=None, at=NOW - dt.timedelta(seconds=30)
    )
    await store.record_call_state("left", "answered", server="pbx")
    s = service(store)
    assert await s.recover() == 1
    read = store.answer_history

    async def hang_up_while_reading(
        campaign_id: int, *, since: dt.datetime
    ) -> list[tuple[float, str, float | None]]:
        rows = await read(campaign_id, since=since)
        await s.feed(ev.ChannelHungUp("pbx", ev.Party.CALL, "left", ev.Leg.CUSTOMER, 16, ""))
        return rows

    monkeypatch.setattr(store, "answer_history", hang_up_while_reading)
    await s.start_campaigns()
    assert window(s, cid) == (3.0, 2.0)
    outcomes = {c.call_id: c.outcome for c in await store.calls_of(cid)}
    assert outcomes["left"] == "abandoned"


async def test_a_recounted_abandon_is_stored_and_read_back_so(store: SqliteStore) -> None:
    """The service stores an abandon's new count (the Dialer's ``RecountAbandon``), logs
    it, and the next start counts the abandon so."""
    cid = await running_campaign(store, DialMode.PREDICTIVE, 2)
    await earlier_run(store, cid, [Outcome.ANSWERED_AGENT, Outcome.ABANDONED], counted=0.25)
    with capture_logs() as logs:
        await service(store)._run([RecountAbandon("call1", 0.75)])
    (line,) = [e for e in logs if e["event"] == "abandon_recounted"]
    assert (line["call"], line["counted_as_person"]) == ("call1", 0.75)
    s = service(store)
    assert await s.start_campaigns() == [cid]
    assert window(s, cid) == pytest.approx((1.75, 0.75))
