"""The live host: a full-duplex sounddevice stream around the C++ engine.

The audio callback is, at the device's own rate, one ``process_interleaved`` call (GIL
released inside) plus counting the status flags and two timestamps into preallocated
arrays. When the device runs at another rate than the preset, the callback also runs the
two soxr streaming resamplers around that call (see :mod:`livesep.resampling` for why there
and what it costs); when the output is a remix of recorded stems or a bypass fades in, it
mixes with one preallocated matrix product. Everything else — statistics, the quality
governor, device-loss detection, freeing swapped-out models, writing recordings — runs on
other threads and never makes the callback wait.

A Python callback needs the GIL, so every other thread that takes the GIL can delay it:
priority inversion when such a thread is preempted while holding it. Hence the helper
threads run real-time one step below the audio thread where the system allows it, the
switch interval is cut to 0.5 ms while streaming, the buffers the callback writes are
faulted in beforehand, and the stream starts last. The lasting fix is a callback without
Python (the engine registered with PortAudio directly); issue 5's notes describe it.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from livesep import _monitor, devices
from livesep._monitor import _HISTORY
from livesep.engine import EngineSettings, create_separator
from livesep.errors import AudioDeviceError, LivesepError, ParameterError
from livesep.livestats import History, LiveStats
from livesep.presets import Preset
from livesep.recording import Recorder
from livesep.live_controls import LiveControls, load_preset, source_levels
from livesep.resampling import RateBridge

__all__ = ["LiveSeparator", "OUTPUTS", "source_levels"]

#: Output layouts: one device channel per source, or the remix on two or one channels;
#: "auto" is stems when the output device has a channel per source, else stereo (or mono).
OUTPUTS = {"stems": None, "stereo": 2, "mono": 1, "auto": None}
_ABANDONED: list[Any] = []  # streams whose device vanished: never stopped or closed (hangs)
_switch_users = [0, sys.getswitchinterval()]


class LiveSeparator(LiveControls):
    """Separates an input device's signal onto an output device, live.

    Parameters
    ----------
    preset : Preset or path-like or str
        The trained sources (a file, or a shipped preset's name).
    settings : EngineSettings, optional
        Inference settings (the governor lowers iterations and beam under load).
    input_device, output_device : int or str, optional
        Device numbers or parts of names (see ``livesep devices``); default devices if None.
    samplerate : int, optional
        The device rate; default: the preset's rate if both devices take it, else the
        output device's default rate (then the stream is resampled).
    blocksize : int
        Frames per callback; 0 lets the host choose (with JACK: its period, with no extra
        buffering — an explicit size adds a period of latency there).
    latency : str or float
        PortAudio's latency setting ("low", "high" or seconds).
    input_channel : int
        Which input channel (from 0) is separated.
    output : {"stems", "stereo", "mono", "auto"}
        One output channel per source, or the remix of the (gained) sources; "auto" picks
        stems when the output device has the channels.
    record_dir : path-like, optional
        Record the input and the stems there while running (see :class:`Recorder`).
    adaptive_quality : bool
        Lower the engine's work when the callback nears its deadline (and report it).
    """

    def __init__(self, preset: Preset | str | os.PathLike[str], *,
                 settings: EngineSettings | None = None, input_device: int | str | None = None,
                 output_device: int | str | None = None, samplerate: int | None = None,
                 blocksize: int = 0, latency: str | float = "low", input_channel: int = 0,
                 output: str = "stems", record_dir: str | os.PathLike[str] | None = None,
                 adaptive_quality: bool = True) -> None:
        self.preset = load_preset(preset)
        self.settings = settings or EngineSettings()
        if output not in OUTPUTS:
            raise ParameterError(f"output must be one of {tuple(OUTPUTS)}, got {output!r}")
        if blocksize < 0 or input_channel < 0:
            raise ParameterError(f"blocksize and input_channel must be >= 0, got {blocksize!r} "
                                 f"and {input_channel!r}")
        self.output, self.blocksize, self.latency = output, int(blocksize), latency
        self.input_channel = int(input_channel)
        self.requested = (input_device, output_device, samplerate)
        self.record_dir = Path(record_dir) if record_dir is not None else None
        self.adaptive_quality = adaptive_quality
        self.state = "stopped"
        self.error: LivesepError | None = None
        self.recorded: list[Path] = []
        self._stream: Any = None
        self._recorder: Recorder | None = None
        self._lock = threading.RLock()
        self._snapshot_lock = threading.Lock()
        self._events: list[str] = []
        self._gains = np.ones(self.preset.n_sources)
        self._muted = np.zeros(self.preset.n_sources, dtype=bool)
        self._soloed = np.zeros(self.preset.n_sources, dtype=bool)
        self.bypass = False
        self._helper_threads: dict[int, int] = {}  # native thread id → priority given

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> LiveSeparator:
        """Open the devices and start streaming.

        Raises
        ------
        AudioDeviceError
            No such device, busy, unsupported rate or channel count, no PortAudio.
        """
        with self._lock:
            if self.state == "running":
                raise ParameterError("the live separator is already running")
            sd = devices.portaudio()
            try:
                self._open(sd)
            except BaseException:
                recorder, self._recorder = self._recorder, None
                if recorder is not None and self._stream is None:
                    recorder.discard()
                raise
        return self

    def _open(self, sd: Any) -> None:
        preset, n_sources = self.preset, self.preset.n_sources
        in_spec, out_spec, rate = self.requested
        self.input_info = devices.resolve_device(in_spec, "input")
        self.output_info = devices.resolve_device(out_spec, "output")
        if self.output == "auto":
            most = self.output_info.max_output_channels
            self.output = "stems" if most >= n_sources else "stereo" if most >= 2 else "mono"
        out_channels = OUTPUTS[self.output] or n_sources
        if self.input_channel >= self.input_info.max_input_channels:
            raise AudioDeviceError(
                f"input device {self.input_info.describe()} has "
                f"{self.input_info.max_input_channels} input channels; --input-channel "
                f"{self.input_channel} does not exist (channels count from 0)")
        if out_channels > self.output_info.max_output_channels:
            hint = " (use --output stereo or mono)" if self.output == "stems" else ""
            raise AudioDeviceError(
                f"output device {self.output_info.describe()} has "
                f"{self.output_info.max_output_channels} output channels; {self.output} output "
                f"of {n_sources} sources needs {out_channels}{hint}")
        check = dict(input_channels=self.input_channel + 1, output_channels=out_channels)
        if rate is None:
            try:
                devices.check_stream(self.input_info, self.output_info, samplerate=preset.sr,
                                     **check)
                rate = preset.sr
            except AudioDeviceError:
                rate = int(self.output_info.default_samplerate)
        devices.check_stream(self.input_info, self.output_info, samplerate=rate, **check)
        self.device_rate = int(rate)
        # First of what start builds: a folder that refuses the recordings fails the start
        # before anything else exists to undo.
        self._recorder = (Recorder(self.record_dir, samplerate=self.device_rate,
                                   source_names=list(preset.source_names))
                          if self.record_dir is not None else None)
        if self._recorder is not None and self._recorder.thread_id:
            self._helper_threads[self._recorder.thread_id] = 1
        # The engine makes stems whenever the callback needs them (recording) or their layout
        # is the device's; otherwise its own remix.
        engine_output = "stems" if (self.output == "stems" or self.record_dir) else self.output
        self.engine = create_separator(preset, settings=self.settings, output=engine_output)
        engine_channels = self.engine.n_channels
        self._mix_target = self._mix_current = (
            None if engine_channels == out_channels else np.ones((n_sources, out_channels),
                                                                  dtype=np.float32))
        self._remix = self._mix_target
        self._bridge = (RateBridge(self.device_rate, preset.sr, engine_channels)
                        if self.device_rate != preset.sr else None)
        block = max(8192, self.blocksize)
        self._block = block
        self._x = _prefaulted((block, 1))
        self._stems = _prefaulted((block, engine_channels))
        self._mixed = _prefaulted((block, out_channels))
        self._ramp = _prefaulted((block, 1))
        self._steps = np.arange(1, block + 1, dtype=np.float32)[:, None]
        self._t_start = _prefaulted(_HISTORY, np.float64)
        self._t_end = _prefaulted(_HISTORY, np.float64)
        self._t_frames = _prefaulted(_HISTORY, np.int64)
        self._n_callbacks = 0
        self._frames_done = 0
        self._flags = [0, 0, 0, 0]  # input underflow, input overflow, output under-, overflow
        self._xrun_log: list[tuple[int, float, str]] = []
        self._callback_error: BaseException | None = None
        self._stopping = False
        self._audio_priority: int | None = None
        self._finished = threading.Event()
        self._engine_times = History(_HISTORY)
        self._periods = History(_HISTORY)
        self._durations = History(_HISTORY)
        self._loads = History(_HISTORY)
        self._read_callbacks = 0
        self._dropped_timings = 0
        self._governor = self._make_governor()
        self._apply_controls()
        self._abort = sd.CallbackAbort
        try:
            stream = sd.Stream(
                samplerate=self.device_rate, blocksize=self.blocksize,
                device=(self.input_info.index, self.output_info.index),
                channels=(self.input_channel + 1, out_channels), dtype="float32",
                latency=self.latency, callback=self._callback, dither_off=True,
                finished_callback=self._finished.set)
        except sd.PortAudioError as error:
            raise devices.device_error(error, device=self.output_info, kind="output",
                                       samplerate=self.device_rate) from None
        devices._stream_opened(+1)
        self._stream = stream
        _switch_users[0] += 1
        if _switch_users[0] == 1:
            # Other threads hold the GIL up to the switch interval (5 ms by default) before
            # the callback may run: more than a whole 5.3 ms period at 48 kHz / 256.
            _switch_users[1] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_users[1], 0.0005))
        # The monitor's first look must not hold the GIL for long (lazy numpy paths,
        # imports): that would delay the callback into an xrun. Warm them up now.
        _monitor.warm_up()
        self._monitor_stop = threading.Event()
        self._ended = threading.Event()
        self._started_at = time.monotonic()
        self.device_latency = tuple(float(value) for value in stream.latency)
        self.state = "running"
        # The monitor thread starts first: once callbacks run, this (possibly not real-time)
        # thread should hold the GIL as little as possible.
        self._streaming = threading.Event()
        self._monitor = threading.Thread(target=self._monitor_loop, name="livesep-monitor",
                                         daemon=True)
        self._monitor.start()
        try:
            stream.start()
        except sd.PortAudioError as error:
            self._monitor_stop.set()
            self._shutdown(abandon=False)
            raise devices.device_error(error, device=self.output_info, kind="output") from None
        self._started_at = time.monotonic()
        self._streaming.set()

    def stop(self) -> LiveStats:
        """Stop streaming (idempotent), finish the recordings; returns the final statistics.
        Never hangs: a stream that does not stop within 3 s is abandoned."""
        monitor = getattr(self, "_monitor", None)
        self._stopping = True
        if monitor is not None and monitor is not threading.current_thread():
            self._monitor_stop.set()
            monitor.join(timeout=5)
        with self._lock:
            self._shutdown(abandon=False)
        return self.stats()

    def _shutdown(self, *, abandon: bool) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if not abandon:
            closer = threading.Thread(target=_close_quietly, args=(stream,), daemon=True)
            closer.start()
            closer.join(timeout=3.0)
            abandon = closer.is_alive()
        if abandon:
            _abandon(stream)
        else:
            devices._stream_opened(-1)
        self._collect()
        _monitor.restore_helpers(self)
        _switch_users[0] -= 1
        if _switch_users[0] == 0:
            sys.setswitchinterval(_switch_users[1])
        self._close_recorder()
        self._stopped_at = time.monotonic()
        if self.state == "running":
            self.state = "stopped"
        self._ended.set()

    def _close_recorder(self) -> None:
        recorder, self._recorder = getattr(self, "_recorder", None), None
        if recorder is not None:
            self._recorder_dropped = recorder.dropped
            try:
                self.recorded = recorder.close()
            except LivesepError as error:
                self._fail(error)

    def _fail(self, error: LivesepError) -> None:
        if self.error is None:
            self.error = error
        self.state = "error"

    def wait(self, timeout: float | None = None) -> None:
        """Block while running, for at most ``timeout`` seconds; raises the stream's error
        (device lost, callback failure) if it ended with one. Sleeps without the GIL."""
        ended = getattr(self, "_ended", None)
        if ended is not None and self.state == "running":
            ended.wait(timeout)
        if self.error is not None:
            raise self.error

    def __enter__(self) -> LiveSeparator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rate_bridge(self) -> RateBridge | None:
        """The resamplers between device and engine rates, or None at the preset's rate."""
        return getattr(self, "_bridge", None)

    @property
    def frames_processed(self) -> int:
        """Device frames the callback has handled so far (read from any thread)."""
        return getattr(self, "_frames_done", 0)

    # ----------------------------------------------------------------- audio thread
    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int,
                  time_info: Any, status: Any) -> None:
        start = time.perf_counter()
        if not frames:
            return
        if status and not self._stopping:  # stopping JACK ports can flag the last block
            flags = self._flags
            flags[0] += status.input_underflow
            flags[1] += status.input_overflow
            flags[2] += status.output_underflow
            flags[3] += status.output_overflow
            self._xrun_log.append((self._n_callbacks, start, str(status)))  # rare: may allocate
        try:
            if self._bridge is None and self._mix_current is None and self._mix_target is None:
                self.engine.process_interleaved(indata, outdata, input_channel=self.input_channel)
                if self._recorder is not None:
                    self._recorder.push(indata[:, self.input_channel], outdata)
            else:
                for begin in range(0, frames, self._block):  # one pass unless frames > block
                    end = min(frames, begin + self._block)
                    self._process_general(indata[begin:end], outdata[begin:end], end - begin)
        except Exception as error:  # never let the stream die silently: the monitor reports it
            self._callback_error = error
            outdata.fill(0.0)
            raise self._abort from None
        if self._audio_priority is None:  # once: the helpers follow this thread's priority
            self._audio_priority = _monitor.thread_priority()
        slot = self._n_callbacks & (_HISTORY - 1)
        self._t_start[slot] = start
        self._t_frames[slot] = frames
        self._t_end[slot] = time.perf_counter()
        self._frames_done += frames
        self._n_callbacks += 1

    def _process_general(self, indata: np.ndarray, outdata: np.ndarray, n: int) -> None:
        x = self._x[:n]
        np.copyto(x[:, 0], indata[:, self.input_channel])
        stems = self._stems[:n]
        if self._bridge is not None:
            self._bridge.process(self.engine, x[:, 0], stems)
        else:
            self.engine.process_interleaved(x, stems)
        if self._recorder is not None:
            self._recorder.push(x[:, 0], stems)
        target, current = self._mix_target, self._mix_current
        _mix(stems, target, outdata)
        if target is not current:  # fade from the old mix over this block: no click
            ramp = self._ramp[:n]
            np.divide(self._steps[:n], n, out=ramp)
            old = self._mixed[:n]
            _mix(stems, current, old)
            outdata -= old
            outdata *= ramp
            outdata += old
            self._mix_current = target

    # ----------------------------------------------------------------- monitoring
    def _monitor_loop(self) -> None:
        _monitor.prefer_realtime()
        self._helper_threads[threading.get_native_id()] = 1
        while not self._streaming.wait(0.05):
            if self._monitor_stop.is_set():
                return
        _monitor.monitor_loop(self)

    def share_realtime(self) -> None:
        """Run the calling thread real-time just below the audio thread while streaming.

        For a thread that touches the GIL while livesep streams (a command line's status
        loop): under CPU load it could otherwise be preempted while holding the GIL and
        stall the audio callback (see :func:`livesep._monitor.prefer_realtime`). Undone at
        stop; a no-op where the system does not allow real-time scheduling."""
        self._helper_threads[threading.get_native_id()] = 0

    def _collect(self) -> None:
        _monitor.collect(self)

    def stats(self) -> LiveStats:
        """The stream's statistics so far (see :class:`~livesep.livestats.LiveStats`)."""
        return _monitor.build_stats(self)


def _prefaulted(shape: int | tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
    """A zeroed array whose pages are already mapped: np.zeros maps large arrays lazily, and
    the first write to each page would fault in the audio thread instead of here."""
    array = np.empty(shape, dtype=dtype)
    array.fill(0)
    return array


def _mix(stems: np.ndarray, matrix: np.ndarray | None, out: np.ndarray) -> None:
    if matrix is None:
        np.copyto(out, stems)
    else:
        np.matmul(stems, matrix, out=out)


def _close_quietly(stream: Any) -> None:
    try:
        stream.stop()
        stream.close()
    except Exception:  # a stream whose device failed: it is gone either way
        pass


def _abandon(stream: Any) -> None:
    """Keep a stream whose device vanished alive forever: PortAudio hangs in stop, close and
    terminate once its JACK server is gone, at exit too (sounddevice's atexit handler)."""
    _ABANDONED.append(stream)
    devices._wedged("the audio device was lost mid-stream; restart livesep to use audio again")
    sd = devices.portaudio_if_loaded()
    if sd is not None:
        atexit.unregister(sd._exit_handler)
