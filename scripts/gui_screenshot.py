"""Run the desktop app for a few seconds in a real window and save a screenshot.

Refreshes the README's picture (the default) and drives the test that checks the views
are drawn (tests/gui/test_window.py):

    .venv/bin/python scripts/gui_screenshot.py --xvfb --jack            # docs/screenshot.png
    .venv/bin/python scripts/gui_screenshot.py --out shot.png --report shot.json

It opens the demo material (python/livesep/data/demo) in file mode with its preset, plays
it through the engine to the output device, grabs the window and writes a JSON report of
what each view shows. ``--xvfb`` starts a private Xvfb server and ``--jack`` a private
JACK dummy-backend server (tests/helpers/xvfb_harness.py, tests/helpers/jack_harness.py), so that it
runs on a machine without screen or sound card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def image_array(image: Any) -> np.ndarray:
    """A QImage as an (h, w, 3) uint8 RGB array."""
    from PyQt6 import QtGui

    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint8)
    return data.reshape(height, stride)[:, :width * 3].reshape(height, width, 3).copy()


def view_report(window: Any) -> dict[str, Any]:
    """What the views show: per view the pixels' spread and distinct colours, and how far
    apart the sources' masks are on screen and in their buffers."""
    views = window.views
    report: dict[str, Any] = {"frames_drawn": views.frames_drawn, "views": {}}
    shown: dict[str, np.ndarray] = {}
    targets = [("spectrogram", 0)] + [(kind, s) for kind in ("mask", "states")
                                      for s in range(len(views.masks))]
    for kind, index in targets:
        pixels = image_array(views.view_image(kind, index)).astype(np.float64)
        name = kind if kind == "spectrogram" else f"{kind}:{views.source_names[index]}"
        shown[name] = pixels
        report["views"][name] = {
            "pixel_std": float(pixels.std()),
            "colours": int(len(np.unique(pixels.reshape(-1, 3), axis=0))),
            "size": list(pixels.shape[:2])}
    masks = [name for name in shown if name.startswith("mask:")]
    if len(masks) >= 2:
        a, b = shown[masks[0]], shown[masks[1]]
        rows, cols = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
        report["mask_pixel_difference"] = float(np.abs(a[:rows, :cols] - b[:rows, :cols]).mean())
        first, second = views.masks[0].buffer, views.masks[1].buffer
        report["mask_buffer_difference"] = float(
            np.abs(first.astype(np.float64) - second.astype(np.float64)).mean())
        report["mask_buffer_filled"] = [float((view.buffer > 0).mean()) for view in views.masks]
    return report


def run(args: argparse.Namespace) -> dict[str, Any]:
    from PyQt6 import QtCore, QtWidgets

    from livesep.gui.app import demo_arguments
    from livesep.gui.dialogs import ErrorRelay, install_exception_hooks
    from livesep.gui.window import MainWindow

    preset, mixture = demo_arguments()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["livesep"])
    folder = Path(tempfile.mkdtemp(prefix="livesep-shot-"))
    settings = QtCore.QSettings(str(folder / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    holder: list[Any] = []
    relay = ErrorRelay(lambda: holder[0] if holder else None)
    restore = install_exception_hooks(relay)
    try:
        window = MainWindow(settings=settings, preset=args.preset or preset,
                            file=args.file or mixture)
        holder.append(window)
        window.resize(1280, 800)
        window.show()
        if not window.start():
            app.processEvents()
            raise SystemExit(f"could not start: {relay.shown or 'see the dialog'}")
        # Mute nothing, but show the strips doing something: a little less of source 2.
        window.strips.strips[-1].gain.setValue(-3)
        deadline = time.monotonic() + args.seconds
        fps_samples = []
        while time.monotonic() < deadline:
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)
            if window.frames.count and time.monotonic() - fps_samples[-1][0] > 1.0 \
                    if fps_samples else True:
                fps_samples.append((time.monotonic(), window.frames.count))
        rate = ((fps_samples[-1][1] - fps_samples[0][1]) /
                max(1e-9, fps_samples[-1][0] - fps_samples[0][0])) if len(fps_samples) > 1 \
            else float("nan")
        report = view_report(window)
        window.grab().save(str(args.out))
        running = window.live is not None
        stats = window.stop()
        report.update(screenshot=str(args.out), fps=rate, errors=list(relay.shown),
                      running=running,
                      xruns=stats.xruns.total if stats else None,
                      callback_p99_ms=1000 * stats.callback.p99 if stats else None,
                      events=list(stats.events) if stats else [])
        window.close()
        app.processEvents()
        return report
    finally:
        restore()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--report", type=Path, default=None, help="write the view report here")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--preset", default=None, help="default: the demo's preset")
    parser.add_argument("--file", default=None, help="default: the demo mixture")
    parser.add_argument("--xvfb", action="store_true", help="start a private Xvfb server")
    parser.add_argument("--jack", action="store_true",
                        help="start a private JACK dummy server (48 kHz, 256 frames)")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.xvfb:
            from helpers.xvfb_harness import Xvfb

            os.environ.update(stack.enter_context(Xvfb()).env)
        if args.jack:
            from helpers.jack_harness import serving

            stack.enter_context(serving(48000, 256))
        report = run(args)
    text = json.dumps(report, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)
    return 0 if report["running"] and not report["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
