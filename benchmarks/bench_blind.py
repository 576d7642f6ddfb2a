#!/usr/bin/env python3
"""Blind NMF2D on two-instrument songs it was never tuned on (issue 21).

Songs are composed here (the corpus composer, ``scripts/corpus/music.py``, with seeds of
their own), written as MIDI with mido and rendered by fluidsynth from the two General-MIDI
sound fonts DATA.md allows, FluidR3_GM and TimGM6mb: 10 s at 16 kHz, the two instruments at
equal RMS (0 dB). Three disjoint sets:

- ``tuning``: the songs every setting was chosen on;
- ``test``: songs never looked at while tuning; the figures the issue asks for;
- ``ci``: what ``tests/separation/test_blind.py`` renders (neither of the above).

Every song is scored by BSS Eval under the best permutation (blind outputs have no source
order): the mixture itself (floor), blind separation, and the ideal ratio mask on the same
STFT (ceiling).

Usage::

    python benchmarks/bench_blind.py --set tuning [--param n_shifts=48 --param cost=kl ...]
    python benchmarks/bench_blind.py --set test --json test.json
    python benchmarks/bench_blind.py --set test --render DIR    # only write mixtures + refs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from corpus.midi import render_midi, write_midi  # noqa: E402
from corpus.music import InstrumentSpec, compose  # noqa: E402
from corpus.signals import _fade_out, normalize, write_wav  # noqa: E402
from livesep.evaluation.metrics import bss_eval, ideal_ratio_mask  # noqa: E402
from livesep.separation.blind import BlindSettings, separate_blind  # noqa: E402

SR = 16000
SECONDS = 10.0
FONTS = {"fluid": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
         "timgm": Path("/usr/share/sounds/sf2/TimGM6mb.sf2")}

#: Instruments of different timbres (GM programs, 0-based) and the registers they play in.
SPECS: dict[str, InstrumentSpec] = {spec.name: spec for spec in (
    InstrumentSpec("flute", 73, "melody", 64, 88, (72, 132)),
    InstrumentSpec("clarinet", 71, "melody", 55, 79, (72, 132)),
    InstrumentSpec("oboe", 68, "melody", 62, 84, (72, 132)),
    InstrumentSpec("trumpet", 56, "melody", 58, 80, (84, 140)),
    InstrumentSpec("alto_sax", 65, "melody", 52, 76, (80, 140)),
    InstrumentSpec("soprano_sax", 64, "melody", 60, 82, (80, 140)),
    InstrumentSpec("violin", 40, "melody", 62, 88, (66, 120)),
    InstrumentSpec("trombone", 57, "melody", 45, 67, (70, 120)),
    InstrumentSpec("vibraphone", 11, "melody", 60, 84, (80, 130)),
    InstrumentSpec("acoustic_bass", 32, "bass", 28, 50, (70, 130)),
    InstrumentSpec("finger_bass", 33, "bass", 28, 52, (76, 128)),
    InstrumentSpec("cello", 42, "bass", 36, 57, (66, 110)),
    InstrumentSpec("piano", 0, "piano", 36, 76, (72, 120)),
    InstrumentSpec("harpsichord", 6, "piano", 36, 79, (72, 120)),
    InstrumentSpec("epiano", 4, "piano", 36, 74, (72, 120)),
    InstrumentSpec("organ", 19, "piano", 36, 74, (66, 110)),
    InstrumentSpec("nylon_guitar", 24, "guitar", 40, 72, (66, 116)),
)}


@dataclass(frozen=True)
class Song:
    """Two instruments, a sound font and a seed for the composer."""

    name: str
    first: str
    second: str
    font: str
    seed: int


SETS: dict[str, tuple[Song, ...]] = {
    "tuning": (
        Song("flute+acoustic_bass", "flute", "acoustic_bass", "fluid", 101),
        Song("clarinet+piano", "clarinet", "piano", "timgm", 102),
        Song("trumpet+nylon_guitar", "trumpet", "nylon_guitar", "timgm", 103),
        Song("violin+cello", "violin", "cello", "fluid", 104),
        Song("oboe+harpsichord", "oboe", "harpsichord", "timgm", 105),
    ),
    "test": (
        Song("alto_sax+finger_bass", "alto_sax", "finger_bass", "timgm", 201),
        Song("flute+nylon_guitar", "flute", "nylon_guitar", "fluid", 202),
        Song("trumpet+piano", "trumpet", "piano", "fluid", 203),
        Song("clarinet+acoustic_bass", "clarinet", "acoustic_bass", "timgm", 204),
        Song("violin+harpsichord", "violin", "harpsichord", "fluid", 205),
        Song("oboe+cello", "oboe", "cello", "timgm", 206),
        Song("vibraphone+finger_bass", "vibraphone", "finger_bass", "fluid", 207),
        Song("trombone+flute", "trombone", "flute", "timgm", 208),
        Song("soprano_sax+epiano", "soprano_sax", "epiano", "fluid", 209),
        Song("trumpet+organ", "trumpet", "organ", "timgm", 210),
    ),
    "ci": (
        Song("clarinet+nylon_guitar", "clarinet", "nylon_guitar", "fluid", 301),
        Song("violin+finger_bass", "violin", "finger_bass", "timgm", 302),
    ),
}

FArray = npt.NDArray[np.float32]
#: The settings printed with every summary.
SHOWN = ("cost", "n_shifts", "n_lags", "n_starts", "sparsity", "bins_per_octave", "fmin",
         "mask_power", "n_iter", "seed")


def render_part(name: str, *, font: str, seed: int, seconds: float = SECONDS,
                sr: int = SR) -> FArray:
    """One instrument's part: composed, written as MIDI, rendered, cut, normalised."""
    spec = SPECS[name]
    notes, sections = compose(spec, seconds + 2.0, seed)
    tempi = [(section.start_beat, float(section.tempo)) for section in sections]
    end = sum(section.bars * 4 for section in sections)
    with tempfile.TemporaryDirectory(prefix="livesep-blind-") as tmp:
        midi = Path(tmp) / "part.mid"
        write_midi(midi, notes, tempi, program=spec.program, end_beat=end)
        y = render_midi(midi, sr=sr, soundfont=FONTS[font])
    n = round(seconds * sr)
    return normalize(_fade_out(y[:n], sr))[0]


def render_song(song: Song, *, seconds: float = SECONDS, sr: int = SR) -> FArray:
    """The two references, shape (2, n), at equal RMS (a 0 dB mixture is their sum)."""
    parts = [render_part(name, font=song.font, seed=song.seed * 2 + k, seconds=seconds, sr=sr)
             for k, name in enumerate((song.first, song.second))]
    n = min(part.size for part in parts)
    return np.stack([part[:n] for part in parts])


def score(references: FArray, settings: BlindSettings) -> dict[str, Any]:
    """Mixture, blind separation and ideal ratio mask: SDR per source (best permutation)."""
    mixture = references.sum(axis=0)
    start = time.perf_counter()
    separation = separate_blind(mixture, settings=settings)
    seconds = time.perf_counter() - start
    irm = ideal_ratio_mask(references, n_fft=settings.n_fft, hop_length=settings.hop_length)
    return {"mixture": bss_eval(references, np.stack([mixture, mixture])).sdr.tolist(),
            "blind": bss_eval(references, separation.stems).sdr.tolist(),
            "irm": bss_eval(references, irm).sdr.tolist(),
            "seconds": round(seconds, 2), "iterations": separation.result.n_iter}


def figure(references: FArray, settings: BlindSettings, path: Path, *, song: Song) -> None:
    """The paper's figure: the mixture's log-frequency spectrogram, W and H of every factor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    separation = separate_blind(references.sum(axis=0), settings=settings)
    result, log_map = separation.result, separation.log_map
    scores = bss_eval(references, separation.stems)
    # Reference s is scored against stem permutation[s]: name each stem by its reference.
    matched = {int(stem): s for s, stem in enumerate(scores.permutation)}
    names = (song.first, song.second)
    hop_s = settings.hop_length / settings.sr
    L = result.reconstruct()
    n_sources = result.W.shape[2]
    fig = plt.figure(figsize=(11, 3 + 2.4 * n_sources), constrained_layout=True)
    grid = fig.add_gridspec(1 + n_sources, 2, width_ratios=(1, 5))
    top = fig.add_subplot(grid[0, :])
    spectrogram = log_map.to_log(np.abs(_stft(references.sum(axis=0), settings)))
    top.imshow(np.log1p(spectrogram / spectrogram.max() * 1e3), origin="lower", aspect="auto",
               cmap="magma", extent=(0, spectrogram.shape[1] * hop_s, 0, L.shape[0]))
    top.set(title=f"{song.name} ({song.font}): log-frequency spectrogram of the mixture "
                  f"({settings.bins_per_octave} bins per octave from {settings.fmin:g} Hz)",
            xlabel="time (s)", ylabel="log-frequency bin")
    for d, group in enumerate(separation.groups):
        factor = group[0]
        left, right = fig.add_subplot(grid[1 + d, 0]), fig.add_subplot(grid[1 + d, 1])
        # Square roots, so that the weaker partials and activations stay visible.
        left.imshow(np.sqrt(result.W[:, :, factor].T), origin="lower", aspect="auto", cmap="Greys",
                    extent=(-0.5, result.W.shape[0] - 0.5, 0, L.shape[0]))
        left.set(title=f"W of source{d + 1} (√)", xlabel="τ (frames)", ylabel="log-frequency bin")
        right.imshow(np.sqrt(result.H[:, factor, :]), origin="lower", aspect="auto", cmap="Greys",
                     extent=(0, result.H.shape[2] * hop_s, -0.5, result.H.shape[0] - 0.5))
        right.set(title=f"H of source{d + 1} (√): the {names[matched[d]]}, SDR "
                        f"{scores.sdr[matched[d]]:.1f} dB", xlabel="time (s)",
                  ylabel="φ (pitch shift, bins)")
    fig.savefig(path, dpi=80)


def _stft(y: FArray, settings: BlindSettings) -> npt.NDArray[np.complex128]:
    from livesep import spectral

    return spectral.stft(y, n_fft=settings.n_fft, hop_length=settings.hop_length)


def settings_from(params: list[str]) -> BlindSettings:
    """BlindSettings with ``key=value`` overrides, each converted to its field's type."""
    settings = BlindSettings()
    types = {field.name: type(getattr(settings, field.name)) for field in fields(settings)}
    changes: dict[str, Any] = {}
    for param in params:
        key, _, value = param.partition("=")
        if key not in types:
            raise SystemExit(f"unknown setting {key!r}; known: {', '.join(types)}")
        kind = int if types[key] is type(None) else types[key]
        changes[key] = (None if value == "none" else float(value) if kind is float
                        else int(value) if kind is int else value)
    return replace(settings, **changes).checked()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=tuple(SETS), default="tuning")
    parser.add_argument("--songs", default=None, help="comma-separated song names of the set")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a BlindSettings field, e.g. n_shifts=48 (repeatable)")
    parser.add_argument("--render", type=Path, default=None, metavar="DIR",
                        help="only write DIR/<song>/{mix,first,second}.wav")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None, metavar="PNG",
                        help="only draw the paper's figure for the first song")
    args = parser.parse_args()
    songs = [song for song in SETS[args.set]
             if args.songs is None or song.name in args.songs.split(",")]
    if args.render is not None:
        for song in songs:
            refs = render_song(song)
            folder = args.render / song.name
            folder.mkdir(parents=True, exist_ok=True)
            write_wav(folder / "mix.wav", refs.sum(axis=0), sr=SR)
            for name, ref in zip((song.first, song.second), refs):
                write_wav(folder / f"{name}.wav", ref, sr=SR)
            print(folder)
        return 0
    settings = settings_from(args.param)
    if args.figure is not None:
        figure(render_song(songs[0]), settings, args.figure, song=songs[0])
        print(args.figure)
        return 0
    rows = []
    print(f"{'song':26s} {'mixture':>13s} {'blind':>13s} {'IRM':>13s}  gain   s")
    for song in songs:
        row = {"song": song.name, "font": song.font, **score(render_song(song), settings)}
        rows.append(row)
        gain = np.mean(row["blind"]) - np.mean(row["mixture"])
        print(f"{song.name:26s} " + " ".join(f"{row[k][0]:6.1f}/{row[k][1]:<6.1f}"
                                            for k in ("mixture", "blind", "irm"))
              + f" {gain:+5.1f} {row['seconds']:5.1f}", flush=True)
    gains = [np.mean(r["blind"]) - np.mean(r["mixture"]) for r in rows]
    print(f"mean gain over the mixture {np.mean(gains):+.2f} dB, worst {min(gains):+.2f} dB, "
          f"blind mean {np.mean([r['blind'] for r in rows]):.2f} dB, IRM mean "
          f"{np.mean([r['irm'] for r in rows]):.2f} dB")
    print("settings: " + " ".join(f"{key}={getattr(settings, key)}" for key in SHOWN))
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": asdict(settings), "songs": rows},
                                        indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
