"""Streaming STFT → ISTFT pass-through: C++ Separator against the same path in numpy.

16 kHz, n_fft 512, hop 128, blocks of 128 samples (one frame per block, deadline 8 ms),
60 s of noise, both measured in this process one after the other.

    python benchmarks/bench_stft.py
"""

from __future__ import annotations

import numpy as np

from livesep import Separator
from livesep.evaluation.bench import BlockTimes, split_blocks, time_calls
from livesep.separation.reference_engine import NumpyStream

SR, N_FFT, HOP, BLOCK, SECONDS, SOURCES = 16000, 512, 128, 128, 60, 2


def row(times: BlockTimes) -> str:
    us = 1e6
    return (f"{times.name:<28} {times.median * us:9.1f} {times.p99 * us:9.1f} "
            f"{times.max * us:9.1f} {100 * times.p99 / times.deadline:8.2f}% "
            f"{times.real_time_factor:9.5f}")


def main() -> None:
    signal = np.random.default_rng(0).standard_normal(SR * SECONDS).astype(np.float32)
    blocks = split_blocks(signal, BLOCK)
    engine = Separator()
    engine.prepare(sr=SR, n_fft=N_FFT, hop_length=HOP, n_sources=SOURCES)
    out = np.empty((SOURCES, BLOCK), dtype=np.float32)
    # The identity mask: every output channel gets the mixture spectrum.
    reference = NumpyStream(n_fft=N_FFT, hop_length=HOP, n_channels=SOURCES,
                            on_frame=lambda spectrum: np.broadcast_to(spectrum,
                                                                      (SOURCES, spectrum.size)))
    for block in blocks[:50]:
        engine.process(block, out=out)
        reference.process(block)
    deadline = BLOCK / SR
    cpp = BlockTimes("C++ Separator.process",
                     time_calls(lambda block: engine.process(block, out=out), blocks), deadline)
    numpy = BlockTimes("numpy streaming STFT", time_calls(reference.process, blocks), deadline)
    print(f"streaming STFT/ISTFT, {SR} Hz, n_fft {N_FFT}, hop {HOP}, block {BLOCK}, "
          f"{SOURCES} output channels, {SECONDS} s; deadline {1e3 * deadline:.1f} ms")
    print(f"{'processor':<28} {'median us':>9} {'p99 us':>9} {'max us':>9} {'p99/ddl':>9}"
          f" {'RTF':>9}")
    print(row(cpp))
    print(row(numpy))
    print(f"numpy / C++: median {numpy.median / cpp.median:.1f}x, "
          f"total {numpy.seconds.sum() / cpp.seconds.sum():.1f}x")


if __name__ == "__main__":
    main()
