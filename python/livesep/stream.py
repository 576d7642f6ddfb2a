"""The live host: a full-duplex PortAudio stream (opened through sounddevice) around the
C++ engine.

The audio callback is C++ (``livesep._core.LiveHost``, ``cpp/livesep/live_host.h``),
registered with PortAudio directly: per callback it picks the input channel, runs the engine
(through the rate bridge when the device runs at another rate than the preset), queues input
and stems for the recorder, mixes onto the device's channels and notes its timing and
status flags in preallocated arrays. No Python runs on the audio thread, so no other Python
thread can delay it by holding the GIL. Everything else — statistics, the quality governor,
device-loss detection, freeing swapped-out models, writing recordings — runs on other
threads and never makes the callback wait.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from livesep import _core, _monitor, devices
from livesep.engine import EngineSettings, create_separator, warm_up
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
_ABANDONED: list[Any] = []  # streams whose device vanished (with their hosts): never closed


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
        self._host: Any = None

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
        # The engine makes stems whenever the callback needs them (recording) or their layout
        # is the device's; otherwise its own remix.
        engine_output = "stems" if (self.output == "stems" or self.record_dir) else self.output
        self.engine = create_separator(preset, settings=self.settings, output=engine_output)
        warm_up(self.engine)
        engine_channels = self.engine.n_channels
        remix = (None if engine_channels == out_channels
                 else np.ones((n_sources, out_channels), dtype=np.float32))
        # Bypass: every stem channel carries the sum of the sources, i.e. the input (see
        # set_bypass); a remix already is that sum.
        bypass_mix = (np.ones((n_sources, n_sources), dtype=np.float32)
                      if self.output == "stems" else remix)
        block = max(8192, self.blocksize)
        self._bridge = (RateBridge(self.device_rate, preset.sr, engine_channels, max_block=block)
                        if self.device_rate != preset.sr else None)
        self._host = _core.LiveHost(
            self.engine, in_channels=self.input_channel + 1, input_channel=self.input_channel,
            out_channels=out_channels, bridge=self._bridge.core if self._bridge else None,
            recorder=self._recorder.ring if self._recorder else None, mix=remix,
            bypass_mix=bypass_mix, max_block=block, **self._input_override())
        self._read_callbacks = 0
        self._xruns_reported = 0
        self._first_start: float | None = None
        self._finished = threading.Event()
        self._engine_times = History(_monitor.HISTORY)
        self._periods = History(_monitor.HISTORY)
        self._durations = History(_monitor.HISTORY)
        self._loads = History(_monitor.HISTORY)
        self._dropped_timings = 0
        self._governor = self._make_governor()
        self._apply_controls()
        try:
            stream = sd._StreamBase(
                kind="duplex", samplerate=self.device_rate, blocksize=self.blocksize,
                device=(self.input_info.index, self.output_info.index),
                channels=(self.input_channel + 1, out_channels), dtype="float32",
                latency=self.latency, dither_off=True, wrap_callback=None,
                callback=self._host.callback_address,
                userdata=sd._ffi.cast("void *", self._host.userdata_address),
                finished_callback=self._finished.set)
        except sd.PortAudioError as error:
            raise devices.device_error(error, device=self.output_info, kind="output",
                                       samplerate=self.device_rate) from None
        devices._stream_opened(+1)
        self._stream = stream
        self._monitor_stop = threading.Event()
        self._ended = threading.Event()
        self.device_latency = tuple(float(value) for value in stream.latency)
        self.state = "running"
        self._started_at = time.monotonic()
        try:
            stream.start()
        except sd.PortAudioError as error:
            self._shutdown(abandon=False)
            raise devices.device_error(error, device=self.output_info, kind="output") from None
        self._started_at = time.monotonic()
        self._monitor = threading.Thread(target=_monitor.monitor_loop, args=(self,),
                                         name="livesep-monitor", daemon=True)
        self._monitor.start()

    def _input_override(self) -> dict[str, Any]:
        """Host options that replace the input device's signal (file mode); none here."""
        return {}

    def stop(self) -> LiveStats:
        """Stop streaming (idempotent), finish the recordings; returns the final statistics.
        Never hangs: a stream that does not stop within 3 s is abandoned."""
        monitor = getattr(self, "_monitor", None)
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
        self._host.set_ignore_flags(True)  # stopping JACK ports can flag the last blocks
        if not abandon:
            closer = threading.Thread(target=_close_quietly, args=(stream,), daemon=True)
            closer.start()
            closer.join(timeout=3.0)
            abandon = closer.is_alive()
        if abandon:
            _abandon(stream, self._host)
        else:
            devices._stream_opened(-1)
        self._collect()
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
        return int(self._host.frames) if self._host is not None else 0

    # ----------------------------------------------------------------- monitoring
    def _collect(self) -> None:
        _monitor.collect(self)

    def stats(self) -> LiveStats:
        """The stream's statistics so far (see :class:`~livesep.livestats.LiveStats`)."""
        return _monitor.build_stats(self)


def _close_quietly(stream: Any) -> None:
    try:
        stream.stop()
        stream.close()
    except Exception:  # a stream whose device failed: it is gone either way
        pass


def _abandon(stream: Any, host: Any) -> None:
    """Keep a stream whose device vanished alive forever, and the host its callback uses:
    PortAudio hangs in stop, close and terminate once its JACK server is gone, at exit too
    (sounddevice's atexit handler)."""
    _ABANDONED.append((stream, host))
    devices._wedged("the audio device was lost mid-stream; restart livesep to use audio again")
    sd = devices.portaudio_if_loaded()
    if sd is not None:
        atexit.unregister(sd._exit_handler)
