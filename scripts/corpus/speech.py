"""Speech: the allowed klettres readers, their clips, the train/test split and its files.

Each reader's clips are trimmed of the silence around them, brought to one level and joined
with short gaps of silence into ``speech/<reader>/{train,test}.wav``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from livesep.audio import load

from .common import CorpusError, FArray, seed_for
from .signals import normalize, trim_silence, write_wav

#: The klettres readers DATA.md allows, with their voice. Every other reader is held out.
READERS: dict[str, str] = {
    "en": "male", "da": "male", "lt": "male",
    "en_GB": "female", "nl": "female", "uk": "female",
    "es": "mixed", "pt_BR": "mixed", "he": "mixed", "tn": "mixed", "ml": "mixed",
}
KLETTRES_ROOT = Path("/usr/share/klettres")
CLIP_FOLDERS = ("alpha", "syllab")
# Each clip is brought to this RMS before concatenation: recording levels differ by up to
# 50 dB between clips (some tn clips decode with peaks of 60 times full scale).
CLIP_RMS_DBFS = -20.0
GAP_RANGE_S = (0.05, 0.10)
TEST_EVERY = 4  # every 4th clip of the sorted list goes to test
MAX_CLIPS = 240  # caps ml (521 clips, about 20 min); every other reader has fewer


def reader_clips(reader: str, *, max_clips: int | None = MAX_CLIPS) -> list[str]:
    """The clips of an allowed klettres reader, as sorted paths relative to its folder.

    Parameters
    ----------
    reader : str
        A key of :data:`READERS`.
    max_clips : int or None, keyword-only
        Keep at most this many, spread evenly over the sorted list.

    Returns
    -------
    list of str
        E.g. ``["alpha/A.ogg", ..., "syllab/ba.ogg", ...]``.
    """
    if reader not in READERS:
        raise CorpusError(f"klettres reader {reader!r} is held out or unknown; allowed: "
                          f"{', '.join(READERS)}")
    folder = KLETTRES_ROOT / reader
    clips = sorted(str(path.relative_to(folder)) for sub in CLIP_FOLDERS
                   for path in (folder / sub).glob("*.ogg"))
    if not clips:
        raise CorpusError(f"no klettres clips in {folder}/{{{','.join(CLIP_FOLDERS)}}}")
    if max_clips is not None and len(clips) > max_clips:
        keep = np.unique(np.round(np.linspace(0, len(clips) - 1, max_clips)).astype(int))
        clips = [clips[i] for i in keep]
    return clips


def split_clips(clips: Sequence[str], *, test_every: int = TEST_EVERY) -> tuple[list[str],
                                                                               list[str]]:
    """Split a sorted clip list: every ``test_every``-th clip to test, the rest to train.

    Returns
    -------
    train, test : list of str
        Disjoint, together the input.
    """
    train = [clip for i, clip in enumerate(clips) if i % test_every != test_every - 1]
    test = [clip for i, clip in enumerate(clips) if i % test_every == test_every - 1]
    return train, test


def _concatenate_clips(reader: str, clips: Sequence[str], *, sr: int,
                       seed: int) -> tuple[FArray, list[dict[str, Any]]]:
    folder = KLETTRES_ROOT / reader
    rng = np.random.default_rng(seed)
    pieces: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    position = 0
    for clip in clips:
        y, _ = load(folder / clip, sr=sr)
        # Some recordings carry a DC offset that would read as "not silent".
        y = y - np.float32(np.mean(y, dtype=np.float64))
        start, end = trim_silence(y, sr)
        if end <= start:
            continue
        if pieces:
            gap = round(rng.uniform(*GAP_RANGE_S) * sr)
            pieces.append(np.zeros(gap, dtype=np.float32))
            position += gap
        piece, gain_db = normalize(y[start:end], rms_dbfs=CLIP_RMS_DBFS, peak_dbfs=math.inf)
        pieces.append(piece)
        records.append({"clip": clip, "source_s": round(len(y) / sr, 4),
                        "trim_s": [round(start / sr, 4), round(end / sr, 4)],
                        "gain_db": round(gain_db, 2), "offset": position,
                        "samples": end - start})
        position += end - start
    if not pieces:
        raise CorpusError(f"klettres reader {reader}: every clip is silent")
    return np.concatenate(pieces), records


def _speech_task(out_dir: Path, sr: int, reader: str,
                 max_clips: int | None) -> dict[str, Any]:
    clips = reader_clips(reader, max_clips=max_clips)
    train, test = split_clips(clips)
    folder = out_dir / "speech" / reader
    folder.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {"voice": READERS[reader], "source": str(KLETTRES_ROOT / reader),
                             "clips_available": len(reader_clips(reader, max_clips=None)),
                             "clips_used": len(clips)}
    for split, names in (("train", train), ("test", test)):
        seed = seed_for("speech", reader, split)
        y, records = _concatenate_clips(reader, names, sr=sr, seed=seed)
        y, gain_db = normalize(y)
        write_wav(folder / f"{split}.wav", y, sr=sr)
        entry[split] = {"file": f"speech/{reader}/{split}.wav", "seconds": round(len(y) / sr, 3),
                        "seed": seed, "gain_db": round(gain_db, 3),
                        "speech_s": round(sum(r["samples"] for r in records) / sr, 3),
                        "clips": records}
    return entry
