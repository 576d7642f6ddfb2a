"""Extends a preset trained at a lower rate to a full-band one (livesep.presets.extend).

The extended preset fits its activations on the original's bins, as the original does, and
estimates the band above from each source's recording at the new rate. The shipped
``bass-drums-nhmm-48k`` is ``bass-drums-nhmm`` extended with its own training material from
a corpus built at 48 kHz (scripts/train_presets.sh runs this):

    python scripts/extend_preset.py presets/bass-drums-nhmm.npz --sr 48000 \\
        --source bass=corpus48/instruments/finger_bass/train.wav \\
        --source drums=corpus48/drums/train.wav \\
        --name bass-drums-nhmm-48k --out presets/bass-drums-nhmm-48k.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from livesep import audio
from livesep.errors import LivesepError
from livesep.presets import extend_band, load, save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", type=Path, help="the preset to extend (.npz)")
    parser.add_argument("--sr", type=int, required=True, help="the new rate in Hz")
    parser.add_argument("--source", action="append", required=True, metavar="NAME=FILE[,FILE]",
                        help="recordings of one source alone, resampled to --sr when they are "
                             "not at it (once per source)")
    parser.add_argument("--fit-below", type=float, metavar="HZ",
                        help="the fit's top frequency (default: 45 %% of the preset's rate)")
    parser.add_argument("--name", help="the new preset's name (default: the original's)")
    parser.add_argument("--description", help="its description (default: the original's)")
    parser.add_argument("--out", type=Path, required=True, help="where to write it (.npz)")
    args = parser.parse_args(argv)
    try:
        recordings = {}
        for entry in args.source:
            name, _, files = entry.partition("=")
            if not files:
                parser.error(f"--source needs NAME=FILE[,FILE], got {entry!r}")
            recordings[name] = np.concatenate([audio.load(file, sr=args.sr)[0]
                                               for file in files.split(",")])
        preset = extend_band(load(args.preset), recordings, sr=args.sr,
                             fit_below=args.fit_below, name=args.name,
                             description=args.description)
        save(preset, args.out)
    except LivesepError as error:
        print(f"extend_preset: {error}", file=sys.stderr)
        return 1
    print(f"{args.out}: {preset.name}, {preset.sr} Hz, {preset.n_fft} / {preset.hop_length}, "
          f"fitted on {preset.fit_bins} of {preset.n_bins} bins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
