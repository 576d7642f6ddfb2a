"""The rate bridge: device rate <-> engine rate around the engine, inside the audio callback."""

from __future__ import annotations

import math

from livesep import _core
from livesep.resampling import Float32, chain

__all__ = ["RateBridge"]


class RateBridge:
    """Device rate <-> engine rate around one engine call per block (C++:
    ``cpp/livesep/rate_bridge.h``; the live host runs it inside its audio callback).

    Input frames are resampled to the engine's rate, separated, resampled back and queued;
    every block takes exactly its number of frames from the queue. The queue starts (and,
    after an underrun, starts again) by waiting until it holds one block plus a margin, then
    drops any excess: the smallest buffer that rides out the resamplers' +-1 frame jitter.

    Timing, in device samples: output sample t is the chain's sample t - ``offset``, and the
    chain (:class:`livesep.resampling.Chain`: down -> the engine's ``engine_latency`` ->
    up) delays by ``chain.delay`` exactly, so input sample t comes out at t +
    :attr:`latency_samples`. :func:`livesep.separation.online.separate_online` at the device
    rate runs the same chain, removes ``chain.delay`` and gives this output sample for
    sample.

    Parameters
    ----------
    device_rate, engine_rate : int
        Rates in Hz.
    channels : int
        Engine output channels.
    max_block : int
        The largest block to prepare buffers for.
    engine_latency : int
        The engine's delay in samples at its rate (``Separator.latency_samples()``).
    """

    def __init__(self, device_rate: int, engine_rate: int, channels: int, *,
                 engine_latency: int, max_block: int = 8192) -> None:
        self.device_rate, self.engine_rate = int(device_rate), int(engine_rate)
        self.channels = int(channels)
        self.max_block = int(max_block)
        self.margin = 2 * math.ceil(device_rate / engine_rate) + 8
        self.chain = chain(self.device_rate, self.engine_rate, int(engine_latency))
        self.core = _core.RateBridge(down=self.chain.down, up=self.chain.up,
                                     channels=self.channels, margin=self.margin,
                                     max_block=self.max_block)

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
        """Device samples from input to output: the queue, the resamplers and the engine."""
        return self.offset + self.chain.delay

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
