"""The virtual-time simulator: determinism, the abandon clocks, caps and changes."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from dialerd.core.pacing import (
    AgentActivity,
    AgentChanged,
    CallAbandoned,
    CallConnected,
    CallPlaced,
    CallResolved,
    PacingFact,
    PowerPacer,
    PredictiveConfig,
    PredictivePacer,
    ProgressivePacer,
)
from dialerd.errors import UsageError
from dialerd.sim.scenario import (
    AgentChange,
    Amd,
    Attempt,
    Change,
    Outcome,
    OutcomeMix,
    Regime,
    Scenario,
    load_scenario,
)
from dialerd.sim.simulate_cli import make_pacer, register, results_table, run
from dialerd.sim.vsim import Floor, simulate
from tests.sim.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
SHORT = Scenario(agents=5, shift_s=1800.0)


def test_same_seed_same_result() -> None:
    """Two runs of a scenario with one seed give identical metrics."""
    a = simulate(SHORT, PowerPacer(2.0), 3)
    b = simulate(SHORT, PowerPacer(2.0), 3)
    assert a == b
    assert simulate(SHORT, PowerPacer(2.0), 4) != a


def test_progressive_never_abandons() -> None:
    """With one call per idle agent every answered call finds its agent."""
    result = simulate(SHORT, ProgressivePacer(), 1)
    assert result.abandoned == 0
    assert result.live_connects > 0
    assert 0.0 < result.occupancy < result.utilisation <= 1.0


def _live(greeting_s: float = 1.2) -> Attempt:
    return Attempt(
        nominal=Outcome.LIVE,
        outcome=Outcome.LIVE,
        post_dial_delay_s=1.0,
        ring_s=4.0,
        greeting_s=greeting_s,
        talk_s=100.0,
        wrap_s=10.0,
        machine_handling_s=5.0,
        routed=True,
        verdict_after_answer_s=None,
    )


@pytest.mark.parametrize(("regime", "deadline"), [(Regime.US, 5.0 + 1.2 + 2.0), (Regime.UK, 7.0)])
def test_second_call_waits_until_the_regime_deadline(regime: Regime, deadline: float) -> None:
    """With one agent, a second live answer is abandoned at the regime's deadline."""
    facts: list[PacingFact] = []
    timers: list[tuple[float, Callable[[float], None]]] = []
    floor = Floor(SHORT.with_(regime=regime), facts.append, lambda at, f: timers.append((at, f)))
    floor.log_in(0.0)
    floor.place(_live(), 0.0)
    floor.place(_live(), 0.0)
    placed = sorted(timers, key=lambda t: t[0])
    timers.clear()
    # Each call starts ringing after its post-dial delay and is answered 4 s later.
    assert [at for at, _ in placed] == [1.0, 1.0, 5.0, 5.0]
    for at, action in placed:
        action(at)
    deadlines = sorted(at for at, _ in timers if at < 50.0)
    assert deadlines == [pytest.approx(deadline)] * 2
    for at, action in sorted(timers, key=lambda t: t[0]):
        if at < 50.0:
            action(at)
    assert floor.abandoned == 1
    assert sum(isinstance(f, CallConnected) for f in facts) == 1
    assert [f.at for f in facts if isinstance(f, CallAbandoned)] == [pytest.approx(deadline)]


def test_line_cap_holds_whatever_the_pacer_asks() -> None:
    """Lines in use never exceed the cap per logged-in agent."""
    scenario = SHORT.with_(max_lines_per_agent=1.5)
    recorder = Recorder(PowerPacer(10.0))
    result = simulate(scenario, recorder, 1)
    assert result.peak_lines_per_agent <= 1.5
    assert all(v.lines_in_use <= v.max_lines for v in recorder.views)


def test_amd_false_positives_are_abandons() -> None:
    """With AMD, humans judged machines are abandoned even with progressive pacing."""
    scenario = SHORT.with_(amd=Amd(enabled=True, false_positive_rate=0.5))
    result = simulate(scenario, ProgressivePacer(), 1)
    assert result.amd_false_positives > 0
    assert result.abandoned == result.amd_false_positives
    assert result.abandon_rate == pytest.approx(0.5, abs=0.1)


def test_facts_follow_each_call_through_its_life() -> None:
    """Every placed call resolves, and every connected or abandoned call was routed."""
    recorder = Recorder(PowerPacer(3.0))
    simulate(SHORT, recorder, 5)
    placed = {f.call_id for f in recorder.facts if isinstance(f, CallPlaced)}
    resolved = {f.call_id for f in recorder.facts if isinstance(f, CallResolved)}
    ended = {f.call_id for f in recorder.facts if isinstance(f, CallConnected | CallAbandoned)}
    assert placed == resolved
    assert ended <= resolved
    assert any(isinstance(f, CallAbandoned) for f in recorder.facts)


def test_each_talk_starts_with_the_call_the_agent_was_given() -> None:
    """An agent's talk names its call, a routed one that the agent then connected."""
    recorder = Recorder(PowerPacer(2.0))
    simulate(SHORT, recorder, 5)
    talks = [
        f
        for f in recorder.facts
        if isinstance(f, AgentChanged) and f.activity is AgentActivity.TALK
    ]
    connected = {f.call_id for f in recorder.facts if isinstance(f, CallConnected)}
    assert talks
    assert {f.call_id for f in talks} == connected


def test_agents_leaving_reduce_logged_in_time() -> None:
    """Agents who log out mid-shift stop counting toward logged-in time."""
    scenario = SHORT.with_(agent_changes=(AgentChange(900.0, -3),))
    recorder = Recorder(ProgressivePacer())
    simulate(scenario, recorder, 1)
    away = [f for f in recorder.facts if isinstance(f, AgentChanged)]
    assert sum(1 for f in away if f.activity is AgentActivity.AWAY) == 3
    assert recorder.views[-1].agents_logged_in == 2


def test_live_rate_change_applies_from_its_time() -> None:
    """A drop of the live rate mid-shift lowers the live answers."""
    base = simulate(SHORT, ProgressivePacer(), 1)
    changed = SHORT.with_(changes=(Change(0.0, OutcomeMix(live=0.05)),))
    assert simulate(changed, ProgressivePacer(), 1).live_answered < base.live_answered


def test_predictive_respects_cap_and_target_on_a_short_run() -> None:
    """The predictive pacer keeps to the line cap and the target in a one-hour run."""
    scenario = Scenario(agents=20, shift_s=3600.0)
    result = simulate(scenario, PredictivePacer(PredictiveConfig()), 1)
    assert result.peak_lines_per_agent <= scenario.max_lines_per_agent
    assert result.abandon_rate <= scenario.abandon_target


def test_simulate_command_writes_json_and_plot(tmp_path: Path) -> None:
    """``simulate`` runs a scenario file and writes its JSON and PNG outputs."""
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text("[team]\nagents = 3\nshift_s = 600\nseeds = [1, 2]\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    argv = ["simulate", "--scenario", str(scenario_file), "--policy", "progressive"]
    argv.extend(["--json", str(out), "--plot", str(png)])
    args = parser.parse_args(argv)
    assert args.run(args) == 0
    rows = json.loads(out.read_text())
    assert [r["seed"] for r in rows] == [1, 2]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_policy_is_a_usage_error() -> None:
    """Asking for a pacing policy that does not exist is the caller's mistake."""
    with pytest.raises(UsageError, match="unknown pacing policy"):
        make_pacer(SHORT, "clairvoyant")


def test_standard_scenario_runs_with_the_predictive_pacer() -> None:
    """A shipped scenario file drives the predictive pacer for a short shift."""
    scenario = load_scenario(ROOT / "config" / "scenarios" / "us-n10-live20-t3.toml")
    result = simulate(scenario.with_(shift_s=900.0), make_pacer(scenario, "predictive"), 1)
    assert result.agents == 10
    assert result.dials > 0


def test_timeline_covers_the_whole_shift_when_the_floor_empties_early() -> None:
    """Every agent gone at 10 minutes: the steps after the last call still close."""
    scenario = SHORT.with_(agent_changes=(AgentChange(600.0, -SHORT.agents),))
    result = simulate(scenario, ProgressivePacer(), 1, timeline_step_s=600.0)
    assert [p.end_s for p in result.timeline] == [600.0, 1200.0, 1800.0]
    assert result.timeline[0].occupancy > 0
    assert result.timeline[-1].abandon_rate == result.abandon_rate


def test_timeline_steps_end_at_their_own_ends() -> None:
    """Each step is integrated up to its end, not to the first event after it: with the
    whole team logged in throughout, the steps average to the shift's occupancy."""
    result = simulate(SHORT, PowerPacer(2.0), 1, timeline_step_s=60.0)
    steps = [p.occupancy for p in result.timeline]
    assert len(steps) == 30
    assert max(steps) <= 1.0
    assert abs(sum(steps) / len(steps) - result.occupancy) < 1e-9


def test_results_table_fits_an_80_column_terminal_whole() -> None:
    """Every column of the table, header and figures, shows uncut at 80 columns."""
    results = [simulate(SHORT, ProgressivePacer(), seed) for seed in (1, 2)]
    console = Console(width=80, record=True)
    console.print(results_table(SHORT, results))
    text = console.export_text()
    assert "…" not in text
    for word in ("seed", "occupancy", "utilisation", "abandon", "answers", "agent-hour"):
        assert word in text
    assert "connect s" in text
    assert "lines per" in text
    mean = next(line for line in text.splitlines() if line.startswith("mean"))
    cells = mean.split()
    assert cells[1] == f"{sum(r.occupancy for r in results) / 2:.3f}"
    assert len(cells) == 8
    assert max(len(line) for line in text.splitlines()) <= 80


def _simulate_args(tmp_path: Path) -> argparse.Namespace:
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text("[team]\nagents = 3\nshift_s = 600\nseeds = [1, 2]\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", "--scenario", str(scenario_file)])


def test_simulate_shows_its_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """A progress bar counts the seeds on a terminal; piped, the status stream stays
    empty, and the table goes to the output either way."""
    args = _simulate_args(tmp_path)
    out, shown = io.StringIO(), io.StringIO()
    terminal = Console(file=shown, force_terminal=True, width=100)
    assert run(args, Console(file=out, width=100), terminal) == 0
    assert "s, seeds" in shown.getvalue()
    assert "2/2" in shown.getvalue()
    assert "mean" in out.getvalue()
    piped = io.StringIO()
    assert run(args, Console(file=io.StringIO()), Console(file=piped)) == 0
    assert piped.getvalue() == ""
