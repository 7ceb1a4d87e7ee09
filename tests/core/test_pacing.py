"""Pacing: the Pacer protocol's three methods, the rule's arithmetic and its guards."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.core.pacing import (
    AgentActivity,
    AgentChanged,
    AnswerModel,
    BusyModel,
    CallAbandoned,
    CallConnected,
    CallerMix,
    CallOutcome,
    CallPlaced,
    CallRang,
    CallResolved,
    HumanShare,
    Pacer,
    PacingView,
    PowerPacer,
    PredictiveConfig,
    PredictivePacer,
    ProgressivePacer,
    RegimeWindow,
    expected_excess,
    p_at_least,
    progressive_dials,
    threshold_dials,
)
from dialerd.errors import UsageError


def view(
    idle: int = 0, dialing: int = 0, waiting: int = 0, agents: int = 10, lines: int | None = None
) -> PacingView:
    """A view of ``agents`` agents, ``idle`` of them idle, with a 3-lines-per-agent cap."""
    in_use = dialing + waiting + (agents - idle) if lines is None else lines
    return PacingView(
        agents_logged_in=agents,
        agents_idle=idle,
        calls_dialing=dialing,
        calls_waiting=waiting,
        lines_in_use=in_use,
        max_lines=3 * agents,
    )


def test_pacers_satisfy_the_protocol() -> None:
    """Every shipped pacer can be driven through the Pacer protocol."""
    pacers: list[Pacer] = [ProgressivePacer(), PowerPacer(2.0), PredictivePacer()]
    for pacer in pacers:
        assert pacer.decide(view(idle=2), 0.0) >= 0


def test_progressive_fills_each_idle_agent_once() -> None:
    """Progressive dialing keeps one call in flight per idle agent."""
    assert progressive_dials(view(idle=3, dialing=1)) == 2
    assert progressive_dials(view(idle=3, dialing=2, waiting=1)) == 0
    assert progressive_dials(view(idle=1, dialing=4)) == 0
    assert ProgressivePacer().next_deadline() is None


def test_progressive_respects_the_line_cap() -> None:
    """Progressive dialing never asks for more lines than the cap leaves."""
    assert progressive_dials(view(idle=5, agents=10, lines=28)) == 2


def test_power_keeps_a_fixed_ratio_per_idle_agent() -> None:
    """Power dialing keeps ratio x idle agents calls in flight."""
    assert PowerPacer(2.5).decide(view(idle=2, dialing=1), 0.0) == 4
    assert PowerPacer(2.0).decide(view(idle=2, dialing=5), 0.0) == 0


def test_power_ratio_below_one_is_refused() -> None:
    """A power ratio under one is the caller's mistake."""
    with pytest.raises(UsageError, match="ratio"):
        PowerPacer(0.5)


def test_p_at_least_is_a_continuity_corrected_normal() -> None:
    """P(D >= 0) is 1/2 at mean -1/2, and a step function without variance."""
    assert p_at_least(-0.5, 1.0) == pytest.approx(0.5)
    assert p_at_least(0.0, 0.0) == 1.0
    assert p_at_least(-1.0, 0.0) == 0.0
    assert p_at_least(-2.5, 4.0) == pytest.approx(0.5 * math.erfc(1 / math.sqrt(2)))


def test_expected_excess_of_a_centred_normal() -> None:
    """E[max(D, 0)] of a centred normal is sd / sqrt(2 pi)."""
    assert expected_excess(0.0, 4.0) == pytest.approx(2 / math.sqrt(2 * math.pi))
    assert expected_excess(3.0, 0.0) == 3.0


def test_threshold_dials_at_zero_risk_is_progressive() -> None:
    """With theta 0 the rule adds nothing to progressive."""
    v = view(idle=2)
    n = threshold_dials(v, mean_l=0.0, var_l=0.0, mean_a=2.0, var_a=0.0, q_new=0.2, theta=0.0)
    assert n == 2


def test_threshold_dials_adds_calls_until_the_risk_passes_theta() -> None:
    """Calls are added one by one while P(L >= A) stays within theta."""
    crowded = view(idle=1, dialing=2, agents=10)
    # Two certain-to-need calls against one agent: no room even at theta 0.4.
    kw = {"mean_l": 2.0, "var_l": 0.0, "mean_a": 1.0, "var_a": 0.0, "q_new": 0.5}
    assert threshold_dials(crowded, **kw, theta=0.4) == 0
    # One free agent, nothing in flight: P(L >= A) is 0, then 1/2, then about 0.76.
    empty = view(idle=1, agents=10)
    kw = {"mean_l": 0.0, "var_l": 0.0, "mean_a": 1.0, "var_a": 0.0, "q_new": 0.5}
    assert threshold_dials(empty, **kw, theta=0.25) == 1
    assert threshold_dials(empty, **kw, theta=0.6) == 2


def test_threshold_dials_stops_at_the_line_cap() -> None:
    """Even at theta 1 the rule stops at the line cap."""
    v = view(idle=10, agents=10, lines=0)
    n = threshold_dials(v, mean_l=0.0, var_l=0.0, mean_a=10.0, var_a=0.0, q_new=0.1, theta=1.0)
    assert n == 30


def test_answer_model_conditions_on_the_time_already_rung() -> None:
    """q(age) counts only attempts still unresolved at that age."""
    model = AnswerModel((math.inf,), window_s=100.0, min_attempts=1)
    for age, routed in ((1.0, 0.0), (5.0, 1.0), (10.0, 0.0), (20.0, 1.0)):
        model.add(0.0, age, routed)
    rows = model.rows()
    assert rows[0][0] == 0.5  # 2 of 4
    assert rows[int(3.0 / AnswerModel.BIN_S)][0] == pytest.approx(2 / 3)
    assert rows[int(12.0 / AnswerModel.BIN_S)][0] == 1.0
    assert model.live_weight == 2.0


def test_answer_model_horizon_counts_only_answers_within_it() -> None:
    """q_h(age) counts the answers that come within h seconds."""
    model = AnswerModel((10.0,), window_s=100.0, min_attempts=1)
    for age in (5.0, 20.0):
        model.add(0.0, age, 1.0)
    assert model.rows()[0][0] == 0.5


def test_answer_model_forgets_old_attempts_beyond_the_minimum() -> None:
    """Attempts older than the window leave it once the minimum count is kept."""
    model = AnswerModel((math.inf,), window_s=10.0, min_attempts=2)
    model.add(0.0, 1.0, 1.0)
    model.add(1.0, 1.0, 1.0)
    model.add(20.0, 1.0, 0.0)
    model.add(21.0, 1.0, 0.0)
    assert len(model) == 2
    assert model.live_weight == 0.0


def test_answer_model_reweighs_an_attempt_only_while_it_is_in_the_window() -> None:
    """An attempt's weight can change while it is kept; once it has left, nothing moves."""
    model = AnswerModel((math.inf,), window_s=10.0, min_attempts=1)
    first = model.add(0.0, 1.0, 1.0)
    model.reweigh(first, 0.5)
    assert model.live_weight == 0.5
    model.add(20.0, 1.0, 1.0)
    model.reweigh(first, 0.0)
    assert (len(model), model.live_weight) == (1, 1.0)


def test_an_answer_counts_in_q_from_when_it_is_routed() -> None:
    """A routed answer needs an agent at once, though who answered is known only with the
    agent's verdict, minutes later for a person: until then it counts fully, and the
    verdict or the abandon then sets its weight. Left out until its verdict, the people
    still talking would be missing from q (15 minutes into a 10-agent shift a fresh
    call's q read 0.098 where it is 0.135), and the pacer would over-dial."""
    pacer = PredictivePacer(PredictiveConfig(machine_weight=0.5))
    for i in range(4):
        pacer.observe(CallPlaced(i, 0.0))
    pacer.observe(CallResolved(0, 20.0, CallOutcome.NO_ANSWER))
    for i in (1, 2, 3):
        pacer.observe(CallResolved(i, 8.0, CallOutcome.ROUTED))
    assert (len(pacer.answers), pacer.answers.live_weight) == (4, 3.0)
    pacer.observe(CallConnected(1, 8.0, False))
    pacer.observe(CallConnected(2, 8.0, True))
    assert pacer.answers.live_weight == 2.5
    # Nobody heard who answered: few verdicts yet, so it counts as a person.
    pacer.observe(CallAbandoned(3, 10.0, None))
    assert (len(pacer.answers), pacer.answers.live_weight) == (4, 2.5)


def test_busy_model_probability_from_talk_and_wrap_pairs() -> None:
    """P(free within h | talking for e) uses the calls that lasted longer than e."""
    model = BusyModel((15.0,), min_tail=1)
    for talk, wrap in ((10.0, 5.0), (30.0, 10.0), (100.0, 20.0), (4.0, 0.0)):
        model.add(talk, wrap)
    model.rebuild()
    assert model.p(AgentActivity.TALK, 0.0) == 0.5  # 4+0 and 10+5 end within 15 s
    assert model.p(AgentActivity.TALK, 20.0) == 0.0  # 30+10 ends at 40 > 35
    assert model.p(AgentActivity.TALK, 26.0) == 0.5  # of 30 and 100, 30+10 <= 41
    assert model.p(AgentActivity.WRAP, 0.0) == 2 / 3  # wraps 5 and 10 of 5, 10, 20


def test_busy_model_counts_calls_in_progress_as_still_talking() -> None:
    """Censored talks in progress lower the chance of an early end."""
    model = BusyModel((15.0,), min_tail=1)
    model.add(5.0, 0.0)
    model.rebuild(censored=[300.0])
    assert model.p(AgentActivity.TALK, 0.0) == 0.5


def test_busy_model_long_talks_end_at_a_learned_constant_rate() -> None:
    """Past the last elapsed time with enough samples, talk ends at a constant rate."""
    model = BusyModel((15.0,), min_tail=2)
    for talk, wrap in ((10.0, 5.0), (100.0, 10.0), (200.0, 10.0)):
        model.add(talk, wrap)
    model.rebuild()
    # Two calls outlast every elapsed time up to 98 s; past 100 s only the 200 s call:
    # one end in 100 s of exposure, and a 10 s wrap leaves 5 s for the talk to end.
    assert model.p(AgentActivity.TALK, 50.0) == 0.0
    assert model.p(AgentActivity.TALK, 150.0) == pytest.approx(1 - math.exp(-5 / 100))
    assert model.p(AgentActivity.TALK, 5000.0) == model.p(AgentActivity.TALK, 150.0)


def test_busy_model_with_few_wraps_does_not_count_agents_in_wrap_as_free() -> None:
    """Fewer wraps than min_tail still give the wrap row: a 30 s wrap is not over in 15 s."""
    model = BusyModel((15.0,), min_tail=20)
    for _ in range(18):
        model.add(60.0, 30.0)
    model.add(4.0, 0.0)  # a machine dismissed at once: no wrap
    model.rebuild()
    assert model.p(AgentActivity.WRAP, 0.0) == 0.0
    assert model.p(AgentActivity.WRAP, 20.0) == 0.0


def test_busy_model_without_wraps_takes_an_agent_in_wrap_as_free() -> None:
    """A team that has no wrap-up leaves wrap at once."""
    model = BusyModel((15.0,), min_tail=1)
    model.add(60.0, 0.0)
    model.rebuild()
    assert model.p(AgentActivity.WRAP, 0.0) == 1.0


def test_a_repeated_activity_does_not_end_the_period() -> None:
    """A reserved agent whose call connects stays in one talk period, not two."""
    pacer = PredictivePacer()
    pacer.observe(AgentChanged(1, 0.0, AgentActivity.TALK))
    pacer.observe(AgentChanged(1, 0.3, AgentActivity.TALK))
    pacer.observe(AgentChanged(1, 90.0, AgentActivity.WRAP))
    pacer.observe(AgentChanged(1, 110.0, AgentActivity.IDLE))
    assert len(pacer.busy) == 1
    pacer.busy.rebuild()
    assert pacer.busy.p(AgentActivity.TALK, 0.0) == 0.0  # 90 + 20 s is not within 15 s


def test_busy_model_survival_and_longest_talk() -> None:
    """The share of talks that outlast an elapsed time, and the longest, as of a rebuild."""
    model = BusyModel((15.0,), min_tail=1)
    assert model.survival(3.0) == 1.0  # nothing known: nobody has been seen to end
    for talk in (4.0, 6.0, 8.0, 120.0):
        model.add(talk, 0.0)
    model.rebuild()
    assert model.survival(5.0) == 0.75
    assert model.survival(8.0) == 0.25
    assert model.longest_talk == 120.0


def mix_of(people_talk: float, machine_talk: float, n: int = 20) -> CallerMix:
    """A CallerMix that has seen ``n`` people's calls and ``n`` machines', each kind of one
    talk length (people wrap for 20 s, machines not at all)."""
    mix = CallerMix(15.0, min_pairs=n)
    for _ in range(n):
        mix.add(True, people_talk, 20.0)
        mix.add(False, machine_talk, 0.0)
    mix.refresh()
    assert mix.ready
    return mix


def test_caller_mix_weighs_people_and_machines_by_the_share_at_the_ring_time() -> None:
    """Two seconds into a call, an agent on a machine (dismissed in 6 s) is free within
    15 s and one on a person (120 s of talk) is not: the chance is the share's mixture."""
    mix = mix_of(people_talk=120.0, machine_talk=6.0)
    assert mix.p(1.0, 2.0) == 0.0
    assert mix.p(0.0, 2.0) == 1.0
    assert mix.p(0.25, 2.0) == pytest.approx(0.75)


def test_caller_mix_past_the_longest_machine_the_agent_is_on_a_person() -> None:
    """No machine took longer than 6 s: an agent still on the call at 7 s is on a person,
    whatever the share at its ring time."""
    mix = mix_of(people_talk=120.0, machine_talk=6.0)
    assert mix.machine_talk_s == 6.0
    assert mix.p(0.01, 7.0) == 0.0


def test_caller_mix_correction_moves_a_from_the_pooled_mixture() -> None:
    """Against a pooled model of the same calls (half of them machines), an agent on a
    likely machine adds to A and one on a likely person takes from it."""
    mix = mix_of(people_talk=120.0, machine_talk=6.0)
    pooled = BusyModel((15.0,), min_tail=1)
    for _ in range(20):
        pooled.add(120.0, 20.0)
        pooled.add(6.0, 0.0)
    pooled.rebuild()
    assert pooled.p(AgentActivity.TALK, 2.0) == 0.5
    assert mix.correction([(0.0, 2.0)], pooled) == pytest.approx((0.5, -0.25))
    assert mix.correction([(1.0, 2.0)], pooled) == pytest.approx((-0.5, -0.25))
    assert mix.correction([], pooled) == (0.0, 0.0)


def test_regime_window_expires_old_counts() -> None:
    """Counts older than the window drop out."""
    window = RegimeWindow(100.0)
    window.add(0.0, 1.0, 1.0)
    window.add(50.0, 1.0, 0.0)
    window.expire(120.0)
    assert (window.live, window.abandoned) == (1.0, 0.0)


def trained(config: PredictiveConfig, t0: float = 0.0) -> PredictivePacer:
    """A pacer fed 400 attempts (one in five answered, half of those by humans) and 50
    finished calls by t0 + 400, with budget to spare."""
    pacer = PredictivePacer(config)
    for i in range(400):
        at = t0 + i
        pacer.observe(CallPlaced(i, at))
        outcome = CallOutcome.ROUTED if i % 5 == 0 else CallOutcome.NO_ANSWER
        pacer.observe(CallResolved(i, at + 10.0, outcome))
        if outcome is CallOutcome.ROUTED:
            pacer.observe(CallConnected(i, at + 10.0, i % 10 == 0))
    for agent in range(50):
        start = t0 + 8 * agent
        pacer.observe(AgentChanged(agent, start, AgentActivity.TALK))
        pacer.observe(AgentChanged(agent, start + 5.0, AgentActivity.WRAP))
        pacer.observe(AgentChanged(agent, start + 8.0, AgentActivity.AWAY))
    for agent in range(100, 110):
        pacer.observe(AgentChanged(agent, t0 + 400.0, AgentActivity.IDLE))
    return pacer


def test_predictive_falls_back_to_progressive_without_data() -> None:
    """With too few observations the predictive pacer dials progressively."""
    pacer = PredictivePacer()
    assert pacer.decide(view(idle=4), 0.0) == 4
    assert pacer.fallback_reason == "too few attempts"


def test_predictive_waits_for_as_many_finished_calls_as_agents() -> None:
    """Fifty finished calls: enough for fifty agents, too few for sixty."""
    pacer = trained(PredictiveConfig(opening_credit_live=100.0))
    assert pacer.decide(view(idle=60, agents=60, lines=0), 401.0) == 60
    assert pacer.fallback_reason == "too few finished calls"
    pacer.decide(view(idle=50, agents=50, lines=0), 402.0)
    assert pacer.fallback_reason is None


def test_predictive_dials_more_than_progressive_when_budget_allows() -> None:
    """Ten idle agents and nothing in flight: the pacer places more than ten calls."""
    pacer = trained(PredictiveConfig(opening_credit_live=100.0))
    n = pacer.decide(view(idle=10, agents=10, lines=0), 401.0)
    assert pacer.fallback_reason is None
    assert n > 10


def test_predictive_falls_back_when_the_budget_is_spent() -> None:
    """Abandons beyond the budget send the pacer back to progressive."""
    pacer = trained(PredictiveConfig(abandon_target=0.03, opening_credit_live=30.0))
    for i in range(2):
        pacer.observe(CallAbandoned(1000 + i, 400.0, True))
    assert pacer.decide(view(idle=10, agents=10, lines=0), 401.0) == 10
    assert pacer.fallback_reason == "abandon budget spent"


def test_predictive_budget_returns_as_live_answers_accrue() -> None:
    """After enough connected live calls the budget allows predictive dialing again."""
    pacer = trained(PredictiveConfig(abandon_target=0.03, opening_credit_live=30.0))
    pacer.observe(CallAbandoned(1000, 400.0, True))
    for i in range(100):
        pacer.observe(CallConnected(2000 + i, 400.0, True))
    pacer.decide(view(idle=10, agents=10, lines=0), 401.0)
    assert pacer.fallback_reason is None


def test_theta_shrinks_with_the_slack_near_the_guard() -> None:
    """One abandon's worth of slack over the guard halves theta; below it, progressive."""
    # 40 connected humans and a credit of 23.3 - 40 / 3 = 10 live answers: 1.5 abandons
    # allowed at 3 %, of which 0.5 is the reserve.
    pacer = trained(PredictiveConfig(abandon_target=0.03, opening_credit_live=70 / 3))
    n = pacer.decide(view(idle=10, agents=10, lines=0), 401.0)
    assert pacer.fallback_reason is None
    assert pacer.spend == pytest.approx(0.5, abs=0.01)
    assert n >= 10
    for i in range(2):
        pacer.observe(CallAbandoned(1000 + i, 401.5, True))
    assert pacer.decide(view(idle=10, agents=10, lines=0), 402.0) == 10
    assert pacer.fallback_reason == "abandon budget spent"


def answered(pacer: PredictivePacer, call_id: int, rung_s: float) -> None:
    """Place a call at 0 s that is answered and routed after ``rung_s``."""
    pacer.observe(CallPlaced(call_id, 0.0))
    pacer.observe(CallResolved(call_id, rung_s, CallOutcome.ROUTED))


def test_an_unknown_caller_weighs_the_share_of_people_at_its_ring_time() -> None:
    """Without AMD an abandoned answer counts as the share of people agents found on
    answers of the same ring time, raised by one sd and half an answer."""
    pacer = PredictivePacer()
    for i in range(40):
        answered(pacer, i, 22.0)
        pacer.observe(CallConnected(i, 30.0, i % 4 == 0))  # one in four a person
    answered(pacer, 99, 22.3)
    pacer.observe(CallAbandoned(99, 30.0, None))
    w = 0.25 + math.sqrt(0.25 * 0.75 / 40) + 0.5 / 40
    assert pacer.window.abandoned == pytest.approx(w)
    assert pacer.window.uncertainty == pytest.approx(w * (1 - w))


def test_answers_still_without_a_verdict_count_as_people() -> None:
    """A person's verdict comes minutes after a machine's: answers routed and not yet
    judged count as people in the share."""
    pacer = PredictivePacer()
    for i in range(40):
        answered(pacer, i, 22.0)
    for i in range(20):
        pacer.observe(CallConnected(i, 30.0, False))  # 20 machines judged, 20 pending
    answered(pacer, 99, 22.0)
    pacer.observe(CallAbandoned(99, 30.0, None))
    assert pacer.window.abandoned == pytest.approx(0.5 + math.sqrt(0.25 / 40) + 0.5 / 40)


def share_then_people(config: PredictiveConfig) -> PredictivePacer:
    """A pacer that counted an abandon nobody heard (call 99, at 30 s, rung 22.3 s) where
    one answer in four of that ring time was a person, then saw 120 answers of it judged
    people, at 330 s."""
    pacer = PredictivePacer(config)
    for i in range(40):
        answered(pacer, i, 22.0)
        pacer.observe(CallConnected(i, 30.0, i % 4 == 0))
    answered(pacer, 99, 22.3)
    pacer.observe(CallAbandoned(99, 30.0, None))
    for i in range(100, 220):
        pacer.observe(CallPlaced(i, 300.0))
        pacer.observe(CallResolved(i, 322.0, CallOutcome.ROUTED))
        pacer.observe(CallConnected(i, 330.0, True))
    return pacer


def test_an_unknown_caller_is_counted_again_from_the_answers_around_it() -> None:
    """``recount_after_s`` after an abandon nobody heard, it is counted again from the
    verdicts of the half hour then: where people came to answer more often, the first
    count was low. The window, theta and the engine (``recounts``) take the new count."""
    pacer = share_then_people(PredictiveConfig(recount_after_s=900.0))
    first = 0.25 + math.sqrt(0.25 * 0.75 / 40) + 0.5 / 40
    assert pacer.last_abandon_counted == pytest.approx(first)
    pacer.decide(view(idle=1), 929.0)
    assert pacer.recounts() == []
    assert pacer.window.abandoned == pytest.approx(first)
    live, logit = pacer.window.live, pacer.logit_theta
    pacer.decide(view(idle=1), 931.0)
    share = 130 / 160
    again = share + math.sqrt(share * (1 - share) / 160) + 0.5 / 160
    ((call_id, counted),) = pacer.recounts()
    assert call_id == 99
    assert counted == pytest.approx(again)
    assert pacer.recounts() == []  # given once
    assert pacer.window.abandoned == pytest.approx(again)
    assert pacer.window.uncertainty == pytest.approx(again * (1 - again))
    assert pacer.window.live == pytest.approx(live + again - first)
    # An abandon's step down, for the part counted anew (gain 1).
    assert pacer.logit_theta == pytest.approx(logit - (again - first) * (1 - 0.9 * 0.03))


def test_no_recount_when_it_is_off() -> None:
    """With ``recount_after_s`` 0 an abandon keeps its first count."""
    pacer = share_then_people(PredictiveConfig(recount_after_s=0.0))
    first = pacer.last_abandon_counted
    pacer.decide(view(idle=1), 931.0)
    assert pacer.recounts() == []
    assert pacer.window.abandoned == pytest.approx(first)


def test_a_recount_after_the_abandon_left_the_window_changes_nothing() -> None:
    """An abandon already out of the regime window is not counted again (nothing to
    correct), and the engine is told it keeps its count."""
    pacer = share_then_people(PredictiveConfig(recount_after_s=900.0, window_s=600.0))
    first = pacer.last_abandon_counted
    assert first is not None
    pacer.decide(view(idle=1), 931.0)
    assert pacer.recounts() == [(99, first)]
    assert pacer.window.abandoned == 0.0


def test_an_unknown_caller_counts_as_a_person_where_answers_are_few() -> None:
    """At a ring time with fewer than 20 answers, or with the estimate off, an abandoned
    answer of unknown caller counts as a person."""
    for config in (PredictiveConfig(), PredictiveConfig(estimate_unknown_callers=False)):
        pacer = PredictivePacer(config)
        for i in range(40):
            answered(pacer, i, 22.0)
            pacer.observe(CallConnected(i, 30.0, False))
        answered(pacer, 98, 22.0 if not config.estimate_unknown_callers else 8.0)
        pacer.observe(CallAbandoned(98, 30.0, None))
        assert (pacer.window.abandoned, pacer.window.uncertainty) == (1.0, 0.0)


def test_human_share_forgets_old_verdicts() -> None:
    """Verdicts older than the window leave the share once more than the minimum are kept."""
    share = HumanShare(window_s=100.0, min_verdicts=30, min_bin=20)
    for i in range(30):
        share.verdict(float(i), 10.0, False)
    for i in range(30):
        share.verdict(200.0 + i, 10.0, True)
    assert share.weight(10.0) == pytest.approx(1.0)  # the machines were forgotten


def test_human_share_sparse_bin_borrows_from_neighbours_then_counts_a_person() -> None:
    """A ring time with too few answers takes in those up to max_spread bins either side;
    beyond that reach, or still too few, the abandon counts as a person."""
    share = HumanShare(window_s=1000.0, min_verdicts=100, min_bin=20, max_spread=2)
    for i in range(40):
        share.verdict(float(i), 18.5, i < 10)  # 10 people in 40 answers, 2 s away
    for i in range(5):
        share.verdict(50.0 + i, 20.5, False)  # the bin asked about: 5 machines
    n, w = 45, 10 / 45
    assert share.weight(20.5) == pytest.approx(w + math.sqrt(w * (1 - w) / n) + 0.5 / n)
    assert share.weight(21.5) == pytest.approx(1.0)  # 3 s away: only the 5 machines
    narrow = HumanShare(window_s=1000.0, min_verdicts=100, min_bin=20, max_spread=0)
    for i in range(5):
        narrow.verdict(float(i), 20.5, False)
    assert narrow.weight(20.5) == pytest.approx(1.0)


def taught_who_answers(pacer: PredictivePacer) -> None:
    """Agents 1-40 each took an answer: people answer after 8 s of ringing (120 s of talk,
    20 s of wrap), machines after 20 s (dismissed in 6 s); then they left. Verdicts come
    with the agents' results, at the end of the wrap, as from the Dialer."""
    for i in range(40):
        human = i % 2 == 0
        ring, talk, wrap = (8.0, 120.0, 20.0) if human else (20.0, 6.0, 0.0)
        call, agent, placed = 100 + i, 1 + i, 10.0 * i
        pacer.observe(CallPlaced(call, placed))
        pacer.observe(CallResolved(call, placed + ring, CallOutcome.ROUTED))
        pacer.observe(AgentChanged(agent, placed + ring, AgentActivity.TALK, call))
        pacer.observe(AgentChanged(agent, placed + ring + talk, AgentActivity.WRAP))
        pacer.observe(CallConnected(call, placed + ring, human))
        pacer.observe(AgentChanged(agent, placed + ring + talk + wrap, AgentActivity.AWAY))
    for i in range(100):
        pacer.observe(CallPlaced(1000 + i, 600.0))
        pacer.observe(CallResolved(1000 + i, 625.0, CallOutcome.NO_ANSWER))


def test_the_pacer_learns_who_answered_each_agents_calls() -> None:
    """The call an agent takes links its talk and wrap to the agent's verdict: twenty
    periods of each kind, kept apart."""
    pacer = PredictivePacer()
    taught_who_answers(pacer)
    assert (len(pacer.callers.people), len(pacer.callers.machines)) == (20, 20)
    assert len(pacer.busy) == 40


def test_an_agent_on_a_likely_machine_counts_as_free_sooner() -> None:
    """Nine agents deep in people's calls and one who took an answer 2 s ago: if it rang
    for 20 s (where agents found machines) the pacer counts on that agent and places a
    call; if for 8 s (people), it places none."""
    placed = {}
    for ring in (8.0, 20.0):
        pacer = PredictivePacer(PredictiveConfig(theta_initial=0.3, opening_credit_live=1e4))
        taught_who_answers(pacer)
        for agent in range(50, 59):
            pacer.observe(AgentChanged(agent, 640.0, AgentActivity.TALK))
        pacer.observe(CallPlaced(2000, 700.0 - ring - 2.0))
        pacer.observe(CallResolved(2000, 698.0, CallOutcome.ROUTED))
        pacer.observe(AgentChanged(60, 698.0, AgentActivity.TALK, 2000))
        placed[ring] = pacer.decide(view(idle=0, agents=10, lines=10), 700.0)
        assert pacer.fallback_reason is None
    assert placed[20.0] > placed[8.0]


def test_extra_calls_are_rationed_by_team_size_and_time() -> None:
    """Ten idle agents, nothing in flight, a rule that wants 30 calls: the first decision
    adds 3 extra calls (the burst in hand for a small team), then 0.1 per agent and
    second accrue."""
    unlimited = PredictiveConfig(
        opening_credit_live=1000.0, max_extra_rate=math.inf, max_extra_burst=math.inf
    )
    assert trained(unlimited).decide(view(idle=10, agents=10, lines=0), 401.0) == 30
    pacer = trained(PredictiveConfig(opening_credit_live=1000.0))
    assert pacer.decide(view(idle=10, agents=10, lines=0), 401.0) == 10 + 3
    assert pacer.fallback_reason is None
    assert pacer.decide(view(idle=10, agents=10, lines=13), 401.5) == 10  # half a token
    assert pacer.decide(view(idle=10, agents=10, lines=13), 402.5) == 10 + 1


def test_amd_false_positive_estimate_is_counted_with_every_human() -> None:
    """With AMD each connected human carries fp / (1 - fp) estimated abandons, and their
    variance."""
    pacer = PredictivePacer(PredictiveConfig(amd_false_positive_rate=0.2))
    pacer.observe(CallConnected(1, 1.0, True))
    assert pacer.window.abandoned == pytest.approx(0.25)
    assert pacer.window.live == pytest.approx(1.25)
    # The estimate's spread (geometric: fp / (1 - fp)^2) goes to the guard's reserve.
    assert pacer.window.uncertainty == pytest.approx(0.2 / 0.8**2)


def test_amd_false_positives_over_target_force_progressive() -> None:
    """When AMD false positives alone exceed the target the pacer stays progressive."""
    pacer = trained(PredictiveConfig(abandon_target=0.03, amd_false_positive_rate=0.05))
    assert pacer.amd_budget_spent
    assert pacer.decide(view(idle=3, agents=10), 401.0) == 3
    assert pacer.fallback_reason == "AMD false positives use up the abandon budget"


def test_controller_lowers_theta_on_abandon_and_raises_it_on_connects() -> None:
    """While dialing predictively an abandon lowers theta; connected live calls raise it."""
    pacer = trained(PredictiveConfig(opening_credit_live=1000.0))
    pacer.decide(view(idle=10, agents=10, lines=0), 401.0)
    start = pacer.theta
    pacer.observe(CallAbandoned(5000, 402.0, True))
    lowered = pacer.theta
    for i in range(200):
        pacer.observe(CallConnected(6000 + i, 403.0, True))
    assert lowered < start < pacer.theta


def test_controller_may_take_theta_past_one_half_up_to_its_bound() -> None:
    """A large team at a low live rate needs theta near 1; theta_max still bounds it."""
    pacer = trained(PredictiveConfig(opening_credit_live=1000.0))
    pacer.decide(view(idle=10, agents=10, lines=0), 401.0)
    assert pacer.fallback_reason is None
    for i in range(2000):
        pacer.observe(CallConnected(6000 + i, 403.0, True))
    assert pacer.theta == pytest.approx(pacer.config.theta_max)
    assert pacer.theta > 0.9


@pytest.mark.parametrize(
    ("target", "start"),
    [(0.05, 0.01), (0.03, 0.01), (0.02, 0.015), (0.01, 0.02), (0.005, 0.02)],
)
def test_theta_starts_higher_for_a_lower_target(target: float, start: float) -> None:
    """The controller climbs in proportion to the target: a lower target starts higher,
    from 0.01 at 3 % and above up to 0.02."""
    pacer = PredictivePacer(PredictiveConfig(abandon_target=target))
    assert pacer.theta == pytest.approx(start)


def test_a_theta_initial_given_is_where_theta_starts() -> None:
    """An explicit start is used as given, even below the default for its target."""
    config = PredictiveConfig(abandon_target=0.01, theta_initial=0.005)
    assert PredictivePacer(config).theta == pytest.approx(0.005)


def answers_routed(pacer: PredictivePacer, first_id: int, at: float, count: int) -> None:
    """``count`` answers routed at ``at``, each connected to a person at once."""
    for call_id in range(first_id, first_id + count):
        pacer.observe(CallPlaced(call_id, at - 10.0))
        pacer.observe(CallResolved(call_id, at, CallOutcome.ROUTED))
        pacer.observe(CallConnected(call_id, at, True))


def test_theta_climbs_faster_while_answers_find_agents_to_spare() -> None:
    """Answers that find several agents idle are far from an abandon: theta climbs up to
    near_miss_boost times faster. Answers that find at most one idle agent come several
    times as often as abandons, and where they are common it climbs at the usual pace."""

    def pacer_after(boost: float, idle: int) -> PredictivePacer:
        pacer = trained(PredictiveConfig(opening_credit_live=1000.0, near_miss_boost=boost))
        for agent in range(100 + idle, 110):
            pacer.observe(AgentChanged(agent, 401.0, AgentActivity.TALK))
        # Learned while the pacer still falls back: theta does not move yet.
        answers_routed(pacer, 10_000, 402.0, 1000)
        pacer.decide(view(idle=idle, agents=10, lines=10 - idle), 403.0)
        assert pacer.fallback_reason is None
        return pacer

    spare, tight, untouched = pacer_after(3.0, 10), pacer_after(3.0, 1), pacer_after(1.0, 10)
    start = spare.logit_theta
    assert tight.logit_theta == untouched.logit_theta == start
    assert spare.climb_boost() == pytest.approx(3.0)
    assert tight.climb_boost() == untouched.climb_boost() == 1.0
    for pacer in (spare, tight, untouched):
        answers_routed(pacer, 20_000, 404.0, 20)
    usual = tight.logit_theta - start
    assert usual > 0
    assert untouched.logit_theta - start == pytest.approx(usual)
    assert spare.logit_theta - start == pytest.approx(3 * usual, rel=0.05)


def test_abandons_lower_theta_at_the_usual_pace_whatever_the_near_misses() -> None:
    """The boost speeds the climb only: an abandon costs theta the same step."""
    pacer = trained(PredictiveConfig(opening_credit_live=1000.0, near_miss_boost=3.0))
    answers_routed(pacer, 10_000, 402.0, 1000)
    pacer.decide(view(idle=10, agents=10, lines=0), 403.0)
    assert pacer.climb_boost() > 1.0
    before = pacer.logit_theta
    pacer.observe(CallAbandoned(20_000, 404.0, True))
    assert before - pacer.logit_theta == pytest.approx(1.0 - pacer.internal_target)


def test_controller_does_not_wind_up_while_falling_back() -> None:
    """Connected calls during a progressive spell do not raise theta."""
    pacer = PredictivePacer()
    start = pacer.theta
    for i in range(200):
        pacer.observe(CallConnected(i, 2.0, True))
    assert pacer.theta == start


def test_predictive_re_evaluates_every_tick() -> None:
    """The pacer asks to be woken one tick after its last decision."""
    pacer = PredictivePacer()
    pacer.decide(view(idle=1), 12.0)
    assert pacer.next_deadline() == 13.0


@given(
    idle=st.integers(0, 10),
    dialing=st.integers(0, 20),
    waiting=st.integers(0, 3),
    spare=st.integers(0, 30),
)
def test_predictive_stays_within_cap_and_never_below_progressive(
    idle: int, dialing: int, waiting: int, spare: int
) -> None:
    """Whatever the floor looks like, predictive >= progressive and within the line cap."""
    pacer = trained(PredictiveConfig(opening_credit_live=1000.0))
    agents = 10
    busy = agents - idle
    in_use = min(3 * agents, dialing + waiting + busy + max(0, spare - 30))
    v = PacingView(agents, idle, dialing, waiting, in_use, 3 * agents)
    n = pacer.decide(v, 401.0)
    assert progressive_dials(v) <= n <= max(0, v.max_lines - v.lines_in_use)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"abandon_target": 1.0}, "abandon_target"),
        ({"abandon_target": -0.01}, "abandon_target"),
        ({"amd_false_positive_rate": 1.0}, "amd_false_positive_rate"),
        ({"internal_target_share": 0.0}, "internal_target_share"),
        ({"soft_budget_abandons": 0.0}, "soft_budget_abandons"),
        ({"window_s": 0.0}, "window_s"),
        ({"reserve_sd": -1.0}, "reserve_sd"),
        ({"min_agents": 0}, "min_agents"),
        ({"gain": 0.5}, "gain_min"),  # the floor would silently raise it back to 1
        ({"theta_initial": 0.99}, "theta_initial"),
        ({"theta_min": 0.5, "theta_max": 0.4}, "theta_min"),
        ({"theta_max": 1.0}, "theta_max"),
        ({"opening_credit_live": -1.0}, "opening_credit_live"),
        ({"opening_credit_abandons": -0.5}, "opening_credit_abandons"),
        ({"machine_weight": 1.5}, "machine_weight"),
        ({"cancel_risk": 1.0}, "cancel_risk"),
        ({"min_ring_before_cancel_s": 14.9}, "min_ring_before_cancel_s"),
        ({"near_miss_boost": 0.5}, "near_miss_boost"),
        ({"near_miss_ref": 0.0}, "near_miss_ref"),
        ({"near_miss_answers": 0.5}, "near_miss_answers"),
        ({"recount_after_s": -1.0}, "recount_after_s"),
    ],
)
def test_a_parameter_out_of_range_is_refused_by_name(changes: dict[str, float], named: str) -> None:
    with pytest.raises(UsageError, match=f"^{named}: must be"):
        PredictiveConfig(**changes)  # type: ignore[arg-type]


def test_the_settings_in_use_are_accepted() -> None:
    """The defaults, a decreasing gain, no opening credit and unlimited extra calls."""
    PredictiveConfig()
    PredictiveConfig(gain=2.0, gain_min=0.3, abandon_target=0.01, opening_credit_live=0.0)
    PredictiveConfig(max_extra_rate=math.inf, max_extra_burst=math.inf, theta_initial=0.95)


def late_answers(config: PredictiveConfig) -> PredictivePacer:
    """A pacer that has seen 400 attempts: one in five answered by a person after 8 s, one
    in five after 20 s, the rest unanswered at 25 s; and 50 calls of 200 s talk and 20 s
    wrap-up, so that an agent just into a call is not free soon. 10 agents, all talking
    since t = 400."""
    pacer = PredictivePacer(config)
    for i in range(400):
        kind = i % 5
        ring = 8.0 if kind == 0 else 20.0 if kind == 1 else 25.0
        pacer.observe(CallPlaced(i, float(i)))
        routed = kind < 2
        pacer.observe(
            CallResolved(i, i + ring, CallOutcome.ROUTED if routed else CallOutcome.NO_ANSWER)
        )
        if routed:
            pacer.observe(CallConnected(i, i + ring, True))
    for agent in range(50):
        pacer.observe(AgentChanged(agent, 0.0, AgentActivity.TALK))
        pacer.observe(AgentChanged(agent, 200.0, AgentActivity.WRAP))
        pacer.observe(AgentChanged(agent, 220.0, AgentActivity.AWAY))
    for agent in range(100, 110):
        pacer.observe(AgentChanged(agent, 400.0, AgentActivity.TALK))
    return pacer


def ring(pacer: PredictivePacer, call_id: int, placed: float, rang: float) -> None:
    pacer.observe(CallPlaced(call_id, placed))
    pacer.observe(CallRang(call_id, rang))


def test_with_every_agent_busy_the_pacer_takes_back_calls_that_rang_15_s() -> None:
    """Ten agents just into their calls and three answers waiting: any answer to come
    will find no agent. Calls that have rung 15 s are taken back, likeliest first; one
    that has rung 14 s is not, and neither is one too old to answer at all."""
    pacer = late_answers(PredictiveConfig(opening_credit_live=100.0))
    ring(pacer, 1000, 401.0, 403.0)  # rung 16 s at t = 419
    ring(pacer, 1001, 402.0, 404.0)  # rung 15 s
    ring(pacer, 1002, 403.0, 405.0)  # rung 14 s: not yet
    ring(pacer, 1003, 390.0, 392.0)  # rung 27 s: past every answer, q = 0
    decided = pacer.decide(view(idle=0, dialing=4, waiting=3, agents=10), 419.0)
    assert pacer.fallback_reason is None
    assert decided == 0
    assert sorted(pacer.cancels()) == [1000, 1001]
    assert pacer.cancels() == []  # given once


def test_with_agents_to_spare_no_call_is_taken_back() -> None:
    """The same calls with ten idle agents: no risk, nothing hung up."""
    pacer = late_answers(PredictiveConfig(opening_credit_live=100.0))
    for agent in range(100, 110):
        pacer.observe(AgentChanged(agent, 410.0, AgentActivity.IDLE))
    ring(pacer, 1000, 401.0, 403.0)
    ring(pacer, 1001, 402.0, 404.0)
    pacer.decide(view(idle=10, dialing=2, agents=10), 419.0)
    assert pacer.fallback_reason is None
    assert pacer.cancels() == []


def test_taking_back_can_be_turned_off() -> None:
    """``cancel_risk = 0``: the pacer never hangs up a ringing call."""
    pacer = late_answers(PredictiveConfig(opening_credit_live=100.0, cancel_risk=0.0))
    ring(pacer, 1000, 401.0, 403.0)
    pacer.decide(view(idle=0, dialing=1, waiting=3, agents=10), 419.0)
    assert pacer.fallback_reason is None
    assert pacer.cancels() == []


def test_a_call_taken_back_is_censored_in_the_answer_model() -> None:
    """250 more calls of the same mix, those still ringing at 16 s hung up: q of a fresh
    call stays where it was. Counted as unanswered, the 200 hung up would lower it, as if
    the late answers they would have had never came."""
    cancelled = late_answers(PredictiveConfig())
    unanswered = late_answers(PredictiveConfig())
    before = cancelled.answers.rows()[0][0]
    for pacer, outcome in ((cancelled, CallOutcome.CANCELLED), (unanswered, CallOutcome.NO_ANSWER)):
        for i in range(2000, 2250):
            ring(pacer, i, 400.0, 402.0)
            if i % 5 == 0:
                pacer.observe(CallResolved(i, 408.0, CallOutcome.ROUTED))
                pacer.observe(CallConnected(i, 408.0, True))
            else:
                pacer.observe(CallResolved(i, 416.0, outcome))
    assert before == pytest.approx(0.4)
    assert cancelled.answers.rows()[0][0] == pytest.approx(before, abs=0.01)
    assert unanswered.answers.rows()[0][0] < before - 0.05
