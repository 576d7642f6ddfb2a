"""Cost of online dictionary adaptation in the engine (semi-supervised separation).

The shipped speech N-HMM (20 states x 10 components) with a 16-component noise source, fixed
and adaptive, beam 128, 10 updates per frame, 16 kHz, blocks of 128 samples (deadline 8 ms),
60 s of generated speech-like noise, both measured in this process.

    python benchmarks/bench_adaptive.py
"""

from __future__ import annotations

import numpy as np
from rich.console import Console

from livesep import presets
from livesep.engine import EngineSettings
from livesep.evaluation.bench import ENGINE_OWN_CLOCK, bench_table, run_bench
from livesep.presets import SourceModel
from livesep.presets.shipped import resolve_preset


def main() -> None:
    shipped = presets.load(resolve_preset("speech-noise-nhmm"))
    rng = np.random.default_rng(0)
    dictionary = rng.random((257, 16)) ** 4 + 1e-6
    console = Console()
    medians = {}
    for adaptive in (False, True):
        noise = SourceModel.from_nmf("noise", dictionary / dictionary.sum(axis=0),
                                     adaptive=adaptive)
        preset = shipped.with_sources([shipped.sources[0], noise],
                                      name="adaptive noise" if adaptive else "fixed noise")
        result = run_bench(preset, settings=EngineSettings(beam=128), seconds=60.0,
                           numpy_reference=False)
        console.print(bench_table(result))
        medians[adaptive] = next(t for t in result.times if t.name == ENGINE_OWN_CLOCK).median
    console.print(f"adaptation costs {100 * (medians[True] / medians[False] - 1):.1f}% more "
                  "per block (median, the engine's own clock)")


if __name__ == "__main__":
    main()
