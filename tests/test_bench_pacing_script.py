"""The pacing benchmark script, run as a user runs it."""

from __future__ import annotations

from tests.scripts_support import run_script


def test_bench_pacing_reports_progress_per_scenario() -> None:
    """A standard run takes minutes and writes its table at the end: each finished
    scenario is reported on stderr meanwhile, the table alone goes to stdout."""
    done = run_script(
        "bench_pacing",
        "--policies",
        "predictive",
        "--seeds",
        "1-1",
        "--out",
        "-",
        "--scenarios",
        "config/scenarios/us-n10-live35-t1.toml",
        "config/scenarios/us-n10-live35-t3.toml",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line.split("]")[0] for line in lines] == ["[1/2", "[2/2"]
    assert all(line.endswith(" s") and " done, " in line for line in lines)
    assert {line.split()[1] for line in lines} == {"us-n10-live35-t1", "us-n10-live35-t3"}
    assert "[1/2]" not in done.stdout
    assert "| us-n10-live35-t1 | predictive |" in done.stdout
