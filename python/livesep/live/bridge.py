"""The rate bridge: device rate <-> engine rate around the engine, inside the audio callback."""

from __future__ import annotations

import math

import numpy as np

from livesep import _core
from livesep.resampling import Float32, design_filter, resample_stream

__all__ = ["RateBridge"]


class RateBridge:
    """Device rate <-> engine rate around one engine call per block (C++:
    ``cpp/livesep/rate_bridge.h``; the live host runs it inside its audio callback).

    Input frames are resampled to the engine's rate, separated, resampled back and queued;
    every block takes exactly its number of frames from the queue. The queue starts (and,
    after an underrun, starts again) by waiting until it holds one block plus a margin, then
    drops any excess: the smallest buffer that rides out the resamplers' +-1 frame jitter.

    Timing, in device samples: output sample t is the chain's sample t - ``offset`` and the
    chain (down -> up, engine left out) delays by ``intrinsic_delay``, so the resampling
    latency is ``offset + intrinsic_delay``; the engine adds its own latency scaled by the
    rate ratio.

    Parameters
    ----------
    device_rate, engine_rate : int
        Rates in Hz.
    channels : int
        Engine output channels.
    max_block : int
        The largest block to prepare buffers for.
    """

    def __init__(self, device_rate: int, engine_rate: int, channels: int, *,
                 max_block: int = 8192) -> None:
        self.device_rate, self.engine_rate = int(device_rate), int(engine_rate)
        self.channels = int(channels)
        self.max_block = int(max_block)
        self.margin = 2 * math.ceil(device_rate / engine_rate) + 8
        self.core = _core.RateBridge(down=design_filter(self.device_rate, self.engine_rate),
                                     up=design_filter(self.engine_rate, self.device_rate),
                                     channels=self.channels, margin=self.margin,
                                     max_block=self.max_block)
        self.intrinsic_delay = self._measure_intrinsic_delay()

    def _measure_intrinsic_delay(self) -> int:
        """Where an impulse comes out of a fresh down -> up chain, relative to where it went
        in (linear-phase filters: the peak is the delay)."""
        n = 4 * self.device_rate // 10 + 2048
        position = n // 4
        impulse = np.zeros(n, dtype=np.float32)
        impulse[position] = 1.0
        low = resample_stream(impulse, self.device_rate, self.engine_rate)
        back = resample_stream(low, self.engine_rate, self.device_rate)
        return int(np.argmax(np.abs(back))) - position

    @property
    def offset(self) -> int:
        """Device samples the queue has delayed the output by (see the class notes)."""
        return int(self.core.offset)

    @property
    def underruns(self) -> int:
        """Blocks the queue could not fill (each restarts the priming)."""
        return int(self.core.underruns)

    @property
    def primed(self) -> bool:
        return bool(self.core.primed)

    @property
    def latency_samples(self) -> int:
        """Resampling latency in device samples (not counting the engine)."""
        return self.offset + self.intrinsic_delay

    def process(self, engine: _core.Separator, x: Float32, out: Float32) -> None:
        """Separate device-rate input x (n,) into out (n, channels) (the GIL released).

        Parameters
        ----------
        engine : livesep._core.Separator
            Prepared at ``engine_rate`` with ``channels`` output channels.
        x : np.ndarray, shape (n,), C-contiguous float32, n <= max_block
        out : np.ndarray, shape (n, channels), writable C-contiguous float32
        """
        self.core.process(engine, x, out)
