"""The live host's monitor thread: turns the callback's timestamps and the engine's timing
ring into statistics, steers the quality governor, frees swapped-out models and notices a
device that stopped (JACK server gone, device unplugged) or a callback that failed.

Kept apart from :mod:`livesep.stream` so that the audio path there stays short to read.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

from livesep.errors import AudioDeviceError
from livesep.livestats import Latency, LiveStats, Spread, Xruns

if TYPE_CHECKING:
    from livesep.stream import LiveSeparator

__all__ = ["monitor_loop", "collect", "build_stats", "warm_up", "prefer_realtime",
           "follow_audio_priority", "restore_helpers", "thread_priority"]

_HISTORY = 1 << 16  # callbacks kept for statistics (~6 min at 256 frames / 48 kHz)

INTERVAL = 0.1  # seconds between looks
STALL = 1.0  # seconds without a callback that mean the device stopped
FIRST_CALLBACK = 3.0  # seconds a device may take to deliver its first callback


def monitor_loop(live: LiveSeparator) -> None:
    """Run until ``live._monitor_stop`` is set or the stream fails."""
    last_count, last_progress = 0, time.monotonic()
    reported_xruns = 0
    while not live._monitor_stop.wait(INTERVAL):
        follow_audio_priority(live)
        with live._lock:  # stats() collects too: the engine's rings have one consumer
            collect(live)
        now = time.monotonic()
        count = live._n_callbacks
        if count != last_count:
            last_count, last_progress = count, now
        error = live._callback_error
        if error is not None:
            _fail(live, AudioDeviceError(
                f"live processing stopped: the audio callback failed with "
                f"{type(error).__name__}: {error}"), abandon=False)
            return
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


def prefer_realtime(priority: int = 1, thread_id: int = 0) -> bool:
    """Make a thread (default: the calling one) real-time, SCHED_FIFO at ``priority``, if
    the system permits; returns whether it did.

    Why: the audio callback is Python, so it needs the GIL. A helper thread holding the GIL
    when something of higher priority preempts it stalls the callback until the scheduler
    comes back to it — priority inversion, heard as an xrun. Threads that hold the GIL only
    briefly and then sleep are safe to run real-time just below the audio thread (see
    :func:`follow_audio_priority`); where the system refuses (no rtprio limit), nothing
    changes.
    """
    try:
        os.sched_setscheduler(thread_id, os.SCHED_FIFO, os.sched_param(max(1, priority)))
    except (AttributeError, OSError):
        return False
    return True


def thread_priority() -> int:
    """The calling thread's SCHED_FIFO/RR priority, 0 when it is not real-time."""
    try:
        if os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR):
            return int(os.sched_getparam(0).sched_priority)
    except (AttributeError, OSError):
        pass
    return 0


def follow_audio_priority(live: LiveSeparator) -> None:
    """Once the first callback told the audio thread's real-time priority, put every
    thread that shares the GIL with it for livesep (the monitor, the recorder's writer, and
    any thread given to :meth:`LiveSeparator.share_realtime`) one step below it."""
    priority = live._audio_priority
    if priority is None or priority < 2:
        return
    for thread_id in list(live._helper_threads):
        if live._helper_threads[thread_id] != priority - 1:
            prefer_realtime(priority - 1, thread_id)
            live._helper_threads[thread_id] = priority - 1


def restore_helpers(live: LiveSeparator) -> None:
    """Return the helper threads that outlive the stream to normal scheduling."""
    for thread_id in list(live._helper_threads):
        try:
            os.sched_setscheduler(thread_id, os.SCHED_OTHER, os.sched_param(0))
        except (AttributeError, OSError):
            pass  # the thread has ended, or the system refused: nothing to undo
    live._helper_threads.clear()


def _report_xruns(live: LiveSeparator) -> None:
    log, reported = live._xrun_log, getattr(live, "_xruns_reported", 0)
    for index, stamp, kinds in log[reported:len(log)]:
        period = live._t_start[(index - 1) & (_HISTORY - 1)] if index else stamp
        live._event(f"xrun ({kinds}) at callback {index}, "
                    f"{stamp - live._t_start[0]:.2f} s into the stream, "
                    f"{1000 * (stamp - period):.1f} ms after the previous callback")
    live._xruns_reported = len(log)


def warm_up() -> None:
    """Run once every numpy path the monitor uses, before a stream starts."""
    values = np.linspace(0.0, 1.0, 16)
    Spread.of(values)
    np.percentile(np.abs(np.diff(np.concatenate([[0.0], values]))), 99)
    (values[np.arange(4) & 15] / (values[:4] + 1.0)).sum()


def _fail(live: LiveSeparator, error: AudioDeviceError, *, abandon: bool) -> None:
    with live._lock:
        live._fail(error)
        live._shutdown(abandon=abandon)


def collect(live: LiveSeparator) -> None:
    """Move new timings from the callback's arrays and the engine's ring into histories."""
    seconds, _, dropped = live.engine.pop_timings()
    live._engine_times.extend(seconds)
    live._dropped_timings = int(dropped)
    count = live._n_callbacks
    first = max(live._read_callbacks, count - _HISTORY + 1)
    if count > first:
        slots = np.arange(first, count) & (_HISTORY - 1)
        starts, ends = live._t_start[slots], live._t_end[slots]
        frames = live._t_frames[slots].astype(np.float64)
        durations = ends - starts
        live._durations.extend(durations)
        live._loads.extend(durations / (frames / live.device_rate))
        previous = getattr(live, "_last_start", None)
        edges = starts if previous is None else np.concatenate([[previous], starts])
        live._periods.extend(np.diff(edges))
        live._last_start = float(starts[-1])
        live._frames_total = getattr(live, "_frames_total", 0) + int(frames.sum())
        live._frames_recent = frames[-64:]
    live._read_callbacks = count
    live.engine.collect_retired()
    _report_xruns(live)


def _median_frames(live: LiveSeparator) -> float:
    recent = getattr(live, "_frames_recent", None)
    return float(np.median(recent)) if recent is not None and recent.size else float("nan")


def _xruns(live: LiveSeparator) -> Xruns:
    flags = live._flags
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
        callbacks=live._n_callbacks, frames=frames_total,
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
