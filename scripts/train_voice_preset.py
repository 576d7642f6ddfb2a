#!/usr/bin/env python3
"""Train livesep's default voice preset (``presets/voice.npz``): deep unfolded NMF trained on
mixtures, sources ``speech`` and ``noise``.

Data (from the corpus of scripts/build_corpus.py): the training clips of the readers en, da,
en_GB, nl, pt_BR, he, tn and ml (never lt, uk or es: the voices every voice benchmark tests
on) and the training recordings of the corpus noises, made into mixtures with
livesep.models.unfolded (speed-perturbed speech; recorded and generic noise; random SNRs and
levels). Start: KL-NMF dictionaries of the clean speech and of the noise frames; then the
unfolded updates trained end to end (livesep.models.unfolded). Deterministic for a seed.
The noise source gets a noise floor of weight ``--floor`` (SourceModel.floor: the engine
tracks the stream's stationary noise as one more noise column); it is not trained with it,
since dictionaries trained beside the floor came to lean on it and generalised worse to
noises never heard (docs/voice.md).

    python scripts/train_voice_preset.py --corpus corpus --out presets/voice.npz
        [--sr 16000] [--name voice] [--seconds 3600] [--layers 10]
        [--speech-components 100] [--noise-components 50] [--epochs 10] [--seed 0]
        [--floor 30]

``--sr`` sets the preset's rate and the rate the corpus is read at; the frames stay 32 ms
with an 8 ms hop (16000 Hz: 512 / 128; 48000 Hz: 1536 / 384).

``--extend PRESET`` makes a full-band preset from a trained one at a lower rate instead of
training anew (livesep.models.unfolded.fullband): its estimates learn the bins above from
``--seconds`` of mixtures at ``--sr`` (the layers fitting the band they were trained on, with
the same dictionaries), then its layers are widened to the bins above, each column taking its
estimate column's shape there (``extend_layers``), so that the fit weighs the whole band; the
preset fits bin by bin up to the lower rate's Nyquist frequency and on 1/12-octave bands
above it (``Preset.fit_bands_above``), where those rows are smooth. The shipped
``voice-48k`` is ``voice`` extended, from a corpus built at 48 kHz (so that its speech keeps
the klettres recordings' content above 8 kHz)::

    python scripts/build_corpus.py --out corpus48 --sr 48000
    python scripts/train_voice_preset.py --corpus corpus48 --sr 48000 --name voice-48k \
        --extend presets/voice.npz --seconds 1800 --epochs 30 --out presets/voice-48k.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from livesep import audio, presets
from livesep.models.nmf import nmf
from livesep.models.unfolded import (
    MixtureFrames,
    UnfoldedModel,
    extend_estimates,
    extend_layers,
    mixture_frames,
    train_unfolded,
)
from livesep.presets import Preset, SourceModel
from livesep.progress import Progress
from livesep.threads import blas_threads

READERS = ("en", "da", "en_GB", "nl", "pt_BR", "he", "tn", "ml")
NOISES = ("breath", "seashore", "helicopter", "applause", "cymbals")
#: The rates a voice preset is trained at, with their STFT frame and hop: 32 ms and 8 ms.
FRAMES = {16000: (512, 128), 48000: (1536, 384)}
DESCRIPTION = ("A voice, any speaker, in any noise: deep unfolded NMF trained on mixtures of "
               "eight readers and recorded and generic noise.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=Path("presets/voice.npz"))
    parser.add_argument("--sr", type=int, choices=sorted(FRAMES), default=16000)
    parser.add_argument("--name", default="voice")
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--speech-components", type=int, default=100)
    parser.add_argument("--noise-components", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--floor", type=float, default=30.0,
                        help="weight of the noise source's noise floor (0: none)")
    parser.add_argument("--extend", type=Path, metavar="PRESET",
                        help="extend this preset, trained at a lower rate, to --sr")
    args = parser.parse_args()
    sr = args.sr
    n_fft, hop = FRAMES[sr]
    corpus_sr = json.loads((args.corpus / "manifest.json").read_text())["settings"]["sr"]
    if corpus_sr < sr:  # upsampled material has nothing above corpus_sr / 2 to learn from
        parser.error(f"{args.corpus} is built at {corpus_sr} Hz, below --sr {sr}: build one "
                     f"at {sr} Hz (scripts/build_corpus.py --sr {sr})")
    started = time.perf_counter()
    speech = [audio.load(args.corpus / "speech" / r / "train.wav", sr=sr)[0] for r in READERS]
    noises = [audio.load(args.corpus / "noise" / n / "train.wav", sr=sr)[0] for n in NOISES]
    with blas_threads(1):
        frames = mixture_frames(speech, noises, sr=sr, n_fft=n_fft, hop_length=hop,
                                seconds=args.seconds, seed=args.seed)
        print(f"{len(frames.mixture)} training frames ({time.perf_counter() - started:.0f} s)",
              flush=True)
        epoch_steps = [0.0]

        def report(fraction: float) -> None:
            if fraction >= epoch_steps[0] + 0.1:
                epoch_steps[0] = fraction
                print(f"  {100 * fraction:.0f}% ({time.perf_counter() - started:.0f} s)",
                      flush=True)

        bands_above = None
        if args.extend is not None:
            model, bands_above = extended(args.extend, frames, sr=sr, n_fft=n_fft,
                                          epochs=args.epochs, seed=args.seed, progress=report)
        else:
            model = trained(frames, args, progress=report)
    provenance = {"readers": list(READERS), "noises": list(NOISES), "seconds": args.seconds,
                  "layers": model.layers, "epochs": args.epochs, "seed": args.seed,
                  "floor": args.floor,
                  "trainer": "livesep.models.unfolded" if args.extend is None else
                  f"livesep.models.unfolded.fullband (extend_estimates, extend_layers), from "
                  f"{args.extend.name}",
                  "training_seconds": round(time.perf_counter() - started)}
    # The 16 kHz preset keeps its description; another rate says what it adds.
    description = DESCRIPTION if sr == 16000 else \
        f"{DESCRIPTION} Full band at {sr / 1000:g} kHz ({n_fft} / {hop} frames)."
    preset = Preset(args.name, description=description, sr=sr, n_fft=n_fft, hop_length=hop,
                    model="nmf", fit_bands_above=bands_above,
                    sources=[SourceModel.from_unfolded(name, W, floor=floor, provenance=provenance)
                             for name, W, floor in zip(("speech", "noise"), model.dictionaries,
                                                       (0.0, args.floor))])
    presets.save(preset, args.out)
    print(presets.describe(args.out))
    return 0


def trained(frames: MixtureFrames, args: argparse.Namespace, *, progress: Progress
            ) -> UnfoldedModel:
    """The unfolded model trained anew: KL-NMF starting dictionaries, then end to end."""
    rng = np.random.default_rng(args.seed)
    starts = []
    for kind, k in (("speech", args.speech_components), ("noise", args.noise_components)):
        chosen = getattr(frames, kind)[rng.choice(len(frames.mixture), 40000, replace=False)].T
        loud = chosen.sum(axis=0) > 1e-6
        starts.append(nmf(chosen[:, loud], n_components=k, n_iter=100, seed=args.seed).W)
    print("starting dictionaries", flush=True)
    return train_unfolded(frames.mixture, np.stack([frames.speech, frames.noise]), starts,
                          layers=args.layers, epochs=args.epochs, seed=args.seed,
                          progress=progress)


def extended(path: Path, frames: MixtureFrames, *, sr: int, n_fft: int, epochs: int, seed: int,
             progress: Progress) -> tuple[UnfoldedModel, float]:
    """The unfolded preset at ``path`` extended to frames of ``n_fft`` samples at ``sr``, and
    the frequency above which it is fitted on bands: its layers' rows above the lower rate's
    band are its estimates' smooth shapes there, so bands give nearly the same masks for a
    fraction of the work."""
    lower = presets.load(path)
    if not lower.sources[0].layers or lower.source_names != ("speech", "noise"):
        sys.exit(f"{path}: --extend needs an unfolded preset of speech and noise")
    if lower.sr >= sr or lower.n_fft * sr != n_fft * lower.sr:
        sys.exit(f"{path}: --extend needs a preset below {sr} Hz with frames of the same "
                 f"length in seconds ({n_fft / sr * 1000:g} ms), got {lower.sr} Hz and "
                 f"{lower.n_fft} samples")
    model = UnfoldedModel(tuple(source.W for source in lower.sources))
    extended = extend_estimates(model, frames.mixture, np.stack([frames.speech, frames.noise]),
                                epochs=epochs, seed=seed, progress=progress)
    return extend_layers(extended, fit_bins=lower.n_bins), lower.sr / 2


if __name__ == "__main__":
    sys.exit(main())
