"""Long fuzzing runs of the CI fuzz tests' properties, with many examples and fresh seeds.

The properties and strategies are those of tests/helpers/fuzz.py (engine under fire from
another thread, NaN/Inf/denormals read as silence, the preset loader and the audio reader on
random and mutated bytes). The time is shared equally between them; each runs in rounds of
``--round`` examples, every round from a new seed, until its share is used. Printed per
property: the examples run (shrinking a failure counts too), their outcomes, and every
distinct failure with its minimal example and the round's seed, which reproduces it with
``--only NAME --round N --seed-of-round SEED``.

    python benchmarks/bench_fuzz.py [--minutes 2] [--only NAME ...] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.fuzz import PROPERTIES  # noqa: E402


@dataclass
class Tally:
    """What one property's rounds found."""

    examples: int = 0
    rounds: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, tuple[int, str]] = field(default_factory=dict)  # first line -> seed


def run_round(strategy: st.SearchStrategy[Any], check: Callable[[Any], str | None],
              round_seed: int, examples: int, tally: Tally) -> None:
    """One hypothesis run of ``check`` from ``round_seed``; a failure is recorded, not raised."""
    def counted(value: Any) -> None:
        tally.examples += 1
        outcome = check(value)
        tally.outcomes[outcome or "passed"] += 1

    test = seed(round_seed)(settings(
        max_examples=examples, deadline=None, database=None, derandomize=False,
        suppress_health_check=list(HealthCheck))(given(strategy)(counted)))
    tally.rounds += 1
    try:
        test()
    except Exception as error:  # noqa: BLE001 - every failure is a finding to print
        headline = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
        if headline not in tally.failures:
            notes = "\n".join(getattr(error, "__notes__", []))
            tally.failures[headline] = (round_seed, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--only", nargs="+", choices=sorted(PROPERTIES), default=None)
    parser.add_argument("--round", type=int, default=100, help="examples per seed")
    parser.add_argument("--seed", type=int, default=None,
                        help="seeds the rounds' seeds (default: random, printed)")
    parser.add_argument("--seed-of-round", type=int, default=None,
                        help="run a single round from this seed (to reproduce a failure)")
    args = parser.parse_args()
    names = args.only or sorted(PROPERTIES)
    run_seed = random.SystemRandom().getrandbits(32) if args.seed is None else args.seed
    rounds = random.Random(run_seed)
    print(f"fuzzing {', '.join(names)} for {args.minutes:g} min (--seed {run_seed}, "
          f"{args.round} examples per round)")
    share = 60.0 * args.minutes / len(names)
    failed = False
    for name in names:
        strategy, check = PROPERTIES[name]
        tally = Tally()
        started = time.monotonic()
        if args.seed_of_round is not None:
            run_round(strategy, check, args.seed_of_round, args.round, tally)
        while args.seed_of_round is None and time.monotonic() - started < share:
            run_round(strategy, check, rounds.getrandbits(64), args.round, tally)
        elapsed = time.monotonic() - started
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in
                             sorted(tally.outcomes.items()))
        print(f"{name:15s} {tally.examples:7d} examples in {tally.rounds:4d} rounds, "
              f"{elapsed:6.1f} s ({outcomes}); {len(tally.failures)} failure(s)")
        for headline, (round_seed, notes) in tally.failures.items():
            failed = True
            print(f"  FAILED (--only {name} --round {args.round} --seed-of-round "
                  f"{round_seed}): {headline}")
            for line in notes.splitlines():
                print(f"    {line}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
