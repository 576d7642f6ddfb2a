"""What the desktop app costs the audio: callback timing and xruns with the GUI open vs
closed, and the GUI's frame rate, on a JACK dummy device under Xvfb.

    .venv/bin/python benchmarks/bench_gui.py [--seconds 20] [--json out.json]

Each condition runs in a fresh process, on the same private JACK server (48 kHz, 256-frame
periods: a 5.33 ms deadline) and the same input, the demo mixture in file mode (looped),
with the demo's preset (male-female-nhmm, 20 x 20 states, beam 128):

- ``closed``: no GUI; the separator in the process with an idle main thread (as ``livesep
  live`` runs it).
- ``open``: the app's window drawing the views, its stream in its child process (the
  design).
- ``open-in-process``: the same window with the stream in the window's own process (what
  the child process avoids).

Reported: the audio callback's median / p99 / max duration, xruns, the quality level the
governor fell to, and for the GUI the paint events per second of the views (what a person
sees) over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

CONDITIONS = ("closed", "open", "open-in-process")


def _stats_row(stats: Any) -> dict[str, Any]:
    return {"callback_median_ms": 1000 * stats.callback.median,
            "callback_p99_ms": 1000 * stats.callback.p99,
            "callback_max_ms": 1000 * stats.callback.max,
            "engine_p99_ms": 1000 * stats.engine.p99,
            "xruns": stats.xruns.total, "quality_level": stats.quality_level,
            "callbacks": stats.callbacks, "seconds": stats.seconds}


def run_closed(seconds: float) -> dict[str, Any]:
    from livesep import audio
    from livesep.gui.app import demo_arguments
    from livesep.live.fileplay import FileSeparator

    preset, mixture = demo_arguments()
    signal, rate = audio.load(mixture)
    live = FileSeparator(preset, signal, rate, loop=True, output="auto").start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.025)
        live.pop_snapshots()  # the same ring traffic as a display, with nobody drawing
    return _stats_row(live.stop())


def run_open(seconds: float, *, in_process: bool) -> dict[str, Any]:
    import tempfile

    from PyQt6 import QtCore, QtWidgets

    from livesep.gui.app import demo_arguments
    from livesep.gui.window import MainWindow

    preset, mixture = demo_arguments()
    app = QtWidgets.QApplication(["livesep-bench"])
    folder = tempfile.mkdtemp(prefix="livesep-bench-")
    settings = QtCore.QSettings(os.path.join(folder, "s.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preset=preset, file=mixture, in_process=in_process)
    window.resize(1280, 800)
    window.show()
    for _ in range(20):
        app.processEvents()
    if not window.start():
        raise SystemExit("could not start the stream")
    result: dict[str, Any] = {}

    def finish() -> None:
        paints = window.frames.count - result["paints_at_start"]
        result["fps"] = paints / (time.monotonic() - result["started"])
        stats = window.stop()
        result.update(_stats_row(stats))
        app.quit()

    def begin() -> None:  # measure frames after the first second (window mapped, warm)
        result["paints_at_start"] = window.frames.count
        result["started"] = time.monotonic()
        QtCore.QTimer.singleShot(int(1000 * (seconds - 1.0)), finish)

    QtCore.QTimer.singleShot(1000, begin)
    app.exec()
    window.close()
    return result


def child(condition: str, seconds: float) -> None:
    if condition == "closed":
        row = run_closed(seconds)
    else:
        row = run_open(seconds, in_process=condition == "open-in-process")
    print(json.dumps(row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", choices=CONDITIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds)
        return 0
    from helpers.jack_harness import JackServer
    from helpers.xvfb_harness import Xvfb

    results: dict[str, Any] = {}
    with Xvfb(1280, 800) as display, JackServer(48000, 256) as jack:
        env = dict(os.environ, **display.env, **jack.env)
        for condition in args.conditions:
            done = subprocess.run([sys.executable, __file__, "--child", condition,
                                   "--seconds", str(args.seconds)], env=env,
                                  capture_output=True, text=True, timeout=args.seconds + 120)
            if done.returncode != 0:
                print(f"{condition}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
            results[condition] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"JACK dummy 48 kHz / 256 frames (5.33 ms deadline), {args.seconds:.0f} s each, "
          "demo mixture in file mode, male-female-nhmm")
    print(f"{'condition':<18}{'callback median':>16}{'p99':>9}{'max':>9}{'engine p99':>12}"
          f"{'xruns':>7}{'quality':>9}{'GUI fps':>9}")
    for condition, row in results.items():
        fps = f"{row['fps']:.1f}" if "fps" in row else "–"
        print(f"{condition:<18}{row['callback_median_ms']:>13.3f} ms{row['callback_p99_ms']:>6.3f}"
              f" ms{row['callback_max_ms']:>6.2f} ms{row['engine_p99_ms']:>9.3f} ms"
              f"{row['xruns']:>7}{-row['quality_level']:>9}{fps:>9}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
