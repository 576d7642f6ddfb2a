"""The audio panel: devices with the input's level meter, sample rate, block size, what to
separate (the input device or an audio file), start and stop. And a take, a recording from
the input device ("Learn my voice") with the same meter, a countdown and Stop.

The window's process lists the devices and then lets PortAudio go again: the stream runs
in a child process, and a PortAudio kept here would hold a JACK client whose server may
vanish (killed, restarted), after which PortAudio aborts the process at its next rescan.
A take records on a worker thread (:class:`~livesep.gui.workers.Task`) and lets PortAudio go
when it ends; its level comes back to the meter through a queued signal, 20 times a second.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PyQt6 import QtCore, QtWidgets

from livesep import audio
from livesep.engine import EngineSettings
from livesep.errors import AudioDeviceError, LivesepError, ParameterError
from livesep.gui.dialogs import error_dialog
from livesep.gui.meters import SILENCE_DB, InputLevel, InputMeter, samples_level
from livesep.gui.workers import Task
from livesep.live import devices
from livesep.live.learning import check_take, record_input

__all__ = ["AudioPanel", "AudioChoices", "TakePanel", "RATES", "BLOCK_SIZES",
           "release_portaudio"]

#: Sample rates offered; 0 is "automatic" (the preset's rate if the devices take it).
RATES = (0, 16000, 22050, 32000, 44100, 48000)
#: Block sizes offered; 0 lets the host choose (JACK: its period, no extra buffering).
BLOCK_SIZES = (0, 64, 128, 256, 512, 1024, 2048)
#: The engine's latency modes (livesep.engine.LATENCIES), as the panel names them.
LATENCY_TEXTS = {"standard": "standard (the preset's frames)", "low": "low (at most 8 ms)",
                 "ultra": "ultra (at most 3 ms)"}
#: Seconds of a take without a sound before its panel says that nothing comes in.
SILENT_HINT_SECONDS = 2.0


def release_portaudio() -> None:
    """Shut this process's PortAudio down (the next listing starts it afresh), unless a
    stream of this process still uses it."""
    try:
        devices.terminate()
    except AudioDeviceError:
        pass  # a stream here holds it (in-process measurement, a recording): keep it


@dataclass(frozen=True)
class AudioChoices:
    """What the panel asks the stream to use (``None`` device: the default one)."""

    input_device: int | None
    output_device: int | None
    samplerate: int | None
    blocksize: int
    file: Path | None  # separate this file instead of the input device
    loop: bool
    settings: EngineSettings  # the engine's, with the latency mode chosen


class AudioPanel(QtWidgets.QGroupBox):
    """Emits ``start_requested`` / ``stop_requested``; :meth:`choices` says with what."""

    start_requested = QtCore.pyqtSignal()
    stop_requested = QtCore.pyqtSignal()
    file_requested = QtCore.pyqtSignal()
    bypass_toggled = QtCore.pyqtSignal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Audio", parent)
        self.input_device = QtWidgets.QComboBox()
        self.output_device = QtWidgets.QComboBox()
        self.default_rates: dict[int | None, float] = {}  # by device, from the last scan
        for combo in (self.input_device, self.output_device):
            combo.setSizeAdjustPolicy(
                QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(16)
        self.meter = InputMeter()
        self.refresh_button = QtWidgets.QPushButton("Rescan")
        self.refresh_button.setToolTip("look for audio devices again")
        self.rate = QtWidgets.QComboBox()
        for rate in RATES:
            self.rate.addItem("automatic" if rate == 0 else f"{rate} Hz", rate)
        self.blocksize = QtWidgets.QComboBox()
        for size in BLOCK_SIZES:
            self.blocksize.addItem("host's choice" if size == 0 else f"{size} frames", size)
        self.latency = QtWidgets.QComboBox()
        for mode, text in LATENCY_TEXTS.items():
            self.latency.addItem(text, mode)
        self.latency.setToolTip("the separation's own delay: low and ultra use shorter "
                                "frames, at more cost")
        self.from_input = QtWidgets.QRadioButton("input device (live)")
        self.from_file = QtWidgets.QRadioButton("audio file")
        self.from_input.setChecked(True)
        self.file_label = QtWidgets.QLabel("no file")
        self.file_label.setWordWrap(True)
        self.open_file_button = QtWidgets.QPushButton("Open audio file…")
        self.loop = QtWidgets.QCheckBox("loop")
        self.loop.setChecked(True)
        self.bypass = QtWidgets.QCheckBox("bypass (hear the input)")
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.setObjectName("start")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setObjectName("stop")
        self.stop_button.setEnabled(False)
        self.file: Path | None = None

        form = QtWidgets.QFormLayout()
        devices_row = QtWidgets.QHBoxLayout()
        devices_row.addWidget(self.input_device, 1)
        form.addRow("Input", devices_row)
        form.addRow("Level", self.meter)
        form.addRow("Output", self.output_device)
        settings_row = QtWidgets.QHBoxLayout()
        settings_row.addWidget(self.rate)
        settings_row.addWidget(self.blocksize)
        settings_row.addWidget(self.refresh_button)
        form.addRow("Rate, block", settings_row)
        form.addRow("Latency", self.latency)
        source_row = QtWidgets.QHBoxLayout()
        source_row.addWidget(self.from_input)
        source_row.addWidget(self.from_file)
        form.addRow("Separate", source_row)
        file_row = QtWidgets.QHBoxLayout()
        file_row.addWidget(self.open_file_button)
        file_row.addWidget(self.loop)
        form.addRow(self.file_label, file_row)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.bypass, 1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.refresh_button.clicked.connect(self.rescan)
        self.open_file_button.clicked.connect(self.file_requested)
        self.bypass.toggled.connect(self.bypass_toggled)
        self.from_file.toggled.connect(self._source_changed)
        self._source_changed()

    # ------------------------------------------------------------------ devices
    def populate(self) -> str | None:
        """Fill the device lists from a fresh scan; returns why there are none (or None)."""
        kept = (self.input_device.currentText(), self.output_device.currentText())
        problem: str | None = None
        try:
            found = devices.list_devices()
        except LivesepError as error:
            found, problem = [], str(error)
        finally:
            release_portaudio()
        if not found and problem is None:
            problem = f"no audio devices: {devices.NO_DEVICES_HINT}"
        # Each output's default rate, and the default output's under None ("default").
        self.default_rates = {device.index: device.default_samplerate for device in found}
        self.default_rates.update({None: device.default_samplerate for device in found
                                   if device.is_default_output})
        for combo, kind, previous in ((self.input_device, "input", kept[0]),
                                      (self.output_device, "output", kept[1])):
            combo.clear()
            combo.addItem("default", None)
            for device in found:
                if device.channels(kind) > 0:
                    combo.addItem(f"{device.index}: {device.name} ({device.hostapi})",
                                  device.index)
            if previous:
                self.select_device(combo, previous)
            combo.setToolTip(problem or "")
        return problem

    def rescan(self) -> None:
        problem = self.populate()
        if problem:
            error_dialog(self.window(), "livesep: audio devices", problem)

    @staticmethod
    def select_device(combo: QtWidgets.QComboBox, text: str) -> bool:
        """Choose the entry showing ``text`` (or a device whose name contains it)."""
        for row in range(combo.count()):
            if combo.itemText(row) == text:
                combo.setCurrentIndex(row)
                return True
        needle = text.split(": ", 1)[-1].lower()
        for row in range(1, combo.count()):
            if needle and needle in combo.itemText(row).lower():
                combo.setCurrentIndex(row)
                return True
        return False

    # ------------------------------------------------------------------ state
    def set_file(self, path: str | os.PathLike[str] | None) -> None:
        """Separate this file (or, with None, the input device) at the next start."""
        self.file = Path(path) if path is not None else None
        self.file_label.setText(self.file.name if self.file else "no file")
        self.file_label.setToolTip(str(self.file) if self.file else "")
        (self.from_file if self.file else self.from_input).setChecked(True)
        self._source_changed()

    def _source_changed(self) -> None:
        self.from_file.setEnabled(self.file is not None)
        self.input_device.setEnabled(not self.from_file.isChecked())

    def stream_rate(self) -> float | None:
        """The rate a stream would run at: the one chosen, else the output device's default
        rate as last scanned (None when not known)."""
        rate = self.rate.currentData()
        return float(rate) if rate else self.default_rates.get(self.output_device.currentData())

    def choices(self) -> AudioChoices:
        rate = self.rate.currentData()
        return AudioChoices(
            input_device=self.input_device.currentData(),
            output_device=self.output_device.currentData(),
            samplerate=int(rate) if rate else None, blocksize=int(self.blocksize.currentData()),
            file=self.file if self.from_file.isChecked() else None,
            loop=self.loop.isChecked(),
            settings=EngineSettings(latency=str(self.latency.currentData())))

    def restore(self, get: Callable[..., object]) -> None:
        """Choose what ``get(key, default)`` (QSettings.value) remembers."""
        for combo, key in ((self.input_device, "audio/input"), (self.output_device,
                                                                "audio/output")):
            if get(key):
                self.select_device(combo, str(get(key)))
        for combo, key in ((self.rate, "audio/rate"), (self.blocksize, "audio/blocksize")):
            combo.setCurrentIndex(max(combo.findData(int(get(key, 0) or 0)), 0))
        self.latency.setCurrentIndex(max(self.latency.findData(get("audio/latency")), 0))
        self.loop.setChecked(str(get("audio/loop", "true")).lower() == "true")

    def save(self, put: Callable[[str, object], None]) -> None:
        """Remember the choices with ``put(key, value)`` (QSettings.setValue)."""
        put("audio/input", self.input_device.currentText())
        put("audio/output", self.output_device.currentText())
        put("audio/rate", int(self.rate.currentData() or 0))
        put("audio/blocksize", int(self.blocksize.currentData() or 0))
        put("audio/latency", str(self.latency.currentData()))
        put("audio/loop", "true" if self.loop.isChecked() else "false")
        put("audio/from_file", "true" if self.from_file.isChecked() else "false")

    def set_running(self, running: bool) -> None:
        """Lock the stream's settings while it runs."""
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for widget in (self.output_device, self.rate, self.blocksize, self.latency,
                       self.refresh_button, self.from_input, self.from_file,
                       self.open_file_button, self.loop):
            widget.setEnabled(not running)
        self.input_device.setEnabled(not running and not self.from_file.isChecked())
        if not running:
            self._source_changed()


class TakePanel(QtWidgets.QWidget):
    """One take, of the voice or the room: recorded from the input (a level meter and a
    countdown; Stop once ``least`` seconds are in; Cancel drops it) or read from a file.

    ``take`` is ``(samples, rate)`` once one is kept; ``changed`` is emitted then, and
    ``busy(bool)`` when a recording or a file read starts and ends.
    """

    changed = QtCore.pyqtSignal()
    busy = QtCore.pyqtSignal(bool)
    heard = QtCore.pyqtSignal(object)  # an InputLevel, emitted on the recording's thread

    def __init__(self, what: str, *, seconds: float, least: float, rate: int,
                 input_device: int | None, input_name: str, folder: Path,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.what, self.seconds, self.least, self.rate = what, seconds, least, rate
        self.input_device, self.input_name, self.folder = input_device, input_name, folder
        self.take: tuple[npt.NDArray[np.float32], int] | None = None
        self.origin = ""
        self.task: Task | None = None
        self.elapsed = 0.0
        self._running = False
        self._stop = threading.Event()
        self._loudest = float("-inf")
        self.record_button = QtWidgets.QPushButton()
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip(f"end the recording early (from {least:g} s on)")
        self.file_button = QtWidgets.QPushButton("Use a file instead…")
        self.meter = InputMeter()
        self.countdown = QtWidgets.QLabel()
        self.countdown.setMinimumWidth(90)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        buttons = QtWidgets.QHBoxLayout()
        for widget in (self.record_button, self.stop_button, self.file_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        level = QtWidgets.QHBoxLayout()
        level.addWidget(self.meter, 1)
        level.addWidget(self.countdown)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addLayout(level)
        layout.addWidget(self.status)
        self.record_button.clicked.connect(self._record_or_cancel)
        self.stop_button.clicked.connect(lambda: self._stop.set())
        self.file_button.clicked.connect(self._ask_for_file)
        self.heard.connect(self._heard)
        self._idle()

    @property
    def running(self) -> bool:
        """Whether a recording or a file read is under way (until its end is handled)."""
        return self._running

    def _idle(self) -> None:
        again = "Record again" if self.take is not None else "Record"
        self.record_button.setText(f"{again} ({self.seconds:g} s)")
        self.stop_button.setEnabled(False)
        self.file_button.setEnabled(True)
        self.countdown.setText("")
        self.meter.show_level(None)
        self.busy.emit(False)

    def record(self) -> None:
        """Record up to ``seconds`` from the input device on a worker thread."""
        seconds, device, rate = self.seconds, self.input_device, self.rate
        self._stop = stop = threading.Event()

        def job(progress: Callable[[float], None]) -> tuple[npt.NDArray[np.float32], int]:
            try:
                return record_input(seconds, device=device, samplerate=rate, progress=progress,
                                    stop=stop, listen=lambda x: self.heard.emit(samples_level(x)))
            finally:
                release_portaudio()  # as after a device scan: see gui.audio_panel

        self._loudest, self.elapsed = float("-inf"), 0.0
        self.record_button.setText("Cancel")
        self._start(job, f"the input device {self.input_name}")
        self.status.setText(f"recording… ({self.input_name})")

    def use_file(self, path: str | Path) -> None:
        """Take the recording from an audio file instead (read on a worker thread)."""
        path = Path(path)
        self.record_button.setEnabled(False)
        self._start(lambda progress: audio.load(path, mono=True), path.name)
        self.status.setText(f"reading {path.name}…")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _record_or_cancel(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.record()

    def _start(self, job: Callable[..., object], origin: str) -> None:
        self.task = Task(job, self)
        self.task.progress.connect(self._progress)
        self.task.done.connect(lambda take: self._done(take, origin))
        self.task.failed.connect(lambda text: self._ended(f"failed: {text}", text))
        self.task.cancelled.connect(lambda: self._ended("cancelled: record again, or skip",
                                                        None))
        self.file_button.setEnabled(False)
        self._running = True
        self.busy.emit(True)
        self.task.start()

    def _progress(self, fraction: float) -> None:
        if fraction < 0:
            return
        self.elapsed = fraction * self.seconds
        self.countdown.setText(f"{math.ceil(self.seconds - self.elapsed - 1e-6):d} s left")
        self.stop_button.setEnabled(self.elapsed >= self.least)
        if self.elapsed >= SILENT_HINT_SECONDS and self._loudest < SILENCE_DB:
            self.status.setText(f"<b>No sound is coming in from {self.input_name}.</b> Is "
                                "the microphone connected, on and not muted?")

    def _heard(self, level: InputLevel | None) -> None:
        if level is not None and self.running:
            self._loudest = max(self._loudest, level.db)
            self.meter.show_level(level)

    def _done(self, take: tuple[npt.NDArray[np.float32], int], origin: str) -> None:
        samples, rate = take
        try:
            check_take(samples, rate, what=self.what, least=self.least, origin=origin)
        except ParameterError as error:
            self._ended(f"not kept: {error}", str(error))
            return
        self.take, self.origin = (samples, rate), origin
        self._ended(f"✓ {samples.size / rate:.1f} s of your {self.what} from {origin}", None)
        self.changed.emit()

    def _ended(self, message: str, error: str | None) -> None:
        self._running = False
        self.record_button.setEnabled(True)
        self._idle()
        self.status.setText(message)
        if error:
            error_dialog(self.window(), f"livesep: learn my {self.what}", error)

    def _ask_for_file(self) -> None:
        name, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, f"A recording of your {self.what}", str(self.folder),
            "audio (" + " ".join(f"*{e}" for e in audio.AUDIO_EXTENSIONS) + ");;all files (*)")
        if name:
            self.use_file(name)
