"""Noise: FluidR3_GM effect programs held as notes, and a wash of hydrogen cymbals and hi-hats.

``noise/<name>/{train,test}.wav``; train and test play the effects at different pitches and
the cymbals from different kits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .common import CorpusError, seed_for
from .drumkits import Hit, _kit_split, _render_hits, drum_kits
from .midi import MIDI_TAIL_S, Note, render_midi, write_midi
from .signals import _fade_out, normalize, write_wav

#: Lengths of the train and test files, in seconds.
NOISE_SECONDS = (60.0, 20.0)

#: FluidR3_GM effect programs (0-based) allowed as noise, and the pitches they are held at.
NOISE_PROGRAMS: dict[str, int] = {"breath": 121, "seashore": 122, "helicopter": 125,
                                  "applause": 126}
NOISE_PITCH_RANGE = (48, 76)
#: How each effect is held: note length and overlap with the next note, in seconds. The
#: FluidR3 samples do not all sustain: breath is a half-second puff, helicopter and applause
#: fade after a few seconds, so those are re-struck before they fade; seashore loops.
NOISE_NOTES: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "breath": ((0.4, 0.8), (0.1, 0.3)),
    "seashore": ((6.0, 11.0), (0.5, 1.0)),
    "helicopter": ((4.0, 6.0), (1.5, 2.0)),
    "applause": ((3.0, 5.0), (0.8, 1.2)),
}
#: All noise sources: the effect programs plus hydrogen cymbals and hi-hats.
NOISES = (*NOISE_PROGRAMS, "cymbals")


def _noise_notes(rng: np.random.Generator, name: str, split: str,
                 seconds: float) -> tuple[list[Note], list[tuple[float, int, int]]]:
    """Overlapping held notes of an effect and a slowly wandering expression controller.

    Train and test use disjoint pitches (even and odd note numbers), so the sample is played
    back at different rates in the two.
    """
    low, high = NOISE_PITCH_RANGE
    pitches = [p for p in range(low, high + 1) if p % 2 == (0 if split == "train" else 1)]
    (shortest, longest), (least, most) = NOISE_NOTES[name]
    notes: list[Note] = []
    now = 0.0
    beats_per_s = 2.0  # the file runs at 120 bpm, so a beat is half a second
    while now < seconds:
        length = rng.uniform(shortest, longest)
        notes.append(Note(now * beats_per_s, length * beats_per_s,
                          int(rng.choice(pitches)), int(rng.integers(85, 121))))
        now += length - rng.uniform(least, most)
    controls: list[tuple[float, int, int]] = []
    level = 110.0
    for k in range(int((seconds + MIDI_TAIL_S) / 0.25)):
        level = float(np.clip(level + rng.normal(0, 4.0), 70, 127))
        controls.append((k * 0.25 * beats_per_s, 11, int(round(level))))
    return notes, controls


def _program_noise_task(out_dir: Path, sr: int, name: str, split: str,
                        seconds: float) -> dict[str, Any]:
    program = NOISE_PROGRAMS[name]
    seed = seed_for("noise", name, split)
    notes, controls = _noise_notes(np.random.default_rng(seed), name, split, seconds)
    folder = out_dir / "noise" / name
    folder.mkdir(parents=True, exist_ok=True)
    midi = folder / f"{split}.mid"
    write_midi(midi, notes, [(0.0, 120.0)], program=program,
               end_beat=(seconds + MIDI_TAIL_S) * 2.0, controls=controls)
    y = render_midi(midi, sr=sr)
    n = round(seconds * sr)
    if len(y) < n:
        raise CorpusError(f"fluidsynth rendered only {len(y) / sr:.1f} s of {midi}")
    y, gain_db = normalize(_fade_out(y[:n], sr))
    write_wav(folder / f"{split}.wav", y, sr=sr)
    return {"file": f"noise/{name}/{split}.wav", "midi": f"noise/{name}/{split}.mid",
            "program": program, "seconds": round(n / sr, 3), "seed": seed,
            "gain_db": round(gain_db, 3), "pitches": sorted({note.pitch for note in notes})}


def _cymbal_noise_task(out_dir: Path, sr: int, split: str, seconds: float) -> dict[str, Any]:
    """A wash of cymbals and hi-hats: random (Poisson) hits from one kit at a time."""
    kits = drum_kits()
    train_kits, test_kits = _kit_split(kits)
    names = [k for k in (train_kits if split == "train" else test_kits)
             if {"crash", "ride", "hh_open", "hh_closed"} & kits[k].keys()]
    seed = seed_for("noise", "cymbals", split)
    rng = np.random.default_rng(seed)
    hits: list[Hit] = []
    segments: list[dict[str, Any]] = []
    now, index = 0.0, 0
    while now < seconds:
        name = names[index % len(names)]
        index += 1
        voices = [v for cat in ("crash", "ride", "hh_open", "hh_closed")
                  for v in kits[name].get(cat, [])]
        length = rng.uniform(4.0, 8.0)
        rate = rng.uniform(4.0, 12.0)
        segments.append({"start_s": round(now, 3), "kit": name, "hits_per_s": round(rate, 2)})
        t = now
        while t < now + length:
            hits.append(Hit(t, voices[int(rng.integers(len(voices)))], rng.uniform(0.3, 1.0)))
            t += rng.exponential(1.0 / rate)
        now += length
    n = round(seconds * sr)
    y, gain_db = normalize(_fade_out(_render_hits(hits, n, sr, choke=False).astype(np.float32),
                                     sr))
    folder = out_dir / "noise" / "cymbals"
    folder.mkdir(parents=True, exist_ok=True)
    write_wav(folder / f"{split}.wav", y, sr=sr)
    return {"file": f"noise/cymbals/{split}.wav", "seconds": round(n / sr, 3), "seed": seed,
            "gain_db": round(gain_db, 3), "kits": names, "segments": segments}
