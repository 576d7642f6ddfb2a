"""Instruments: composed music, written as MIDI, rendered and cut to length.

``instruments/<name>/{train,test}.{wav,mid}``; train and test are composed from different
seeds. The composition counts in beats at changing tempi, the files in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import CorpusError, seed_for
from .midi import MIDI_TAIL_S, render_midi, write_midi
from .music import INSTRUMENTS, Section, compose
from .signals import _fade_out, normalize, write_wav

#: Lengths of the train and test files, in seconds.
INSTRUMENT_SECONDS = (60.0, 20.0)


def _tempo_map(sections: Sequence[Section]) -> list[tuple[float, float]]:
    return [(section.start_beat, float(section.tempo)) for section in sections]


def _seconds_to_beat(sections: Sequence[Section], seconds: float) -> float:
    elapsed = 0.0
    for section in sections:
        length = section.bars * 4 * 60.0 / section.tempo
        if seconds <= elapsed + length:
            return section.start_beat + (seconds - elapsed) * section.tempo / 60.0
        elapsed += length
    last = sections[-1]
    return last.start_beat + last.bars * 4 + (seconds - elapsed) * last.tempo / 60.0


def _instrument_task(out_dir: Path, sr: int, name: str, split: str,
                     seconds: float) -> dict[str, Any]:
    spec = INSTRUMENTS[name]
    seed = seed_for("instruments", name, split)
    notes, sections = compose(spec, seconds, seed)
    folder = out_dir / "instruments" / name
    folder.mkdir(parents=True, exist_ok=True)
    midi = folder / f"{split}.mid"
    end_beat = _seconds_to_beat(sections, seconds + MIDI_TAIL_S)
    write_midi(midi, notes, _tempo_map(sections), program=spec.program, end_beat=end_beat)
    y = render_midi(midi, sr=sr)
    n = round(seconds * sr)
    if len(y) < n:
        raise CorpusError(f"fluidsynth rendered only {len(y) / sr:.1f} s of {midi}")
    y, gain_db = normalize(_fade_out(y[:n], sr))
    write_wav(folder / f"{split}.wav", y, sr=sr)
    return {"file": f"instruments/{name}/{split}.wav", "midi": f"instruments/{name}/{split}.mid",
            "program": spec.program, "register": [spec.low, spec.high],
            "seconds": round(n / sr, 3), "seed": seed, "gain_db": round(gain_db, 3),
            "notes": sum(1 for note in notes if _beat_seconds(sections, note.start) < seconds),
            "sections": [s.describe() for s in sections]}


def _beat_seconds(sections: Sequence[Section], beat: float) -> float:
    elapsed = 0.0
    for section in sections:
        if beat < section.start_beat + section.bars * 4:
            return elapsed + (beat - section.start_beat) * 60.0 / section.tempo
        elapsed += section.bars * 4 * 60.0 / section.tempo
    return elapsed
