"""Who answered a connected call reaches the pacer from the agent's result: without AMD a
machine that reached an agent is not a live answer of the abandon rate."""

from __future__ import annotations

import pytest

from dialerd.core import commands as cmd
from dialerd.core import events as ev
from dialerd.core.dialer import AgentLogout, ContactsClaimed, Disposition
from dialerd.core.model import DialMode
from dialerd.core.pacing import PredictivePacer
from tests.core.test_dialer import Rig, S, contact


def connected_then_hung_up() -> Rig:
    """A predictive campaign whose one agent talked to one answered call, now in wrap-up."""
    rig = Rig(DialMode.PREDICTIVE)
    rig.login()
    rig.do(ContactsClaimed(1, (contact(1),)))
    [call] = [c.call_id for c in rig.out if isinstance(c, cmd.Originate)]
    for item, after in (
        (ev.CallAnswered(S, call), 6.0),
        (ev.CustomerReady(S, call), 1.0),
        (ev.AgentConnected(S, call, "1001"), 0.2),
        (ev.ChannelHungUp(S, ev.Party.CALL, call, ev.Leg.CUSTOMER, 16, ""), 6.0),
    ):
        rig.do(item, after=after)
    return rig


def live_answers(rig: Rig) -> float:
    """The live answers the campaign's pacer counts."""
    pacer = rig.d.campaigns[1].pacer
    assert isinstance(pacer, PredictivePacer)
    return pacer.window.live


def test_nothing_is_counted_before_the_agent_says_who_answered() -> None:
    """During the call and its wrap-up the answer is not yet a live answer."""
    assert live_answers(connected_then_hung_up()) == 0.0


@pytest.mark.parametrize(("human", "live"), [(True, 1.0), (None, 1.0), (False, 0.0)])
def test_the_result_says_whether_a_person_answered(human: bool | None, live: float) -> None:
    """A person or an unknown answer is a live answer; a machine is not."""
    rig = connected_then_hung_up()
    rig.do(Disposition("1001", None, human=human), after=3.0)
    assert live_answers(rig) == live


@pytest.mark.parametrize(("human", "kept"), [(True, (1, 0)), (None, (1, 0)), (False, (0, 1))])
def test_the_agents_talk_and_wrap_are_kept_with_who_answered(
    human: bool | None, kept: tuple[int, int]
) -> None:
    """The pacer is told which answer the agent took, so the result files the agent's
    talk and wrap under people's calls or machines' (a machine frees its agent sooner)."""
    rig = connected_then_hung_up()
    rig.do(Disposition("1001", None, human=human), after=3.0)
    pacer = rig.d.campaigns[1].pacer
    assert isinstance(pacer, PredictivePacer)
    assert (len(pacer.callers.people), len(pacer.callers.machines)) == kept
    assert len(pacer.busy) == 1


def test_an_agent_leaving_without_a_result_counts_a_person() -> None:
    """Logged out in wrap-up, nobody will say: the answer counts as a person."""
    rig = connected_then_hung_up()
    rig.do(AgentLogout("1001"), after=3.0)
    assert live_answers(rig) == 1.0


@pytest.mark.parametrize(("amd", "waiting", "dialing"), [(False, 1, 0), (True, 0, 1)])
def test_an_answer_without_amd_is_demand_at_once(amd: bool, waiting: int, dialing: int) -> None:
    """Without AMD an answered call needs an agent: the pacer sees it waiting, not ringing."""
    rig = Rig(DialMode.PREDICTIVE, amd=amd)
    rig.login()
    rig.do(ContactsClaimed(1, (contact(1),)))
    [call] = [c.call_id for c in rig.out if isinstance(c, cmd.Originate)]
    rig.do(ev.CallAnswered(S, call), after=6.0)
    campaign = rig.d.campaigns[1]
    pacer = campaign.pacer
    assert isinstance(pacer, PredictivePacer)
    view = rig.d._view(1, 3.0, answered_waits=not campaign.setup.amd)
    assert (view.calls_waiting, view.calls_dialing) == (waiting, dialing)
    assert len(pacer._dialing) == dialing
