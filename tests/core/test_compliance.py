"""The compliance gate: literal cases for each rule, then properties over random inputs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.core.compliance import (
    ABANDON_LOCK,
    Allowed,
    Attempt,
    Candidate,
    Outcome,
    Refusal,
    Refused,
    RetryRule,
    Rules,
    check,
)
from dialerd.core.model import BusinessHours
from dialerd.core.schedule import LocalHours, Schedule

NY = "America/New_York"
WEEK = tuple(BusinessHours(d, dt.time(9), dt.time(18)) for d in range(5))
RULES = Rules(Schedule.build(NY, WEEK), max_attempts=4)
MONDAY_NOON = dt.datetime(2026, 11, 2, 12, tzinfo=ZoneInfo(NY))


def candidate(**kw: object) -> Candidate:
    """A New York contact with no history unless given."""
    base: dict[str, object] = {"contact_id": 7, "number": "+12125550101", "zones": (NY,)}
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


def ago(hours: float, outcome: Outcome) -> Attempt:
    """An attempt ``hours`` before Monday noon."""
    return Attempt(MONDAY_NOON - dt.timedelta(hours=hours), outcome)


def test_a_fresh_contact_in_hours_is_allowed() -> None:
    """Nothing blocks a new contact inside every window."""
    assert check(RULES, candidate(), wall_now=MONDAY_NOON, on_dnc=False) == Allowed()


def test_dnc_wins_over_everything() -> None:
    """A do-not-call number is refused for good, even in hours."""
    verdict = check(RULES, candidate(), wall_now=MONDAY_NOON, on_dnc=True)
    assert verdict == Refused(Refusal.DNC)
    assert isinstance(verdict, Refused)
    assert verdict.final


def test_never_two_calls_to_one_contact_or_number() -> None:
    """A contact or a number with a call in flight is refused."""
    assert check(
        RULES, candidate(), wall_now=MONDAY_NOON, on_dnc=False, contacts_in_call={7}
    ) == Refused(Refusal.CONTACT_IN_CALL)
    assert check(
        RULES, candidate(), wall_now=MONDAY_NOON, on_dnc=False, numbers_in_call={"+12125550101"}
    ) == Refused(Refusal.NUMBER_IN_CALL)
    assert check(
        RULES, candidate(locked_by_other=True), wall_now=MONDAY_NOON, on_dnc=False
    ) == Refused(Refusal.CONTACT_LOCKED)


def test_out_of_campaign_hours_says_when_it_opens() -> None:
    """After 18:00 the refusal carries the next opening."""
    evening = MONDAY_NOON.replace(hour=18)
    verdict = check(RULES, candidate(), wall_now=evening, on_dnc=False)
    assert verdict == Refused(Refusal.CAMPAIGN_CLOSED, MONDAY_NOON.replace(day=3, hour=9))


def test_called_party_hours_in_their_own_zone() -> None:
    """A Los Angeles number at 09:30 New York time (06:30 there) is refused."""
    early = MONDAY_NOON.replace(hour=9, minute=30)
    la = candidate(number="+13105550101", zones=("America/Los_Angeles",))
    eight_in_la = dt.datetime(2026, 11, 2, 8, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert check(RULES, la, wall_now=early, on_dnc=False) == Refused(
        Refusal.LOCAL_HOURS, eight_in_la
    )
    unknown = candidate(zones=())
    assert check(RULES, unknown, wall_now=MONDAY_NOON, on_dnc=False) == Refused(
        Refusal.NO_TIME_ZONE
    )


def test_attempt_limit_and_final_outcomes() -> None:
    """The maximum attempts and a final outcome finish the contact."""
    four = tuple(ago(100 - i, Outcome.NO_ANSWER) for i in range(4))
    assert check(RULES, candidate(attempts=four), wall_now=MONDAY_NOON, on_dnc=False) == Refused(
        Refusal.MAX_ATTEMPTS
    )
    done = (ago(5, Outcome.ANSWERED_AGENT),)
    assert check(RULES, candidate(attempts=done), wall_now=MONDAY_NOON, on_dnc=False) == Refused(
        Refusal.FINISHED
    )


def test_retry_rules_wait_and_count() -> None:
    """Busy retries after 10 minutes, at most 3 times."""
    recent = (ago(0.1, Outcome.BUSY),)
    verdict = check(RULES, candidate(attempts=recent), wall_now=MONDAY_NOON, on_dnc=False)
    assert verdict == Refused(Refusal.RETRY_NOT_DUE, recent[0].at + dt.timedelta(minutes=10))
    old = (ago(0.2, Outcome.BUSY),)
    assert check(RULES, candidate(attempts=old), wall_now=MONDAY_NOON, on_dnc=False) == Allowed()
    rules = Rules(RULES.schedule, max_attempts=10, retry={Outcome.BUSY: RetryRule(60, 2)})
    three = tuple(ago(3 - i, Outcome.BUSY) for i in range(3))
    assert check(rules, candidate(attempts=three), wall_now=MONDAY_NOON, on_dnc=False) == Refused(
        Refusal.RETRY_LIMIT
    )


def test_abandoned_numbers_are_locked_for_72_hours_unless_an_agent_is_guaranteed() -> None:
    """An abandon anywhere blocks the number for 72 h, except with a guaranteed agent."""
    history = (ago(71, Outcome.ABANDONED),)
    c = candidate(number_history=history)
    verdict = check(RULES, c, wall_now=MONDAY_NOON, on_dnc=False)
    assert verdict == Refused(Refusal.ABANDON_LOCK, history[0].at + ABANDON_LOCK)
    assert check(RULES, c, wall_now=MONDAY_NOON, on_dnc=False, agent_guaranteed=True) == Allowed()
    later = candidate(number_history=(ago(73, Outcome.ABANDONED),))
    assert check(RULES, later, wall_now=MONDAY_NOON, on_dnc=False) == Allowed()
    machine = candidate(number_history=(ago(23, Outcome.ANSWERED_MACHINE),))
    assert check(RULES, machine, wall_now=MONDAY_NOON, on_dnc=False) == Refused(
        Refusal.MACHINE_LOCK, MONDAY_NOON + dt.timedelta(hours=1)
    )


ZONES = st.sampled_from(
    ["America/New_York", "America/Los_Angeles", "America/Anchorage", "Asia/Tokyo", "Europe/London"]
)
INSTANTS = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),
    max_value=dt.datetime(2027, 12, 31),
    timezones=st.just(dt.UTC),
)
OUTCOMES = st.sampled_from(list(Outcome))


@st.composite
def attempts(draw: st.DrawFn, now: dt.datetime) -> tuple[Attempt, ...]:
    """A history of attempts before ``now``, oldest first."""
    hours = sorted(draw(st.lists(st.floats(0.01, 200), max_size=6)), reverse=True)
    return tuple(Attempt(now - dt.timedelta(hours=h), draw(OUTCOMES)) for h in hours)


@settings(max_examples=400, deadline=None)
@given(
    now=INSTANTS,
    zones=st.lists(ZONES, max_size=3, unique=True),
    on_dnc=st.booleans(),
    in_call=st.booleans(),
    data=st.data(),
    max_attempts=st.integers(1, 5),
    start_h=st.integers(0, 12),
    length_h=st.integers(1, 12),
)
def test_no_input_makes_the_gate_allow_a_forbidden_call(
    now: dt.datetime,
    zones: list[str],
    on_dnc: bool,
    in_call: bool,
    data: st.DataObject,
    max_attempts: int,
    start_h: int,
    length_h: int,
) -> None:
    """Whatever the inputs, an allowed call is never DNC, in flight, out of hours or over limits."""
    hours = tuple(
        BusinessHours(d, dt.time(start_h), dt.time(min(start_h + length_h, 23))) for d in range(7)
    )
    rules = Rules(Schedule.build(NY, hours), LocalHours(), max_attempts=max_attempts)
    history = data.draw(attempts(now))
    number_history = data.draw(attempts(now))
    c = Candidate(
        contact_id=1,
        number="+1",
        zones=tuple(zones),
        attempts=history,
        number_history=number_history,
    )
    verdict = check(rules, c, wall_now=now, on_dnc=on_dnc, contacts_in_call={1} if in_call else ())
    if verdict != Allowed():
        return
    assert not on_dnc
    assert not in_call
    assert len(history) < max_attempts
    assert rules.schedule.is_open(now)
    assert zones
    for zone in zones:
        local = now.astimezone(ZoneInfo(zone)).time()
        assert dt.time(8) <= local < dt.time(21)
    for a in number_history:
        if a.outcome is Outcome.ABANDONED:
            assert now - a.at >= dt.timedelta(hours=72)
        if a.outcome is Outcome.ANSWERED_MACHINE:
            assert now - a.at >= dt.timedelta(hours=24)
    if history:
        last = history[-1]
        rule = rules.retry[last.outcome]
        assert now - last.at >= dt.timedelta(seconds=rule.after_s)
        assert last.outcome not in {Outcome.ANSWERED_AGENT, Outcome.INVALID_NUMBER}
