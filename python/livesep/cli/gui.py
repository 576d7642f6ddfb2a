"""``livesep gui`` and ``livesep demo --gui``: the desktop app from the command line.

Kept apart from :mod:`livesep.cli` so that the command line does not import Qt until the
app is asked for. Errors (no display, PyQt6 missing, a bad preset or file) are
:class:`~livesep.errors.LivesepError` for ``cli.main``: one line, non-zero exit.
"""

from __future__ import annotations

import argparse

__all__ = ["add_gui_command", "run_demo_gui"]

_DEMO_HINT = "set DISPLAY or use livesep demo without --gui"


def add_gui_command(commands: argparse._SubParsersAction) -> None:
    """Register ``gui`` on the main parser's subcommands."""
    gui = commands.add_parser(
        "gui", help="open the desktop app",
        description="Open the desktop app: choose a preset and an input device (or an audio "
                    "file), start, and see the input spectrogram, each source's live mask and "
                    "state posterior, per-source gain, mute, solo and level; export stems; "
                    "learn a source of your own. Needs a display and the gui extra "
                    "(pip install 'livesep[gui]').")
    gui.add_argument("--preset", default=None, metavar="P",
                     help="a preset file, or the name of a shipped preset (default: the last "
                          "one used, at first the voice preset)")
    gui.add_argument("--file", default=None, metavar="AUDIO",
                     help="open this audio file in file mode (play it through the engine as "
                          "if live)")
    gui.add_argument("--start", action="store_true", help="start at once")
    gui.set_defaults(handler=_run_gui)


def _check_arguments(preset: str | None, file: str | None) -> None:
    """Fail on the command line, before a window opens, for a bad preset or file."""
    from livesep import audio, presets
    from livesep.presets.shipped import resolve_preset

    if preset is not None:
        presets.load_meta(resolve_preset(preset))
    if file is not None:
        audio.info(file)


def _run_gui(args: argparse.Namespace) -> int:
    from livesep.gui.app import check_display, run_gui

    hint = "set DISPLAY, or use livesep live headless"
    check_display(hint)
    _check_arguments(args.preset, args.file)
    return run_gui(preset=args.preset, file=args.file, start=args.start, hint=hint)


def run_demo_gui(args: argparse.Namespace) -> int:
    """``livesep demo --gui``: the app in file mode on the bundled recording, playing."""
    from livesep.gui.app import check_display, demo_arguments, run_gui

    check_display(_DEMO_HINT)
    preset, mixture = demo_arguments()
    return run_gui(preset=preset, file=mixture, start=True, hint=_DEMO_HINT)
