"""The audio panel: devices with the input's level meter, sample rate, block size, what to
separate (the input device or an audio file), start and stop.

The window's process lists the devices and then lets PortAudio go again: the stream runs
in a child process, and a PortAudio kept here would hold a JACK client whose server may
vanish (killed, restarted), after which PortAudio aborts the process at its next rescan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from livesep.errors import AudioDeviceError, LivesepError
from livesep.gui.meters import InputMeter
from livesep.live import devices

__all__ = ["AudioPanel", "AudioChoices", "RATES", "BLOCK_SIZES", "release_portaudio"]

#: Sample rates offered; 0 is "automatic" (the preset's rate if the devices take it).
RATES = (0, 16000, 22050, 32000, 44100, 48000)
#: Block sizes offered; 0 lets the host choose (JACK: its period, no extra buffering).
BLOCK_SIZES = (0, 64, 128, 256, 512, 1024, 2048)


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
            from livesep.gui.dialogs import error_dialog

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

    def choices(self) -> AudioChoices:
        rate = self.rate.currentData()
        return AudioChoices(
            input_device=self.input_device.currentData(),
            output_device=self.output_device.currentData(),
            samplerate=int(rate) if rate else None, blocksize=int(self.blocksize.currentData()),
            file=self.file if self.from_file.isChecked() else None,
            loop=self.loop.isChecked())

    def set_running(self, running: bool) -> None:
        """Lock the stream's settings while it runs."""
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for widget in (self.output_device, self.rate, self.blocksize, self.refresh_button,
                       self.from_input, self.from_file, self.open_file_button, self.loop):
            widget.setEnabled(not running)
        self.input_device.setEnabled(not running and not self.from_file.isChecked())
        if not running:
            self._source_changed()
