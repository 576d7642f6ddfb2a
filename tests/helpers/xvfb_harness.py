"""An Xvfb server on a free display, for tests and scripts that need a real window
(../shared/DATA.md, "A window without a screen").

Why ``-displayfd``: the server itself picks a display number nobody uses and writes it to
a pipe once it accepts connections, so there is no race between choosing a number and
another process taking it, and no polling for readiness.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

__all__ = ["Xvfb", "xvfb_available"]


def xvfb_available() -> bool:
    return shutil.which("Xvfb") is not None


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no server left behind


class Xvfb:
    """``Xvfb -screen 0 WxHx24 -nolisten tcp`` on a display it picks; stopped for sure."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        self.size = (width, height)
        self.process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self, timeout: float = 15.0) -> Xvfb:
        read, write = os.pipe()
        width, height = self.size
        try:
            self.process = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                 "-nolisten", "tcp", "-noreset"],
                pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        finally:
            os.close(write)
        deadline = time.monotonic() + timeout
        text = b""
        try:
            os.set_blocking(read, False)
            while not text.endswith(b"\n") and time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"Xvfb exited at start ({self.process.returncode})")
                try:
                    chunk = os.read(read, 64)
                except BlockingIOError:
                    time.sleep(0.02)
                    continue
                if not chunk:
                    break
                text += chunk
        finally:
            os.close(read)
        if not text.strip():
            self.stop()
            raise RuntimeError(f"Xvfb did not report a display within {timeout} s")
        self.display = f":{int(text.strip())}"
        return self

    @property
    def env(self) -> dict[str, str]:
        """Environment for a Qt program to open its windows on this server."""
        return {"DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"}

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
