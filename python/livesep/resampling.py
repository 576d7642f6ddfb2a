"""One resampler for files and live streams: a polyphase FIR filter in C++.

The filters: linear-phase Kaiser-window low-passes (``scipy.signal.firwin``) run as a
polyphase FIR in C++ (``livesep._core.Resampler``, ``cpp/livesep/resampler.h``), of two kinds:

- for files (:func:`resample`): flat within 0.001 dB to 45 % of the lower rate, down by
  110 dB from its Nyquist frequency on (4.5 ms of delay each way at 48 kHz <-> 16 kHz, which
  a file does not mind: it is removed);
- for the live path (``live=True``: the rate bridge and ``separate --mode online`` at a
  device rate): short, so that resampling there and back adds under 2 ms: flat within
  0.005 dB to 35 % of the lower rate (5.6 kHz for a 16 kHz engine), down by 69 dB where an
  alias would fold into that band (decimating: from 65 % of the lower rate) or an image
  would appear (interpolating: from its Nyquist frequency).

Every output sample is the same dot product however the input is chunked, so a whole
signal through :func:`resample_stream` is what a live stream's resampler yields for the same
samples, and each call returns every sample its input completes (85 or 86 for 256 in at
48 kHz -> 16 kHz), so no extra buffering is needed to smooth bursts.

The live filters serve the live host's rate bridge (:mod:`livesep.live.bridge`) and
``separate --mode online`` on a file at another rate than the preset's (the live chain,
its :class:`Chain`'s delay removed), so that the file gives what the stream gives; the file
filters every one-way conversion of a file (:func:`resample`, its group delay removed:
reading training audio, offline separation at another rate). Running at the preset's rate
avoids all of it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livesep import _core
from livesep.errors import ParameterError

__all__ = ["StreamResampler", "resample_stream", "resample", "Chain", "chain", "design_filter",
           "output_delay", "filter_reach"]

Float32 = npt.NDArray[np.float32]

#: Stop-band attenuation (dB) and the pass band's edge as a fraction of the lower rate, for
#: files and for the live path.
ATTENUATION_DB = 110.0
PASSBAND = 0.45
LIVE_ATTENUATION_DB = 70.0
LIVE_PASSBAND = 0.35
#: The largest up or down factor (after reducing the rate ratio) a filter is designed for.
MAX_FACTOR = 1024


def design_filter(in_rate: int, out_rate: int, input_delay: int = 0, *, live: bool = False
                  ) -> tuple[int, int, Float32]:
    """The polyphase design from ``in_rate`` to ``out_rate``: (up, down, taps).

    ``taps`` is the prototype low-pass at ``up`` x ``in_rate`` with gain ``up``: a symmetric
    (linear-phase) filter after a few leading zeros, so many that a signal which already
    lags by ``input_delay`` input samples comes out delayed by a whole number of output
    samples (:func:`output_delay`). Every delay in a chain of resamplers is then exact, at
    the cost of less than one output sample. ``live`` picks the live path's short filter
    (see the module's description). Raises :class:`ParameterError` for rates whose
    reduced ratio needs more than ``MAX_FACTOR`` phases (e.g. 44100 Hz <-> 16001 Hz).
    """
    up, down, taps, _ = _design(int(in_rate), int(out_rate), int(input_delay), bool(live))
    return up, down, taps


def output_delay(in_rate: int, out_rate: int, input_delay: int = 0, *,
                 live: bool = False) -> int:
    """Output samples by which a signal lagging ``input_delay`` input samples comes out of
    ``design_filter(in_rate, out_rate, input_delay, live=live)`` delayed (its lag
    included)."""
    up, down, _, centre = _design(int(in_rate), int(out_rate), int(input_delay), bool(live))
    return (int(input_delay) * up + centre) // down


def filter_reach(in_rate: int, out_rate: int) -> int:
    """Input samples on either side of an output sample that the filter from ``in_rate`` to
    ``out_rate`` weighs (half its length): a signal padded by that much silence keeps the
    filter's ringing past its ends when resampled."""
    up, _, _, centre = _design(int(in_rate), int(out_rate), 0, False)
    return centre // up + 1


@functools.lru_cache(maxsize=32)
def _design(in_rate: int, out_rate: int, input_delay: int, live: bool
            ) -> tuple[int, int, Float32, int]:
    """(up, down, taps, the index of the taps' centre)."""
    from scipy import signal

    up, down = _ratio(in_rate, out_rate)
    low = min(in_rate, out_rate)
    prototype_rate = float(in_rate) * up
    attenuation, passband = (LIVE_ATTENUATION_DB, LIVE_PASSBAND) if live \
        else (ATTENUATION_DB, PASSBAND)
    # Decimating, only aliases folding into the pass band matter: they come from above
    # 1 - passband; interpolating, images start at the lower rate's Nyquist frequency.
    stopband = 1.0 - passband if live and out_rate < in_rate else 0.5
    width = (stopband - passband) * low / (0.5 * prototype_rate)
    numtaps, beta = signal.kaiserord(attenuation, width)
    numtaps |= 1
    cutoff = 0.5 * (passband + stopband) * low
    symmetric = signal.firwin(numtaps, cutoff, window=("kaiser", beta), fs=prototype_rate) * up
    lead = -(input_delay * up + (numtaps - 1) // 2) % down
    taps = np.concatenate([np.zeros(lead), symmetric]).astype(np.float32)
    taps.flags.writeable = False
    return up, down, taps, lead + (numtaps - 1) // 2


def _ratio(in_rate: int, out_rate: int) -> tuple[int, int]:
    for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
        if not (isinstance(rate, (int, np.integer)) and rate > 0):
            raise ParameterError(f"{name} must be a positive whole rate in Hz, got {rate!r}")
    divisor = math.gcd(int(in_rate), int(out_rate))
    up, down = int(out_rate) // divisor, int(in_rate) // divisor
    if max(up, down) > MAX_FACTOR:
        raise ParameterError(f"cannot resample {in_rate} Hz <-> {out_rate} Hz: the ratio "
                             f"{up}/{down} needs more than {MAX_FACTOR} filter phases")
    return up, down


class StreamResampler:
    """A streaming polyphase resampler for float32 frames shaped (n,) or (n, channels).

    Parameters
    ----------
    in_rate, out_rate : int
        Rates in Hz.
    channels : int
        Channels per frame.
    input_delay : int, keyword-only
        How many input samples the signal already lags (see :func:`design_filter`).
    live : bool, keyword-only
        The live path's short filter instead of the file one.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1, *,
                 input_delay: int = 0, live: bool = False) -> None:
        if channels < 1:
            raise ParameterError(f"channels must be >= 1, got {channels!r}")
        up, down, taps = design_filter(in_rate, out_rate, input_delay, live=live)
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._resampler = _core.Resampler(up=up, down=down, taps=taps, channels=channels)

    def process(self, x: Float32) -> Float32:
        """Resample the next chunk: (n,) or (n, channels) C-contiguous float32 in, the same
        rank out with every frame the input completes."""
        return self._resampler.process(x)


def resample_stream(x: npt.ArrayLike, in_rate: int, out_rate: int, *,
                    input_delay: int = 0, live: bool = False) -> Float32:
    """The whole of ``x`` (shape (n,) or (n, channels)) through a :class:`StreamResampler`:
    what the live path's resampler yields for the same samples, whatever the callback sizes
    were."""
    signal = np.ascontiguousarray(x, dtype=np.float32)
    channels = 1 if signal.ndim == 1 else signal.shape[1]
    return StreamResampler(in_rate, out_rate, channels, input_delay=input_delay,
                           live=live).process(signal)


def resample(y: npt.ArrayLike, *, orig_sr: int, target_sr: int) -> Float32:
    """A whole signal at another rate, aligned with the original (the filter's delay removed).

    Parameters
    ----------
    y : array-like, shape (n,) or (channels, n)
        The samples.
    orig_sr, target_sr : int, keyword-only
        The rates in Hz.

    Returns
    -------
    np.ndarray, shape (m,) or (channels, m), float32
        ``m = round(n * target_sr / orig_sr)``; ``y`` itself (as float32) at the same rate.

    Raises
    ------
    ParameterError
        For rates that are not positive whole numbers, or whose ratio needs more than
        ``MAX_FACTOR`` filter phases.
    """
    for name, rate in (("orig_sr", orig_sr), ("target_sr", target_sr)):
        if not (isinstance(rate, (int, np.integer)) and rate > 0):
            raise ParameterError(f"{name} must be a positive whole rate in Hz, got {rate!r}")
    signal = np.asarray(y, dtype=np.float32)
    if signal.ndim not in (1, 2):
        raise ParameterError(f"audio must be shaped (n,) or (channels, n), got shape "
                             f"{signal.shape}")
    if orig_sr == target_sr:
        return signal
    up, down, taps = design_filter(int(orig_sr), int(target_sr))
    delay = output_delay(int(orig_sr), int(target_sr))
    n_out = round(signal.shape[-1] * target_sr / orig_sr)
    # Zeros after the end flush the filter: the last outputs need input up to their delay.
    tail = -(-(delay + 1) * down // up) + taps.size // up + 1
    frames = np.ascontiguousarray(signal.T if signal.ndim == 2 else signal)
    padded = np.concatenate([frames, np.zeros((tail,) + frames.shape[1:], np.float32)])
    out = resample_stream(padded, int(orig_sr), int(target_sr))[delay:delay + n_out]
    return np.ascontiguousarray(out.T if signal.ndim == 2 else out)


@dataclass(frozen=True)
class Chain:
    """The resamplers around an engine that runs at another rate than the device: device ->
    engine rate (``down``), the engine's ``engine_latency``, engine -> device rate (``up``,
    designed for the lag before it). ``delay`` is the whole chain's delay in device samples,
    exactly: input sample t comes out as output sample t + delay."""

    device_rate: int
    engine_rate: int
    engine_latency: int
    down: tuple[int, int, Float32]
    up: tuple[int, int, Float32]
    up_input_delay: int
    delay: int


def chain(device_rate: int, engine_rate: int, engine_latency: int) -> Chain:
    """The :class:`Chain` between a device and an engine with that latency, of the live
    path's short filters."""
    down_delay = output_delay(device_rate, engine_rate, live=True)
    lag = down_delay + int(engine_latency)
    return Chain(device_rate=int(device_rate), engine_rate=int(engine_rate),
                 engine_latency=int(engine_latency),
                 down=design_filter(device_rate, engine_rate, live=True),
                 up=design_filter(engine_rate, device_rate, lag, live=True),
                 up_input_delay=lag, delay=output_delay(engine_rate, device_rate, lag, live=True))
