"""The status bar: stream state, CPU load, latency, xruns, the views' frame rate and, in
file mode, the position in the file."""

from __future__ import annotations

import math
import time

from PyQt6 import QtCore, QtWidgets

from livesep.live.stats import LiveStats

__all__ = ["StatusBar", "FrameCounter"]


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%" if math.isfinite(value) else "–"


class FrameCounter(QtCore.QObject):
    """Counts paint events of a widget: the frame rate a person actually sees."""

    def __init__(self, widget: QtWidgets.QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        self._mark = (time.monotonic(), 0)
        self.rate = 0.0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False

    def update_rate(self) -> float:
        """Frames per second since the last call."""
        now = time.monotonic()
        then, count = self._mark
        if now - then > 0:
            self.rate = (self.count - count) / (now - then)
        self._mark = (now, self.count)
        return self.rate


class StatusBar(QtWidgets.QStatusBar):
    """Permanent fields for the numbers; the message area for events."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = QtWidgets.QLabel("stopped")
        self.cpu = QtWidgets.QLabel("CPU –")
        self.latency = QtWidgets.QLabel("latency –")
        self.xruns = QtWidgets.QLabel("xruns –")
        self.fps = QtWidgets.QLabel("– fps")
        self.position = QtWidgets.QLabel("")
        for label in (self.state, self.position, self.cpu, self.latency, self.xruns, self.fps):
            self.addPermanentWidget(label)

    def show_stats(self, stats: LiveStats, *, quality_note: bool = True) -> None:
        self.cpu.setText(f"CPU {_percent(stats.cpu_load)} (p99 {_percent(stats.cpu_load_p99)})")
        self.latency.setText(f"latency {1000 * stats.latency.total:.1f} ms")
        self.xruns.setText(f"xruns {stats.xruns.total}")
        quality = f", quality −{stats.quality_level}" if stats.quality_level and quality_note \
            else ""
        self.state.setText(f"{stats.state}{quality}")

    def show_fps(self, rate: float) -> None:
        self.fps.setText(f"{rate:.0f} fps")

    def show_position(self, seconds: float | None, duration: float | None = None) -> None:
        if seconds is None:
            self.position.setText("")
        else:
            self.position.setText(f"{seconds:5.1f} / {duration or 0:.1f} s")

    def stopped(self, text: str = "stopped") -> None:
        self.state.setText(text)
        self.position.setText("")
