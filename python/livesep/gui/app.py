"""Starting the desktop app: the display check, the QApplication, the exception hooks.

Why check the display before Qt does: without one, Qt's xcb plugin prints several lines
and aborts the process (SIGABRT), which breaks the command line's contract of one clear
error line and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

from livesep.errors import LivesepError

__all__ = ["NoDisplayError", "check_display", "run_gui", "demo_arguments"]

# Qt platforms that need no display server.
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


class NoDisplayError(LivesepError):
    """No screen to open a window on."""


def _x_server_reachable(display: str, timeout: float = 2.0) -> bool:
    """Whether an X server answers at ``display`` (``[host]:N[.screen]``)."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return False
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in (path, "\0" + path):  # the file, or Linux's abstract socket
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        with socket.create_connection((host, 6000 + number), timeout=timeout):
            return True
    except OSError:
        return False


def check_display(hint: str) -> None:
    """Raise :class:`NoDisplayError` (with ``hint``) unless a window can be opened."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in _HEADLESS_PLATFORMS or sys.platform in ("darwin", "win32"):
        return
    if os.environ.get("WAYLAND_DISPLAY") and platform in ("", "wayland"):
        return
    display = os.environ.get("DISPLAY", "")
    if not display:
        raise NoDisplayError(f"no display: neither DISPLAY nor WAYLAND_DISPLAY is set "
                             f"({hint})")
    if not _x_server_reachable(display):
        raise NoDisplayError(f"no display: cannot connect to the X server at "
                             f"DISPLAY={display} ({hint})")


def demo_arguments() -> tuple[str, Path]:
    """The demo's preset name and mixture file (``livesep demo --gui``)."""
    from livesep.bundled import demo_material_dir

    material = demo_material_dir()
    meta = json.loads((material / "demo.json").read_text())
    return str(meta["preset"]), material / "mix.flac"


def _missing_qt() -> NoDisplayError | None:
    try:
        import pyqtgraph  # noqa: F401
        from PyQt6 import QtWidgets  # noqa: F401
    except ImportError as error:
        return NoDisplayError(f"the desktop app needs PyQt6 and pyqtgraph ({error}); install "
                              "them with: pip install 'livesep[gui]'")
    return None


def run_gui(*, preset: str | None = None, file: str | os.PathLike[str] | None = None,
            start: bool = False, hint: str = "set DISPLAY, or use livesep live headless",
            quit_after: float | None = None) -> int:
    """Open the desktop app and run it until its window closes; returns the exit status.

    Parameters
    ----------
    preset : str, optional
        A preset file or shipped preset name to choose.
    file : path-like, optional
        An audio file to open in file mode.
    start : bool
        Start playing at once.
    hint : str
        Appended to the no-display error.
    quit_after : float, optional
        Close the window after this many seconds (for scripted runs).

    Raises
    ------
    NoDisplayError
        Without a display, or without PyQt6.
    """
    check_display(hint)
    missing = _missing_qt()
    if missing is not None:
        raise missing
    from PyQt6 import QtCore, QtWidgets

    from livesep.gui.dialogs import ErrorRelay, install_exception_hooks
    from livesep.gui.window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["livesep"])
    app.setApplicationName("livesep")
    app.setOrganizationName("livesep")
    window: list[MainWindow] = []
    relay = ErrorRelay(lambda: window[0] if window else None)
    restore = install_exception_hooks(relay)
    # Ctrl-C in the terminal closes the window cleanly (Python sees the signal when the
    # window's frame timer or the idle timer below wakes the interpreter).
    previous = signal.signal(signal.SIGINT, lambda *_: QtWidgets.QApplication.closeAllWindows())
    idle = QtCore.QTimer()
    idle.timeout.connect(lambda: None)
    idle.start(200)
    try:
        main = MainWindow(preset=preset, file=file)
        window.append(main)
        main.show()
        if start:
            QtCore.QTimer.singleShot(0, main.start)
        if quit_after is not None:
            QtCore.QTimer.singleShot(int(quit_after * 1000), main.close)
        return int(app.exec())
    finally:
        idle.stop()
        signal.signal(signal.SIGINT, previous)
        restore()
