"""Error dialogs and the GUI's exception hooks: an error is a dialog, never a dead window
or a traceback on the terminal.

Dialogs open window-modal with ``open()``, not ``exec()``: no nested event loop, so the
views keep drawing behind a dialog and tests can find and close it.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PyQt6 import QtCore, QtWidgets

from livesep.errors import LivesepError

__all__ = ["error_dialog", "describe_error", "ErrorRelay", "install_exception_hooks"]


def describe_error(error: BaseException) -> str:
    """The text a user sees for an exception: livesep's own message, or the type and
    message of anything else (a bug, to be reported)."""
    if isinstance(error, LivesepError):
        return str(error)
    return (f"internal error: {type(error).__name__}: {error}\n\n(set LIVESEP_DEBUG=1 for "
            "details on the terminal, and please report it)")


def error_dialog(parent: QtWidgets.QWidget | None, title: str, text: str
                 ) -> QtWidgets.QMessageBox:
    """Show an error without blocking; returns the (self-deleting) dialog."""
    box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Critical, title, text,
                                QtWidgets.QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("livesep-error")
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
    return box


class ErrorRelay(QtCore.QObject):
    """Carries an error from any thread to a dialog on the GUI thread (a queued signal)."""

    raised = QtCore.pyqtSignal(str, str)

    def __init__(self, parent_window: Callable[[], QtWidgets.QWidget | None]) -> None:
        super().__init__()
        self._window = parent_window
        self.raised.connect(self._show, QtCore.Qt.ConnectionType.QueuedConnection)
        self.shown: list[str] = []

    def report(self, error: BaseException, title: str = "livesep: error") -> None:
        self.raised.emit(title, describe_error(error))

    def _show(self, title: str, text: str) -> None:
        self.shown.append(text)
        error_dialog(self._window(), title, text)


def install_exception_hooks(relay: ErrorRelay) -> Callable[[], None]:
    """Route uncaught exceptions (GUI thread and other threads) to dialogs; returns a
    function that restores the previous hooks.

    Why both hooks: PyQt6 calls ``sys.excepthook`` for an exception escaping a slot (and
    aborts the process if it is Python's default hook); an exception in a plain thread
    goes to ``threading.excepthook``.
    """
    previous, previous_thread = sys.excepthook, threading.excepthook

    def hook(kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QtWidgets.QApplication.quit()
            return
        if os.environ.get("LIVESEP_DEBUG"):
            traceback.print_exception(kind, value, tb)
        relay.report(value)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook

    def restore() -> None:
        sys.excepthook, threading.excepthook = previous, previous_thread

    return restore
