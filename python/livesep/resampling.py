"""Streaming resampling between a device's rate and a preset's, inside the audio callback.

The filter: a linear-phase Kaiser-window low-pass (``scipy.signal.firwin``), flat within
0.001 dB to 45 % of the lower rate and down by 110 dB from its Nyquist frequency on, run as a
polyphase FIR in C++ (``livesep._core.Resampler``, ``cpp/livesep/resampler.h``). Every
output sample is the same dot product however the input is chunked, so the file path
running the same resamplers over a whole signal reproduces the live path sample for sample
(``tests/test_resampling.py``, ``tests/test_stream.py``), and each call returns every
sample its input completes (85 or 86 for 256 in at 48 kHz -> 16 kHz), so no extra
buffering is needed to smooth bursts. Latency: the filters' group delays, about 4.4 ms each
way at 48 kHz <-> 16 kHz (the 16 kHz preset's band ends at 8 kHz, so the transition band is
7.2-8 kHz), 9.5 ms in all with the queue (``RateBridge.latency_samples``, reported in the
stream's latency). Running the device at the preset's rate avoids all of it.

Why in C++ inside the callback: the engine runs at the preset's rate by construction (its
dictionaries are trained for it), and the callback has no Python in it at all
(``livesep.live.host``); running the resamplers on another thread would add a hand-off buffer
(more latency) and a second real-time thread. Measured cost: ``benchmarks/bench_live.py``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from livesep import _core
from livesep.errors import ParameterError

__all__ = ["StreamResampler", "resample_stream", "design_filter"]

Float32 = npt.NDArray[np.float32]

#: Stop-band attenuation (dB) and the pass band's edge as a fraction of the lower rate.
ATTENUATION_DB = 110.0
PASSBAND = 0.45
#: The largest up or down factor (after reducing the rate ratio) a filter is designed for.
MAX_FACTOR = 1024


@functools.lru_cache(maxsize=16)
def design_filter(in_rate: int, out_rate: int) -> tuple[int, int, Float32]:
    """The polyphase design from ``in_rate`` to ``out_rate``: (up, down, taps).

    ``taps`` is the prototype low-pass at ``up`` x ``in_rate`` with gain ``up`` (odd length:
    linear phase). Raises :class:`ParameterError` for rates whose reduced ratio needs more
    than ``MAX_FACTOR`` phases (e.g. 44100 Hz <-> 16001 Hz).
    """
    from scipy import signal

    for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
        if not (isinstance(rate, (int, np.integer)) and rate > 0):
            raise ParameterError(f"{name} must be a positive whole rate in Hz, got {rate!r}")
    divisor = math.gcd(int(in_rate), int(out_rate))
    up, down = int(out_rate) // divisor, int(in_rate) // divisor
    if max(up, down) > MAX_FACTOR:
        raise ParameterError(f"cannot resample {in_rate} Hz <-> {out_rate} Hz: the ratio "
                             f"{up}/{down} needs more than {MAX_FACTOR} filter phases")
    low = min(in_rate, out_rate)
    prototype_rate = float(in_rate) * up
    width = (0.5 - PASSBAND) * low / (0.5 * prototype_rate)
    numtaps, beta = signal.kaiserord(ATTENUATION_DB, width)
    numtaps |= 1
    cutoff = 0.5 * (PASSBAND + 0.5) * low
    taps = signal.firwin(numtaps, cutoff, window=("kaiser", beta), fs=prototype_rate) * up
    taps = taps.astype(np.float32)
    taps.flags.writeable = False
    return up, down, taps


class StreamResampler:
    """A streaming polyphase resampler for float32 frames shaped (n,) or (n, channels).

    Parameters
    ----------
    in_rate, out_rate : int
        Rates in Hz.
    channels : int
        Channels per frame.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None:
        if channels < 1:
            raise ParameterError(f"channels must be >= 1, got {channels!r}")
        up, down, taps = design_filter(in_rate, out_rate)
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._resampler = _core.Resampler(up=up, down=down, taps=taps, channels=channels)

    def process(self, x: Float32) -> Float32:
        """Resample the next chunk: (n,) or (n, channels) C-contiguous float32 in, the same
        rank out with every frame the input completes."""
        return self._resampler.process(x)


def resample_stream(x: npt.ArrayLike, in_rate: int, out_rate: int) -> Float32:
    """The whole of ``x`` (shape (n,) or (n, channels)) through a :class:`StreamResampler`:
    what the live path's resampler yields for the same samples, whatever the callback sizes
    were."""
    signal = np.ascontiguousarray(x, dtype=np.float32)
    channels = 1 if signal.ndim == 1 else signal.shape[1]
    return StreamResampler(in_rate, out_rate, channels).process(signal)
