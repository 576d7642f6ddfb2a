#!/usr/bin/env python3
"""Train livesep's default voice preset (``presets/voice.npz``): deep unfolded NMF trained on
mixtures, sources ``speech`` and ``noise``.

Data (from the corpus of scripts/build_corpus.py): the training clips of the readers en, da,
en_GB, nl, pt_BR, he, tn and ml (never lt, uk or es: the voices every voice benchmark tests
on) and the training recordings of the corpus noises, made into mixtures with
livesep.models.unfolded (speed-perturbed speech; recorded and generic noise; random SNRs and
levels). Start: KL-NMF dictionaries of the clean speech and of the noise frames; then the
unfolded updates trained end to end (livesep.models.unfolded). Deterministic for a seed.

    python scripts/train_voice_preset.py --corpus corpus --out presets/voice.npz
        [--seconds 3600] [--layers 10] [--speech-components 100] [--noise-components 50]
        [--epochs 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from livesep import audio, presets
from livesep.models.nmf import nmf
from livesep.models.unfolded import mixture_frames, train_unfolded
from livesep.presets import Preset, SourceModel
from livesep.threads import blas_threads

READERS = ("en", "da", "en_GB", "nl", "pt_BR", "he", "tn", "ml")
NOISES = ("breath", "seashore", "helicopter", "applause", "cymbals")
SR, N_FFT, HOP = 16000, 512, 128


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=Path("presets/voice.npz"))
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--speech-components", type=int, default=100)
    parser.add_argument("--noise-components", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    speech = [audio.load(args.corpus / "speech" / r / "train.wav", sr=SR)[0] for r in READERS]
    noises = [audio.load(args.corpus / "noise" / n / "train.wav", sr=SR)[0] for n in NOISES]
    with blas_threads(1):
        frames = mixture_frames(speech, noises, sr=SR, n_fft=N_FFT, hop_length=HOP,
                                seconds=args.seconds, seed=args.seed)
        print(f"{len(frames.mixture)} training frames ({time.perf_counter() - started:.0f} s)",
              flush=True)
        rng = np.random.default_rng(args.seed)
        starts = []
        for kind, k in (("speech", args.speech_components), ("noise", args.noise_components)):
            chosen = getattr(frames, kind)[rng.choice(len(frames.mixture), 40000,
                                                      replace=False)].T
            loud = chosen.sum(axis=0) > 1e-6
            starts.append(nmf(chosen[:, loud], n_components=k, n_iter=100,
                              seed=args.seed).W)
        print(f"starting dictionaries ({time.perf_counter() - started:.0f} s)", flush=True)
        epoch_steps = [0.0]

        def report(fraction: float) -> None:
            if fraction >= epoch_steps[0] + 0.1:
                epoch_steps[0] = fraction
                print(f"  {100 * fraction:.0f}% ({time.perf_counter() - started:.0f} s)",
                      flush=True)

        model = train_unfolded(frames.mixture, np.stack([frames.speech, frames.noise]), starts,
                               layers=args.layers, epochs=args.epochs, seed=args.seed,
                               progress=report)
    provenance = {"readers": list(READERS), "noises": list(NOISES), "seconds": args.seconds,
                  "layers": args.layers, "epochs": args.epochs, "seed": args.seed,
                  "trainer": "livesep.models.unfolded",
                  "training_seconds": round(time.perf_counter() - started)}
    preset = Preset("voice", description="A voice, any speaker, in any noise: deep unfolded "
                    "NMF trained on mixtures of eight readers and recorded and generic noise.",
                    sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf",
                    sources=[SourceModel.from_unfolded(name, W, provenance=provenance)
                             for name, W in zip(("speech", "noise"), model.dictionaries)])
    presets.save(preset, args.out)
    print(presets.describe(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
