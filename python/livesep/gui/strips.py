"""One strip per source (its name, gain in dB, mute, solo and a level meter) and the strength
knob at the top of the window: how far the separation goes, 0 to 100 % (at 0 % every output
is the input unchanged; the engine moves the blend without a jump)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PyQt6 import QtCore, QtWidgets

__all__ = ["SourceStrip", "StripsPanel", "StrengthKnob", "GAIN_RANGE_DB", "METER_FLOOR_DB",
           "db_to_gain"]

#: The gain slider's range in dB (whole steps).
GAIN_RANGE_DB = (-40, 12)
#: The level meter's bottom, in dB below full scale.
METER_FLOOR_DB = -60.0


def db_to_gain(db: float) -> float:
    """Linear gain of a level in dB."""
    return 10.0 ** (db / 20.0)


class SourceStrip(QtWidgets.QFrame):
    """Controls of one source; emits ``gain_changed(index, linear)``, ``mute_toggled`` and
    ``solo_toggled(index, on)``."""

    gain_changed = QtCore.pyqtSignal(int, float)
    mute_toggled = QtCore.pyqtSignal(int, bool)
    solo_toggled = QtCore.pyqtSignal(int, bool)

    def __init__(self, index: int, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.index, self.name = index, name
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setObjectName(f"strip-{name}")
        self.label = QtWidgets.QLabel(f"<b>{name}</b>")
        self.gain = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.gain.setRange(*GAIN_RANGE_DB)
        self.gain.setValue(0)
        self.gain.setToolTip("gain in dB (double-click the value to reset)")
        self.gain_label = QtWidgets.QLabel("0 dB")
        self.gain_label.setMinimumWidth(48)
        self.mute = QtWidgets.QPushButton("M")
        self.mute.setCheckable(True)
        self.mute.setToolTip("mute this source")
        self.solo = QtWidgets.QPushButton("S")
        self.solo.setCheckable(True)
        self.solo.setToolTip("hear only the soloed sources")
        for button in (self.mute, self.solo):
            button.setFixedWidth(30)
        self.meter = QtWidgets.QProgressBar()
        self.meter.setRange(int(METER_FLOOR_DB), 0)
        self.meter.setValue(int(METER_FLOOR_DB))
        self.meter.setTextVisible(True)
        self.meter.setFormat("-∞ dB")
        self.meter.setMaximumHeight(14)
        # Two rows (controls, meter), so that the strips of a two-source preset fit a
        # 1280x800 screen below the preset and audio panels.
        self.label.setMinimumWidth(64)
        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(self.label)
        controls.addWidget(self.gain, 1)
        controls.addWidget(self.gain_label)
        controls.addWidget(self.mute)
        controls.addWidget(self.solo)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 3, 6, 3)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.meter)
        self.gain.valueChanged.connect(self._gain_moved)
        self.mute.toggled.connect(lambda on: self.mute_toggled.emit(self.index, on))
        self.solo.toggled.connect(lambda on: self.solo_toggled.emit(self.index, on))

    @property
    def gain_db(self) -> int:
        return self.gain.value()

    def _gain_moved(self, db: int) -> None:
        self.gain_label.setText(f"{db:+d} dB" if db else "0 dB")
        self.gain_changed.emit(self.index, db_to_gain(db))

    def show_level(self, db: float) -> None:
        """Set the meter to a level in dB (full scale 0; -inf for silence)."""
        if not math.isfinite(db) or db < METER_FLOOR_DB:
            self.meter.setValue(int(METER_FLOOR_DB))
            self.meter.setFormat("-∞ dB" if not math.isfinite(db) else f"{db:.0f} dB")
            return
        self.meter.setValue(int(round(min(db, 0.0))))
        self.meter.setFormat(f"{db:.0f} dB")


class StripsPanel(QtWidgets.QGroupBox):
    """The strips of every source of the current preset."""

    gain_changed = QtCore.pyqtSignal(int, float)
    mute_toggled = QtCore.pyqtSignal(int, bool)
    solo_toggled = QtCore.pyqtSignal(int, bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Sources", parent)
        self.strips: list[SourceStrip] = []
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(6, 4, 6, 6)
        self._layout.setSpacing(4)
        self._empty = QtWidgets.QLabel("choose a preset")
        self._layout.addWidget(self._empty)

    def set_sources(self, names: Sequence[str]) -> None:
        """One fresh strip (0 dB, not muted, not soloed) per source name."""
        for strip in self.strips:
            self._layout.removeWidget(strip)
            strip.deleteLater()
        self.strips = []
        self._empty.setVisible(not names)
        for index, name in enumerate(names):
            strip = SourceStrip(index, name, self)
            strip.gain_changed.connect(self.gain_changed)
            strip.mute_toggled.connect(self.mute_toggled)
            strip.solo_toggled.connect(self.solo_toggled)
            self._layout.addWidget(strip)
            self.strips.append(strip)

    def show_levels(self, levels: Sequence[float]) -> None:
        for strip, level in zip(self.strips, levels):
            strip.show_level(float(level))

    def controls(self) -> list[tuple[float, bool, bool]]:
        """Each source's (linear gain, muted, soloed), as the strips show them."""
        return [(db_to_gain(s.gain_db), s.mute.isChecked(), s.solo.isChecked())
                for s in self.strips]


class StrengthKnob(QtWidgets.QWidget):
    """A labelled slider in whole percent; emits ``strength_changed(fraction)``, 0.0 to 1.0."""

    strength_changed = QtCore.pyqtSignal(float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("strength")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(100)
        self.slider.setPageStep(10)
        self.slider.setMinimumWidth(140)
        self.slider.setToolTip("how far the separation goes: 0 % leaves the input unchanged, "
                               "100 % separates fully; lower it if the voice sounds thin, as in "
                               "a quiet room, where 60 to 80 % keeps more of it")
        self.value_label = QtWidgets.QLabel("100 %")
        self.value_label.setMinimumWidth(44)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 8, 0)
        layout.addWidget(QtWidgets.QLabel("Strength"))
        layout.addWidget(self.slider)
        layout.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._moved)

    @property
    def strength(self) -> float:
        """The setting as a fraction, 0.0 to 1.0."""
        return self.slider.value() / 100.0

    def set_percent(self, percent: int) -> None:
        """Move the knob (clamped to 0-100); emits ``strength_changed`` if it moved."""
        self.slider.setValue(max(0, min(100, int(percent))))

    def _moved(self, percent: int) -> None:
        self.value_label.setText(f"{percent} %")
        self.strength_changed.emit(percent / 100.0)
