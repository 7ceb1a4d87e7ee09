"""The predictive pacer's regime window seeded with an earlier run's answers (a restart)."""

from __future__ import annotations

import datetime as dt

import pytest

from dialerd.core.pacing import (
    AgentActivity,
    AgentChanged,
    CallAbandoned,
    CallConnected,
    CallOutcome,
    CallPlaced,
    CallResolved,
    PacingView,
    PastAnswer,
    PredictiveConfig,
    PredictivePacer,
)
from dialerd.errors import UsageError

WALL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
E = WALL.timestamp()  # wall time of the monotonic NOW
NOW = 1000.0
DAY = 86400.0


def live(at_s: float) -> PastAnswer:
    """A connected live answer at wall time ``at_s``."""
    return PastAnswer(at_s, abandoned=False, human=True)


def abandon(at_s: float, human: bool | None = True) -> PastAnswer:
    """An abandoned live answer at wall time ``at_s``."""
    return PastAnswer(at_s, abandoned=True, human=human)


def counts(pacer: PredictivePacer) -> tuple[float, float, float]:
    """Live answers, abandons and the abandon count's variance in the regime window."""
    return pacer.window.live, pacer.window.abandoned, pacer.window.uncertainty


def test_answers_inside_the_window_count_and_older_ones_do_not() -> None:
    """Of a 31-day-old abandon, a 29-day-old answer, an abandon an hour ago and an answer a
    minute ago, the last three count in a 30-day window."""
    pacer = PredictivePacer()
    pacer.seed_history(
        [live(E - 60), abandon(E - 31 * DAY), live(E - 29 * DAY), abandon(E - 3600)], NOW, WALL
    )
    assert counts(pacer) == (3.0, 1.0, 0.0)


def test_an_unknown_caller_counts_as_the_earlier_run_counted_it() -> None:
    """An abandon nobody heard counts the fraction of a person recorded with it, with its
    variance in the guard's reserve; one recorded without a fraction counts as a person,
    and a recorded fraction outside [0, 1] is held to it."""
    pacer = PredictivePacer()
    pacer.seed_history(
        [
            PastAnswer(E - 60, abandoned=True, human=None, counted=0.3),
            PastAnswer(E - 50, abandoned=True, human=None),
            PastAnswer(E - 40, abandoned=True, human=None, counted=1.7),
            PastAnswer(E - 30, abandoned=True, human=None, counted=0.0),
        ],
        NOW,
        WALL,
    )
    assert counts(pacer) == pytest.approx((2.3, 2.3, 0.21))


def test_the_pacer_says_how_much_each_abandon_counted() -> None:
    """The count the engine records with an abandon is the one the pacer made of it."""
    pacer = PredictivePacer()
    pacer.observe(CallPlaced(1, 0.0))
    pacer.observe(CallResolved(1, 8.0, CallOutcome.ROUTED))
    pacer.observe(CallAbandoned(1, 10.0, None))
    assert pacer.last_abandon_counted == 1.0  # no verdicts yet: a person
    assert counts(pacer)[1] == 1.0
    pacer.observe(CallAbandoned(2, 11.0, False))  # an analysis told it: a machine
    assert pacer.last_abandon_counted == 0.0
    assert counts(pacer)[1] == 1.0


def test_seeded_answers_leave_the_window_on_the_monotonic_clock() -> None:
    """An answer 29 days old at the restart leaves the 30-day window a day later."""
    pacer = PredictivePacer()
    pacer.seed_history([live(E - 29 * DAY), abandon(E - 3600)], NOW, WALL)
    pacer.window.expire(NOW + DAY - 1)
    assert counts(pacer) == (2.0, 1.0, 0.0)
    pacer.window.expire(NOW + DAY + 1)
    assert counts(pacer) == (1.0, 1.0, 0.0)


def test_a_uk_window_keeps_only_the_last_24_hours() -> None:
    """With the 24-hour window, an abandon of yesterday morning is not counted."""
    pacer = PredictivePacer(PredictiveConfig(window_s=DAY))
    pacer.seed_history([abandon(E - 30 * 3600), live(E - 23 * 3600)], NOW, WALL)
    assert counts(pacer) == (1.0, 0.0, 0.0)


def test_seeding_counts_as_observing_the_same_answers_would() -> None:
    """A pacer seeded with an earlier run's answers has the window, and the opening credit,
    of a pacer that saw those answers happen."""
    seen = PredictivePacer()
    for i in range(10):
        seen.observe(CallConnected(i, NOW - 500 + i, True))
    seen.observe(CallAbandoned(99, NOW - 100, None))
    seeded = PredictivePacer()
    history = [live(E - 500 + i) for i in range(10)] + [abandon(E - 100, None)]
    seeded.seed_history(history, NOW, WALL)
    assert counts(seeded) == counts(seen) == (11.0, 1.0, 0.0)
    assert seeded.opening_credit() == seen.opening_credit() == pytest.approx(75 * (1 - 11 / 225))


def test_the_opening_credit_is_not_granted_again_to_a_window_with_history() -> None:
    """A fresh window gets the full credit (75 live answers at 3 %, 2.25 abandons' worth);
    one restarted after 120 live answers gets the 35 left of it, and one after 225 (three
    times the credit) or more gets none."""
    assert PredictivePacer().opening_credit() == pytest.approx(75.0)
    after_120 = PredictivePacer()
    after_120.seed_history([live(E - 1000 + i) for i in range(120)], NOW, WALL)
    assert after_120.opening_credit() == pytest.approx(35.0)
    after_225 = PredictivePacer()
    after_225.seed_history([live(E - 1000 + i) for i in range(225)], NOW, WALL)
    assert after_225.opening_credit() == 0.0


def test_the_opening_credit_is_a_number_of_abandons_at_any_target() -> None:
    """The default credit is the same number of abandons at 1 % as at 3 %, so three times
    the live answers; ``opening_credit_live`` overrides it and 0 abandons means none."""
    at_1 = PredictivePacer(PredictiveConfig(abandon_target=0.01))
    at_3 = PredictivePacer(PredictiveConfig(abandon_target=0.03))
    assert at_1.opening_credit() * 0.01 == pytest.approx(at_3.opening_credit() * 0.03)
    assert at_3.opening_credit() * 0.03 == pytest.approx(2.25)
    fixed = PredictiveConfig(opening_credit_abandons=4.0, opening_credit_live=30.0)
    assert PredictivePacer(fixed).opening_credit() == pytest.approx(30.0)
    assert PredictivePacer(PredictiveConfig(opening_credit_abandons=0.0)).opening_credit() == 0.0


def test_unknown_callers_count_as_humans_until_this_run_learns_the_share() -> None:
    """Abandons of unknown callers count whole (nobody connected yet in this run), known
    machines do not count, and a machine connected to an agent is no live answer."""
    pacer = PredictivePacer()
    pacer.seed_history(
        [
            abandon(E - 30, None),
            abandon(E - 20, False),
            PastAnswer(E - 10, abandoned=False, human=False),
        ],
        NOW,
        WALL,
    )
    assert counts(pacer) == (1.0, 1.0, 0.0)


def test_the_amd_false_positive_estimate_rides_on_seeded_answers() -> None:
    """With a 20 % false-positive estimate four connected humans count 5 answers, 1 abandon."""
    pacer = PredictivePacer(PredictiveConfig(amd_false_positive_rate=0.2))
    pacer.seed_history([live(E - 40 + i) for i in range(4)], NOW, WALL)
    assert pacer.window.live == pytest.approx(5.0)
    assert pacer.window.abandoned == pytest.approx(1.0)


def test_an_answer_stamped_after_the_restart_counts_as_now() -> None:
    """A wall clock stepped back does not put an answer ahead of the pacer's clock."""
    pacer = PredictivePacer(PredictiveConfig(window_s=100.0))
    pacer.seed_history([abandon(E + 30)], NOW, WALL)
    pacer.window.expire(NOW + 100)
    assert counts(pacer) == (1.0, 1.0, 0.0)
    pacer.window.expire(NOW + 101)
    assert counts(pacer) == (0.0, 0.0, 0.0)


def test_seeding_a_pacer_that_already_counts_is_refused() -> None:
    """History goes in before the first answer, never on top of what was counted."""
    pacer = PredictivePacer()
    pacer.observe(CallConnected(1, NOW, True))
    with pytest.raises(UsageError, match="before it counts"):
        pacer.seed_history([live(E - 60)], NOW, WALL)
    assert counts(pacer) == (1.0, 0.0, 0.0)


def test_a_naive_wall_time_is_refused() -> None:
    """Wall times must be timezone-aware."""
    with pytest.raises(ValueError, match="timezone-aware"):
        PredictivePacer().seed_history([], NOW, WALL.replace(tzinfo=None))


def train(pacer: PredictivePacer) -> PredictivePacer:
    """Feed 400 attempts from t = 0 (80 answered, 40 by humans) and 50 finished calls,
    then leave ten agents idle at t = 400."""
    for i in range(400):
        pacer.observe(CallPlaced(i, float(i)))
        outcome = CallOutcome.ROUTED if i % 5 == 0 else CallOutcome.NO_ANSWER
        pacer.observe(CallResolved(i, i + 10.0, outcome))
        if outcome is CallOutcome.ROUTED:
            pacer.observe(CallConnected(i, i + 10.0, i % 10 == 0))
    for agent in range(50):
        start = 8.0 * agent
        pacer.observe(AgentChanged(agent, start, AgentActivity.TALK))
        pacer.observe(AgentChanged(agent, start + 5.0, AgentActivity.WRAP))
        pacer.observe(AgentChanged(agent, start + 8.0, AgentActivity.AWAY))
    for agent in range(100, 110):
        pacer.observe(AgentChanged(agent, 400.0, AgentActivity.IDLE))
    return pacer


TEN_IDLE = PacingView(
    agents_logged_in=10,
    agents_idle=10,
    calls_dialing=0,
    calls_waiting=0,
    lines_in_use=0,
    max_lines=30,
)


@pytest.mark.parametrize(("abandoned", "reason"), [(6, None), (7, "abandon budget spent")])
def test_yesterdays_abandons_spend_todays_budget(abandoned: int, reason: str | None) -> None:
    """200 live answers yesterday and 40 today allow 7.2 abandons: with 6 spent yesterday
    the pacer dials predictively, with 7 (and the guard's reserve) it stays progressive."""
    wall_at_0 = WALL - dt.timedelta(seconds=NOW)
    history = [abandon(E - DAY + i) for i in range(abandoned)]
    history += [live(E - DAY + 100 + i) for i in range(200 - abandoned)]
    pacer = PredictivePacer()
    pacer.seed_history(history, 0.0, wall_at_0)
    train(pacer)
    assert (pacer.window.live, pacer.window.abandoned) == (240.0, float(abandoned))
    assert pacer.opening_credit() == 0.0
    assert pacer.decide(TEN_IDLE, 401.0) >= 10
    assert pacer.fallback_reason == reason


def test_without_history_the_same_day_starts_predictive() -> None:
    """The pacer that forgot yesterday's 7 abandons would dial predictively at once."""
    pacer = train(PredictivePacer())
    assert pacer.decide(TEN_IDLE, 401.0) > 10
    assert pacer.fallback_reason is None
