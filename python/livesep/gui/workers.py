"""Long jobs (exporting stems, recording, training) on a QThread, with progress, so that
the window never freezes; their results and errors come back as signals.

Why a cancel that raises from the progress callback: the library's long functions report
progress after each block or iteration, and raising there unwinds them at the next step
without any cancellation support of their own (:func:`livesep.separation.files.separate_file` writes
nothing until every stem is complete, so a cancelled export leaves no files).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from PyQt6 import QtCore

from livesep.gui.dialogs import describe_error

__all__ = ["Task", "Cancelled"]

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
