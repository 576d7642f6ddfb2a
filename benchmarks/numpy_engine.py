"""A numpy implementation of the engine's streaming path, for speed ratios in benchmarks.

It computes what the C++ Separator computes (same framing, windows and delay) with
vectorised numpy per frame, the way one would write it without the C++ core.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from livesep import spectral

FrameFunction = Callable[[np.ndarray], np.ndarray]


def passthrough(n_sources: int) -> FrameFunction:
    """The identity mask: every source gets the mixture spectrum."""
    def frame(spectrum: np.ndarray) -> np.ndarray:
        return np.broadcast_to(spectrum, (n_sources, spectrum.size))
    return frame


class NumpyStreamingStft:
    """Streaming STFT → per-frame function → ISTFT with overlap-add, any block size."""

    def __init__(self, *, n_fft: int, hop_length: int, n_sources: int,
                 on_frame: FrameFunction) -> None:
        self.n_fft, self.hop, self.n_sources, self.on_frame = n_fft, hop_length, n_sources, on_frame
        self.window = spectral.analysis_window(n_fft).astype(np.float32)
        self.synthesis = spectral.synthesis_window(n_fft, hop_length).astype(np.float32)
        self.frame = np.zeros(n_fft, dtype=np.float32)
        self.accumulators = np.zeros((n_sources, n_fft), dtype=np.float32)
        self.ready = np.zeros((n_sources, hop_length), dtype=np.float32)
        self.filled = 0
        self.ready_read = 1

    def latency_samples(self) -> int:
        return self.n_fft - 1

    def process(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((self.n_sources, x.size), dtype=np.float32)
        done = 0
        while done < x.size:
            take = min(x.size - done, self.hop - self.filled)
            chunk = x[done:done + take]
            start = self.n_fft - self.hop + self.filled
            self.frame[start:start + take] = np.where(np.isfinite(chunk), chunk, 0.0)
            self.filled += take
            due = self.filled == self.hop
            first = take - 1 if due else take
            out[:, done:done + first] = self.ready[:, self.ready_read:self.ready_read + first]
            self.ready_read += first
            if due:
                self._run_frame()
                out[:, done + take - 1] = self.ready[:, 0]
                self.ready_read = 1
                self.filled = 0
            done += take
        return out

    def _run_frame(self) -> None:
        spectrum = np.fft.rfft(self.frame * self.window)
        sources = self.on_frame(spectrum)
        frames = np.fft.irfft(sources, n=self.n_fft, axis=1).astype(np.float32) * self.synthesis
        self.accumulators += frames
        self.ready[:] = self.accumulators[:, :self.hop]
        self.accumulators[:, :-self.hop] = self.accumulators[:, self.hop:]
        self.accumulators[:, -self.hop:] = 0.0
        self.frame[:-self.hop] = self.frame[self.hop:]
