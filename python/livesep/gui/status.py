"""The status bar: messages, stream state, CPU load, latency, xruns, the views' frame rate
and, in file mode, the position in the file.

Messages go to a label of their own, laid out beside the state rather than painted over
the bar (Qt's temporary message is drawn up to the first permanent field and cut there,
so a long one ran straight into the state); a message too long for its room is shortened
with "…" and shown whole in its tooltip."""

from __future__ import annotations

import math
import time

from PyQt6 import QtCore, QtGui, QtWidgets

from livesep.live.stats import LiveStats

__all__ = ["StatusBar", "FrameCounter", "ElidedLabel"]


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


class ElidedLabel(QtWidgets.QLabel):
    """One line of text that shortens itself with "…" to the room it gets."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                           QtWidgets.QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._fit()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        shown = self.fontMetrics().elidedText(self.full_text, QtCore.Qt.TextElideMode.ElideRight,
                                              max(0, self.contentsRect().width()))
        self.setText(shown)
        self.setToolTip(self.full_text if shown != self.full_text else "")


class StatusBar(QtWidgets.QStatusBar):
    """A message label for events, then permanent fields for the state and the numbers."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = ElidedLabel()
        self.message.setObjectName("status-message")
        self._message_timer = QtCore.QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.clear_message)
        self.addWidget(self.message, 1)
        self.state = QtWidgets.QLabel("stopped")
        self.state.setObjectName("status-state")
        self.cpu = QtWidgets.QLabel("CPU –")
        self.latency = QtWidgets.QLabel("latency –")
        self.xruns = QtWidgets.QLabel("xruns –")
        self.fps = QtWidgets.QLabel("– fps")
        self.position = QtWidgets.QLabel("")
        divider = QtWidgets.QFrame()
        divider.setFrameShape(QtWidgets.QFrame.Shape.VLine)
        divider.setFrameShadow(QtWidgets.QFrame.Shadow.Sunken)
        self.addPermanentWidget(divider)
        for label in (self.state, self.position, self.cpu, self.latency, self.xruns, self.fps):
            self.addPermanentWidget(label)

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        """Show an event's message, for ``timeout_ms`` (0: until the next one)."""
        self.message.set_full_text(text)
        if timeout_ms > 0:
            self._message_timer.start(timeout_ms)
        else:
            self._message_timer.stop()

    def clear_message(self) -> None:
        self._message_timer.stop()
        self.message.set_full_text("")

    @property
    def message_text(self) -> str:
        """The whole message shown now (even if shortened on screen)."""
        return self.message.full_text

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
