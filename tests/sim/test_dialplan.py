"""The simulator's dialplan interpreter finds extensions the way Asterisk does."""

from __future__ import annotations

from dialerd.sim.dialplan import Context, Step


def test_digit_pattern_needs_two_digits_and_no_letters() -> None:
    """``_X.`` matches two or more digits only."""
    ctx = Context({"_X.": [Step("NoOp")]})
    assert [ctx.find(e) is not None for e in ("55", "5551234", "5", "h", "5a")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_agent_pattern_matches_letters_digits_and_underscores() -> None:
    """``_[0-9A-Za-z_]!`` matches any agent id, one character or more."""
    ctx = Context({"_[0-9A-Za-z_]!": [Step("NoOp")]})
    assert [ctx.find(e) is not None for e in ("1", "ann_2", "h", "a-b")] == [
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
