"""Fuzzing the engine: any block sizes, any samples, any knob turned from another thread.

The strategies and the properties are in ``helpers/fuzz.py`` (shared with
``benchmarks/bench_fuzz.py``, which runs them far longer); their docstrings say what each
property claims and why it holds.
"""

from __future__ import annotations

from hypothesis import example, given, settings

from helpers.fuzz import (
    CI,
    Block,
    EngineCase,
    Gain,
    PresetSpec,
    SilenceCase,
    Strength,
    Swap,
    check_engine,
    check_read_as_silence,
    engine_cases,
    silence_cases,
)
from livesep.engine import EngineSettings


@settings(CI, max_examples=600)
@given(engine_cases())
# One float32-max sample overflowed the inverse FFT: NaN output for a frame's worth.
@example(EngineCase(PresetSpec(64, 32, (("nmf", 1),), 1, 0), EngineSettings(), "stems",
                    (Block(1, "max", 0),), (), (1,), 1))
# 1e30 times a gain of 1e6 overflows too.
@example(EngineCase(PresetSpec(128, 32, (("nhmm", 2), ("adaptive", 1)), 3, 1), EngineSettings(),
                    "mono", (Block(300, "huge", 1), Block(700, "audio", 2)),
                    (Gain(0, 1e6), Gain(1, 1e6)), (64,), 100))
# Unfolded sources, swapped for ordinary ones and back while bad samples stream through.
@example(EngineCase(PresetSpec(128, 32, (("nmf", 1), ("nmf", 1)), 3, 2, layers=4),
                    EngineSettings(), "stems", (Block(500, "sprinkled", 3), Block(300, "audio", 4)),
                    (Swap(PresetSpec(128, 32, (("nhmm", 2), ("nmf", 1)), 2, 5), EngineSettings(),
                          None), Gain(0, 10.0),
                     Swap(PresetSpec(128, 32, (("nmf", 1), ("nmf", 1)), 4, 6, layers=1),
                          EngineSettings(beta=0.0), 1.0)), (64, 7), 100))
def test_separator_stays_sane_under_any_input_and_controls(case: EngineCase) -> None:
    check_engine(case)


@settings(CI, max_examples=300)
@given(silence_cases())
# At strength 0 a dry channel outputs the input samples themselves: a denormal came out.
@example(SilenceCase(PresetSpec(64, 32, (("nmf", 1),), 1, 0), EngineSettings(), "stems",
                     (Strength(0.0),), (Block(1, "denormal", 0), Block(63, "audio", 0)), (1,)))
def test_nan_inf_and_denormal_samples_are_read_as_silence_exactly(case: SilenceCase) -> None:
    check_read_as_silence(case)
