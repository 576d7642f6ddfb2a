#!/usr/bin/env python3
"""Build livesep's training and test corpus, deterministically, from Debian-packaged audio.

Only the sources that ``/work/shared/DATA.md`` lists as ours are used: the klettres readers
named in :data:`READERS`, General-MIDI instruments and effect programs of FluidR3_GM rendered
by fluidsynth from MIDI written here, and the hydrogen drum kits. Everything random comes
from seeded numpy generators, so two builds give byte-identical files.

Usage::

    python scripts/build_corpus.py --out corpus [--sr 16000]
        [--only speech,instruments,drums,noise,mixtures] [--jobs N] [--quiet]

Output layout (``DIR`` is ``--out``)::

    DIR/speech/<reader>/{train,test}.wav          trimmed klettres clips, split by clip
    DIR/instruments/<name>/{train,test}.{wav,mid}  fluidsynth renderings and their MIDI
    DIR/drums/{train,test}.wav                    hydrogen one-shots; test kits unseen in train
    DIR/noise/<name>/{train,test}.wav             FluidR3 effects, hydrogen cymbals and hats
    DIR/mixtures/<pair>/mix.wav + <source>.wav    test material only; mix == sum of references
    DIR/manifest.json                             sources, settings, seeds, clip lists, lengths

Missing Debian packages are installed with apt-get (through sudo when not root) and a
missing ``mido`` with pip into this interpreter.

The code lives in the ``corpus`` package next to this file (``scripts/corpus/``, one module
per part and concern); this file is the command-line entry point and re-exports the names
that other scripts and the tests use when they load it by its path.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder is sys.path[0]; loaded by its path (importlib), it may
# not be on sys.path at all. The package must be importable by its name in either case, here
# and in the worker processes, which find the task functions by their modules' names.
_SCRIPTS = Path(__file__).resolve().parent
if not any(Path(entry or ".").resolve() == _SCRIPTS for entry in sys.path):
    sys.path.insert(0, str(_SCRIPTS))

from corpus.build import (
    PARTS,
    build,
    build_drums,
    build_instruments,
    build_mixtures,
    build_noise,
    build_speech,
)
from corpus.cli import main
from corpus.common import CorpusError, seed_for
from corpus.drumkits import DRUMKIT_ROOT, TEST_KITS, drum_kits, read_drumkit
from corpus.midi import SOUNDFONT, Note, render_midi, write_midi
from corpus.mixtures import MixtureSpec, default_mixtures
from corpus.music import INSTRUMENTS, compose
from corpus.noise import NOISE_PROGRAMS, NOISES
from corpus.packages import ensure_mido, ensure_packages
from corpus.signals import mix_at_snr, normalize, trim_silence, write_wav
from corpus.speech import KLETTRES_ROOT, READERS, reader_clips, split_clips

__all__ = [
    "CorpusError", "READERS", "INSTRUMENTS", "NOISE_PROGRAMS", "NOISES", "TEST_KITS", "PARTS",
    "main", "build", "build_speech", "build_instruments", "build_drums", "build_noise",
    "build_mixtures", "default_mixtures", "MixtureSpec", "mix_at_snr", "trim_silence",
    "normalize", "split_clips", "reader_clips", "read_drumkit", "drum_kits", "compose",
    "write_midi", "render_midi", "write_wav", "ensure_packages", "ensure_mido", "seed_for",
    "Note", "KLETTRES_ROOT", "SOUNDFONT", "DRUMKIT_ROOT",
]

if __name__ == "__main__":
    sys.exit(main())
