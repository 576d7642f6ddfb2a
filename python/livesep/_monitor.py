"""The live host's monitor thread: turns the callback's timestamps and the engine's timing
ring into statistics, steers the quality governor, frees swapped-out models and notices a
device that stopped (JACK server gone, device unplugged).

Kept apart from :mod:`livesep.stream` so that the audio path there stays short to read.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from livesep.errors import AudioDeviceError
from livesep.livestats import Latency, LiveStats, Spread, Xruns

if TYPE_CHECKING:
    from livesep.stream import LiveSeparator

__all__ = ["monitor_loop", "collect", "build_stats", "HISTORY"]

HISTORY = 1 << 16  # callbacks kept for statistics (~6 min at 256 frames / 48 kHz)

INTERVAL = 0.1  # seconds between looks
STALL = 1.0  # seconds without a callback that mean the device stopped
FIRST_CALLBACK = 3.0  # seconds a device may take to deliver its first callback


def monitor_loop(live: LiveSeparator) -> None:
    """Run until ``live._monitor_stop`` is set or the stream fails."""
    last_count, last_progress = 0, time.monotonic()
    reported_xruns = 0
    while not live._monitor_stop.wait(INTERVAL):
        with live._lock:  # stats() collects too: the engine's rings have one consumer
            collect(live)
        now = time.monotonic()
        count = live._read_callbacks
        if count != last_count:
            last_count, last_progress = count, now
        stream = live._stream
        period = _median_frames(live) / live.device_rate
        allowed = FIRST_CALLBACK if count == 0 else max(STALL, 10 * period if period > 0
                                                        else STALL)
        if stream is None:
            return
        if live._finished.is_set() or not stream.active or now - last_progress > allowed:
            elapsed = now - live._started_at
            _fail(live, AudioDeviceError(
                f"the audio device stopped delivering audio after {elapsed:.1f} s (device "
                f"{live.output_info.describe()} unplugged, or its JACK server stopped?)"),
                abandon=True)
            return
        governor = live._governor
        if governor is None:
            continue
        xruns = _xruns(live).total
        per_second = max(1, int(live.device_rate / max(1.0, _median_frames(live))))
        if live._loads.count < per_second:
            continue  # the first second's callbacks include one-off costs: not a load yet
        recent = live._loads.last(per_second)
        load = float(np.percentile(recent, 99)) if recent.size else float("nan")
        before = governor.level
        change = governor.update(now, load, xruns - reported_xruns)
        reported_xruns = xruns
        if change is not None:
            live._set_quality(governor)
            direction = "lowered" if change.level > before else "raised"
            live._event(f"CPU load {load:.2f} (p99 over 1 s): quality {direction} to level "
                        f"{change.level} ({change.n_iter} iterations, beam {change.beam})")


_FLAG_NAMES = ("input underflow", "input overflow", "output underflow", "output overflow")


def _report_xruns(live: LiveSeparator) -> None:
    records = live._host.xruns(live._xruns_reported)
    for index, stamp, previous, flags in records:
        kinds = ", ".join(name for bit, name in enumerate(_FLAG_NAMES) if flags >> bit & 1)
        first = live._first_start if live._first_start is not None else stamp
        live._event(f"xrun ({kinds}) at callback {index}, {stamp - first:.2f} s into the "
                    f"stream, {1000 * (stamp - previous):.1f} ms after the previous callback")
    live._xruns_reported += len(records)


def _fail(live: LiveSeparator, error: AudioDeviceError, *, abandon: bool) -> None:
    with live._lock:
        live._fail(error)
        live._shutdown(abandon=abandon)


def collect(live: LiveSeparator) -> None:
    """Move new timings from the callback's arrays and the engine's ring into histories."""
    seconds, _, dropped = live.engine.pop_timings()
    live._engine_times.extend(seconds)
    live._dropped_timings = int(dropped)
    first, starts, ends, frame_counts = live._host.timings(live._read_callbacks)
    if starts.size:
        if first == 0:
            live._first_start = float(starts[0])
        frames = frame_counts.astype(np.float64)
        durations = ends - starts
        live._durations.extend(durations)
        live._loads.extend(durations / (frames / live.device_rate))
        previous = getattr(live, "_last_start", None)
        edges = starts if previous is None else np.concatenate([[previous], starts])
        live._periods.extend(np.diff(edges))
        live._last_start = float(starts[-1])
        live._frames_total = getattr(live, "_frames_total", 0) + int(frames.sum())
        live._frames_recent = frames[-64:]
    live._read_callbacks = first + starts.size
    live.engine.collect_retired()
    _report_xruns(live)


def _median_frames(live: LiveSeparator) -> float:
    recent = getattr(live, "_frames_recent", None)
    return float(np.median(recent)) if recent is not None and recent.size else float("nan")


def _xruns(live: LiveSeparator) -> Xruns:
    flags = live._host.flag_counts
    bridge = live._bridge
    return Xruns(input_underflow=flags[0], input_overflow=flags[1], output_underflow=flags[2],
                 output_overflow=flags[3],
                 resampler_underrun=bridge.underruns if bridge is not None else 0)


def build_stats(live: LiveSeparator) -> LiveStats:
    """The :class:`LiveStats` of ``live`` now."""
    if getattr(live, "engine", None) is None or not hasattr(live, "_durations"):
        return LiveStats(state=live.state, device_rate=0, engine_rate=live.preset.sr,
                         events=tuple(live._events))
    with live._lock:
        if live._stream is not None:
            collect(live)
    durations, loads = live._durations.last(), live._loads.last()
    periods = live._periods.last()
    nominal = _median_frames(live) / live.device_rate
    jitter = np.abs(periods - nominal)
    frames_total = getattr(live, "_frames_total", 0)
    end = getattr(live, "_stopped_at", None) if live._stream is None else None
    bridge = live._bridge
    governor = live._governor
    level = governor.current if governor is not None else None
    in_latency, out_latency = getattr(live, "device_latency", (0.0, 0.0))
    return LiveStats(
        state=live.state, device_rate=live.device_rate, engine_rate=live.preset.sr,
        callbacks=live._read_callbacks, frames=frames_total,
        seconds=(end or time.monotonic()) - live._started_at if hasattr(live, "_started_at")
        else 0.0,
        period=Spread.of(periods), nominal_period=nominal,
        jitter_p99=float(np.percentile(jitter, 99)) if jitter.size else float("nan"),
        engine=Spread.of(live._engine_times.last()), callback=Spread.of(durations),
        cpu_load=float(durations.sum() / (frames_total / live.device_rate))
        if frames_total else float("nan"),
        cpu_load_p99=float(np.percentile(loads, 99)) if loads.size else float("nan"),
        xruns=_xruns(live),
        latency=Latency(
            algorithmic=live.engine.latency_samples() / live.preset.sr,
            resampling=bridge.latency_samples / live.device_rate if bridge is not None else 0.0,
            input_device=in_latency, output_device=out_latency),
        quality_level=level.level if level else 0,
        n_iter=level.n_iter if level else live.settings.n_iter,
        beam=level.beam if level else live.settings.beam,
        recorder_dropped=live._recorder.dropped if live._recorder is not None
        else getattr(live, "_recorder_dropped", 0),
        dropped_timings=live._dropped_timings, events=tuple(live._events))
