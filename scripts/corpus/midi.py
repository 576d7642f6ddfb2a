"""MIDI: notes, writing them to a file with mido, rendering the file with fluidsynth.

The instruments and the effect noises are rendered this way from the FluidR3_GM sound font.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livesep.audio import load

from .common import CorpusError, FArray
from .packages import ensure_mido

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FLUIDSYNTH_GAIN = 0.6
MIDI_TAIL_S = 2.0  # rendered past the last note so releases and reverb are not cut off


@dataclass(frozen=True)
class Note:
    """A note in beats from the start of the piece."""

    start: float
    length: float
    pitch: int
    velocity: int


def _untangle(notes: Sequence[Note]) -> list[Note]:
    """Cut each note where the same pitch starts again, as a re-struck string or key does.

    Overlapping notes of one pitch on one channel are ambiguous in MIDI (which note-off
    ends which note-on); accompaniment and melody can meet on a pitch, and let-ring
    patterns repeat one.
    """
    ordered = sorted(notes, key=lambda n: (n.pitch, n.start, n.length))
    out: list[Note] = []
    for note, following in zip(ordered, [*ordered[1:], None]):
        if following is not None and following.pitch == note.pitch:
            if following.start <= note.start:
                continue  # two notes struck together: keep the later-sorted (longer) one
            if note.start + note.length > following.start - 0.02:
                note = Note(note.start, max(0.02, following.start - note.start - 0.02),
                            note.pitch, note.velocity)
        out.append(note)
    return sorted(out, key=lambda n: (n.start, n.pitch))


def write_midi(path: Path, notes: Sequence[Note], tempi: Sequence[tuple[float, float]], *,
               program: int, end_beat: float, controls: Sequence[tuple[float, int, int]] = (),
               ticks_per_beat: int = 480) -> None:
    """Write a one-track MIDI file with mido.

    Parameters
    ----------
    path : Path
        Destination ``.mid``.
    notes : sequence of Note
        Notes on channel 0 (not 9, the GM drum channel).
    tempi : sequence of (beat, bpm)
        Tempo changes; the first should be at beat 0.
    program : int
        General-MIDI program, 0-based.
    end_beat : float
        Where the file ends; a no-op controller event there keeps fluidsynth rendering.
    controls : sequence of (beat, controller, value)
        Controller changes (e.g. 11, expression).
    ticks_per_beat : int, keyword-only
        MIDI resolution.
    """
    mido = ensure_mido()
    events: list[tuple[int, int, int, Any]] = []  # (tick, order, pitch, message)

    def tick(beat: float) -> int:
        return max(0, round(beat * ticks_per_beat))

    for beat, bpm in tempi:
        events.append((tick(beat), 0, 0, mido.MetaMessage("set_tempo",
                                                          tempo=round(60e6 / bpm))))
    events.append((0, 1, 0, mido.Message("program_change", program=program, channel=0)))
    for beat, controller, value in controls:
        events.append((tick(beat), 2, controller,
                       mido.Message("control_change", control=controller, value=value)))
    for note in _untangle(notes):
        on, off = tick(note.start), max(tick(note.start) + 1, tick(note.start + note.length))
        # At equal ticks note-offs go first so a repeated pitch is re-struck, not cut.
        events.append((on, 4, note.pitch, mido.Message("note_on", note=note.pitch,
                                                       velocity=note.velocity, channel=0)))
        events.append((off, 3, note.pitch, mido.Message("note_off", note=note.pitch,
                                                        velocity=64, channel=0)))
    # Controller 110 is undefined in General MIDI: an event that only marks the end.
    events.append((tick(end_beat), 5, 0, mido.Message("control_change", control=110, value=0)))
    events.sort(key=lambda event: event[:3])
    track = mido.MidiTrack()
    now = 0
    for at, _, _, message in events:
        track.append(message.copy(time=at - now))
        now = at
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    midi.save(str(path))


def render_midi(midi_path: Path, *, sr: int, gain: float = FLUIDSYNTH_GAIN,
                soundfont: Path = SOUNDFONT) -> FArray:
    """Render a MIDI file with fluidsynth and return it as mono float32.

    Runs ``fluidsynth -ni -q -F out.wav -r SR -g GAIN FONT in.mid`` (with 32-bit float
    output, so nothing is dithered or quantised).

    Raises
    ------
    CorpusError
        If fluidsynth is missing or fails.
    """
    if shutil.which("fluidsynth") is None:
        raise CorpusError("fluidsynth is not on PATH")
    with tempfile.TemporaryDirectory(prefix="livesep-render-") as tmp:
        out = Path(tmp) / "out.wav"
        command = ["fluidsynth", "-ni", "-q", "-o", "audio.file.format=float", "-F", str(out),
                   "-r", str(sr), "-g", str(gain), str(soundfont), str(midi_path)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not out.exists():
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise CorpusError(f"fluidsynth failed on {midi_path.name}: "
                              f"{lines[-1] if lines else f'exit {result.returncode}'}")
        y, _ = load(out, sr=sr)
    return y
