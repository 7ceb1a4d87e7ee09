"""The Dialer starts a predictive campaign's pacer from the campaign's stored answers."""

from __future__ import annotations

import datetime as dt

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


def stored(o: cmd.RecordOutcome) -> tuple[float, Outcome]:
    """The (time, outcome) the store keeps for a live answer: connection or end."""
    at = o.connected_at if o.outcome is Outcome.ANSWERED_AGENT else o.wall_at
    assert at is not None
    return at.timestamp(), o.outcome


def one_connected_one_abandoned() -> tuple[Rig, list[cmd.RecordOutcome]]:
    """A predictive campaign with one agent: of two answered customers one is connected
    (the agent's result says a person), the other abandoned to the safe harbor; returns
    the rig and the outcomes recorded."""
    rig = Rig(DialMode.PREDICTIVE)
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
    history: tuple[tuple[float, Outcome], ...], wall: dt.datetime, **setup: object
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


def test_outcomes_that_are_no_live_answer_are_not_counted() -> None:
    """Busy, no-answer and machine outcomes in the history change nothing."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    t = wall.timestamp()
    history = (
        (t - 30, Outcome.BUSY),
        (t - 20, Outcome.ANSWERED_MACHINE),
        (t - 10, Outcome.NO_ANSWER),
    )
    assert window(restart(history, wall))[:3] == (0.0, 0.0, 0.0)


def test_the_campaigns_window_length_reaches_the_pacer() -> None:
    """With a 24-hour window an abandon of two days ago is forgotten, one of today kept."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    t = wall.timestamp()
    history = ((t - 2 * 86400, Outcome.ABANDONED), (t - 3600, Outcome.ABANDONED))
    d = restart(history, wall, abandon_window_s=86400.0)
    pacer = d.campaigns[1].pacer
    assert isinstance(pacer, PredictivePacer)
    assert pacer.config.window_s == 86400.0
    assert window(d)[:3] == (1.0, 1.0, 0.0)
    assert window(restart(history, wall))[:3] == (2.0, 2.0, 0.0)  # the 30-day default


def test_starting_a_running_campaign_again_does_not_count_twice() -> None:
    """A campaign stopped and started in the same run keeps its pacer and its counts."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    history = ((wall.timestamp() - 60, Outcome.ABANDONED),)
    d = restart(history, wall)
    again = CampaignSetup(1, DialMode.PREDICTIVE, RULES, history=history)
    d.handle(StartCampaign(again), 60.0, wall + dt.timedelta(seconds=10))
    assert window(d)[:3] == (1.0, 1.0, 0.0)


def test_a_progressive_campaign_ignores_the_history() -> None:
    """Only a predictive pacer keeps a budget; other modes start as before."""
    wall = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    d = Dialer()
    setup = CampaignSetup(
        1, DialMode.PROGRESSIVE, RULES, history=((wall.timestamp() - 60, Outcome.ABANDONED),)
    )
    assert d.handle(StartCampaign(setup), 50.0, wall) == []
    assert not isinstance(d.campaigns[1].pacer, PredictivePacer)
