"""Draw a set of pacing scenarios at random, to check the pacer on cases nobody chose.

Usage (from the repository root):

    python scripts/make_holdout_scenarios.py --seed 2026 --count 24 --out config/scenarios/holdout

Every scenario is a US-regime shift of the benchmark's model with its team size, live
rate, abandon target, talk and wrap-up times drawn at random, and about a third of them
with the live rate changing once in mid-shift: the kinds of change the pacer must cope
with untuned (issue: "other live rates, talk times, team sizes and a change of answer
rate in mid-shift"). The draw is fixed by ``--seed``, so the files can be made again;
they are written before anything is run on them, and none of the pacer's parameters is
chosen on them.
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path


def draw(rng: random.Random, index: int) -> tuple[str, str]:
    """One scenario: its file name and its TOML text."""
    agents = round(math.exp(rng.uniform(math.log(10), math.log(60))))
    live = round(rng.uniform(0.06, 0.45), 2)
    target = rng.choice((0.01, 0.02, 0.03))
    talk = round(math.exp(rng.uniform(math.log(60), math.log(420))))
    talk_cv = round(rng.uniform(0.6, 1.4), 2)
    wrap = round(rng.uniform(8, 45))
    change = rng.random() < 0.35
    name = f"holdout{index:02d}-n{agents}-live{round(live * 100)}-t{round(target * 100)}"
    lines = [
        f"# Holdout: drawn at random (scripts/make_holdout_scenarios.py), {agents} agents,",
        f"# {live:.0%} live, target {target:.0%}, talk {talk} s (CV {talk_cv}), wrap {wrap} s.",
        f'name = "{name}"',
        "",
        "[regime]",
        f"abandon_target = {target}",
        "",
        "[team]",
        f"agents = {agents}",
        "seeds = [1, 2, 3, 4, 5]",
        "",
        "[outcomes]",
        f"live = {live}",
        "",
        "[durations]",
        f"talk_mean_s = {float(talk)}",
        f"talk_cv = {talk_cv}",
        f"wrap_mean_s = {float(wrap)}",
    ]
    if change:
        at = round(rng.uniform(1800, 10800) / 60) * 60
        new_live = round(rng.uniform(0.06, 0.45), 2)
        lines[1] += f" At {at // 60} min the live rate becomes {new_live:.0%}."
        lines += ["", "[[changes]]", f"at_s = {at}", f"outcomes = {{ live = {new_live} }}"]
    return f"{name}.toml", "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--out", type=Path, default=Path("config/scenarios/holdout"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(1, args.count + 1):
        name, text = draw(rng, i)
        (args.out / name).write_text(text)
        print(args.out / name)


if __name__ == "__main__":
    main()
