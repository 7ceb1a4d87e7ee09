"""The compliance gate: checked immediately before every Originate.

A call may be placed only if every rule below holds at that instant; the first rule that
fails is the refusal's reason, recorded with the call attempt that never happened.

1. The number is on no do-not-call list (global or the campaign's), as the store says at
   that moment — a number added a second ago blocks.
2. Neither the contact nor the number has a call in flight (never two calls at once),
   and no other worker holds the contact's lock.
3. The campaign's calendar is open (weekly hours, exceptions, holidays, run windows).
4. The instant is within the called party's permitted local hours in **every** time zone
   the number may be in (US: 08:00–21:00, TSR §310.4(c), FCC 64.1200(c)(1)).
5. The contact has attempts left (campaign maximum; every attempt counts).
6. The outcome of its last attempt allows a retry now: each outcome has a rule (retry
   after N minutes, at most M times).
7. A number whose call was abandoned is not called again within 72 hours, and a number
   whose call AMD judged a machine not within 24 hours, unless an agent is guaranteed
   (Ofcom's persistent-misuse policy; applied in every regime because it costs little).

Times: ``wall_now`` is timezone-aware. Nothing here does I/O; the engine supplies facts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import TypeVar, cast

from dialerd.core.schedule import LocalHours, Schedule


class Outcome(enum.StrEnum):
    """How one attempt ended."""

    ANSWERED_AGENT = "answered_agent"
    ANSWERED_MACHINE = "answered_machine"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    ABANDONED = "abandoned"
    DNC_BLOCKED = "dnc_blocked"


FINAL_OUTCOMES = frozenset({Outcome.ANSWERED_AGENT, Outcome.INVALID_NUMBER, Outcome.DNC_BLOCKED})
"""Outcomes after which a contact is not dialled again by the retry rules."""


class Refusal(enum.StrEnum):
    """Why the gate refused a call."""

    DNC = "dnc"
    CONTACT_IN_CALL = "contact_in_call"
    NUMBER_IN_CALL = "number_in_call"
    CONTACT_LOCKED = "contact_locked"
    CAMPAIGN_CLOSED = "campaign_closed"
    LOCAL_HOURS = "local_hours"
    NO_TIME_ZONE = "no_time_zone"
    MAX_ATTEMPTS = "max_attempts"
    FINISHED = "finished"
    RETRY_NOT_DUE = "retry_not_due"
    RETRY_LIMIT = "retry_limit"
    ABANDON_LOCK = "abandon_lock"
    MACHINE_LOCK = "machine_lock"
    SKIPPED = "skipped"
    UNKNOWN_OWNER = "unknown_owner"
    CAMPAIGN_STOPPED = "campaign_stopped"


FINAL_REFUSALS = frozenset(
    {Refusal.DNC, Refusal.MAX_ATTEMPTS, Refusal.FINISHED, Refusal.RETRY_LIMIT}
)
"""Refusals after which the contact is finished in this campaign."""


@dataclass(frozen=True, slots=True)
class RetryRule:
    """After ``outcome``, retry no sooner than ``after_s`` seconds, at most ``max_times``."""

    after_s: int
    max_times: int


DEFAULT_RETRY_RULES: Mapping[Outcome, RetryRule] = {
    Outcome.BUSY: RetryRule(after_s=10 * 60, max_times=3),
    Outcome.NO_ANSWER: RetryRule(after_s=60 * 60, max_times=3),
    Outcome.CONGESTION: RetryRule(after_s=15 * 60, max_times=2),
    Outcome.FAILED: RetryRule(after_s=15 * 60, max_times=2),
    Outcome.ANSWERED_MACHINE: RetryRule(after_s=4 * 60 * 60, max_times=2),
    Outcome.ABANDONED: RetryRule(after_s=72 * 60 * 60, max_times=2),
}

ABANDON_LOCK = dt.timedelta(hours=72)
# No ringing call may be cut short before it has rung this long (US TSR safe harbour:
# 15 s or four rings; Ofcom: no "cancel dials" within 15 s of ringing).
MIN_RING_BEFORE_CANCEL_S = 15.0
MACHINE_LOCK = dt.timedelta(hours=24)
_T = TypeVar("_T")
_SET_TYPES: tuple[type, ...] = (set, frozenset, type({}.keys()))


@dataclass(frozen=True, slots=True)
class Rules:
    """A campaign's compliance settings."""

    schedule: Schedule
    local_hours: LocalHours = field(default_factory=LocalHours)
    max_attempts: int = 3
    retry: Mapping[Outcome, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRY_RULES))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One past attempt on a contact (or on its number, from any campaign)."""

    at: dt.datetime
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contact the engine wants to call, with everything the gate needs about it."""

    contact_id: int
    number: str
    zones: tuple[str, ...]
    attempts: tuple[Attempt, ...] = ()
    """This contact's attempts in this campaign, oldest first."""
    number_history: tuple[Attempt, ...] = ()
    """Recent attempts on the same number from any campaign (for the redial locks)."""
    locked_by_other: bool = False


@dataclass(frozen=True, slots=True)
class Allowed:
    """The call may be placed now."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The call may not be placed; ``retry_at`` says when it might be, ``None`` if unknown."""

    reason: Refusal
    retry_at: dt.datetime | None = None

    @property
    def final(self) -> bool:
        """Whether the contact is finished in this campaign."""
        return self.reason in FINAL_REFUSALS


Verdict = Allowed | Refused


def check(
    rules: Rules,
    candidate: Candidate,
    *,
    wall_now: dt.datetime,
    on_dnc: bool,
    contacts_in_call: Iterable[int] = (),
    numbers_in_call: Iterable[str] = (),
    agent_guaranteed: bool = False,
) -> Verdict:
    """Apply every rule of the module header in order; the first failure is the verdict."""
    if on_dnc:
        return Refused(Refusal.DNC)
    if candidate.contact_id in _as_set(contacts_in_call):
        return Refused(Refusal.CONTACT_IN_CALL)
    if candidate.number in _as_set(numbers_in_call):
        return Refused(Refusal.NUMBER_IN_CALL)
    if candidate.locked_by_other:
        return Refused(Refusal.CONTACT_LOCKED)
    attempts = candidate.attempts
    if attempts and attempts[-1].outcome in FINAL_OUTCOMES:
        return Refused(Refusal.FINISHED)
    if len(attempts) >= rules.max_attempts:
        return Refused(Refusal.MAX_ATTEMPTS)
    if attempts:
        last = attempts[-1]
        rule = rules.retry.get(last.outcome)
        if rule is None:
            return Refused(Refusal.FINISHED)
        if sum(1 for a in attempts if a.outcome is last.outcome) > rule.max_times:
            return Refused(Refusal.RETRY_LIMIT)
        due = last.at + dt.timedelta(seconds=rule.after_s)
        if wall_now < due:
            return Refused(Refusal.RETRY_NOT_DUE, due)
    if not agent_guaranteed:
        lock = _redial_lock(candidate.number_history, wall_now)
        if lock is not None:
            return lock
    if not rules.schedule.is_open(wall_now):
        return Refused(Refusal.CAMPAIGN_CLOSED, rules.schedule.next_change(wall_now))
    if not candidate.zones:
        return Refused(Refusal.NO_TIME_ZONE)
    if not rules.local_hours.allows(wall_now, candidate.zones):
        return Refused(
            Refusal.LOCAL_HOURS, rules.local_hours.next_allowed(wall_now, candidate.zones)
        )
    return Allowed()


def _as_set(items: Iterable[_T]) -> Set[_T]:
    # The engine passes the keys of its live-call indexes: copying them into a new set
    # before every dial cost time in proportion to the calls in flight.
    # The exact types first: the abstract class's isinstance check is itself slow.
    if type(items) in _SET_TYPES or isinstance(items, Set):
        return cast(Set[_T], items)
    return set(items)


def _redial_lock(history: Iterable[Attempt], wall_now: dt.datetime) -> Refused | None:
    for attempt in history:
        if attempt.outcome is Outcome.ABANDONED and wall_now < attempt.at + ABANDON_LOCK:
            return Refused(Refusal.ABANDON_LOCK, attempt.at + ABANDON_LOCK)
        if attempt.outcome is Outcome.ANSWERED_MACHINE and wall_now < attempt.at + MACHINE_LOCK:
            return Refused(Refusal.MACHINE_LOCK, attempt.at + MACHINE_LOCK)
    return None
