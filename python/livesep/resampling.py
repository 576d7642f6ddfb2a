"""Streaming resampling between a device's rate and a preset's, inside the audio callback.

Why soxr's variable-rate engine (``vr=True``): soxr's fixed-ratio engines filter in large
DFT blocks, so a 256-sample callback at 48 kHz → 16 kHz gets nothing for six calls and then
~490 samples at once (HQ; VHQ is worse); smoothing such bursts costs tens of milliseconds of
extra buffering in each direction. The variable-rate engine (``vr32``) returns output on
every call (85 or 86 samples for 256 in, 255-258 back), still rejects aliases by more than
110 dB with a flat band to 7.5 kHz, and its output does not depend on how the input is
chunked: the file path running the same resamplers over a whole signal reproduces the live
path sample for sample (``tests/test_live_parts.py``, ``tests/test_stream.py``). Its price
is latency: it holds back ~200 samples at 16 kHz going down and ~720 at 48 kHz coming back,
27.9 ms in all at 48 kHz / 256 (``RateBridge.latency_samples``, reported in the stream's
latency). Running the device at the preset's rate avoids all of it.

Why resample in the callback (in Python) rather than elsewhere: the engine runs at the
preset's rate by construction (its dictionaries are trained for it); running the resamplers
on another thread would add a hand-off buffer (more latency) and a second real-time thread.
Measured cost (``benchmarks/bench_live.py``): ~29 µs median per 256-frame callback for both
resamplers, the queue and the copies, against ~7 µs for the direct path; small beside the
engine's ~0.4 ms per frame. Moving resampling into C++ (libsoxr or a polyphase filter in
the engine, one call per callback again) would also cut the latency; see issue 5's notes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import soxr

from livesep.errors import ParameterError

__all__ = ["StreamResampler", "RateBridge", "resample_stream"]

Float32 = npt.NDArray[np.float32]


class StreamResampler:
    """soxr in streaming, variable-rate mode for float32 frames shaped (n, channels).

    Parameters
    ----------
    in_rate, out_rate : int
        Rates in Hz.
    channels : int
        Channels per frame.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None:
        for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
            if not rate > 0:
                raise ParameterError(f"{name} must be a positive rate in Hz, got {rate!r}")
        if channels < 1:
            raise ParameterError(f"channels must be >= 1, got {channels!r}")
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self._stream = soxr.ResampleStream(self.in_rate, self.out_rate, self.channels,
                                           dtype="float32", quality="HQ", vr=True)

    def process(self, x: Float32, *, last: bool = False) -> Float32:
        """Resample the next chunk: (n,) or (n, channels) C-contiguous float32 in, the same
        rank out with however many frames soxr releases now."""
        return self._stream.resample_chunk(x, last=last)


def resample_stream(x: npt.ArrayLike, in_rate: int, out_rate: int) -> Float32:
    """The whole of ``x`` (shape (n,) or (n, channels)) through a :class:`StreamResampler`,
    flushed: what the live path's resampler yields for the same samples, whatever the
    callback sizes were (without the flushed tail, which live never reaches)."""
    signal = np.ascontiguousarray(x, dtype=np.float32)
    channels = 1 if signal.ndim == 1 else signal.shape[1]
    resampler = StreamResampler(in_rate, out_rate, channels)
    return np.concatenate([resampler.process(signal),
                           resampler.process(signal[:0], last=True)])


class _Fifo:
    """A preallocated ring of frames (capacity, channels); single thread (the callback)."""

    def __init__(self, capacity: int, channels: int) -> None:
        self.data = np.zeros((capacity, channels), dtype=np.float32)
        self.data.fill(0.0)  # map every page now, not in the audio callback
        self.read = 0
        self.level = 0

    def push(self, frames: Float32) -> int:
        """Append frames; returns how many did not fit (dropped, the oldest kept)."""
        capacity = self.data.shape[0]
        count = min(frames.shape[0], capacity - self.level)
        start = (self.read + self.level) % capacity
        first = min(count, capacity - start)
        self.data[start:start + first] = frames[:first]
        self.data[:count - first] = frames[first:count]
        self.level += count
        return frames.shape[0] - count

    def pop_into(self, out: Float32) -> int:
        """Move up to len(out) frames into out; returns how many."""
        capacity = self.data.shape[0]
        count = min(out.shape[0], self.level)
        first = min(count, capacity - self.read)
        out[:first] = self.data[self.read:self.read + first]
        out[first:count] = self.data[:count - first]
        self.discard(count)
        return count

    def discard(self, count: int) -> None:
        self.read = (self.read + count) % self.data.shape[0]
        self.level -= count


class RateBridge:
    """Device rate ↔ engine rate around one engine call per audio callback.

    Input frames are resampled to the engine's rate, separated by one
    ``process_interleaved`` call, resampled back and queued; every callback takes exactly
    its number of frames from the queue. The queue starts (and, after an underrun, starts
    again) by waiting until it holds one block plus a margin, then drops any excess: the
    smallest buffer that rides out the resamplers' ±few-sample jitter.

    Timing, in device samples: output sample t is the chain's sample t - ``offset`` and the
    chain (down → up, engine left out) delays by ``intrinsic_delay``, so the resampling
    latency is ``offset + intrinsic_delay``; the engine adds its own latency scaled by the
    rate ratio.

    Parameters
    ----------
    device_rate, engine_rate : int
        Rates in Hz.
    channels : int
        Engine output channels.
    max_block : int
        The largest callback size to prepare buffers for (larger ones are split).
    """

    def __init__(self, device_rate: int, engine_rate: int, channels: int, *,
                 max_block: int = 8192) -> None:
        self.device_rate, self.engine_rate = int(device_rate), int(engine_rate)
        self.channels = int(channels)
        self.max_block = int(max_block)
        self.margin = 2 * math.ceil(device_rate / engine_rate) + 8
        self._down = StreamResampler(device_rate, engine_rate, 1)
        self._up = StreamResampler(engine_rate, device_rate, channels)
        engine_block = math.ceil(max_block * engine_rate / device_rate) + 256
        self._engine_out = np.zeros((engine_block, channels), dtype=np.float32)
        self._engine_out.fill(0.0)
        self._fifo = _Fifo(4 * max_block + 4096, channels)
        self.intrinsic_delay = self._measure_intrinsic_delay()
        self.offset = 0
        self.primed = False
        self.underruns = 0
        self.overflows = 0

    def _measure_intrinsic_delay(self) -> int:
        """Where an impulse comes out of a fresh down → up chain, relative to where it went
        in (linear-phase filters: the peak is the delay)."""
        n = 4 * self.device_rate // 10 + 2048
        position = n // 4
        impulse = np.zeros(n, dtype=np.float32)
        impulse[position] = 1.0
        low = resample_stream(impulse, self.device_rate, self.engine_rate)
        back = resample_stream(low, self.engine_rate, self.device_rate)
        return int(np.argmax(np.abs(back))) - position

    @property
    def latency_samples(self) -> int:
        """Resampling latency in device samples (not counting the engine)."""
        return self.offset + self.intrinsic_delay

    def process(self, engine: object, x: Float32, out: Float32) -> None:
        """[audio thread] Separate device-rate input x (n,) into out (n, channels).

        Parameters
        ----------
        engine : livesep._core.Separator
            Prepared at ``engine_rate`` with ``channels`` output channels.
        x : np.ndarray, shape (n,), C-contiguous float32
        out : np.ndarray, shape (n, channels), writable float32
        """
        low = self._down.process(x)
        start = 0
        while start < low.shape[0]:
            count = min(low.shape[0] - start, self._engine_out.shape[0])
            block = self._engine_out[:count]
            engine.process_interleaved(low[start:start + count].reshape(count, 1), block)
            self.overflows += self._fifo.push(self._up.process(block)) > 0
            start += count
        n = out.shape[0]
        fifo = self._fifo
        if not self.primed:
            if fifo.level < n + self.margin:
                out.fill(0.0)
                self.offset += n
                return
            excess = fifo.level - (n + self.margin)
            fifo.discard(excess)
            self.offset -= excess
            self.primed = True
        got = fifo.pop_into(out)
        if got < n:
            out[got:] = 0.0
            self.offset += n - got
            self.underruns += 1
            self.primed = False
