"""Claiming ahead: the contacts a campaign will dial next, already claimed in the store.

SQLite has one write lock per database file. While the command line imports a list into
the same file, each of its batches holds that lock for tens of milliseconds, and a claim
(an ``UPDATE``) waits behind it. The daemon must not: a free agent waits for the call
placed for it. So the service takes its contacts from a small buffer per campaign (the
hopper of other dialers), refilled in the background before it runs dry; only the refill
waits for the lock, and nobody waits for the refill.

The rules that keep this correct:

- a buffered contact is claimed in the store (``claim_batch``), so no other caller can
  get it, and after a crash recovery returns it to the queue (``release_stale_claims``);
- the buffer holds about ``lead_s`` seconds of the campaign's recent claim rate (at least
  ``min_ahead``, at most ``max_ahead``): enough to ride out an import's batch, small
  enough that a contact's history, read when it was claimed, is seconds old;
- a contact that waited longer than ``max_age_s`` is given back rather than dialled, and
  a campaign that stops gives back everything it holds (``release``);
- the do-not-call check is not part of the buffer: the service runs it on each contact it
  takes, immediately before the engine decides to dial.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from dialerd.ports import ClaimedContact, Store

__all__ = ["ClaimBuffer"]

log = structlog.get_logger("dialerd.claims")


@dataclass(slots=True)
class _Hopper:
    held: deque[tuple[float, ClaimedContact]] = field(default_factory=deque)
    rate: float = 0.0  # contacts per second, smoothed
    last_take: float | None = None
    refill: asyncio.Task[None] | None = None
    exhausted_until: float = -math.inf  # the store had nothing due: do not ask again yet


class ClaimBuffer:
    """Per-campaign buffers of claimed contacts, refilled in the background."""

    def __init__(
        self,
        store: Store,
        claimer: str,
        *,
        clock: Callable[[], float],
        wall: Callable[[], dt.datetime],
        lock_s: Callable[[int], float] = lambda _: 0.0,
        lead_s: float = 3.0,
        min_ahead: int = 2,
        max_ahead: int = 200,
        max_age_s: float = 30.0,
        rate_memory_s: float = 10.0,
    ) -> None:
        self.store = store
        self.claimer = claimer
        self.clock = clock
        self.wall = wall
        self.lock_s = lock_s
        self.lead_s = lead_s
        self.min_ahead = min_ahead
        self.max_ahead = max_ahead
        self.max_age_s = max_age_s
        self.rate_memory_s = rate_memory_s
        self._hoppers: dict[int, _Hopper] = {}

    def held(self, campaign_id: int) -> int:
        """How many contacts the buffer holds for a campaign."""
        hopper = self._hoppers.get(campaign_id)
        return len(hopper.held) if hopper else 0

    async def take(self, campaign_id: int, count: int) -> list[ClaimedContact]:
        """Up to ``count`` claimed contacts: from the buffer, else claimed now."""
        hopper = self._hoppers.setdefault(campaign_id, _Hopper())
        now = self.clock()
        self._note_rate(hopper, count, now)
        stale: list[int] = []
        out: list[ClaimedContact] = []
        while hopper.held and len(out) < count:
            at, contact = hopper.held.popleft()
            if now - at > self.max_age_s:
                stale.append(contact.contact.id)
            else:
                out.append(contact)
        if stale:
            await self.store.release_claims(campaign_id, stale)
        if len(out) < count and now >= hopper.exhausted_until:
            # Running dry (the first claim, or the rate jumped): this one waits.
            out += await self._claim(campaign_id, count - len(out), hopper)
        self._maybe_refill(campaign_id, hopper)
        return out

    async def refilled(self, campaign_id: int) -> None:
        """Wait until the campaign's refill in progress, if any, has finished."""
        hopper = self._hoppers.get(campaign_id)
        if hopper is not None and hopper.refill is not None:
            await asyncio.gather(hopper.refill, return_exceptions=True)

    def target(self, campaign_id: int) -> int:
        """How many contacts the buffer aims to hold for a campaign now."""
        hopper = self._hoppers.get(campaign_id)
        rate = hopper.rate if hopper else 0.0
        return max(self.min_ahead, min(self.max_ahead, math.ceil(rate * self.lead_s)))

    async def release(self, campaign_id: int) -> int:
        """Give back everything held for a campaign (it stopped); returns how many."""
        hopper = self._hoppers.pop(campaign_id, None)
        if hopper is None:
            return 0
        if hopper.refill is not None:
            hopper.refill.cancel()
            # A refill cut short may have claimed rows it never handed over; they are
            # claims without a call, which the next start's recovery gives back.
            await asyncio.gather(hopper.refill, return_exceptions=True)
        ids = [c.contact.id for _, c in hopper.held]
        await self.store.release_claims(campaign_id, ids)
        return len(ids)

    async def release_all(self) -> int:
        """Give back everything held (the daemon is stopping)."""
        released = 0
        for campaign_id in list(self._hoppers):
            released += await self.release(campaign_id)
        return released

    # -- internals -------------------------------------------------------------------------

    def _note_rate(self, hopper: _Hopper, count: int, now: float) -> None:
        if hopper.last_take is None:
            hopper.last_take = now
            return
        span = max(now - hopper.last_take, 1e-3)
        hopper.last_take = now
        # An exponentially weighted rate over about rate_memory_s seconds.
        weight = 1.0 - math.exp(-span / self.rate_memory_s)
        hopper.rate += weight * (count / span - hopper.rate)

    def _maybe_refill(self, campaign_id: int, hopper: _Hopper) -> None:
        if hopper.refill is not None and not hopper.refill.done():
            return
        if self.clock() < hopper.exhausted_until:
            return
        want = self.target(campaign_id) - len(hopper.held)
        if want > 0:
            hopper.refill = asyncio.create_task(self._refill(campaign_id, hopper, want))

    async def _refill(self, campaign_id: int, hopper: _Hopper, want: int) -> None:
        try:
            got = await self._claim(campaign_id, want, hopper)
        except Exception as exc:  # the next take claims directly
            log.warning("claim_ahead_failed", campaign=campaign_id, error=str(exc))
            return
        if self._hoppers.get(campaign_id) is not hopper:
            # The campaign was released meanwhile: these go straight back.
            await self.store.release_claims(campaign_id, [c.contact.id for c in got])
            return
        now = self.clock()
        hopper.held.extend((now, c) for c in got)

    async def _claim(self, campaign_id: int, count: int, hopper: _Hopper) -> list[ClaimedContact]:
        got = await self.store.claim_batch(
            campaign_id,
            count,
            now=self.wall(),
            claimer=self.claimer,
            lock_s=self.lock_s(campaign_id),
        )
        if len(got) < count:
            # Nothing more is due now: asking again at every take would only queue
            # writes behind an import.
            hopper.exhausted_until = self.clock() + 1.0
        return got
