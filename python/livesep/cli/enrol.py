"""``livesep enrol``: a personal voice preset from your voice and your room."""

from __future__ import annotations

import argparse

from livesep.cli.output import fraction_bar
from livesep.errors import ParameterError
from livesep.files import check_output_file

__all__ = ["add_enrol"]


def add_enrol(commands: argparse._SubParsersAction) -> None:
    """Register ``enrol`` on the main parser's subcommands."""
    enrol = commands.add_parser(
        "enrol", help="make a preset of your voice and your room",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Make a personal voice preset: a model of your voice (about 30 s of you "
                    "reading aloud) and of your room (about 10 s of it without speech), for "
                    "livesep live / separate / gui --preset mine.npz. Either recording alone "
                    "works too: the other half comes from --base. Takes about 10 s.",
        epilog="example:\n  livesep enrol --voice me.wav --room room.wav --out mine.npz\n  "
               "livesep live --preset mine.npz")
    enrol.add_argument("--voice", default=None, metavar="AUDIO",
                       help="you reading aloud, at least 10 s (30 s or more is better)")
    enrol.add_argument("--room", default=None, metavar="AUDIO",
                       help="your room without speech, at least 3 s (10 s or more is better)")
    enrol.add_argument("--out", required=True, metavar="P.npz", help="the preset file to write")
    enrol.add_argument("--base", default=None, metavar="P",
                       help="an N-HMM preset of speech and noise whose half you do not give "
                            "is kept (default: speech-noise-nhmm)")
    enrol.add_argument("--name", default=None, help="the preset's title (default: the file name)")
    enrol.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    enrol.add_argument("--overwrite", action="store_true",
                       help="replace --out if it exists (never when it is one of the inputs)")
    enrol.add_argument("--quiet", action="store_true", help="no progress bar")
    enrol.set_defaults(handler=_run_enrol)


def _run_enrol(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.models.train import ENROLMENT_BASE, enrol
    from livesep.presets import load_preset

    if args.voice is None and args.room is None:
        raise ParameterError("give --voice AUDIO, --room AUDIO, or both")
    inputs = [path for path in (args.voice, args.room) if path is not None]
    out = check_output_file(args.out, overwrite=args.overwrite, inputs=inputs,
                            error=ParameterError)
    base = load_preset(args.base or ENROLMENT_BASE)
    voice = None if args.voice is None else audio.load(args.voice, sr=base.sr)[0]
    room = None if args.room is None else audio.load(args.room, sr=base.sr)[0]
    with fraction_bar("learning your voice and room", enabled=not args.quiet) as update:
        preset = enrol(voice, room, base=base, name=args.name or out.stem, seed=args.seed,
                       progress=update)
    presets.save(preset, out)
    print(presets.describe(out))
    return 0
