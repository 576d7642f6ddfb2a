"""The engine's speed targets for full band and low latency (issue 18), beside RNNoise.

An N-FHMM of 2 sources x 20 states x 10 components (trained briefly on the bundled demo's
two speakers: speed only), beam 128, 10 updates per fit, over a minute of the demo's mixture
looped, in blocks of 256, one BLAS thread, one core:
  (a) ``standard`` at 16 kHz (n_fft 512, hop 128), every bin and on bands above
      ``--bands-above`` Hz: target, a real-time factor at most RNNoise's in the same run;
  (b) ``low`` at 48 kHz full band (n_fft 1536, 8 ms algorithmic latency: hop 192), every bin
      and on bands: target, a real-time factor at most 0.25;
  RNNoise (``pyrnnoise``, 48 kHz, 480-sample frames, only its frame loop timed) on the same
  minute.
Each configuration is timed ``--repeats`` times, interleaved, and the best kept (the least
disturbed by other work on the machine).

    python benchmarks/bench_speed.py [--seconds 60] [--repeats 3] [--bands-above 4000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from livesep import audio, spectral  # noqa: E402
from livesep.bundled import demo_material_dir  # noqa: E402
from livesep.engine import EngineSettings, create_separator, warm_up  # noqa: E402
from livesep.models.nhmm import train_nhmm  # noqa: E402
from livesep.presets import Preset, SourceModel  # noqa: E402
from livesep.resampling import resample  # noqa: E402

BLOCK = 256
LOW_TARGET = 0.25


@dataclass(frozen=True)
class Case:
    label: str
    preset: Preset
    settings: EngineSettings
    target: str


def nfhmm_preset(sr: int) -> Preset:
    """2 x 20 states x 10 components at ``sr`` with 32 ms frames, 8 ms hops."""
    n_fft, hop = 512 * sr // 16000, 128 * sr // 16000
    sources = []
    for name in ("male", "female"):
        y, rate = audio.load(demo_material_dir() / f"{name}.flac")
        y = resample(y, orig_sr=rate, target_sr=sr)
        V = spectral.magnitude(y, n_fft=n_fft, hop_length=hop)
        model = train_nhmm(V, n_states=20, n_components=10, n_iter=3, seed=0)
        sources.append(SourceModel(name, W=model.W, A=model.A, pi=model.pi))
    return Preset(f"speed-{sr}", sr=sr, n_fft=n_fft, hop_length=hop, model="nhmm",
                  sources=sources)


def material(sr: int, seconds: float) -> np.ndarray:
    y, rate = audio.load(demo_material_dir() / "mix.flac")
    y = resample(y, orig_sr=rate, target_sr=sr)
    return np.resize(y, int(seconds * sr)).astype(np.float32)


def engine_seconds(case: Case, x: np.ndarray) -> float:
    separator = create_separator(case.preset, settings=case.settings)
    warm_up(separator)
    started = time.perf_counter()
    for start in range(0, x.size, BLOCK):
        separator.process(x[start:start + BLOCK])
    return time.perf_counter() - started


def rnnoise_seconds(x48: np.ndarray) -> float:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_voice import INT16_SCALE, rnnoise_frames

    _, seconds = rnnoise_frames(x48 * INT16_SCALE)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bands-above", type=float, default=4000.0)
    parser.add_argument("--bands-per-octave", type=int, default=12)
    args = parser.parse_args()
    presets = {sr: nfhmm_preset(sr) for sr in (16000, 48000)}
    bands = {"bands_above": args.bands_above, "bands_per_octave": args.bands_per_octave}
    cases = []
    for latency, sr, target in (("standard", 16000, "<= RNNoise"),
                                ("low", 48000, f"<= {LOW_TARGET:g}")):
        for fit, extra in (("every bin", {}), (f"bands > {args.bands_above:g} Hz", bands)):
            cases.append(Case(f"{latency} {sr // 1000} kHz, {fit}", presets[sr],
                              EngineSettings(beam=128, latency=latency, **extra), target))
    signals = {sr: material(sr, args.seconds) for sr in presets}
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        best["rnnoise"] = min(best.get("rnnoise", np.inf), rnnoise_seconds(signals[48000]))
        for case in cases:
            seconds = engine_seconds(case, signals[case.preset.sr])
            best[case.label] = min(best.get(case.label, np.inf), seconds)
    rnnoise = best["rnnoise"] / args.seconds
    print(f"{args.seconds:g} s of audio, best of {args.repeats}; N-FHMM 2 x 20 x 10, beam 128")
    print(f"{'configuration':<40} {'RTF':>7}  target   met")
    print(f"{'RNNoise 48 kHz':<40} {rnnoise:>7.4f}")
    for case in cases:
        rtf = best[case.label] / args.seconds
        limit = rnnoise if case.target.endswith("RNNoise") else LOW_TARGET
        print(f"{case.label:<40} {rtf:>7.4f}  {case.target:<10} "
              f"{'yes' if rtf <= limit else 'NO'}  ({rtf / rnnoise:.2f} x RNNoise)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
