"""The input's level, read from the spectrum snapshots the window already pulls: a meter
with a clipping light beside the input selector, and the watch behind the views' "no
signal" hint. A recording ("Learn my voice") has its samples, and its meter reads them.

Why from the spectrum: the audio callback is one call into C++ and the host reports no
sample peak, so the window measures what reaches it, the engine's input spectrum frames.
By Parseval a frame's energy ``sum_f |X_f|^2`` is proportional to the power of the
samples it saw, whatever their frequencies; with the engine's sqrt-Hann analysis window a
full-scale sine gives ``2 * (n_fft / 4) ** 2`` (twice the reference of
:func:`livesep.live.stats.source_levels`, so the strips' meters read 3 dB above this
one). The level in dBFS is the frames' power against a full-scale sine's (AES17: such a
sine reads 0 dBFS). Phases are not in the snapshots, so the sample peak is not known:
the clipping light uses the sine-equivalent peak, the amplitude of the sine with a
frame's power. That is exact for a sine and catches input held at or beyond full scale
(a hard-clipped signal has more power than a sine of the same peak), but not a lone
transient that touches full scale inside a quieter frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PyQt6 import QtCore, QtWidgets

__all__ = ["InputLevel", "InputMeter", "SilenceWatch", "input_level", "samples_level",
           "CLIP_PEAK", "CLIP_HOLD_MS", "SILENCE_DB", "SILENCE_SECONDS", "METER_RANGE_DB",
           "FALL_DB_PER_SECOND"]

#: A sine-equivalent peak at or above this counts as clipping.
CLIP_PEAK = 0.999
#: How long the clipping light stays on after the last clipped frame (or until clicked).
CLIP_HOLD_MS = 3000
#: Input below this level (dBFS) for longer than ``SILENCE_SECONDS`` is "no signal".
SILENCE_DB = -70.0
SILENCE_SECONDS = 1.0
#: The meter's scale, in dBFS.
METER_RANGE_DB = (-80, 0)
#: How fast the meter falls after a louder moment (a programme meter's pace): batches of a
#: few milliseconds each would make a bar that jumps too fast to read.
FALL_DB_PER_SECOND = 20.0


@dataclass(frozen=True)
class InputLevel:
    """The level and sine-equivalent peak of a batch of spectrum frames.

    Attributes
    ----------
    db : float
        Mean power over the frames in dBFS (-inf for digital silence).
    peak : float
        The largest frame's sine-equivalent peak (1.0: a full-scale sine).
    """

    db: float
    peak: float

    @property
    def clipped(self) -> bool:
        return self.peak >= CLIP_PEAK


def input_level(spectrum: npt.NDArray[np.floating]) -> InputLevel | None:
    """Level and peak of spectrum frames shaped (n, n_fft // 2 + 1); None for no frames."""
    if spectrum.shape[0] == 0:
        return None
    full_scale_sine = 2.0 * ((spectrum.shape[1] - 1) / 2.0) ** 2  # sum_f |X_f|^2
    power = np.sum(np.square(spectrum, dtype=np.float64), axis=1) / full_scale_sine
    mean = float(power.mean())
    db = 10.0 * math.log10(mean) if mean > 0.0 else float("-inf")
    return InputLevel(db, math.sqrt(float(power.max())))


def samples_level(samples: npt.NDArray[np.floating]) -> InputLevel | None:
    """Level (against a full-scale sine's power) and sample peak of a batch of samples;
    None for no samples."""
    if samples.size == 0:
        return None
    mean = 2.0 * float(np.mean(np.square(samples, dtype=np.float64)))
    return InputLevel(10.0 * math.log10(mean) if mean > 0.0 else float("-inf"),
                      float(np.max(np.abs(samples))))


class SilenceWatch:
    """Says when the input has stayed below ``SILENCE_DB`` for over ``SILENCE_SECONDS``.

    Time comes from the caller (monotonic seconds) so that the rule is testable on its own.
    """

    def __init__(self, threshold_db: float = SILENCE_DB,
                 seconds: float = SILENCE_SECONDS) -> None:
        self.threshold_db, self.seconds = threshold_db, seconds
        self._heard_at = 0.0

    def restart(self, now: float) -> None:
        """Start counting from ``now`` (a stream started)."""
        self._heard_at = now

    def update(self, level: InputLevel | None, now: float) -> bool:
        """Take the level of the frames that arrived (None: none did); True while silent."""
        if level is not None and level.db >= self.threshold_db:
            self._heard_at = now
        return now - self._heard_at > self.seconds


class InputMeter(QtWidgets.QWidget):
    """A level bar in dBFS, rising at once and falling at ``FALL_DB_PER_SECOND``, and a
    latching "clip" light; click the light to reset it.

    Parameters
    ----------
    hold_ms : int
        How long the light stays on after the last clipped batch.
    parent : QWidget, optional
    """

    def __init__(self, hold_ms: int = CLIP_HOLD_MS,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setObjectName("input-level")
        self.bar.setRange(*METER_RANGE_DB)
        self.bar.setMaximumHeight(16)
        self.bar.setTextVisible(True)
        self.clip = QtWidgets.QPushButton("clip")
        self.clip.setObjectName("input-clip")
        self.clip.setFixedWidth(44)
        self.clip.setMaximumHeight(20)
        self.clip.setToolTip("lights red when the input reaches full scale; click to reset "
                             f"(it also goes out {hold_ms / 1000:g} s after the last clip)")
        self._hold = QtCore.QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.setInterval(hold_ms)
        self._hold.timeout.connect(self.reset_clip)
        self.clip.clicked.connect(self.reset_clip)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.clip)
        self.clipping = False
        self.shown_db = float("-inf")
        self._shown_at = 0.0
        self.show_level(None)
        self.reset_clip()

    def show_level(self, level: InputLevel | None, now: float | None = None) -> None:
        """Show a batch's level, taken at ``now`` (monotonic seconds; default: now); None
        means no stream, and the meter rests at its floor."""
        now = time.monotonic() if now is None else now
        low, high = METER_RANGE_DB
        if level is None:
            self.shown_db = float("-inf")
            self.bar.setValue(low)
            self.bar.setFormat("input –")
            return
        fallen = self.shown_db - FALL_DB_PER_SECOND * max(0.0, now - self._shown_at)
        self.shown_db, self._shown_at = max(level.db, fallen), now
        self.bar.setValue(round(min(max(self.shown_db, low), high)))
        if self.shown_db >= low:
            self.bar.setFormat(f"{self.shown_db:.0f} dBFS")
        else:  # below the scale: digital silence, or just very quiet
            self.bar.setFormat("-∞ dBFS" if math.isinf(level.db) else f"< {low} dBFS")
        if level.clipped:
            self.clipping = True
            self.clip.setStyleSheet("background-color: #d01c1c; color: white; "
                                    "font-weight: bold;")
            self._hold.start()

    def reset_clip(self) -> None:
        self._hold.stop()
        self.clipping = False
        self.clip.setStyleSheet("color: palette(mid);")
