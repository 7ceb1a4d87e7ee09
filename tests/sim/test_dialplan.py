"""The simulator's dialplan interpreter finds extensions the way Asterisk does."""

from __future__ import annotations

from dialerd.sim.dialplan import Context, Step


def test_digit_pattern_needs_a_digit_then_one_or_more_of_anything() -> None:
    """``_X.`` is a digit and then one or more characters of any kind, as in Asterisk."""
    ctx = Context({"_X.": [Step("NoOp")]})
    assert [ctx.find(e) is not None for e in ("55", "5551234", "5a", "5", "h")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_agent_pattern_restricts_only_the_first_character() -> None:
    """``_[0-9A-Za-z_]!`` is one listed character, then zero or more of anything."""
    ctx = Context({"_[0-9A-Za-z_]!": [Step("NoOp")]})
    assert [ctx.find(e) is not None for e in ("1", "ann_2", "h", "a-b", "-a")] == [
        True,
        True,
        True,
        True,
        False,
    ]


def test_exact_extension_wins_over_a_pattern() -> None:
    """An exact ``h`` is found before a pattern that also matches it."""
    exact, pattern = [Step("Hangup")], [Step("Answer")]
    ctx = Context({"_[0-9A-Za-z_]!": pattern, "h": exact})
    assert ctx.find("h") is exact
    assert ctx.find("1001") is pattern
