"""The live views: a scrolling input spectrogram, one scrolling mask per source and each
source's state posterior as a scrolling heat map (pyqtgraph).

Each view keeps its last few seconds as a ``uint8`` image (height × frames) that scrolls
left as frames arrive; only the new columns are quantised. Why ``uint8`` with a 256-entry
lookup table: pyqtgraph then hands the buffer to Qt as an indexed image without any
per-pixel numpy work, so a redraw costs the GUI thread (and the GIL the audio callback
needs) almost nothing. Everything here runs on the GUI thread, fed by
:meth:`LiveViews.push` from the snapshot ring.

A hint over the views says what to do while they have nothing to show (before the first
frames) and what is wrong when the window asks (no signal at the input).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from livesep.gui.meters import SILENCE_DB

__all__ = ["LiveViews", "ScrollImage", "SPECTRUM_FLOOR_DB", "IDLE_HINT", "NO_SIGNAL_HINT",
           "SILENT_FILE_HINT"]

#: The spectrogram's colour scale: from this many dB below full scale up to 0 dB.
SPECTRUM_FLOOR_DB = 90.0
_SECONDS = 4.0  # the visible history
#: What the views say until the first frames arrive.
IDLE_HINT = ("Choose a preset and an input (a device or an audio file),\n"
             "then press Start")
#: What they say while the input stays silent: from a device, or in a file.
NO_SIGNAL_HINT = (f"No signal: the input stays below {SILENCE_DB:.0f} dBFS.\n"
                  "Check the input device, its cable and its level.")
SILENT_FILE_HINT = f"No signal: the file is silent here (below {SILENCE_DB:.0f} dBFS)."
_HINT_STYLE = ("background-color: rgba(22, 22, 28, 215); color: #f0f0f4; padding: 14px 22px; "
               "border: 1px solid #6a6a78; border-radius: 8px; font-size: 15px;")


def _lut(name: str) -> npt.NDArray[np.uint8]:
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)


class ScrollImage:
    """One scrolling image in a plot: ``push`` values in [0, 1], newest on the right.

    Parameters
    ----------
    plot : pyqtgraph.PlotItem
        Where the image is drawn.
    height : int
        Rows (frequency bins or states).
    width : int
        Frames kept.
    extent : tuple of float
        ``(seconds, top)``: the x axis spans ``[-seconds, 0]``, y ``[0, top]``.
    colormap : str
        A pyqtgraph colour map name.
    """

    def __init__(self, plot: pg.PlotItem, height: int, width: int,
                 extent: tuple[float, float], colormap: str) -> None:
        self.buffer = np.zeros((height, width), dtype=np.uint8)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setLookupTable(_lut(colormap))
        self.item.setImage(self.buffer, autoLevels=False, levels=(0, 255))
        seconds, top = extent
        self.item.setRect(QtCore.QRectF(-seconds, 0.0, seconds, top))
        plot.addItem(self.item)
        plot.setXRange(-seconds, 0.0, padding=0)
        plot.setYRange(0.0, top, padding=0)
        self.plot = plot
        self.pushed = 0  # frames received since the last clear

    def push(self, values: npt.NDArray[np.floating], *, update: bool = True) -> None:
        """Append frames, ``values`` shaped (n, height), each in [0, 1]."""
        n = values.shape[0]
        if n == 0:
            return
        width = self.buffer.shape[1]
        if n >= width:
            values, n = values[-width:], width
        else:
            self.buffer[:, :-n] = self.buffer[:, n:]
        columns = np.clip(values[:, :self.buffer.shape[0]], 0.0, 1.0) * 255.0
        block = self.buffer[:, -n:]
        if columns.shape[1] < block.shape[0]:  # fewer rows than shown (a smaller model)
            block.fill(0)
        block[:columns.shape[1]] = (columns.T + 0.5).astype(np.uint8)
        self.pushed += n
        if update:
            self.item.updateImage()

    def clear(self) -> None:
        self.buffer.fill(0)
        self.pushed = 0
        self.item.updateImage()


class LiveViews(QtWidgets.QWidget):
    """Spectrogram, masks and state posteriors of a running separation.

    Call :meth:`configure` whenever the preset changes, :meth:`push` with each batch of
    snapshots (``LiveSeparator.pop_snapshots``).
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="#16161c", foreground="#c8c8d0")
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setMinimumSize(480, 360)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.spectrogram: ScrollImage | None = None
        self.masks: list[ScrollImage] = []
        self.states: list[ScrollImage] = []
        self.source_names: tuple[str, ...] = ()
        self.frames_drawn = 0
        self._full_scale = 1.0
        self.hint = QtWidgets.QLabel(self)
        self.hint.setObjectName("views-hint")
        self.hint.setStyleSheet(_HINT_STYLE)
        self.hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.hint.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._warning = ""
        self._show_hint()

    # ------------------------------------------------------------------ the hint
    def set_warning(self, text: str) -> None:
        """Show ``text`` over the views ("" takes it away); it outranks the idle hint."""
        if text != self._warning:
            self._warning = text
            self._show_hint()

    @property
    def hint_text(self) -> str:
        """What the hint over the views says now ("" when none shows)."""
        return self.hint.text() if not self.hint.isHidden() else ""

    def _show_hint(self) -> None:
        text = self._warning or (IDLE_HINT if self.frames_drawn == 0 else "")
        if text == self.hint_text:
            return
        self.hint.setText(text)
        self.hint.setVisible(bool(text))
        self._place_hint()

    def _place_hint(self) -> None:
        self.hint.adjustSize()
        size = self.hint.size().boundedTo(self.size())
        self.hint.setGeometry(QtWidgets.QStyle.alignedRect(
            self.layoutDirection(), QtCore.Qt.AlignmentFlag.AlignCenter, size, self.rect()))
        self.hint.raise_()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place_hint()

    def configure(self, *, source_names: Sequence[str], n_states: Sequence[int], sr: int,
                  n_fft: int, hop_length: int) -> None:
        """Lay the views out for a preset (clears what was shown)."""
        self.canvas.clear()
        self.source_names = tuple(source_names)
        n_sources = len(self.source_names)
        width = max(8, int(round(_SECONDS * sr / hop_length)))
        bins, top = n_fft // 2 + 1, sr / 2000.0
        # A full-scale sine in one bin, sqrt-hann window: the spectrum's 0 dB.
        self._full_scale = (n_fft // 2) / 2.0
        plot = self._plot(0, 0, "input spectrogram", "kHz", colspan=n_sources)
        self.spectrogram = ScrollImage(plot, bins, width, (_SECONDS, top), "magma")
        self.masks, self.states = [], []
        for s, name in enumerate(self.source_names):
            plot = self._plot(1, s, f"mask: {name}", "kHz")
            self.masks.append(ScrollImage(plot, bins, width, (_SECONDS, top), "viridis"))
            states = max(1, int(n_states[s]))
            plot = self._plot(2, s, f"states: {name}", "state", xlabel="seconds")
            self.states.append(ScrollImage(plot, states, width, (_SECONDS, states), "inferno"))
        layout = self.canvas.ci.layout
        for row, stretch in enumerate((3, 3, 2)):
            layout.setRowStretchFactor(row, stretch)
        self.frames_drawn = 0
        self._show_hint()

    def _plot(self, row: int, column: int, title: str, ylabel: str, *, colspan: int = 1,
              xlabel: str | None = None) -> pg.PlotItem:
        plot = self.canvas.addPlot(row=row, col=column, colspan=colspan, title=title)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setLabel("left", ylabel)
        if xlabel:
            plot.setLabel("bottom", xlabel)
        return plot

    def push(self, snapshots: dict[str, np.ndarray]) -> int:
        """Draw the frames of one ``pop_snapshots`` result; returns how many there were."""
        spectrum = snapshots["spectrum"]
        n = int(spectrum.shape[0])
        if n == 0 or self.spectrogram is None:
            return n
        with np.errstate(divide="ignore"):
            level = 20.0 * np.log10(np.maximum(spectrum / self._full_scale, 1e-12))
        self.spectrogram.push((level + SPECTRUM_FLOOR_DB) / SPECTRUM_FLOOR_DB)
        masks, marginals = snapshots["masks"], snapshots["marginals"]
        counts = snapshots.get("n_states")
        for s in range(min(len(self.masks), masks.shape[1])):
            self.masks[s].push(masks[:, s, :])
            rows = self.states[s].buffer.shape[0]
            if counts is not None and counts.size:
                rows = min(rows, int(counts[-1, s]))
            # Scale each frame by its most probable state, so that a spread-out posterior
            # still shows where its mass is.
            posterior = marginals[:, s, :rows]
            peak = np.maximum(posterior.max(axis=1, keepdims=True), 1e-9)
            self.states[s].push(posterior / peak)
        self.frames_drawn += n
        self._show_hint()
        return n

    def clear(self) -> None:
        for view in [self.spectrogram, *self.masks, *self.states]:
            if view is not None:
                view.clear()

    def view_image(self, which: str, index: int = 0) -> QtGui.QImage:
        """What one view shows on screen now: ``"spectrogram"``, ``"mask"`` or
        ``"states"`` (of source ``index``), cropped from the canvas."""
        view = {"spectrogram": self.spectrogram, "mask": self.masks[index] if self.masks
                else None, "states": self.states[index] if self.states else None}[which]
        if view is None:
            raise LookupError(f"no {which} view")
        box = view.plot.vb.sceneBoundingRect()
        rect = self.canvas.mapFromScene(box).boundingRect()
        return self.canvas.grab(rect).toImage()
