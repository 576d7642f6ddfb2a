"""Statistics of a live stream: what :meth:`LiveSeparator.stats` reports, the histories and
the event log they are built from, and the sources' levels for meters.

Nothing here runs on the audio thread: the callback only stores timestamps and counters
into preallocated arrays; the monitor (:mod:`livesep.live.monitor`) turns them into these
numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Spread", "Latency", "Xruns", "LiveStats", "History", "EventLog", "source_levels"]


@dataclass(frozen=True)
class Spread:
    """Median, 99th percentile and maximum of a duration, in seconds (NaN when unknown)."""

    median: float = float("nan")
    p99: float = float("nan")
    max: float = float("nan")

    @classmethod
    def of(cls, values: npt.NDArray[np.float64]) -> Spread:
        if values.size == 0:
            return cls()
        return cls(float(np.median(values)), float(np.percentile(values, 99)),
                   float(values.max()))


@dataclass(frozen=True)
class Latency:
    """Where the delay from input to output comes from, in seconds.

    Attributes
    ----------
    algorithmic : float
        The engine's STFT latency (``latency_samples`` at the preset's rate).
    resampling : float
        The streaming resamplers and their queue (0 when the device runs at the preset's
        rate).
    input_device, output_device : float
        What PortAudio reports for the stream (buffering and the ports' own latency).
    """

    algorithmic: float = 0.0
    resampling: float = 0.0
    input_device: float = 0.0
    output_device: float = 0.0

    @property
    def total(self) -> float:
        return self.algorithmic + self.resampling + self.input_device + self.output_device


@dataclass(frozen=True)
class Xruns:
    """Stream problems by kind, counted from the callback's status flags and the host."""

    input_overflow: int = 0
    input_underflow: int = 0
    output_underflow: int = 0
    output_overflow: int = 0
    resampler_underrun: int = 0

    @property
    def total(self) -> int:
        return (self.input_overflow + self.input_underflow + self.output_underflow
                + self.output_overflow + self.resampler_underrun)


@dataclass(frozen=True)
class LiveStats:
    """A snapshot of a live stream's health; see :meth:`LiveSeparator.stats`.

    ``cpu_load`` is the callback's own duration over the audio it handled (1.0 = exactly
    the deadline); ``engine`` is the C++ processing time measured inside the engine,
    ``callback`` the whole audio callback around it (resampling, mixing, copies; C++ too),
    ``period`` the time between callbacks.
    """

    state: str
    device_rate: int
    engine_rate: int
    callbacks: int = 0
    frames: int = 0
    seconds: float = 0.0
    period: Spread = Spread()
    nominal_period: float = float("nan")
    jitter_p99: float = float("nan")
    engine: Spread = Spread()
    callback: Spread = Spread()
    cpu_load: float = float("nan")
    cpu_load_p99: float = float("nan")
    xruns: Xruns = Xruns()
    latency: Latency = Latency()
    quality_level: int = 0
    n_iter: int = 0
    beam: int = 0
    recorder_dropped: int = 0
    dropped_timings: int = 0
    events: tuple[str, ...] = field(default_factory=tuple)


class History:
    """The last ``capacity`` values of a float series, preallocated and resident from the
    start (written once, so that a stream's memory does not grow while the ring fills)."""

    def __init__(self, capacity: int) -> None:
        self._data = np.full(capacity, 0.0)
        self.count = 0

    def extend(self, values: npt.ArrayLike) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        capacity = self._data.size
        if values.size > capacity:
            self.count += values.size - capacity
            values = values[-capacity:]
        start = self.count % capacity
        first = min(values.size, capacity - start)
        self._data[start:start + first] = values[:first]
        self._data[:values.size - first] = values[first:]
        self.count += values.size

    def last(self, n: int | None = None) -> npt.NDArray[np.float64]:
        """The most recent n values (all kept ones by default), oldest first."""
        kept = min(self.count, self._data.size)
        n = kept if n is None else min(n, kept)
        end = self.count % self._data.size
        indices = (np.arange(end - n, end)) % self._data.size
        return self._data[indices]


class EventLog:
    """The last few things worth telling about a stream (xruns, quality changes, preset
    switches), each stamped with the seconds since the stream started."""

    def __init__(self, keep: int = 20) -> None:
        self._keep = keep
        self._lines: list[str] = []
        self.started_at = time.monotonic()

    def add(self, text: str) -> None:
        self._lines.append(f"{time.monotonic() - self.started_at:.1f} s: {text}")
        del self._lines[:-self._keep]

    def lines(self) -> tuple[str, ...]:
        return tuple(self._lines)


def source_levels(snapshots: dict[str, Any]) -> np.ndarray:
    """Each source's level in dB (relative to a full-scale spectrum) over the snapshots
    given by :meth:`LiveSeparator.pop_snapshots`; -inf where silent or none came."""
    masks, spectrum = snapshots["masks"], snapshots["spectrum"]
    if masks.shape[0] == 0:
        return np.full(masks.shape[1], -np.inf)
    energy = np.mean(np.sum((masks * spectrum[:, None, :]) ** 2, axis=2), axis=0)
    reference = (spectrum.shape[1] - 1) ** 2 / 4.0  # a full-scale sine in one bin, sqrt-hann
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy / reference)
