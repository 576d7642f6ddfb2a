"""``livesep separate``: an audio file into one file per source (with a preset, or blindly
through :mod:`livesep.cli.blind`)."""

from __future__ import annotations

import argparse
import sys

from livesep.cli.blind import add_blind_options, run_blind_separate, wants_blind
from livesep.cli.options import add_quality, add_strength, engine_settings, strength
from livesep.cli.output import fraction_bar
from livesep.errors import ParameterError

__all__ = ["add_separate"]


def add_separate(commands: argparse._SubParsersAction) -> None:
    separate = commands.add_parser(
        "separate", help="separate an audio file into one file per source",
        description="Separate MIX into DIR/<source>.wav, one file per source of the preset "
                    "(or, blindly with --model, DIR/source1.wav ...), with the input's rate "
                    "and length, aligned sample for sample.")
    separate.add_argument("mixture", metavar="MIX", help="the audio file to separate")
    separate.add_argument("--preset", default=None, metavar="P",
                          help="a preset file, or the name of a shipped preset (or --model "
                               "for blind separation)")
    separate.add_argument("--out-dir", required=True, metavar="DIR",
                          help="folder for the stems (created if missing)")
    separate.add_argument("--mode", choices=("online", "offline"), default="online",
                          help="online: the causal engine, block by block exactly as live; "
                               "offline: the non-causal batch reference (default: %(default)s)")
    add_quality(separate)
    add_strength(separate)
    separate.add_argument("--blocksize", type=int, default=512, metavar="N",
                          help="engine block size in online mode; the result does not depend "
                               "on it (default: %(default)s)")
    separate.add_argument("--overwrite", action="store_true",
                          help="replace stems that already exist in DIR")
    separate.add_argument("--per-state", action="store_true",
                          help="also write each N-HMM state's signal, DIR/<source>.state<q>.wav "
                               "(offline mode)")
    separate.add_argument("--state-gain", action="append", default=[],
                          metavar="NAME:STATE=GAIN",
                          help="a linear gain on one state of one source, e.g. piano:1=0 "
                               "mutes state 1 of the piano (offline mode; repeatable)")
    separate.add_argument("--quiet", action="store_true", help="no progress bar or notices")
    add_blind_options(separate)
    separate.set_defaults(handler=_run_separate)


def _run_separate(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.presets.shipped import resolve_preset
    from livesep.separation.files import separate_file

    if wants_blind(args):
        return run_blind_separate(args)
    preset = presets.load(resolve_preset(args.preset))
    audio.info(args.mixture)  # a missing or unreadable input fails before any progress bar
    with fraction_bar(f"separating ({args.mode})", enabled=not args.quiet) as update:
        report = separate_file(args.mixture, preset, args.out_dir, mode=args.mode,
                               settings=engine_settings(args), block_size=args.blocksize,
                               strength=strength(args),
                               overwrite=args.overwrite, per_state=args.per_state,
                               state_gains=_state_gains(args.state_gain), progress=update)
    if not args.quiet:
        if report.channels_mixed_down:
            print(f"note: the input has {report.channels_mixed_down} channels; separated their "
                  "mono mix", file=sys.stderr)
        if report.resampled_from:
            lost = (f" (the stems hold nothing above {preset.sr // 2} Hz)"
                    if preset.sr < report.resampled_from else "")
            print(f"note: the input is at {report.resampled_from} Hz; separated at the preset's "
                  f"{preset.sr} Hz and written back at {report.resampled_from} Hz{lost}",
                  file=sys.stderr)
    for stem in report.stems:
        print(stem)
    return 0


def _state_gains(specs: list[str]) -> dict[str, dict[int, float]]:
    """``["piano:1=0"]`` → ``{"piano": {1: 0.0}}``."""
    gains: dict[str, dict[int, float]] = {}
    for spec in specs:
        name, _, rest = spec.rpartition(":")
        state, equals, gain = rest.partition("=")
        try:
            if not name or not equals:
                raise ValueError
            gains.setdefault(name, {})[int(state)] = float(gain)
        except ValueError:
            raise ParameterError(f"--state-gain must be NAME:STATE=GAIN, e.g. piano:1=0, got "
                                 f"{spec!r}") from None
    return gains
