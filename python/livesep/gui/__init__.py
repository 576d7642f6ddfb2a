"""The desktop app, ``livesep gui``: choose a preset and a microphone (or an audio file),
start, and see and hear the sources come apart — live spectrogram, masks and state
posteriors, a strip per source, training a source of your own.

Needs the ``gui`` extra (PyQt6, pyqtgraph). Importing this package does not import Qt;
:func:`run_gui` does.
"""

from __future__ import annotations

from livesep.gui.app import NoDisplayError, check_display, demo_arguments, run_gui

__all__ = ["run_gui", "check_display", "demo_arguments", "NoDisplayError"]
