"""Cost of online dictionary adaptation in the engine (semi-supervised separation).

The shipped speech N-HMM (20 states x 10 components) with a 16-component noise source, fixed
and adaptive, beam 128, 10 updates per frame, 16 kHz, blocks of 128 samples (deadline 8 ms),
60 s of speech in noise, both measured in this process.

    python benchmarks/bench_adaptive.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import HEADER, time_blocks  # noqa: E402

from livesep import presets  # noqa: E402
from livesep.engine import EngineSettings, create_separator  # noqa: E402
from livesep.presets import SourceModel  # noqa: E402
from livesep.shipped import resolve_preset  # noqa: E402

SR, BLOCK, SECONDS = 16000, 128, 60


def main() -> None:
    shipped = presets.load(resolve_preset("speech-noise-nhmm"))
    rng = np.random.default_rng(0)
    noise_dictionary = rng.random((257, 16)) ** 4 + 1e-6
    signal = (0.1 * rng.standard_normal(SR * SECONDS)).astype(np.float32)
    print(f"N-FHMM speech 20x10 + noise 1x16, beam 128, 10 updates/frame, {SR} Hz, block "
          f"{BLOCK}, {SECONDS} s; deadline {1e3 * BLOCK / SR:.1f} ms")
    print(HEADER)
    results = {}
    for adaptive in (False, True):
        noise = SourceModel.from_nmf("noise", noise_dictionary / noise_dictionary.sum(axis=0),
                                     adaptive=adaptive)
        preset = shipped.with_sources([shipped.sources[0], noise])
        separator = create_separator(preset, settings=EngineSettings(beam=128))
        out = np.empty((2, BLOCK), dtype=np.float32)
        name = "adaptive noise" if adaptive else "fixed noise"
        results[name] = time_blocks(lambda b: separator.process(b, out=out), signal, BLOCK, SR)
        print(results[name].row(name))
    cost = results["adaptive noise"].median / results["fixed noise"].median
    print(f"adaptation costs {100 * (cost - 1):.1f}% more per block (median)")


if __name__ == "__main__":
    main()
