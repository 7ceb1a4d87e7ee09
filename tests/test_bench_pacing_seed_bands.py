"""The seed-band analysis, run as a user runs it."""

from __future__ import annotations

import json
import math
import subprocess
from types import ModuleType

import pytest

from tests.scripts_support import ROOT, import_script, run_script

SCENARIO = "config/scenarios/robustness/n3-live20-t3.toml"


def _script() -> ModuleType:
    """``bench_pacing_seed_bands`` imported as the scripts import each other."""
    return import_script("bench_pacing_seed_bands")


def bands(*args: str) -> subprocess.CompletedProcess[str]:
    """The script's run from the repository root."""
    return run_script("bench_pacing_seed_bands", *args)


def test_each_band_is_the_ratio_of_its_seeds_shifts() -> None:
    """A scenario's row agrees with its shifts run here: the ratio per band of one seed,
    over both seeds, and the predictive pacer's worst abandon rate."""
    done = bands("--scenarios", SCENARIO, "--seeds", "1-2", "--band", "1")
    assert done.returncode == 0, done.stderr
    module = _script()
    analysis_run = module.analysis_run
    theta = json.loads((ROOT / "scripts/pacing_theta.json").read_text())["n3-live20-t3"]
    tuned = [analysis_run(SCENARIO, theta, seed).occupancy for seed in (1, 2)]
    paced = [analysis_run(SCENARIO, None, seed) for seed in (1, 2)]
    occupancy = [r.occupancy for r in paced]
    ratio, error = module.ratio_and_error(occupancy, tuned)
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| n3-live20-t3 |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    under = sum(p / t < 0.97 for p, t in zip(occupancy, tuned, strict=True))
    assert cells == [
        "n3-live20-t3",
        f"{occupancy[0] / tuned[0]:.3f}",
        f"{occupancy[1] / tuned[1]:.3f}",
        f"{ratio:.3f}",
        f"{error:.3f}",
        f"{under} of 2",
        f"{max(r.abandon_rate for r in paced):.2%}",
        "3%",
    ]
    assert "| scenario | 1 | 2 | all 2 seeds | ± se |" in done.stdout
    assert "[1/1] n3-live20-t3 done" in done.stderr


def test_settings_reach_the_predictive_pacer_only() -> None:
    """``--set`` changes the predictive pacer's parameters, and says so."""
    done = bands("--scenarios", SCENARIO, "--seeds", "1", "--set", "soft_budget_abandons=1.5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("predictive pacer: soft_budget_abandons=1.5\n")
    module = _script()
    theta = json.loads((ROOT / "scripts/pacing_theta.json").read_text())["n3-live20-t3"]
    tuned = module.analysis_run(SCENARIO, theta, 1).occupancy
    changed = module.analysis_run(SCENARIO, None, 1, settings={"soft_budget_abandons": 1.5})
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("| n3-live20-t3 |")]
    assert row.split("|")[2].strip() == f"{changed.occupancy / tuned:.3f}"


def test_the_ratio_and_its_error_over_paired_seeds() -> None:
    """mean(p) / mean(t), and the delta method's error: zero when every seed has the same
    ratio, none from a single seed."""
    module = _script()
    ratio, error = module.ratio_and_error([0.6, 0.9], [0.8, 1.2])
    assert ratio == pytest.approx(0.75)
    assert error == pytest.approx(0.0, abs=1e-12)
    ratio, error = module.ratio_and_error([0.7, 0.9], [1.0, 1.0])
    assert ratio == pytest.approx(0.8)
    # residuals -0.1 and +0.1: sd 0.1414, over sqrt(2) seeds and a mean of 1
    assert error == pytest.approx(0.1)
    ratio, error = module.ratio_and_error([0.5], [1.0])
    assert ratio == pytest.approx(0.5)
    assert math.isnan(error)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--band", "0"), "--band: must be at least 1, got 0"),
        (("--seeds", "x"), "seeds are numbers and ranges"),
        (("--set", "soft_budget_abandons=0"), "soft_budget_abandons: must be"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    args: tuple[str, ...], message: str
) -> None:
    """A wrong option says what is wrong and exits with the parser's status."""
    done = bands("--scenarios", SCENARIO, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "done" not in done.stderr
