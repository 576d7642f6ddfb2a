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

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep import _core
from livesep.engine import (
    OUTPUTS,
    EngineSettings,
    build_model,
    create_separator,
    warm_up,
)
from livesep.errors import AudioDeviceError, LivesepError, ParameterError
from livesep.live import devices
from livesep.live.bridge import RateBridge
from livesep.live.controls import Controls
from livesep.live.governor import QualityGovernor, apply_quality
from livesep.live.monitor import Monitor, StreamParts
from livesep.live.recording import Recorder
from livesep.live.stats import EventLog, LiveStats
from livesep.presets import Preset, load_preset

__all__ = ["LiveSeparator", "LIVE_OUTPUTS"]

#: Output layouts of a live stream: the engine's (one device channel per source, or the
#: remix on one or two channels) and "auto", stems when the output device has a channel per
#: source, else stereo (or mono).
LIVE_OUTPUTS = (*OUTPUTS, "auto")


class LiveSeparator:
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

    Examples
    --------
    >>> from livesep import LiveSeparator
    >>> live = LiveSeparator("speech-noise-nhmm", output="stereo")
    >>> live.preset.source_names
    ('speech', 'noise')
    >>> live.set_gain("noise", 0.0)  # takes effect from the next frame once started
    >>> live.state
    'stopped'

    ``live.start()`` opens the devices (or ``with live: ...``), ``live.stats()`` reports
    CPU load, latency and xruns, ``live.stop()`` ends the stream.
    """

    def __init__(self, preset: Preset | str | os.PathLike[str], *,
                 settings: EngineSettings | None = None, input_device: int | str | None = None,
                 output_device: int | str | None = None, samplerate: int | None = None,
                 blocksize: int = 0, latency: str | float = "low", input_channel: int = 0,
                 output: str = "stems", record_dir: str | os.PathLike[str] | None = None,
                 adaptive_quality: bool = True) -> None:
        self.preset = load_preset(preset)
        self._requested_settings = settings or EngineSettings()
        self.settings = self._requested_settings.resolved(self.preset)
        if output not in LIVE_OUTPUTS:
            raise ParameterError(f"output must be one of {LIVE_OUTPUTS}, got {output!r}")
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
        self.controls = Controls(self.preset.source_names)
        self.events = EventLog()
        self.engine: Any = None
        self.device_rate = 0
        self._stream: Any = None
        self._host: Any = None
        self._bridge: RateBridge | None = None
        self._recorder: Recorder | None = None
        self._recorder_dropped = 0
        self._monitor: Monitor | None = None
        self._ended = threading.Event()
        self._lock = threading.RLock()
        self._snapshot_lock = threading.Lock()

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
        choice = devices.choose_stream(input_device=in_spec, output_device=out_spec,
                                       samplerate=rate, preferred_rate=preset.sr,
                                       input_channel=self.input_channel, output=self.output,
                                       n_sources=n_sources)
        self.input_info, self.output_info = choice.input, choice.output
        self.output, self.device_rate = choice.output_layout, choice.samplerate
        out_channels = choice.output_channels
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
        self._bridge = (RateBridge(self.device_rate, preset.sr, engine_channels, max_block=block,
                                   engine_latency=self.engine.latency_samples())
                        if self.device_rate != preset.sr else None)
        feed = self.input_feed()
        self._host = _core.LiveHost(
            self.engine, in_channels=self.input_channel + 1, input_channel=self.input_channel,
            out_channels=out_channels, bridge=self._bridge.core if self._bridge else None,
            recorder=self._recorder.ring if self._recorder else None, mix=remix,
            bypass_mix=bypass_mix, max_block=block,
            **({} if feed is None else {"feed": feed[0], "loop": feed[1]}))
        self.controls.apply(self.engine, self._host)
        finished = threading.Event()
        try:
            stream = sd._StreamBase(
                kind="duplex", samplerate=self.device_rate, blocksize=self.blocksize,
                device=(self.input_info.index, self.output_info.index),
                channels=(self.input_channel + 1, out_channels), dtype="float32",
                latency=self.latency, dither_off=True, wrap_callback=None,
                callback=self._host.callback_address,
                userdata=sd._ffi.cast("void *", self._host.userdata_address),
                finished_callback=finished.set)
        except sd.PortAudioError as error:
            raise devices.device_error(error, device=self.output_info, kind="output",
                                       samplerate=self.device_rate) from None
        devices.stream_opened()
        self._stream = stream
        self._ended.clear()
        self._monitor = Monitor(
            StreamParts(engine=self.engine, host=self._host, bridge=self._bridge,
                        device_rate=self.device_rate, engine_rate=preset.sr,
                        device_latency=(float(stream.latency[0]), float(stream.latency[1])),
                        settings=self.settings),
            events=self.events, governor=self._make_governor())
        self.state = "running"
        try:
            stream.start()
        except sd.PortAudioError as error:
            self._shutdown(abandon=False)
            raise devices.device_error(error, device=self.output_info, kind="output") from None
        self.events.started_at = time.monotonic()
        recorder = self._recorder
        self._monitor.start(alive=lambda: not finished.is_set() and stream.active,
                            trouble=lambda: recorder.failure if recorder is not None else None,
                            on_failure=self._stream_failed)

    def input_feed(self) -> tuple[np.ndarray, bool] | None:
        """What the stream separates instead of the input device: ``(samples at the device
        rate, loop)``, or None for the input device. Called once the device rate is known;
        :class:`~livesep.live.fileplay.FileSeparator` plays a file this way."""
        return None

    def stop(self) -> LiveStats:
        """Stop streaming (idempotent), finish the recordings; returns the final statistics.
        Never hangs: a stream that does not stop within 3 s is abandoned."""
        if self._monitor is not None:
            self._monitor.stop()  # first, outside the lock its stall report takes
        with self._lock:
            self._shutdown(abandon=False)
        return self.stats()

    def _stream_failed(self, error: LivesepError) -> None:
        """The monitor's report of a stream that stopped delivering audio (it is abandoned:
        PortAudio would hang closing it) or whose recording failed (it is closed)."""
        with self._lock:
            self._fail(error)
            self._shutdown(abandon=isinstance(error, AudioDeviceError))

    def _shutdown(self, *, abandon: bool) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._host.set_ignore_flags(True)  # stopping JACK ports can flag the last blocks
        devices.close_stream(stream, keep_alive=self._host, abandon=abandon)
        if self._monitor is not None:
            self._monitor.finish()
        self._close_recorder()
        if self.state == "running":
            self.state = "stopped"
        self._ended.set()

    def _close_recorder(self) -> None:
        recorder, self._recorder = self._recorder, None
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
        if self.state == "running":
            self._ended.wait(timeout)
        if self.error is not None:
            raise self.error

    def __enter__(self) -> LiveSeparator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rate_bridge(self) -> RateBridge | None:
        """The resamplers between device and engine rates, or None at the preset's rate."""
        return self._bridge

    @property
    def frames_processed(self) -> int:
        """Device frames the callback has handled so far (read from any thread)."""
        return int(self._host.frames) if self._host is not None else 0

    @property
    def feed_position(self) -> int:
        """Device frames of the :meth:`input_feed` played so far (0 without one)."""
        return int(self._host.feed_position) if self._host is not None else 0

    @property
    def feed_finished(self) -> bool:
        """Whether an :meth:`input_feed` played without loop has reached its end."""
        return self._host is not None and bool(self._host.feed_finished)

    # ----------------------------------------------------------------- controls
    def source_index(self, source: int | str) -> int:
        """A source's index from its index or name."""
        return self.controls.index(source)

    def set_gain(self, source: int | str, gain: float) -> None:
        """Linear gain of one source (from the next STFT frame: overlap-add fades it)."""
        self.controls.set_gain(source, gain)
        self._apply_controls()

    def set_muted(self, source: int | str, muted: bool) -> None:
        self.controls.set_muted(source, muted)
        self._apply_controls()

    def set_soloed(self, source: int | str, soloed: bool) -> None:
        self.controls.set_soloed(source, soloed)
        self._apply_controls()

    def set_strength(self, strength: float) -> None:
        """How far the separation goes, 0 to 1, from the next frame (no click: the engine
        blends its masks): 1 the full separation; 0 none, the first (or soloed) source is
        the input itself and the others are silent."""
        self.controls.set_strength(strength)
        self._apply_controls()

    def set_bypass(self, bypass: bool) -> None:
        """Hear the input instead of the separation, at the same latency, without a click
        (see :meth:`Controls.apply`)."""
        self.controls.bypass = bool(bypass)
        self._apply_controls()

    @property
    def bypass(self) -> bool:
        return self.controls.bypass

    def _apply_controls(self) -> None:
        if self.engine is not None:
            self.controls.apply(self.engine, self._host)

    def switch_preset(self, preset: Preset | str | os.PathLike[str]) -> None:
        """Run another preset from the next block on, without stopping the stream.

        Raises
        ------
        ParameterError
            If the preset differs in rate, STFT or number of sources: that needs a restart
            (a new LiveSeparator), because the stream's buffers are prepared for them.
        """
        new = load_preset(preset)
        old = self.preset
        for field in ("sr", "n_fft", "hop_length", "n_sources"):
            if getattr(new, field) != getattr(old, field):
                raise ParameterError(
                    f"preset {new.name!r} has {field}={getattr(new, field)} but the running "
                    f"preset {old.name!r} has {getattr(old, field)}: switching needs a restart")
        settings = self._requested_settings.resolved(new)
        model = build_model(new, settings)
        with self._lock:
            self.preset, self.settings = new, settings
            self.controls.source_names = new.source_names
            if self.engine is not None:
                self.engine.swap_model(model, mask_power=self.settings.mask_power)
                if self._monitor is not None:
                    old_level = self._monitor.governor.level if self._monitor.governor else 0
                    self._monitor.governor = self._make_governor(old_level)
                    self._monitor.parts = replace(self._monitor.parts, settings=settings)
                self.events.add(f"switched to preset {new.name!r}")

    def _make_governor(self, level: int = 0) -> QualityGovernor | None:
        """A governor for the running preset at ``level``, already applied to the engine."""
        if not self.adaptive_quality:
            return None
        n_joint = int(np.prod([source.n_states for source in self.preset.sources]))
        governor = QualityGovernor(self.settings.n_iter, self.settings.beam, n_joint)
        governor.level = min(level, len(governor.levels) - 1)
        apply_quality(self.engine, governor.current)
        return governor

    # ----------------------------------------------------------------- monitoring
    def stats(self) -> LiveStats:
        """The stream's statistics so far (see :class:`~livesep.live.stats.LiveStats`)."""
        if self._monitor is None:
            return LiveStats(state=self.state, device_rate=0, engine_rate=self.preset.sr,
                             events=self.events.lines())
        with self._lock:
            recorder = self._recorder
            return self._monitor.stats(
                state=self.state, running=self._stream is not None,
                recorder_dropped=recorder.dropped if recorder is not None
                else self._recorder_dropped)

    def xrun_records(self) -> list[tuple[int, float, float, int]]:
        """Every flagged callback so far (see :meth:`Monitor.xrun_records`)."""
        return self._monitor.xrun_records() if self._monitor is not None else []

    def callback_times(self, indices: Sequence[int]) -> npt.NDArray[np.float64]:
        """Start and end of each callback in ``indices`` (:meth:`Monitor.callback_times`)."""
        return (self._monitor.callback_times(indices) if self._monitor is not None
                else np.full((len(indices), 2), np.nan))

    def pop_snapshots(self, max_frames: int = 1 << 20) -> dict[str, Any]:
        """Per-frame display data since the last call (input spectrum, masks, state
        marginals; see ``Separator.pop_snapshots``). Call from one thread only: the ring has a
        single consumer. Never blocks the audio thread."""
        with self._snapshot_lock:
            return self.engine.pop_snapshots(max_frames=max_frames)

    def set_snapshots_enabled(self, enabled: bool) -> None:
        """Whether the engine writes display snapshots (off saves the audio thread a copy
        per frame when nothing displays them)."""
        self.engine.set_snapshots_enabled(bool(enabled))
