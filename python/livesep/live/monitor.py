"""The live stream's monitor: turns the callback's timestamps and the engine's timing ring
into statistics, steers the quality governor, frees swapped-out models and notices a
device that stopped (JACK server gone, device unplugged).

It runs on a thread of its own, a few times a second, and never makes the audio callback
wait: the callback writes preallocated arrays that the monitor reads behind it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.engine import EngineSettings
from livesep.errors import AudioDeviceError, LivesepError
from livesep.live.bridge import RateBridge
from livesep.live.governor import QualityGovernor, apply_quality
from livesep.live.stats import EventLog, History, Latency, LiveStats, Spread, Xruns

__all__ = ["Monitor", "StreamParts", "HISTORY"]

HISTORY = 1 << 16  # callbacks kept for statistics (~6 min at 256 frames / 48 kHz)

INTERVAL = 0.1  # seconds between looks
STALL = 1.0  # seconds without a callback that mean the device stopped
FIRST_CALLBACK = 3.0  # seconds a device may take to deliver its first callback

_FLAG_NAMES = ("input underflow", "input overflow", "output underflow", "output overflow")


@dataclass(frozen=True)
class StreamParts:
    """What a running stream is made of, as the monitor reads it.

    ``engine`` is the prepared ``livesep._core.Separator``, ``host`` the C++ live host that
    PortAudio calls (its timing arrays and xrun records), ``bridge`` the rate bridge when
    the device runs at another rate than the engine, ``device_latency`` PortAudio's input
    and output latency of the stream in seconds.
    """

    engine: Any
    host: Any
    bridge: RateBridge | None
    device_rate: int
    engine_rate: int
    device_latency: tuple[float, float]
    settings: EngineSettings


class Monitor:
    """Statistics, quality and liveness of one stream, from its start to its end.

    Parameters
    ----------
    parts : StreamParts
        The stream's engine, host and rate bridge.
    events : EventLog
        Where xruns and quality changes are told.
    governor : QualityGovernor or None
        Lowers the engine's work under load; None keeps it fixed.
    """

    def __init__(self, parts: StreamParts, *, events: EventLog,
                 governor: QualityGovernor | None) -> None:
        self.parts = parts
        self.events = events
        self.governor = governor
        self.started_at = time.monotonic()
        self.stopped_at: float | None = None
        self._lock = threading.Lock()  # the engine's rings and the host's arrays: one reader
        self._engine_times = History(HISTORY)
        self._periods = History(HISTORY)
        self._durations = History(HISTORY)
        # (start, end) of each callback by its number modulo HISTORY
        self._numbered = np.full((HISTORY, 2), np.nan)
        self._loads = History(HISTORY)
        self._callbacks = 0
        self._xruns_reported = 0
        self._first_start: float | None = None
        self._last_start: float | None = None
        self._frames_total = 0
        self._frames_recent = np.zeros(0)
        self._dropped_timings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- the thread
    def start(self, *, alive: Callable[[], bool], trouble: Callable[[], LivesepError | None],
              on_failure: Callable[[LivesepError], None]) -> None:
        """Watch the stream on a thread of its own until :meth:`stop`.

        ``alive()`` says whether the stream still runs, ``trouble()`` what went wrong beside
        it (a recording that cannot be written); when the stream stopped, no callback came
        for too long, or there is trouble, ``on_failure`` is called once with the error to
        report and the thread ends.
        """
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(alive, trouble, on_failure),
                                        name="livesep-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread (idempotent; waits for it unless called from it)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def finish(self) -> None:
        """Once the stream is closed: read what is left and stop the clock."""
        self.stop()
        self.collect()
        if self.stopped_at is None:
            self.stopped_at = time.monotonic()

    def _run(self, alive: Callable[[], bool], trouble: Callable[[], LivesepError | None],
             on_failure: Callable[[LivesepError], None]) -> None:
        last_count, last_progress = 0, time.monotonic()
        reported_xruns = 0
        while not self._stop.wait(INTERVAL):
            self.collect()
            now = time.monotonic()
            if self._callbacks != last_count:
                last_count, last_progress = self._callbacks, now
            period = self._median_frames() / self.parts.device_rate
            allowed = FIRST_CALLBACK if last_count == 0 else max(
                STALL, 10 * period if period > 0 else STALL)
            if not alive() or now - last_progress > allowed:
                on_failure(AudioDeviceError(
                    f"the audio device stopped delivering audio after "
                    f"{now - self.started_at:.1f} s (unplugged, or its JACK server stopped?)"))
                return
            problem = trouble()
            if problem is not None:
                on_failure(problem)
                return
            xruns = self.xruns().total
            self._steer(now, xruns - reported_xruns)
            reported_xruns = xruns

    def _steer(self, now: float, new_xruns: int) -> None:
        """Feed the governor the last second's load; apply and tell a change of level."""
        governor = self.governor
        if governor is None:
            return
        per_second = max(1, int(self.parts.device_rate / max(1.0, self._median_frames())))
        if self._loads.count < per_second:
            return  # the first second's callbacks include one-off costs: not a load yet
        recent = self._loads.last(per_second)
        load = float(np.percentile(recent, 99)) if recent.size else float("nan")
        before = governor.level
        change = governor.update(now, load, new_xruns)
        if change is not None:
            apply_quality(self.parts.engine, change)
            direction = "lowered" if change.level > before else "raised"
            self.events.add(f"CPU load {load:.2f} (p99 over 1 s): quality {direction} to level "
                            f"{change.level} ({change.n_iter} iterations, beam {change.beam})")

    # ----------------------------------------------------------------- readings
    def collect(self) -> None:
        """Move new timings from the callback's arrays and the engine's ring into histories."""
        with self._lock:
            engine, host, rate = self.parts.engine, self.parts.host, self.parts.device_rate
            seconds, _, dropped = engine.pop_timings()
            self._engine_times.extend(seconds)
            self._dropped_timings = int(dropped)
            first, starts, ends, frame_counts = host.timings(self._callbacks)
            skipped = np.arange(self._callbacks, first)[-HISTORY:]
            self._numbered[skipped % HISTORY] = np.nan
            self._numbered[np.arange(first, first + starts.size) % HISTORY] = np.stack(
                [starts, ends], axis=1)
            if starts.size:
                if first == 0:
                    self._first_start = float(starts[0])
                frames = frame_counts.astype(np.float64)
                durations = ends - starts
                self._durations.extend(durations)
                self._loads.extend(durations / (frames / rate))
                previous = self._last_start
                edges = starts if previous is None else np.concatenate([[previous], starts])
                self._periods.extend(np.diff(edges))
                self._last_start = float(starts[-1])
                self._frames_total += int(frames.sum())
                self._frames_recent = frames[-64:]
            self._callbacks = first + starts.size
            engine.collect_retired()
            self._report_xruns()

    def _report_xruns(self) -> None:
        records = self.parts.host.xruns(self._xruns_reported)
        for index, stamp, previous, flags in records:
            kinds = ", ".join(name for bit, name in enumerate(_FLAG_NAMES) if flags >> bit & 1)
            first = self._first_start if self._first_start is not None else stamp
            self.events.add(f"xrun ({kinds}) at callback {index}, {stamp - first:.2f} s into "
                            f"the stream, {1000 * (stamp - previous):.1f} ms after the "
                            f"previous callback")
        self._xruns_reported += len(records)

    def xrun_records(self, first: int = 0) -> list[tuple[int, float, float, int]]:
        """The flagged callbacks from the ``first``-th on: (callback, start, previous
        start, PortAudio status flags) each, times on the monotonic clock."""
        return list(self.parts.host.xruns(first))

    def callback_times(self, indices: Sequence[int]) -> npt.NDArray[np.float64]:
        """When the callbacks numbered ``indices`` started and ended, shape (len(indices), 2),
        on the monotonic clock, from the timings collected so far; NaN for one not collected
        yet or no longer held."""
        with self._lock:
            numbers = np.asarray(indices, dtype=np.int64)
            times = np.full((numbers.size, 2), np.nan)
            known = (numbers < self._callbacks) & (numbers >= self._callbacks - HISTORY)
            times[known] = self._numbered[numbers[known] % HISTORY]
            return times

    def xruns(self) -> Xruns:
        """The stream's problems so far, by kind."""
        flags = self.parts.host.flag_counts
        bridge = self.parts.bridge
        return Xruns(input_underflow=flags[0], input_overflow=flags[1],
                     output_underflow=flags[2], output_overflow=flags[3],
                     resampler_underrun=bridge.underruns if bridge is not None else 0)

    def latency(self) -> Latency:
        """Where the delay from input to output comes from."""
        parts = self.parts
        bridge = parts.bridge
        algorithmic = parts.engine.latency_samples() / parts.engine_rate
        # With a bridge the exact delay is known for the whole chain; the resamplers' share is
        # what it adds to the engine's.
        resampling = (bridge.latency_samples / parts.device_rate - algorithmic
                      if bridge is not None else 0.0)
        return Latency(algorithmic=algorithmic, resampling=resampling,
                       input_device=parts.device_latency[0],
                       output_device=parts.device_latency[1])

    def _median_frames(self) -> float:
        recent = self._frames_recent
        return float(np.median(recent)) if recent.size else float("nan")

    def stats(self, *, state: str, recorder_dropped: int = 0,
              running: bool = True) -> LiveStats:
        """The stream's statistics now (``running``: collect what is new first)."""
        if running:
            self.collect()
        parts = self.parts
        durations, loads = self._durations.last(), self._loads.last()
        periods = self._periods.last()
        nominal = self._median_frames() / parts.device_rate
        jitter = np.abs(periods - nominal)
        frames_total = self._frames_total
        level = self.governor.current if self.governor is not None else None
        end = self.stopped_at if self.stopped_at is not None else time.monotonic()
        return LiveStats(
            state=state, device_rate=parts.device_rate, engine_rate=parts.engine_rate,
            callbacks=self._callbacks, frames=frames_total, seconds=end - self.started_at,
            period=Spread.of(periods), nominal_period=nominal,
            jitter_p99=float(np.percentile(jitter, 99)) if jitter.size else float("nan"),
            engine=Spread.of(self._engine_times.last()), callback=Spread.of(durations),
            cpu_load=float(durations.sum() / (frames_total / parts.device_rate))
            if frames_total else float("nan"),
            cpu_load_p99=float(np.percentile(loads, 99)) if loads.size else float("nan"),
            xruns=self.xruns(), latency=self.latency(),
            quality_level=level.level if level else 0,
            n_iter=level.n_iter if level else parts.settings.n_iter,
            beam=level.beam if level else parts.settings.beam,
            recorder_dropped=recorder_dropped, dropped_timings=self._dropped_timings,
            events=self.events.lines())
