"""Streaming STFT → ISTFT pass-through: C++ Separator against the same path in numpy.

16 kHz, n_fft 512, hop 128, blocks of 128 samples (one frame per block, deadline 8 ms),
60 s of noise, both measured in this process one after the other.

    python benchmarks/bench_stft.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numpy_engine import NumpyStreamingStft, passthrough  # noqa: E402
from timing import HEADER, time_blocks  # noqa: E402

from livesep import Separator  # noqa: E402

SR, N_FFT, HOP, BLOCK, SECONDS, SOURCES = 16000, 512, 128, 128, 60, 2


def main() -> None:
    signal = np.random.default_rng(0).standard_normal(SR * SECONDS).astype(np.float32)
    engine = Separator()
    engine.prepare(sr=SR, n_fft=N_FFT, hop_length=HOP, n_sources=SOURCES)
    out = np.empty((SOURCES, BLOCK), dtype=np.float32)
    reference = NumpyStreamingStft(n_fft=N_FFT, hop_length=HOP, n_sources=SOURCES,
                                   on_frame=passthrough(SOURCES))
    cpp = time_blocks(lambda block: engine.process(block, out=out), signal, BLOCK, SR)
    numpy = time_blocks(reference.process, signal, BLOCK, SR)
    print(f"streaming STFT/ISTFT, {SR} Hz, n_fft {N_FFT}, hop {HOP}, block {BLOCK}, "
          f"{SOURCES} output channels, {SECONDS} s; deadline {1e3 * BLOCK / SR:.1f} ms")
    print(HEADER)
    print(cpp.row("C++ Separator.process"))
    print(numpy.row("numpy streaming STFT"))
    print(f"numpy / C++: median {numpy.median / cpp.median:.1f}x, "
          f"total {numpy.seconds.sum() / cpp.seconds.sum():.1f}x")


if __name__ == "__main__":
    main()
