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
                    "works too: the other half comes from --base. Takes about 10 s. The "
                    "default preset's recurrent network runs beside your models (20 % of the "
                    "masks up to 8 kHz), which separates better still. When both recordings "
                    "are at 44.1 kHz or above the preset is full band, at 48 kHz (the band "
                    "above 8 kHz from your recordings), like voice-48k, the default there.",
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
    enrol.add_argument("--sr", type=int, default=None, metavar="HZ",
                       help="the preset's rate: the base's (16000), or 48000 for full band, "
                            "which needs both recordings at 44.1 kHz or above (default: 48000 "
                            "when both are, else the base's)")
    enrol.add_argument("--name", default=None, help="the preset's title (default: the file name)")
    enrol.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    enrol.add_argument("--overwrite", action="store_true",
                       help="replace --out if it exists (never when it is one of the inputs)")
    enrol.add_argument("--quiet", action="store_true", help="no progress bar")
    enrol.set_defaults(handler=_run_enrol)


def _run_enrol(args: argparse.Namespace) -> int:
    from livesep import audio, presets
    from livesep.live.learning import FULL_BAND_SR, personal_preset
    from livesep.models.train import ENROLMENT_BASE
    from livesep.presets import load_preset
    from livesep.presets.shipped import FULL_BAND_RATE

    if args.voice is None and args.room is None:
        raise ParameterError("give --voice AUDIO, --room AUDIO, or both")
    inputs = [path for path in (args.voice, args.room) if path is not None]
    out = check_output_file(args.out, overwrite=args.overwrite, inputs=inputs,
                            error=ParameterError)
    base = load_preset(args.base or ENROLMENT_BASE)
    voice = None if args.voice is None else audio.load(args.voice)
    room = None if args.room is None else audio.load(args.room)
    sr = args.sr
    if sr is None:
        rates = [take[1] for take in (voice, room) if take is not None]
        full_band = len(rates) == 2 and min(rates) >= FULL_BAND_RATE and base.sr < FULL_BAND_RATE
        sr = FULL_BAND_SR if full_band else base.sr
    elif sr not in (base.sr, FULL_BAND_SR):
        raise ParameterError(f"--sr must be {base.sr} (the base's rate) or {FULL_BAND_SR} "
                             f"(full band), got {sr}")
    with fraction_bar("learning your voice and room", enabled=not args.quiet) as update:
        preset = personal_preset(voice, room, base, name=args.name or out.stem, sr=sr,
                                 progress=lambda fraction: update(max(fraction, 0.0)))
    presets.save(preset, out)
    print(presets.describe(out))
    return 0
