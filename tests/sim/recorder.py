"""A pacer wrapper for the simulator tests: it records what the pacer is told."""

from __future__ import annotations

from collections.abc import Sequence

from dialerd.core.pacing import Pacer, PacingFact, PacingView


class Recorder:
    """A pacer wrapper that records every fact it is told and every view it is shown."""

    def __init__(self, inner: Pacer) -> None:
        self.inner = inner
        self.facts: list[PacingFact] = []
        self.views: list[PacingView] = []

    def decide(self, view: PacingView, now: float) -> int:
        """Delegate, remembering the view."""
        self.views.append(view)
        return self.inner.decide(view, now)

    def observe(self, fact: PacingFact) -> None:
        """Delegate, remembering the fact."""
        self.facts.append(fact)
        self.inner.observe(fact)

    def next_deadline(self) -> float | None:
        """Delegate."""
        return self.inner.next_deadline()

    def cancels(self) -> Sequence[int]:
        """Delegate."""
        return self.inner.cancels()
