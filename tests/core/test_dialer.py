"""The Dialer, driven with literal inputs and times; no sockets, loops or sleeps."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialerd.core import commands as cmd
from dialerd.core import events as ev
from dialerd.core.compliance import Attempt, Candidate, Outcome, Refusal, Rules
from dialerd.core.dialer import (
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentResume,
    AgentState,
    CallState,
    CampaignSetup,
    Claimed,
    ContactsClaimed,
    Dialer,
    Disposition,
    PreviewChoice,
    RecoveredCall,
    RedirectFailed,
    StartCampaign,
    StopCampaign,
)
from dialerd.core.model import BusinessHours, DialMode
from dialerd.core.pacing import (
    CallAbandoned,
    CallOutcome,
    CallPlaced,
    CallRang,
    CallResolved,
    PacingFact,
    PacingView,
    progressive_dials,
)
from dialerd.core.schedule import Schedule
from dialerd.errors import ConflictError

NY = "America/New_York"
WALL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=ZoneInfo(NY))  # a Monday noon
RULES = Rules(Schedule.build(NY, [BusinessHours(d, dt.time(9), dt.time(18)) for d in range(5)]))
S = "pbx1"


class Rig:
    """A Dialer with a fake clock and numbered call ids."""

    def __init__(self, mode: DialMode = DialMode.PROGRESSIVE, **setup: object) -> None:
        ids = (f"{i:032x}" for i in itertools.count(1))
        self.d = Dialer(new_call_id=lambda: next(ids))
        self.now = 1000.0
        self.out: list[cmd.Command] = []
        self.do(ev.LinkUp(S, 100))
        self.do(StartCampaign(CampaignSetup(1, mode, RULES, **setup)))  # type: ignore[arg-type]

    @property
    def wall(self) -> dt.datetime:
        """Wall time moving with ``now``."""
        return WALL + dt.timedelta(seconds=self.now - 1000.0)

    def do(self, item: object, after: float = 0.0) -> list[cmd.Command]:
        """Advance the clock and feed one input."""
        self.now += after
        self.out = self.d.handle(item, self.now, self.wall)  # type: ignore[arg-type]
        return self.out

    def tick(self, after: float) -> list[cmd.Command]:
        """Advance the clock and run the timer."""
        self.now += after
        self.out = self.d.handle_timer(self.now, self.wall)
        return self.out

    def of(self, kind: type) -> list[object]:
        """The commands of one kind in the last output."""
        return [c for c in self.out if isinstance(c, kind)]

    def login(self, agent: str = "1001") -> None:
        """Log an agent in and bring its phone up."""
        self.do(AgentLogin(agent, f"PJSIP/{agent}", 1))
        self.do(ev.AgentSessionReady(S, agent))


def contact(cid: int, number: str | None = None, **kw: object) -> Claimed:
    """A claimed New York contact, not on any list unless told."""
    on_dnc = bool(kw.pop("on_dnc", False))
    cand = Candidate(cid, number or f"+1212555{cid:04d}", (NY,), **kw)  # type: ignore[arg-type]
    return Claimed(cand, on_dnc)


def answered_call(rig: Rig, cid: int = 1) -> str:
    """Claim, dial and answer one contact; returns the call id."""
    rig.do(ContactsClaimed(1, (contact(cid),)))
    (orig,) = rig.of(cmd.Originate)
    assert isinstance(orig, cmd.Originate)
    rig.do(ev.CallQueued(S, orig.call_id))
    rig.do(ev.CallAnswered(S, orig.call_id), after=8)
    return orig.call_id


def test_progressive_call_from_login_to_wrap_up() -> None:
    """An agent's whole cycle: ready, a call placed, connected, ended, wrapped up, ready."""
    rig = Rig()
    assert rig.do(AgentLogin("1001", "PJSIP/1001", 1)) == [
        cmd.AgentStatus("1001", "connecting", None),
        cmd.CallAgentPhone("1001", "PJSIP/1001"),
    ]
    rig.do(ev.AgentSessionReady(S, "1001"))
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1)]
    rig.do(ContactsClaimed(1, (contact(7),)))
    record, orig = rig.out
    assert isinstance(record, cmd.RecordAttempt)
    assert isinstance(orig, cmd.Originate)
    assert (record.contact_id, record.attempt, orig.number) == (7, 1, "+12125550007")
    assert orig.timeout_ms == 25_000
    call = orig.call_id
    rig.do(ev.CallQueued(S, call))
    assert rig.do(ev.CallAnswered(S, call), after=9) == []
    rig.do(ev.CustomerReady(S, call), after=0.2)
    assert rig.of(cmd.Redirect) == [cmd.Redirect(call, "1001", S)]
    assert rig.d.agent_state("1001") is AgentState.RESERVED
    rig.do(ev.AgentConnected(S, call, "1001"), after=0.02)
    assert rig.d.agent_state("1001") is AgentState.ON_CALL
    rig.do(
        ev.ChannelHungUp(S, ev.Party.CALL, call, ev.Leg.CUSTOMER, 16, "Normal Clearing"), after=60
    )
    (outcome,) = rig.of(cmd.RecordOutcome)
    assert isinstance(outcome, cmd.RecordOutcome)
    assert (outcome.outcome, outcome.agent_id, outcome.final) == (
        Outcome.ANSWERED_AGENT,
        "1001",
        True,
    )
    assert rig.d.agent_state("1001") is AgentState.WRAP_UP
    assert rig.of(cmd.ClaimContacts) == []  # a wrapping agent is not idle
    rig.do(Disposition("1001", 3, "sold"), after=5)
    assert cmd.RecordDisposition(call, "1001", 3, "sold") in rig.out
    assert rig.d.agent_state("1001") is AgentState.READY
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1)]


def test_no_ready_agent_means_safe_harbor_and_an_abandon() -> None:
    """An answered customer with no agent waits; the dialplan's timer abandons it."""
    rig = Rig()
    rig.login()
    rig.do(ContactsClaimed(1, (contact(1),)))
    first = rig.of(cmd.Originate)[0]
    assert isinstance(first, cmd.Originate)
    rig.do(AgentPause("1001", "coffee"))
    rig.do(ev.CallAnswered(S, first.call_id), after=5)
    rig.do(ev.CustomerReady(S, first.call_id))
    assert rig.of(cmd.Redirect) == []
    assert rig.d.call_state(first.call_id) is CallState.WAITING
    rig.do(ev.SafeHarborPlayed(S, first.call_id), after=2)
    rig.do(ev.ChannelHungUp(S, ev.Party.CALL, first.call_id, ev.Leg.CUSTOMER, 16, "x"), after=6)
    (outcome,) = rig.of(cmd.RecordOutcome)
    assert isinstance(outcome, cmd.RecordOutcome)
    assert outcome.outcome is Outcome.ABANDONED
    assert outcome.retry_at == rig.wall + dt.timedelta(hours=72)


def test_an_agent_freed_within_the_hold_time_takes_the_waiting_customer() -> None:
    """A customer waiting 1 s is connected as soon as an agent resumes; at 1.8 s it is not."""
    rig = Rig()
    rig.login()
    rig.do(AgentPause("1001", "break"))
    rig.d.campaigns[1].claims_pending = 0
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    rig.do(AgentResume("1001"), after=1.0)
    assert rig.of(cmd.Redirect) == [cmd.Redirect(call, "1001", S)]

    late = Rig()
    late.login()
    late.do(AgentPause("1001", "break"))
    call2 = answered_call(late)
    late.do(ev.CustomerReady(S, call2))
    late.do(AgentResume("1001"), after=1.8)
    assert late.of(cmd.Redirect) == []


def test_longest_idle_agent_gets_the_call() -> None:
    """Of two ready agents, the one idle longer is reserved."""
    rig = Rig(DialMode.POWER, power_ratio=1.0)
    rig.login("2001")
    rig.now += 30
    rig.login("2002")
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    assert rig.of(cmd.Redirect) == [cmd.Redirect(call, "2001", S)]


def test_failures_are_classified_and_scheduled_for_retry() -> None:
    """Busy retries in 10 minutes; an invalid number is final."""
    rig = Rig()
    rig.login()
    rig.do(ContactsClaimed(1, (contact(1),)))
    (orig,) = rig.of(cmd.Originate)
    assert isinstance(orig, cmd.Originate)
    rig.do(ev.CallFailed(S, orig.call_id, 5, "BUSY", 17), after=3)
    (busy,) = rig.of(cmd.RecordOutcome)
    assert isinstance(busy, cmd.RecordOutcome)
    assert (busy.outcome, busy.final, busy.retry_at) == (
        Outcome.BUSY,
        False,
        rig.wall + dt.timedelta(minutes=10),
    )
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1)]
    rig.do(ContactsClaimed(1, (contact(2),)))
    (orig2,) = rig.of(cmd.Originate)
    assert isinstance(orig2, cmd.Originate)
    rig.do(ev.CallFailed(S, orig2.call_id, 0, None, 1))
    (bad,) = rig.of(cmd.RecordOutcome)
    assert isinstance(bad, cmd.RecordOutcome)
    assert (bad.outcome, bad.final) == (Outcome.INVALID_NUMBER, True)


def test_the_last_attempt_is_final() -> None:
    """A failure on the campaign's last allowed attempt finishes the contact."""
    rig = Rig()
    rig.login()
    history = tuple(Attempt(WALL - dt.timedelta(hours=5 - i), Outcome.NO_ANSWER) for i in range(2))
    rig.do(ContactsClaimed(1, (contact(1, attempts=history),)))
    (orig,) = rig.of(cmd.Originate)
    assert isinstance(orig, cmd.Originate)
    rig.do(ev.CallFailed(S, orig.call_id, 3, None, 19))
    (out,) = rig.of(cmd.RecordOutcome)
    assert isinstance(out, cmd.RecordOutcome)
    assert (out.outcome, out.final, out.retry_at) == (Outcome.NO_ANSWER, True, None)


def test_refused_contacts_are_released_with_their_reason() -> None:
    """DNC and a second call to a number in flight are refused, not dialled."""
    rig = Rig(DialMode.POWER, power_ratio=3.0)
    rig.login()
    rig.do(
        ContactsClaimed(
            1, (contact(1, on_dnc=True), contact(2, "+12125550100"), contact(3, "+12125550100"))
        )
    )
    refusals = rig.of(cmd.RecordRefusal)
    assert [(r.contact_id, r.reason, r.final) for r in refusals] == [  # type: ignore[attr-defined]
        (1, Refusal.DNC, True),
        (3, Refusal.NUMBER_IN_CALL, False),
    ]
    assert [o.number for o in rig.of(cmd.Originate)] == ["+12125550100"]  # type: ignore[attr-defined]


def test_nothing_is_claimed_out_of_hours_or_without_asterisk() -> None:
    """Closed calendars and a dead AMI link stop claims; the timer wakes at the opening."""
    rig = Rig()
    rig.now += 6.5 * 3600  # 18:30
    rig.login()
    assert rig.of(cmd.ClaimContacts) == []
    opening = WALL.replace(day=3, hour=9)
    assert rig.d.get_timer() == pytest.approx(rig.now + (opening - rig.wall).total_seconds())
    rig.tick((opening - rig.wall).total_seconds())
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1)]

    down = Rig()
    down.do(ev.LinkDown(S, "eof"))
    down.login()
    assert down.of(cmd.ClaimContacts) == []
    down.do(ev.LinkUp(S, 5))
    assert down.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1)]


def test_an_empty_list_waits_until_the_next_due_contact() -> None:
    """With nothing due, the campaign stays running and asks again when the store says."""
    rig = Rig()
    rig.login()
    due = rig.wall + dt.timedelta(minutes=5)
    assert rig.do(ContactsClaimed(1, (), next_due=due)) == []
    assert rig.tick(299) == []
    assert rig.tick(1) == [cmd.ClaimContacts(1, 1)]


def test_wrap_up_ends_at_its_limit() -> None:
    """An agent who sets no result is made ready when the wrap-up limit passes."""
    rig = Rig(wrapup_limit_s=30)
    rig.login()
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    rig.do(ev.AgentConnected(S, call, "1001"))
    rig.do(ev.ChannelHungUp(S, ev.Party.CALL, call, ev.Leg.CUSTOMER, 16, ""), after=20)
    assert rig.d.get_timer() == rig.now + 30
    rig.tick(29)
    assert rig.d.agent_state("1001") is AgentState.WRAP_UP
    rig.tick(1)
    assert rig.d.agent_state("1001") is AgentState.READY
    assert cmd.RecordDisposition(call, "1001", None, "wrap-up limit reached") in rig.out


def test_illegal_agent_moves_raise_and_change_nothing() -> None:
    """Pausing an agent on a call, or a result outside wrap-up, is refused."""
    rig = Rig()
    rig.login()
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    rig.do(ev.AgentConnected(S, call, "1001"))
    with pytest.raises(ConflictError, match="cannot pause while on_call"):
        rig.do(AgentPause("1001", "x"))
    with pytest.raises(ConflictError, match="not in wrap-up"):
        rig.do(Disposition("1001", None))
    assert rig.d.agent_state("1001") is AgentState.ON_CALL
    with pytest.raises(ConflictError, match="already on_call"):
        rig.do(AgentLogin("1001", "PJSIP/1001", 1))


def test_redirect_failure_releases_the_agent() -> None:
    """If the customer vanished before the Redirect, the agent is ready again."""
    rig = Rig()
    rig.login()
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    rig.do(RedirectFailed(call, "Channel does not exist"))
    assert rig.d.agent_state("1001") is AgentState.READY


def test_logout_mid_call_hangs_up_both() -> None:
    """An agent leaving during a call ends the customer's call and its own phone."""
    rig = Rig()
    rig.login()
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    rig.do(ev.AgentConnected(S, call, "1001"))
    rig.do(AgentLogout("1001"))
    assert cmd.HangupCall(call, S) in rig.out
    assert cmd.HangupAgentPhone("1001", S) in rig.out
    assert rig.d.agent_state("1001") is AgentState.LOGGED_OUT


def test_a_restart_closes_calls_and_logs_agents_out() -> None:
    """When Asterisk restarts, every call it carried ends and every agent is logged out."""
    rig = Rig()
    rig.login()
    call = answered_call(rig)
    rig.do(ev.CustomerReady(S, call))
    rig.do(ev.AgentConnected(S, call, "1001"))
    rig.do(ev.AsteriskRestarted(S, 3))
    (out,) = rig.of(cmd.RecordOutcome)
    assert isinstance(out, cmd.RecordOutcome)
    assert out.outcome is Outcome.ANSWERED_AGENT
    assert rig.d.agent_state("1001") is AgentState.LOGGED_OUT
    assert rig.d.in_flight() == 0


def test_recovered_calls_are_settled_by_the_snapshot() -> None:
    """After a crash, calls still up are followed; calls gone are closed."""
    rig = Rig()
    alive, gone = "a" * 32, "b" * 32
    for cid, call in ((1, alive), (2, gone)):
        rig.do(RecoveredCall(call, 1, cid, f"+1212555000{cid}", 1, CallState.ANSWERED, S, None))
    rig.do(ev.ChannelsSnapshot(S, frozenset(), frozenset({alive}), frozenset()))
    (closed,) = rig.of(cmd.RecordOutcome)
    assert isinstance(closed, cmd.RecordOutcome)
    assert (closed.call_id, closed.outcome) == (gone, Outcome.ABANDONED)
    assert rig.d.call_state(alive) is CallState.ANSWERED
    rig.do(ev.ChannelHungUp(S, ev.Party.CALL, alive, ev.Leg.CUSTOMER, 16, ""))
    assert [o.call_id for o in rig.of(cmd.RecordOutcome)] == [alive]  # type: ignore[attr-defined]


def test_a_recovered_call_never_acknowledged_is_settled_by_any_snapshot() -> None:
    """A call recorded but never queued (a crash between the two) closes as failed."""
    rig = Rig()
    lost = "c" * 32
    rig.do(RecoveredCall(lost, 1, 9, "+12125550009", 1, CallState.UNKNOWN, None, None))
    rig.do(ev.ChannelsSnapshot(S, frozenset(), frozenset(), frozenset()))
    (closed,) = rig.of(cmd.RecordOutcome)
    assert isinstance(closed, cmd.RecordOutcome)
    assert (closed.call_id, closed.outcome) == (lost, Outcome.FAILED)
    assert rig.d.in_flight() == 0


def test_preview_offers_then_dials_for_that_agent() -> None:
    """A preview agent sees the contact, chooses to call, and gets that customer."""
    rig = Rig(DialMode.PREVIEW)
    rig.login()
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1, owner="1001")]
    rig.do(ContactsClaimed(1, (contact(5),), owner="1001"))
    assert rig.of(cmd.OfferPreview) == [cmd.OfferPreview("1001", 1, 5, "+12125550005")]
    rig.do(PreviewChoice("1001", dial=True))
    (orig,) = rig.of(cmd.Originate)
    assert isinstance(orig, cmd.Originate)
    assert rig.d.agent_state("1001") is AgentState.RESERVED
    rig.do(ev.CallAnswered(S, orig.call_id))
    rig.do(ev.CustomerReady(S, orig.call_id))
    assert rig.of(cmd.Redirect) == [cmd.Redirect(orig.call_id, "1001", S)]


def test_preview_rechecks_the_lists_at_the_decision() -> None:
    """A number put on a list while the agent looked at it is not dialled."""
    rig = Rig(DialMode.PREVIEW)
    rig.login()
    rig.do(ContactsClaimed(1, (contact(5),), owner="1001"))
    rig.do(PreviewChoice("1001", dial=True, on_dnc=True))
    assert rig.of(cmd.Originate) == []
    assert rig.of(cmd.RecordRefusal)[0] == cmd.RecordRefusal(
        1, 5, Refusal.DNC, True, None, rig.wall
    )


def test_preview_skip_releases_the_contact_and_offers_another() -> None:
    """Skipping puts the contact back and asks for the next one."""
    rig = Rig(DialMode.PREVIEW)
    rig.login()
    rig.do(ContactsClaimed(1, (contact(5),), owner="1001"))
    rig.do(PreviewChoice("1001", dial=False))
    assert rig.of(cmd.RecordRefusal)[0] == cmd.RecordRefusal(
        1, 5, Refusal.SKIPPED, False, None, rig.wall
    )
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1, owner="1001")]
    waiting = Rig(DialMode.PREVIEW)
    waiting.login()
    with pytest.raises(ConflictError, match="no contact on offer"):
        waiting.do(PreviewChoice("1001", dial=True))


def test_predictive_mode_starts_progressive_until_it_has_data() -> None:
    """A predictive campaign with no history yet dials one call per idle agent."""
    rig = Rig(DialMode.PREDICTIVE)
    rig.login("1")
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 1)]
    assert rig.d.campaigns[1].pacer.__class__.__name__ == "PredictivePacer"


def test_a_claim_answered_after_the_campaign_stopped_is_given_back() -> None:
    """Contacts that arrive after StopCampaign are released, not dialled."""
    rig = Rig()
    rig.login()
    rig.do(StopCampaign(1))
    rig.do(ContactsClaimed(1, (contact(4),)))
    assert rig.of(cmd.Originate) == []
    assert rig.of(cmd.RecordRefusal) == [
        cmd.RecordRefusal(1, 4, Refusal.CAMPAIGN_STOPPED, False, rig.wall, rig.wall)
    ]


def test_power_mode_keeps_the_ratio() -> None:
    """Power dialling claims ratio x idle agents."""
    rig = Rig(DialMode.POWER, power_ratio=2.0)
    rig.login("1")
    assert rig.of(cmd.ClaimContacts) == [cmd.ClaimContacts(1, 2)]


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[str, int, float]]:
    """Random engine inputs: claims, answers, failures, hangups, agent moves."""
    return draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "claim",
                        "answer",
                        "ready",
                        "fail",
                        "hangup",
                        "connect",
                        "pause",
                        "resume",
                        "dispo",
                    ]
                ),
                st.integers(0, 6),
                st.floats(0, 4000),
            ),
            max_size=60,
        )
    )


@settings(max_examples=200, deadline=None)
@given(script=scripts(), dnc=st.sets(st.integers(0, 6)), start_hour=st.integers(0, 23))
def test_no_script_makes_the_engine_dial_what_it_must_not(
    script: list[tuple[str, int, float]], dnc: set[int], start_hour: int
) -> None:
    """Whatever happens, no Originate goes to a DNC number, out of hours, or twice at once."""
    rig = Rig(DialMode.POWER, power_ratio=3.0)
    rig.now += (start_hour - 12) * 3600
    rig.login()
    live: dict[str, int] = {}
    attempts: dict[int, int] = {}
    for kind, k, after in script:
        calls = sorted(live)
        pick = calls[k % len(calls)] if calls else None
        try:
            match kind:
                case "claim":
                    history = tuple(
                        Attempt(rig.wall - dt.timedelta(days=3 + i), Outcome.NO_ANSWER)
                        for i in range(attempts.get(k, 0))
                    )
                    rig.do(
                        ContactsClaimed(1, (contact(k, attempts=history, on_dnc=k in dnc),)),
                        after=after,
                    )
                case "answer" if pick:
                    rig.do(ev.CallAnswered(S, pick), after=after)
                case "ready" if pick:
                    rig.do(ev.CustomerReady(S, pick), after=after)
                case "fail" if pick:
                    rig.do(ev.CallFailed(S, pick, 5, "BUSY", 17), after=after)
                case "hangup" if pick:
                    rig.do(
                        ev.ChannelHungUp(S, ev.Party.CALL, pick, ev.Leg.CUSTOMER, 16, ""),
                        after=after,
                    )
                case "connect" if pick:
                    rig.do(ev.AgentConnected(S, pick, "1001"), after=after)
                case "pause":
                    rig.do(AgentPause("1001", "x"), after=after)
                case "resume":
                    rig.do(AgentResume("1001"), after=after)
                case "dispo":
                    rig.do(Disposition("1001", None), after=after)
                case _:
                    continue
        except ConflictError:
            continue
        for c in rig.out:
            if isinstance(c, cmd.Originate):
                contact_id = int(c.number[-4:])
                assert contact_id not in dnc
                assert contact_id not in live.values()
                assert RULES.schedule.is_open(rig.wall)
                assert 8 <= rig.wall.astimezone(ZoneInfo(NY)).hour < 21
                attempts[contact_id] = attempts.get(contact_id, 0) + 1
                assert attempts[contact_id] <= RULES.max_attempts
                live[c.call_id] = contact_id
            if isinstance(c, cmd.RecordOutcome):
                live.pop(c.call_id, None)


class _TakesEverythingBack:
    """Progressive dialing that asks, at every decision, to hang up every call in flight."""

    def __init__(self) -> None:
        self.facts: list[PacingFact] = []
        self.in_flight: set[int] = set()

    def decide(self, view: PacingView, now: float) -> int:
        return progressive_dials(view)

    def observe(self, fact: PacingFact) -> None:
        self.facts.append(fact)
        match fact:
            case CallPlaced(seq, _):
                self.in_flight.add(seq)
            case CallResolved(seq, _, _):
                self.in_flight.discard(seq)

    def next_deadline(self) -> float | None:
        return None

    def cancels(self) -> Sequence[int]:
        return sorted(self.in_flight)


def test_a_ringing_call_is_taken_back_only_after_15_s_of_ringing() -> None:
    """The pacer asks for every call at every decision; the Dialer hangs up a call only
    once it has rung 15 s, never one not yet ringing, and only once."""
    pacer = _TakesEverythingBack()
    rig = Rig(DialMode.PREDICTIVE, pacer=pacer)
    rig.login("1")
    rig.login("2")
    rig.do(ContactsClaimed(1, (contact(1), contact(2))))
    first, second = (o.call_id for o in rig.of(cmd.Originate))  # type: ignore[attr-defined]
    rig.do(ev.CallQueued(S, first))
    rig.do(ev.CallQueued(S, second))
    rig.do(ev.CallRinging(S, first), after=2)
    rig.tick(14.9)
    assert rig.of(cmd.HangupCall) == []
    rig.do(ev.CallRinging(S, second), after=0.1)
    rig.tick(0.0)
    assert rig.of(cmd.HangupCall) == [cmd.HangupCall(first, S)]
    rig.tick(1.0)
    assert rig.of(cmd.HangupCall) == []  # asked again, not sent again
    assert any(isinstance(f, CallRang) for f in pacer.facts)


def _one_call_taken_back() -> tuple[Rig, _TakesEverythingBack, str]:
    """One agent, one call that has rung 15 s and that the Dialer has just hung up."""
    pacer = _TakesEverythingBack()
    rig = Rig(DialMode.PREDICTIVE, pacer=pacer)
    rig.login("1")
    rig.do(ContactsClaimed(1, (contact(1),)))
    (orig,) = rig.of(cmd.Originate)
    assert isinstance(orig, cmd.Originate)
    rig.do(ev.CallQueued(S, orig.call_id))
    rig.do(ev.CallRinging(S, orig.call_id), after=2)
    rig.tick(15.0)
    assert rig.of(cmd.HangupCall) == [cmd.HangupCall(orig.call_id, S)]
    return rig, pacer, orig.call_id


def test_a_call_taken_back_is_a_no_answer_and_the_pacer_hears_it_was_cancelled() -> None:
    """Whatever Asterisk reports for the channel it was told to hang up, the contact is
    retried as a no-answer, and the pacer learns the call was cut short, not unanswered."""
    rig, pacer, call_id = _one_call_taken_back()
    rig.do(ev.CallFailed(S, call_id, 1, None, 16), after=0.05)
    (record,) = rig.of(cmd.RecordOutcome)
    assert isinstance(record, cmd.RecordOutcome)
    assert (record.outcome, record.final) == (Outcome.NO_ANSWER, False)
    resolved = [f for f in pacer.facts if isinstance(f, CallResolved)]
    assert [f.outcome for f in resolved] == [CallOutcome.CANCELLED]


def test_a_call_answered_as_it_was_taken_back_counts_as_an_abandon() -> None:
    """The answer crossed the hangup: somebody may have picked up and heard nothing, so
    the call is an abandon for the rate and the lock, not a no-answer."""
    rig, pacer, call_id = _one_call_taken_back()
    rig.do(ev.CallAnswered(S, call_id), after=0.01)
    rig.do(ev.ChannelHungUp(S, ev.Party.CALL, call_id, ev.Leg.CUSTOMER, 16, ""), after=0.01)
    (record,) = rig.of(cmd.RecordOutcome)
    assert isinstance(record, cmd.RecordOutcome)
    assert record.outcome is Outcome.ABANDONED
    assert any(isinstance(f, CallAbandoned) for f in pacer.facts)
