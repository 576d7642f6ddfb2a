"""Exporting the separated stems of the file in file mode, on a worker thread.

The export runs the causal engine over the whole file (``separate_file``, mode online),
exactly what file mode plays, but as fast as the CPU allows and not through the device;
progress and a cancel button sit in the status bar."""

from __future__ import annotations

from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from livesep.engine import EngineSettings
from livesep.gui.dialogs import error_dialog
from livesep.gui.workers import Task
from livesep.presets import Preset
from livesep.separation.files import SeparationReport, separate_file

__all__ = ["ExportBar"]


class ExportBar(QtWidgets.QWidget):
    """A progress bar and a cancel button for one export at a time; emits
    ``finished(report or None)`` (None when it failed or was cancelled)."""

    finished = QtCore.pyqtSignal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(160)
        self.bar.setFormat("exporting %p%")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self.cancel)
        self.task: Task | None = None
        self.report: SeparationReport | None = None
        self._busy = False
        self.setVisible(False)

    @property
    def running(self) -> bool:
        """Whether an export has started and not yet reported its end."""
        return self._busy

    def start(self, mixture: Path, preset: Preset, folder: Path, *, overwrite: bool,
              settings: EngineSettings | None = None) -> Task:
        """Separate ``mixture`` into ``folder/<source>.wav`` in the background."""
        def job(progress: object) -> SeparationReport:
            return separate_file(mixture, preset, folder, mode="online", settings=settings,
                                 overwrite=overwrite, progress=progress)  # type: ignore

        self.report = None
        self._busy = True
        self.task = Task(job, self)
        self.task.progress.connect(lambda f: self.bar.setValue(int(1000 * max(f, 0.0))))
        self.task.done.connect(self._done)
        self.task.failed.connect(self._failed)
        self.task.cancelled.connect(lambda: self._end(None))
        self.bar.setValue(0)
        self.setVisible(True)
        self.task.start()
        return self.task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def wait(self, ms: int = 30000) -> None:
        if self.task is not None:
            self.task.wait(ms)

    def _done(self, report: SeparationReport) -> None:
        self.report = report
        self._end(report)

    def _failed(self, text: str) -> None:
        error_dialog(self.window(), "livesep: export failed", text)
        self._end(None)

    def _end(self, report: SeparationReport | None) -> None:
        self._busy = False
        self.setVisible(False)
        self.finished.emit(report)
