"""Drums: grooves played on the hydrogen kits, ``drums/{train,test}.wav``.

Segments of a few bars, each with its own kit, groove style, tempo and fills; the test
grooves are played on kits never heard in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import seed_for
from .drumkits import DrumVoice, Hit, _kit_split, _render_hits, drum_kits
from .signals import _fade_out, normalize, write_wav

#: Lengths of the train and test files, in seconds.
DRUM_SECONDS = (120.0, 40.0)

#: Groove styles: (grid steps per beat, tempo range in bpm).
GROOVES: dict[str, tuple[int, tuple[int, int]]] = {
    "rock": (4, (84, 140)), "pop16": (4, (80, 120)), "halftime": (4, (120, 160)),
    "funk": (4, (84, 112)), "disco": (4, (110, 128)), "shuffle": (3, (72, 120)),
}


def _groove_bar(rng: np.random.Generator, style: str, kit: dict[str, list[DrumVoice]],
                fill: bool) -> list[tuple[float, str, float]]:
    """One bar of a groove as (beat, category, velocity); a fill replaces its end."""
    per_beat = GROOVES[style][0]
    steps = 4 * per_beat
    hits: list[tuple[float, str, float]] = []
    hat = "hh_closed" if "hh_closed" in kit else "ride"
    if style == "shuffle" and "ride" in kit and rng.random() < 0.5:
        hat = "ride"

    def add(step: int, category: str, velocity: float) -> None:
        hits.append((step / per_beat, category, float(np.clip(velocity, 0.15, 1.0))))

    if style == "shuffle":  # triplet grid: beats on 0, 3, 6, 9; the swung eighth on 2
        for step in range(steps):
            if step % 3 in (0, 2):
                add(step, hat, (0.8 if step % 3 == 0 else 0.55) + rng.normal(0, 0.05))
        add(0, "kick", 0.9)
        add(6, "kick", 0.8)
        if rng.random() < 0.4:
            add(8, "kick", 0.6)
        add(3, "snare", 0.85)
        add(9, "snare", 0.9)
        if "hh_pedal" in kit and hat == "ride":
            add(3, "hh_pedal", 0.6)
            add(9, "hh_pedal", 0.6)
    else:
        hat_every = 1 if style in ("pop16", "funk") else 2
        for step in range(0, steps, hat_every):
            accent = 0.85 if step % 4 == 0 else (0.7 if step % 2 == 0 else 0.5)
            category = hat
            if style == "disco" and step % 4 == 2 and "hh_open" in kit:
                category = "hh_open"
            elif style == "disco" and step % 4 == 0:
                continue  # disco hats sit on the off-beats
            if style == "funk" and step == 14 and "hh_open" in kit and rng.random() < 0.7:
                category = "hh_open"
            add(step, category, accent + rng.normal(0, 0.06))
        if style == "disco":
            for step in (0, 4, 8, 12):
                add(step, "kick", 0.9 + rng.normal(0, 0.03))
            add(4, "snare", 0.85)
            add(12, "snare", 0.9)
        elif style == "halftime":
            add(0, "kick", 0.95)
            add(int(rng.choice([6, 10, 11])), "kick", 0.75)
            add(8, "snare", 0.95)
        else:
            add(0, "kick", 0.95)
            add(8, "kick", 0.85)
            for step in rng.choice([3, 6, 7, 10, 11, 14], size=int(rng.integers(0, 3)),
                                   replace=False):
                add(int(step), "kick", 0.7 + rng.normal(0, 0.08))
            add(4, "snare", 0.9)
            add(12, "snare", 0.92)
            if style == "funk":  # ghost notes
                for step in rng.choice([2, 5, 7, 9, 11, 15], size=3, replace=False):
                    add(int(step), "snare", 0.3 + rng.normal(0, 0.05))
    if fill:
        toms = [c for c in ("tom_high", "tom_mid", "tom_low") if c in kit] or ["snare"]
        start = steps - (2 * per_beat if rng.random() < 0.4 else per_beat)
        hits = [h for h in hits if h[0] * per_beat < start or h[1] == "kick"]
        for k, step in enumerate(range(start, steps)):
            category = toms[min(len(toms) - 1, k * len(toms) // (steps - start))]
            add(step, category if rng.random() < 0.8 else "snare", 0.65 + 0.3 * k / (steps - start))
    return hits


def _groove(rng: np.random.Generator, kits: dict[str, dict[str, list[DrumVoice]]],
            order: Sequence[str], seconds: float) -> tuple[list[Hit], list[dict[str, Any]]]:
    """Segments of 4 or 8 bars, each with its own kit, groove, tempo and voices."""
    hits: list[Hit] = []
    segments: list[dict[str, Any]] = []
    now, index = 0.0, 0
    while now < seconds:
        name = order[index % len(order)]
        index += 1
        kit = kits[name]
        style = str(rng.choice(list(GROOVES)))
        per_beat, (slow, fast) = GROOVES[style]
        tempo = int(rng.integers(slow, fast + 1))
        bars = int(rng.choice([4, 8]))
        choice = {cat: voices[int(rng.integers(len(voices)))] for cat, voices in kit.items()}
        beat_s = 60.0 / tempo
        segments.append({"start_s": round(now, 3), "kit": name, "style": style,
                         "tempo": tempo, "bars": bars,
                         "voices": {cat: v.name for cat, v in sorted(choice.items())}})
        for bar in range(bars):
            fill = bar == bars - 1 and rng.random() < 0.7
            if bar == 0 and "crash" in kit and rng.random() < 0.6:
                hits.append(Hit(now, choice["crash"], 0.85))
            for beat, category, velocity in _groove_bar(rng, style, kit, fill):
                # Small timing drift, as a drummer plays.
                time_s = max(0.0, now + (bar * 4 + beat) * beat_s + rng.normal(0, 0.004))
                hits.append(Hit(time_s, choice[category], velocity))
        now += bars * 4 * beat_s
    return hits, segments


def _drums_task(out_dir: Path, sr: int, split: str, seconds: float) -> dict[str, Any]:
    kits = drum_kits()
    train_kits, test_kits = _kit_split(kits)
    names = train_kits if split == "train" else test_kits
    seed = seed_for("drums", split)
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    hits, segments = _groove(rng, {name: kits[name] for name in names}, order, seconds)
    n = round(seconds * sr)
    y, gain_db = normalize(_fade_out(_render_hits(hits, n, sr, choke=True).astype(np.float32),
                                     sr))
    folder = out_dir / "drums"
    folder.mkdir(parents=True, exist_ok=True)
    write_wav(folder / f"{split}.wav", y, sr=sr)
    return {"file": f"drums/{split}.wav", "seconds": round(n / sr, 3), "seed": seed,
            "gain_db": round(gain_db, 3), "kits": names, "hits": len(hits),
            "segments": segments}
