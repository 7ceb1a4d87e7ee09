"""The Dialer starts a predictive campaign's pacer from the campaign's stored answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from dialerd.core import commands as cmd
from dialerd.core import events as ev
from dialerd.core.compliance import Outcome
from dialerd.core.dialer import (
    CampaignSetup,
    ContactsClaimed,
    Dialer,
    Disposition,
    StartCampaign,
)
from dialerd.core.model import DialMode
from dialerd.core.pacing import PredictivePacer
from tests.core.test_dialer import RULES, Rig, S, contact


def window(d: Dialer, campaign_id: int = 1) -> tuple[float, float, float, float]:
    """Live answers, abandons, their variance and the opening credit of a campaign's pacer."""
    pacer = d.campaigns[campaign_id].pacer
    assert isinstance(pacer, PredictivePacer)
    w = pacer.window
    return w.live, w.abandoned, w.uncertainty, pacer.opening_credit()


def stored(o: cmd.RecordOutcome) -> tuple[float, Outcome, float | None]:
    """What the store keeps for a live answer: its time (connection or end), its outcome
    and how much an abandon nobody heard counted as a person."""
    at = o.connected_at if o.outcome is Outcome.ANSWERED_AGENT else o.wall_at
    assert at is not None
    return at.timestamp(), o.outcome, o.counted_human


def one_connected_one_abandoned(
    pacer: PredictivePacer | None = None, **setup: object
) -> tuple[Rig, list[cmd.RecordOutcome]]:
    """A predictive campaign with one agent: of two answered customers one is connected
    (the agent's result says a person), the other, answered 7 s after it was placed,
    abandoned to the safe harbor; returns the rig and the outcomes recorded."""
    rig = Rig(DialMode.PREDICTIVE, pacer=pacer, **setup)
    rig.login()
    rig.do(ContactsClaimed(1, (contact(1), contact(2))))
    first, second = (c.call_id for c in rig.out if isinstance(c, cmd.Originate))
    steps: list[tuple[object, float]] = [
        (ev.CallAnswered(S, first), 6),
        (ev.CallAnswered(S, second), 1),
        (ev.CustomerReady(S, first), 1),
        (ev.AgentConnected(S, first, "1001"), 0.2),
        (ev.CustomerReady(S, second), 0.5),
        (ev.SafeHarborPlayed(S, second), 2),
        (ev.ChannelHungUp(S, ev.Party.CALL, second, ev.Leg.CUSTOMER, 16, ""), 6),
        (ev.ChannelHungUp(S, ev.Party.CALL, first, ev.Leg.CUSTOMER, 16, ""), 60),
        (Disposition("1001", None, human=True), 5),
    ]
    outcomes: list[cmd.RecordOutcome] = []
    for item, after in steps:
        rig.do(item, after=after)
        outcomes += [c for c in rig.out if isinstance(c, cmd.RecordOutcome)]
    return rig, outcomes


def restart(
    history: tuple[tuple[float, Outcome, float | None], ...], wall: dt.datetime, **setup: object
) -> Dialer:
    """A new Dialer (a restarted daemon) starting campaign 1 as predictive with ``history``."""
    d = Dialer()
    start = CampaignSetup(1, DialMode.PREDICTIVE, RULES, history=history, **setup)  # type: ignore[arg-type]
    d.handle(StartCampaign(start), 50.0, wall)
    return d


def test_a_restarted_dialer_counts_what_the_first_one_counted() -> None:
    """The outcomes one run recorded give the next run's pacer the same window and credit."""
    first, outcomes = one_connected_one_abandoned()
    assert [o.outcome for o in outcomes] == [Outcome.ABANDONED, Outcome.ANSWERED_AGENT]
    second = restart(tuple(sorted(stored(o) for o in outcomes)), first.wall)
    assert window(first.d)[:3] == (2.0, 1.0, 0.0)
    assert window(second) == window(first.d)
    assert second.campaigns[1].setup.history == ()  # counted, not kept


def test_an_abandon_nobody_heard_counts_after_a_restart_as_it_counted_before() -> None:
    """Where most answers after that ring time were machines, the pacer counts the abandon
    as a fraction of a person; the outcome carries that fraction, and the restarted pacer
    counts it the same, not as a whole person."""
    pacer = PredictivePacer()
    for i in range(40):  # verdicts on answers 7 s into ringing: one in five a person
        pacer.share.verdict(900.0 + i, 7.5, human=i % 5 == 0)
    first, outcomes = one_connected_one_abandoned(pacer)
    (abandon,) = [o for o in outcomes if o.outcome is Outcome.ABANDONED]
    assert abandon.counted_human is not None
    assert 0.2 < abandon.counted_human < 0.5
    assert abandon.counted_human == pacer.last_abandon_counted
    history = tuple(sorted(stored(o) for o in outcomes))
    second = restart(history, first.wall)
    assert window(second)[:3] == pytest.approx(window(first.d)[:3])
    assert window(second)[1] == pytest.approx(abandon.counted_human)
    unrecorded = tuple((at, outcome, None) for at, outcome, _ in history)
    assert window(restart(unrecorded, first.wall))[1] == 1.0  # as a person, the safe side


def test_an_abandon_counted_again_is_stored_again() -> None:
    """When the pacer counts an abandon nobody heard again (people answered the calls of
    that ring time since), the Dialer records the new count for that call, once, and a
    restart counts the abandon so."""
    pacer = PredictivePacer()
    for i in range(40):
        pacer.share.verdict(900.0 + i, 7.5, human=i % 5 == 0)
    rig, outcomes = one_connected_one_abandoned(pacer)
    (abandon,) = [o for o in outcomes if o.outcome is Outcome.ABANDONED]
    assert abandon.counted_human is not None
    for i in range(80):
        pacer.share.verdict(rig.now + i, 7.5, human=True)
    recounts: list[cmd.RecountAbandon] = []
    for _ in range(20):
        for out in (rig.tick(60.0), rig.do(ContactsClaimed(1, ()))):  # no more contacts
            recounts += [c for c in out if isinstance(c, cmd.RecountAbandon)]
    (recount,) = recounts
    assert recount.call_id == abandon.call_id
    assert recount.counted_human > abandon.counted_human + 0.3
    assert rig.d.campaigns[1].recount_ids == {}
    history = tuple(
        sorted(
            stored(o)
            if o is not abandon
            else stored(replace(o, counted_human=recount.counted_human))
            for o in outcomes
        )
    )
    assert window(restart(history, rig.wall))[1] == pytest.approx(recount.counted_human)


def test_the_agents_verdict_is_recorded_with_the_result() -> None:
    """The result of a connected call carries whether a person answered, for a restart."""
    rig, _ = one_connected_one_abandoned()
    (result,) = rig.of(cmd.RecordDisposition)
    assert isinstance(result, cmd.RecordDisposition)
    assert result.human is True


def test_with_amd_an_abandon_is_a_person_and_no_fraction_is_recorded() -> None:
    """With AMD the abandoned caller is a person the detector heard: nothing to estimate."""
    first, outcomes = one_connected_one_abandoned(amd=True)
    (abandon,) = [o for o in outcomes if o.outcome is Outcome.ABANDONED]
    assert abandon.counted_human is None
    assert window(first.d)[1] == 1.0


def test_outcomes_that_are_no_live_answer_are_not_counted() -> None:
    """Busy, no-answer and machine outcomes in the history change nothing."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    t = wall.timestamp()
    history = (
        (t - 30, Outcome.BUSY, None),
        (t - 20, Outcome.ANSWERED_MACHINE, None),
        (t - 10, Outcome.NO_ANSWER, None),
    )
    assert window(restart(history, wall))[:3] == (0.0, 0.0, 0.0)


def test_the_campaigns_window_length_reaches_the_pacer() -> None:
    """With a 24-hour window an abandon of two days ago is forgotten, one of today kept."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    t = wall.timestamp()
    history = ((t - 2 * 86400, Outcome.ABANDONED, None), (t - 3600, Outcome.ABANDONED, None))
    d = restart(history, wall, abandon_window_s=86400.0)
    pacer = d.campaigns[1].pacer
    assert isinstance(pacer, PredictivePacer)
    assert pacer.config.window_s == 86400.0
    assert window(d)[:3] == (1.0, 1.0, 0.0)
    assert window(restart(history, wall))[:3] == (2.0, 2.0, 0.0)  # the 30-day default


def test_starting_a_running_campaign_again_does_not_count_twice() -> None:
    """A campaign stopped and started in the same run keeps its pacer and its counts."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    history = ((wall.timestamp() - 60, Outcome.ABANDONED, None),)
    d = restart(history, wall)
    again = CampaignSetup(1, DialMode.PREDICTIVE, RULES, history=history)
    d.handle(StartCampaign(again), 60.0, wall + dt.timedelta(seconds=10))
    assert window(d)[:3] == (1.0, 1.0, 0.0)


def test_a_progressive_campaign_ignores_the_history() -> None:
    """Only a predictive pacer keeps a budget; other modes start as before."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    d = Dialer()
    setup = CampaignSetup(
        1, DialMode.PROGRESSIVE, RULES, history=((wall.timestamp() - 60, Outcome.ABANDONED, None),)
    )
    assert d.handle(StartCampaign(setup), 50.0, wall) == []
    assert not isinstance(d.campaigns[1].pacer, PredictivePacer)
