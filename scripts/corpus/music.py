"""Composing: the instruments, and idiomatic music for each in sections of varying key and tempo.

A melody instrument plays phrased melodies, the bass a bass line in one of several styles,
the piano a melody over a left-hand accompaniment, and the guitar finger-picked patterns,
strummed chords or chords under a melody.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import CorpusError
from .midi import Note


@dataclass(frozen=True)
class InstrumentSpec:
    """A General-MIDI instrument and the register it plays in (MIDI note numbers, sounding)."""

    name: str
    program: int
    role: str  # "melody", "bass", "piano" or "guitar"
    low: int
    high: int
    tempo: tuple[int, int]


#: Registers keep to each instrument's comfortable range, not its extremes.
INSTRUMENTS: dict[str, InstrumentSpec] = {spec.name: spec for spec in (
    InstrumentSpec("piano", 0, "piano", 36, 88, (72, 132)),
    InstrumentSpec("alto_sax", 65, "melody", 52, 77, (80, 150)),
    InstrumentSpec("trumpet", 56, "melody", 57, 82, (84, 150)),
    InstrumentSpec("finger_bass", 33, "bass", 28, 52, (76, 128)),
    InstrumentSpec("nylon_guitar", 24, "guitar", 40, 76, (66, 116)),
    InstrumentSpec("flute", 73, "melody", 62, 93, (72, 140)),
)}

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10), "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
#: Chord progressions as 0-based scale degrees, one chord per bar.
PROGRESSIONS: tuple[tuple[int, ...], ...] = (
    (0, 5, 3, 4), (0, 3, 4, 0), (1, 4, 0, 0), (0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 0, 4),
    (0, 6, 5, 4), (0, 2, 3, 4),
)
#: One-bar rhythms in beats; negative values are rests.
RHYTHMS: tuple[tuple[float, ...], ...] = (
    (1, 1, 1, 1), (2, 1, 1), (1.5, 0.5, 2), (0.5, 0.5, 1, 2), (1, 0.5, 0.5, 1, 1), (3, 1),
    (0.5, 0.5, 0.5, 0.5, 1, 1), (0.75, 0.25, 1, 2), (1, 1, 2), (-1, 1, 1, 1),
    (0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1), (1.5, 1.5, 1), (-0.5, 0.5, 1, 0.5, 0.5, 1),
)
#: Phrase endings: a long note and a breath.
CADENCES: tuple[tuple[float, ...], ...] = ((2, 1, -1), (3, -1), (1, 1, 2), (2, -2),
                                          (1.5, 0.5, 1, -1))
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass
class Section:
    """A stretch of music in one key, tempo, progression and playing style."""

    start_beat: float
    bars: int
    tempo: int
    tonic: int
    mode: str
    progression: tuple[int, ...]
    style: str

    def chord(self, bar: int) -> tuple[int, ...]:
        """Pitch classes of the bar's chord (a diatonic triad, root first)."""
        degree = self.progression[bar % len(self.progression)]
        steps = MODES[self.mode]
        return tuple((self.tonic + steps[(degree + k) % 7]) % 12 for k in (0, 2, 4))

    def scale(self, low: int, high: int) -> list[int]:
        """The section's scale notes between ``low`` and ``high``."""
        steps = MODES[self.mode]
        return [p for p in range(low, high + 1) if (p - self.tonic) % 12 in steps]

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary for the manifest."""
        return {"start_beat": self.start_beat, "bars": self.bars, "tempo": self.tempo,
                "key": f"{NOTE_NAMES[self.tonic]} {self.mode}", "style": self.style,
                "progression": list(self.progression)}


def _velocity(rng: np.random.Generator, base: float, *, accent: float = 0.0) -> int:
    return int(np.clip(round(base + accent + rng.normal(0.0, 5.0)), 30, 120))


def _nearest_pitch(pc: int, target: float, low: int, high: int) -> int:
    candidates = [p for p in range(low, high + 1) if p % 12 == pc]
    if not candidates:
        raise CorpusError(f"register {low}-{high} holds no pitch class {pc}")
    return min(candidates, key=lambda p: (abs(p - target), p))


def _melody(rng: np.random.Generator, section: Section, low: int, high: int,
            previous: int, *, busy: float = 1.0) -> tuple[list[Note], int]:
    """A melody in two-bar phrases: a scale walk that lands on chord tones on strong beats."""
    scale = section.scale(low, high)
    index = min(range(len(scale)), key=lambda i: abs(scale[i] - previous))
    notes: list[Note] = []
    steps = np.array([-4, -3, -2, -1, 0, 1, 2, 3, 4])
    weights = np.array([0.03, 0.06, 0.15, 0.25, 0.04, 0.25, 0.15, 0.05, 0.02])
    weights /= weights.sum()
    last_step = 0
    base, legato = 80.0, 0.9
    for bar in range(section.bars):
        if bar % 2 == 0:  # a new phrase: its own loudness and articulation
            base = rng.uniform(62, 96)
            legato = 0.6 if rng.random() < 0.2 else rng.uniform(0.85, 0.97)
        end_of_phrase = bar % 2 == 1
        pool = CADENCES if end_of_phrase else RHYTHMS
        # Busy sections favour the cells with more notes.
        counts = np.array([len(cell) for cell in pool], dtype=float) ** busy
        cell = pool[rng.choice(len(pool), p=counts / counts.sum())]
        chord = section.chord(bar)
        beat = 0.0
        for length in cell:
            if length > 0:
                if abs(last_step) >= 3:  # recover from a leap by step the other way
                    step = -int(np.sign(last_step))
                else:
                    step = int(rng.choice(steps, p=weights))
                # Lean back toward the middle of the register.
                if index + step < len(scale) * 0.15 or index + step > len(scale) * 0.85:
                    step = -step if step else (1 if index < len(scale) / 2 else -1)
                index = int(np.clip(index + step, 0, len(scale) - 1))
                if beat in (0.0, 2.0) or (end_of_phrase and length >= 2):
                    tones = [i for i, p in enumerate(scale) if p % 12 in chord]
                    index = min(tones, key=lambda i: (abs(i - index), i))
                last_step = step
                contour = 10.0 * math.sin(math.pi * ((bar % 2) * 4 + beat) / 8.0)
                accent = 8.0 if beat == 0.0 else (4.0 if beat == 2.0 else 0.0)
                start = section.start_beat + bar * 4 + beat
                notes.append(Note(start, length * legato, scale[index],
                                  _velocity(rng, base + contour, accent=accent)))
            beat += abs(length)
    return notes, scale[index]


def _voicing(chord: Sequence[int], previous: Sequence[int] | None, low: int,
             high: int) -> list[int]:
    """A close-position voicing of ``chord`` in ``[low, high]``, moving little from the last."""
    options: list[list[int]] = []
    for rotation in range(len(chord)):
        pcs = list(chord[rotation:]) + list(chord[:rotation])
        for bottom in range(low, high - 11):
            if bottom % 12 != pcs[0]:
                continue
            voice = [bottom]
            for pc in pcs[1:]:
                voice.append(voice[-1] + (pc - voice[-1]) % 12)
            if voice[-1] <= high:
                options.append(voice)
    if not options:
        raise CorpusError(f"no voicing of {chord} between {low} and {high}")
    centre = (low + high) / 2.0
    if previous is None:
        return min(options, key=lambda v: (abs(sum(v) / len(v) - centre), v))
    return min(options, key=lambda v: (sum(abs(a - b) for a, b in zip(v, previous)), v))


def _bass(rng: np.random.Generator, section: Section, low: int, high: int,
          previous: int) -> tuple[list[Note], int]:
    """A bass line: roots on the downbeat, fifths, octaves and approach notes."""
    notes: list[Note] = []
    scale = section.scale(low, high)
    base = rng.uniform(78, 98)
    legato = 0.6 if section.style == "funk" else rng.uniform(0.82, 0.95)
    for bar in range(section.bars):
        chord = section.chord(bar)
        following = section.chord(bar + 1)[0]
        root = _nearest_pitch(chord[0], previous, low, min(high, low + 19))
        fifth = root + 7 if root + 7 <= high else root - 5
        octave = root + 12 if root + 12 <= high else root
        third = _nearest_pitch(chord[1], root + 4, low, high)
        next_root = _nearest_pitch(following, root, low, min(high, low + 19))
        approach = next_root - 1 if next_root - 1 >= low else next_root + 1
        if section.style == "pop":
            pattern = [(0, 1.5, root), (1.5, 0.5, root), (2, 1, fifth),
                       (3, 1, octave if rng.random() < 0.5 else root)]
        elif section.style == "halves":
            pattern = [(0, 2, root), (2, 1.5, fifth), (3.5, 0.5, approach)]
        elif section.style == "walking":
            passing = min(scale, key=lambda p: (abs(p - (fifth + next_root) / 2), p))
            pattern = [(0, 1, root), (1, 1, third), (2, 1, passing), (3, 1, approach)]
        elif section.style == "eighths":
            pattern = [(k * 0.5, 0.5, root) for k in range(6)] + [(3, 0.5, octave),
                                                                  (3.5, 0.5, fifth)]
        else:  # funk
            seventh = _nearest_pitch((chord[0] + 10) % 12, root + 10, low, high)
            pattern = [(0, 0.75, root), (0.75, 0.25, root), (1.5, 0.5, octave),
                       (2.5, 0.5, fifth), (3, 0.5, root), (3.5, 0.5, seventh)]
        for beat, length, pitch in pattern:
            accent = 10.0 if beat == 0 else (4.0 if beat == 2 else 0.0)
            notes.append(Note(section.start_beat + bar * 4 + beat, length * legato, pitch,
                              _velocity(rng, base, accent=accent)))
        previous = root
    return notes, previous


def _piano(rng: np.random.Generator, section: Section, spec: InstrumentSpec,
           previous: int) -> tuple[list[Note], int]:
    """Left-hand accompaniment (block, Alberti, arpeggio or bass-and-chord) and a melody."""
    melody, previous = _melody(rng, section, 64, spec.high, previous, busy=0.7)
    notes = list(melody)
    base = rng.uniform(50, 70)
    voicing: list[int] | None = None
    for bar in range(section.bars):
        chord = section.chord(bar)
        voicing = _voicing(chord, voicing, 48, 67)
        bass = _nearest_pitch(chord[0], 40, spec.low, 47)
        start = section.start_beat + bar * 4
        if section.style == "block":
            for beat in (0, 2):
                notes += [Note(start + beat, 1.9, p, _velocity(rng, base, accent=4 - 2 * beat))
                          for p in voicing]
        elif section.style == "alberti":
            order = (0, 2, 1, 2, 0, 2, 1, 2)
            notes += [Note(start + 0.5 * k, 0.48, voicing[i], _velocity(rng, base - 4))
                      for k, i in enumerate(order)]
        elif section.style == "arpeggio":
            line = [bass, *voicing, voicing[0] + 12, *voicing[::-1][:2]]
            # The bass rings through the bar (as with the pedal down), the rest for a beat.
            notes += [Note(start + 0.5 * k, 4.0 if k == 0 else 0.95, p, _velocity(rng, base))
                      for k, p in enumerate(line)]
        else:  # bass and chord
            notes += [Note(start, 0.95, bass, _velocity(rng, base + 6)),
                      Note(start + 2, 0.95, bass + 7 if bass + 7 < 48 else bass,
                           _velocity(rng, base + 2))]
            notes += [Note(start + beat, 0.8, p, _velocity(rng, base - 6))
                      for beat in (1, 3) for p in voicing]
    return notes, previous


def _guitar(rng: np.random.Generator, section: Section, spec: InstrumentSpec,
            previous: int) -> tuple[list[Note], int]:
    """Finger-picked patterns, strummed chords, or chords under a melody (chord-melody)."""
    notes: list[Note] = []
    base = rng.uniform(60, 85)
    voicing: list[int] | None = None
    for bar in range(section.bars):
        chord = section.chord(bar)
        voicing = _voicing(chord, voicing, 52, 69)
        bass = _nearest_pitch(chord[0], 45, spec.low, 52)
        start = section.start_beat + bar * 4
        if section.style == "fingerpick":
            thumb = [(0, bass), (2, bass + 7 if bass + 7 <= 55 else bass)]
            fingers = [(0.5, voicing[0]), (1, voicing[1]), (1.5, voicing[2]),
                       (2.5, voicing[1]), (3, voicing[2]), (3.5, voicing[1])]
            notes += [Note(start + b, 4 - b, p, _velocity(rng, base + 6)) for b, p in thumb]
            notes += [Note(start + b, 4 - b, p, _velocity(rng, base - 6)) for b, p in fingers]
        elif section.style == "strum":
            strings = [bass, *voicing, voicing[0] + 12]
            for beat, down in ((0, True), (1, True), (1.5, False), (2.5, False), (3, True)):
                order = strings if down else strings[::-1][:4]
                level = base + (6 if down else -8)
                # A strum sweeps the strings about 15 ms apart.
                notes += [Note(start + beat + 0.03 * k, 0.9 - 0.03 * k, p,
                               _velocity(rng, level)) for k, p in enumerate(order)]
        else:  # chord-melody: a held chord per bar, the melody added below
            notes += [Note(start + 0.02 * k, 3.8, p, _velocity(rng, base - 4))
                      for k, p in enumerate([bass, *voicing[:2]])]
    if section.style == "chord-melody":
        melody, previous = _melody(rng, section, 64, spec.high, previous, busy=0.5)
        notes += melody
    return notes, previous


_STYLES: dict[str, tuple[str, ...]] = {
    "melody": ("plain",),
    "bass": ("pop", "halves", "walking", "eighths", "funk"),
    "piano": ("block", "alberti", "arpeggio", "bass-and-chord"),
    "guitar": ("fingerpick", "strum", "chord-melody"),
}


def compose(spec: InstrumentSpec, seconds: float, seed: int) -> tuple[list[Note],
                                                                      list[Section]]:
    """Write idiomatic music for an instrument, in 8-bar sections of varying key and tempo.

    Parameters
    ----------
    spec : InstrumentSpec
        The instrument (its role decides melody, bass line, piano or guitar writing).
    seconds : float
        Compose at least this much.
    seed : int
        Seed of the random generator.

    Returns
    -------
    notes : list of Note
        All notes, in beats.
    sections : list of Section
        The sections, each with its tempo; their beats follow each other.
    """
    rng = np.random.default_rng(seed)
    sections: list[Section] = []
    notes: list[Note] = []
    beat, elapsed = 0.0, 0.0
    previous = (spec.low + spec.high) // 2
    while elapsed < seconds:
        modes = ("major", "minor", "dorian", "mixolydian")
        section = Section(
            start_beat=beat, bars=8, tempo=int(rng.integers(spec.tempo[0], spec.tempo[1] + 1)),
            tonic=int(rng.integers(12)), mode=str(modes[rng.choice(4, p=[0.4, 0.35, 0.15, 0.1])]),
            progression=PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))],
            style=str(rng.choice(_STYLES[spec.role])))
        if spec.role == "melody":
            part, previous = _melody(rng, section, spec.low, spec.high, previous)
        elif spec.role == "bass":
            part, previous = _bass(rng, section, spec.low, spec.high, previous)
        elif spec.role == "piano":
            part, previous = _piano(rng, section, spec, previous)
        else:
            part, previous = _guitar(rng, section, spec, previous)
        notes += part
        sections.append(section)
        beat += section.bars * 4
        elapsed += section.bars * 4 * 60.0 / section.tempo
    return notes, sections
