"""Long jobs (exporting stems, recording, training) on a QThread, with progress, so that
the window never freezes; their results and errors come back as signals. And the status
bar's export of the separated stems of the file in file mode: it runs the causal engine over
the whole file (``separate_file``, mode online), exactly what file mode plays, but as fast
as the CPU allows and not through the device.

Why a cancel that raises from the progress callback: the library's long functions report
progress after each block or iteration, and raising there unwinds them at the next step
without any cancellation support of their own (:func:`livesep.separation.files.separate_file` writes
nothing until every stem is complete, so a cancelled export leaves no files).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6 import QtCore, QtWidgets

from livesep.engine import EngineSettings
from livesep.gui.dialogs import describe_error, error_dialog
from livesep.presets import Preset
from livesep.separation.files import SeparationReport, separate_file

__all__ = ["Task", "Cancelled", "ExportBar"]

Job = Callable[[Callable[[float], None]], Any]


class Cancelled(Exception):
    """Raised inside a job's progress callback once :meth:`Task.cancel` was asked."""


class Task(QtCore.QThread):
    """Runs ``job(progress)`` on its own thread.

    Signals: ``progress(float)`` in [0, 1] (or -1 for "busy, no fraction"), ``done(object)``
    with the job's result, ``failed(str)`` with the error's text, ``cancelled()``; exactly
    one of the last three is emitted.
    """

    progress = QtCore.pyqtSignal(float)
    done = QtCore.pyqtSignal(object)
    failed = QtCore.pyqtSignal(str)
    cancelled = QtCore.pyqtSignal()

    def __init__(self, job: Job, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._cancel = False
        self._last = -1.0

    def cancel(self) -> None:
        self._cancel = True

    def _report(self, fraction: float) -> None:
        if self._cancel:
            raise Cancelled
        # Many blocks per second would flood the GUI's event queue; a percent is enough.
        if fraction < 0 or fraction >= 1.0 or fraction - self._last >= 0.01:
            self._last = fraction
            self.progress.emit(float(fraction))

    def run(self) -> None:
        try:
            result = self._job(self._report)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as error:  # noqa: BLE001 - every failure becomes a dialog
            if os.environ.get("LIVESEP_DEBUG"):
                traceback.print_exc()
            self.failed.emit(describe_error(error))
        else:
            self.done.emit(result)


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

    def ask(self, settings: QtCore.QSettings, mixture: Path | None,
            preset: Preset | None) -> None:
        """Ask for a folder (and whether to replace stems already there), then export."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self.window(), "Export the stems into", str(settings.value("folders/export", "")))
        if not folder:
            return
        settings.setValue("folders/export", folder)
        existing = [name for name in (preset.source_names if preset else ())
                    if (Path(folder) / f"{name}.wav").exists()]
        if existing:
            answer = QtWidgets.QMessageBox.question(
                self.window(), "livesep: replace stems?",
                f"{', '.join(f'{n}.wav' for n in existing)} already exist in {folder}. "
                "Replace them?")
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        self.export(mixture, preset, Path(folder), overwrite=bool(existing))

    def export(self, mixture: Path | None, preset: Preset | None, folder: Path, *,
               overwrite: bool) -> bool:
        """Start an export, or say (in a dialog) why not; False then."""
        if preset is None or mixture is None:
            error_dialog(self.window(), "livesep: export", "open an audio file and choose a "
                                                           "preset first")
            return False
        if self.running:
            error_dialog(self.window(), "livesep: export", "an export is already running")
            return False
        self.start(mixture, preset, folder, overwrite=overwrite)
        return True

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
