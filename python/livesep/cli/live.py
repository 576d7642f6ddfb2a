"""``livesep live``, ``livesep devices`` and ``livesep plugin install``: the headless live host
on the command line, and the LV2 plugin for other hosts (PipeWire, OBS, DAWs).

Output contract: a banner and a closing summary on stdout; on a terminal, one status line
on stderr rewritten in place (levels per source, CPU, latency, xruns, quality); an error is
one line on stderr with a non-zero exit (raised as a LivesepError for ``cli.main``).
Ctrl-C (SIGINT) and SIGTERM stop cleanly: recordings are finished and the exit status is 0.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from typing import Any

from livesep.cli.options import add_quality, add_strength, engine_settings, strength

__all__ = ["add_live_commands"]


def add_live_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``live``, ``devices`` and ``plugin`` on the main parser's subcommands."""
    live = commands.add_parser(
        "live", help="separate an input device live onto an output device, headless",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Separate a live input (a microphone, a line input, a JACK port) with a "
                    "preset and play the sources on the output device: one channel per source "
                    "(stems) or their remix. Shows levels, CPU load, latency and xruns while "
                    "running; Ctrl-C stops.",
        epilog="examples:\n  livesep live --preset voices.npz\n  livesep live --preset "
               "voices.npz --input-device 2 --output stereo --record take1/\n\nWith a device "
               "rate other than the preset's, the stream is resampled, which adds about 9 ms of "
               "latency: run the device at the preset's rate to avoid it.")
    live.add_argument("--preset", default=None, metavar="P",
                      help="a preset file, or the name of a shipped preset (default: the "
                           "voice preset, a voice in any noise: voice-48k, its full-band "
                           "version, when the devices run at 44.1 kHz or above, else voice)")
    live.add_argument("--input-device", default=None, metavar="D",
                      help="input device number or part of its name (default: the default "
                           "input; see `livesep devices`)")
    live.add_argument("--output-device", default=None, metavar="D",
                      help="output device number or part of its name (default: the default "
                           "output)")
    live.add_argument("--samplerate", type=int, default=None, metavar="SR",
                      help="device rate in Hz (default: the preset's if the devices take it, "
                           "else the output device's default)")
    live.add_argument("--blocksize", type=int, default=0, metavar="N",
                      help="frames per callback; 0 lets the host choose, which avoids extra "
                           "buffering with JACK (default: %(default)s)")
    live.add_argument("--device-latency", default="low", metavar="L",
                      help="the audio device's buffering (PortAudio's latency): low, high or "
                           "seconds (default: %(default)s); the separation's own is --latency")
    live.add_argument("--input-channel", type=int, default=0, metavar="C",
                      help="input channel to separate, from 0 (default: %(default)s)")
    live.add_argument("--output", choices=("auto", "stems", "stereo", "mono"), default="auto",
                      help="stems: one output channel per source; stereo or mono: their remix; "
                           "auto: stems if the device has the channels (default: %(default)s)")
    live.add_argument("--record", default=None, metavar="DIR",
                      help="record the input and every source to DIR/input.wav and "
                           "DIR/<source>.wav while running")
    live.add_argument("--duration", type=float, default=None, metavar="S",
                      help="stop after S seconds (default: run until Ctrl-C)")
    add_quality(live)
    add_strength(live)
    live.add_argument("--fixed-quality", action="store_true",
                      help="never lower iterations or beam when the CPU cannot keep up")
    live.add_argument("--quiet", action="store_true", help="no status line")
    live.set_defaults(handler=_run_live)

    devices = commands.add_parser(
        "devices", help="list the audio devices",
        description="List the audio devices PortAudio sees, with their channels and default "
                    "rates; use a device's number or part of its name with `livesep live`.")
    devices.set_defaults(handler=_run_devices)

    plugin = commands.add_parser(
        "plugin", help="the LV2 plugin livesep.lv2 for PipeWire, OBS and DAWs",
        description="livesep's engine as an LV2 plugin (urn:livesep:separator): mono in, one "
                    "output per source and their mix. `plugin install` copies the bundle and "
                    "the shipped presets into an LV2 folder.")
    actions = plugin.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install", help="install livesep.lv2 with the shipped presets",
        description="Copy livesep.lv2 and the shipped presets into an LV2 folder (replacing "
                    "an older copy). Hosts find it there; see docs/pipewire/ for a virtual "
                    "microphone.")
    install.add_argument("--dest", default=None, metavar="DIR",
                         help="the LV2 folder (default: the first folder of LV2_PATH if set, "
                              "else ~/.lv2)")
    install.set_defaults(handler=_run_plugin_install)


class _StopRequests:
    """Ctrl-C and SIGTERM as a flag that the main loop polls, while installed (a second
    one raises KeyboardInterrupt).

    Why not the default KeyboardInterrupt: an exception raised at whatever bytecode the main
    thread is running can land between a lock's acquisition and its ``with`` block (inside
    ``threading.Event.wait``), leaving the lock held; the stop then waits on it forever.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequests:
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._request)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _request(self, signum: int, frame: Any) -> None:
        if self.requested:  # asked twice (a start that does not return): give up waiting
            raise KeyboardInterrupt
        self.requested = True


def _run_plugin_install(args: argparse.Namespace) -> int:
    from livesep.live.plugin import PLUGIN_URI, install_plugin

    bundle = install_plugin(args.dest)
    print(f"installed {PLUGIN_URI} into {bundle}")
    return 0


def _run_live(args: argparse.Namespace) -> int:
    from livesep import presets
    from livesep.errors import ParameterError
    from livesep.live import devices
    from livesep.live.host import LiveSeparator
    from livesep.presets.shipped import default_preset, resolve_preset

    if args.duration is not None and not args.duration > 0:
        raise ParameterError(f"--duration must be > 0 seconds, got {args.duration!r}")
    latency: str | float = args.device_latency
    if latency not in ("low", "high"):
        try:
            latency = float(latency)
        except ValueError:
            raise ParameterError(f"--device-latency must be low, high or seconds, got "
                                 f"{latency!r}") from None
    # Without --preset, the default for the rate the devices will run at.
    preset = presets.load(resolve_preset(args.preset or default_preset(
        args.samplerate or devices.resolve_device(args.output_device,
                                                  "output").default_samplerate)))
    settings = engine_settings(args)
    live = LiveSeparator(
        preset, settings=settings, input_device=args.input_device,
        output_device=args.output_device, samplerate=args.samplerate,
        blocksize=args.blocksize, latency=latency, input_channel=args.input_channel,
        output=args.output, record_dir=args.record, adaptive_quality=not args.fixed_quality)
    live.set_strength(strength(args))
    status = _StatusLine(enabled=not args.quiet and sys.stderr.isatty())
    reason = "done"
    with _StopRequests() as stop:
        try:
            live.start()
            live.set_snapshots_enabled(status.enabled)  # nobody reads them otherwise
            print(_banner(live), flush=True)
            deadline = None if args.duration is None else time.monotonic() + args.duration
            while not stop.requested and (deadline is None or time.monotonic() < deadline):
                live.wait(timeout=0.1 if deadline is None else
                          max(0.0, min(0.1, deadline - time.monotonic())))
                if status.due():
                    status.show(_status(live))
            if stop.requested:
                reason = "stopped"
        finally:
            status.clear()
            stats = live.stop()
    if live.error is not None:
        raise live.error
    print(_summary(live, stats, reason), flush=True)
    return 0


def _banner(live: Any) -> str:
    preset = live.preset
    rate = live.device_rate
    resampled = (f", resampled {rate} ↔ {preset.sr} Hz" if rate != preset.sr else "")
    bridge = live.rate_bridge
    deadline = time.monotonic() + 1.0
    while bridge is not None and not bridge.primed and time.monotonic() < deadline:
        time.sleep(0.01)  # the resamplers' delay is known once their queue has filled
    latency = live.stats().latency
    return (f"livesep live: {preset.name} ({', '.join(preset.source_names)}) from "
            f"{live.input_info.name!r} channel {live.input_channel} to "
            f"{live.output_info.name!r} ({live.output}) at {rate} Hz{resampled}; latency "
            f"{1000 * latency.total:.1f} ms; Ctrl-C stops")


def _status(live: Any) -> str:
    from livesep.live.stats import source_levels

    stats = live.stats()
    levels = source_levels(live.pop_snapshots())
    parts = [f"{name} {_meter(level)}" for name, level in zip(live.preset.source_names, levels)]
    quality = f" | quality -{stats.quality_level}" if stats.quality_level else ""
    return (f"{'  '.join(parts)} | CPU {_percent(stats.cpu_load)} (p99 "
            f"{_percent(stats.cpu_load_p99)}) | latency {1000 * stats.latency.total:.0f} ms | "
            f"xruns {stats.xruns.total}{quality}")


def _meter(level: float, width: int = 6) -> str:
    """A small bar from -60 to 0 dB and the value."""
    filled = 0 if not math.isfinite(level) else int(round(width * min(max(level + 60, 0), 60)
                                                          / 60))
    value = f"{level:4.0f}" if math.isfinite(level) else " -∞ "
    return f"{'█' * filled}{'·' * (width - filled)} {value} dB"


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%" if math.isfinite(value) else "-"


def _summary(live: Any, stats: Any, reason: str) -> str:
    xruns = stats.xruns
    kinds = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in
                      vars(xruns).items() if count)
    parts = [f"livesep live: {reason} after {stats.seconds:.1f} s",
             f"{xruns.total} xruns" + (f" ({kinds})" if kinds else ""),
             f"CPU {_percent(stats.cpu_load)} (p99 {_percent(stats.cpu_load_p99)})",
             f"engine p99 {1000 * stats.engine.p99:.2f} ms",
             f"latency {1000 * stats.latency.total:.1f} ms"]
    if stats.quality_level:
        parts.append(f"quality lowered to level {stats.quality_level} ({stats.n_iter} "
                     f"iterations, beam {stats.beam})")
    if stats.recorder_dropped:
        parts.append(f"recording dropped {stats.recorder_dropped} frames")
    if live.recorded:
        parts.append(f"recorded {len(live.recorded)} files to {live.recorded[0].parent}")
    return "; ".join(parts)


class _StatusLine:
    """One line on stderr, rewritten in place (only on a terminal)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0

    def due(self) -> bool:
        return self.enabled and time.monotonic() - self._last >= 0.25

    def show(self, text: str) -> None:
        self._last = time.monotonic()
        sys.stderr.write("\r" + text + "\x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _run_devices(args: argparse.Namespace) -> int:
    from livesep.errors import AudioDeviceError
    from livesep.live import devices

    found = devices.list_devices()
    if not found:
        raise AudioDeviceError(f"no audio devices: {devices.NO_DEVICES_HINT}")
    print(devices.format_devices(found))
    return 0
