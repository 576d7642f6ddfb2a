#!/usr/bin/env python3
"""Build livesep's training and test corpus, deterministically, from Debian-packaged audio.

Only the sources that ``/work/shared/DATA.md`` lists as ours are used: the klettres readers
named in :data:`READERS`, General-MIDI instruments and effect programs of FluidR3_GM rendered
by fluidsynth from MIDI written here, and the hydrogen drum kits. Everything random comes
from seeded numpy generators, so two builds give byte-identical files.

Usage::

    python scripts/build_corpus.py --out corpus [--sr 16000]
        [--only speech,instruments,drums,noise,mixtures] [--jobs N] [--quiet]

Output layout (``DIR`` is ``--out``)::

    DIR/speech/<reader>/{train,test}.wav          trimmed klettres clips, split by clip
    DIR/instruments/<name>/{train,test}.{wav,mid}  fluidsynth renderings and their MIDI
    DIR/drums/{train,test}.wav                    hydrogen one-shots; test kits unseen in train
    DIR/noise/<name>/{train,test}.wav             FluidR3 effects, hydrogen cymbals and hats
    DIR/mixtures/<pair>/mix.wav + <source>.wav    test material only; mix == sum of references
    DIR/manifest.json                             sources, settings, seeds, clip lists, lengths

Missing Debian packages are installed with apt-get (through sudo when not root) and a
missing ``mido`` with pip into this interpreter.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import math
import multiprocessing
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep.audio import load
from livesep.errors import LivesepError

__all__ = [
    "CorpusError", "READERS", "INSTRUMENTS", "NOISE_PROGRAMS", "NOISES", "TEST_KITS", "PARTS",
    "main", "build", "build_speech", "build_instruments", "build_drums", "build_noise",
    "build_mixtures", "default_mixtures", "MixtureSpec", "mix_at_snr", "trim_silence",
    "normalize", "split_clips", "reader_clips", "read_drumkit", "drum_kits", "compose",
    "write_midi", "render_midi", "write_wav", "ensure_packages", "ensure_mido", "seed_for",
]

FArray = npt.NDArray[np.float32]

# ---------------------------------------------------------------------------------------------
# What we may use (DATA.md) and the fixed settings of the build
# ---------------------------------------------------------------------------------------------

#: The klettres readers DATA.md allows, with their voice. Every other reader is held out.
READERS: dict[str, str] = {
    "en": "male", "da": "male", "lt": "male",
    "en_GB": "female", "nl": "female", "uk": "female",
    "es": "mixed", "pt_BR": "mixed", "he": "mixed", "tn": "mixed", "ml": "mixed",
}
KLETTRES_ROOT = Path("/usr/share/klettres")
CLIP_FOLDERS = ("alpha", "syllab")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DRUMKIT_ROOT = Path("/usr/share/hydrogen/data/drumkits")
#: Drum kits kept for testing only: an acoustic multi-layer kit and a sampled breakbeat kit.
#: All Millo kits stay on the training side because they may share recordings.
TEST_KITS = ("The Black Pearl 1.0", "VariBreaks")

PARTS = ("speech", "instruments", "drums", "noise", "mixtures")
PACKAGES: dict[str, tuple[str, ...]] = {
    "speech": ("klettres-data",),
    "instruments": ("fluidsynth", "fluid-soundfont-gm"),
    "drums": ("hydrogen-drumkits",),
    "noise": ("fluidsynth", "fluid-soundfont-gm", "hydrogen-drumkits"),
    "mixtures": (),
}

BASE_SEED = 20240917
TARGET_RMS_DBFS = -20.0
PEAK_LIMIT_DBFS = -1.0
# Silence trimming (see trim_silence): several readers were recorded with a noise floor only
# 20-40 dB below the voice, so the -40 dB threshold adapts to the floor.
TRIM_THRESHOLD_DB = -40.0
TRIM_FLOOR_MARGIN_DB = 12.0
TRIM_CEILING_DB = -15.0
TRIM_MAX_GAP_S = 0.5
TRIM_FRAME_S = 0.010
TRIM_MARGIN_S = 0.005
# Each clip is brought to this RMS before concatenation: recording levels differ by up to
# 50 dB between clips (some tn clips decode with peaks of 60 times full scale).
CLIP_RMS_DBFS = -20.0
GAP_RANGE_S = (0.05, 0.10)
TEST_EVERY = 4  # every 4th clip of the sorted list goes to test
MAX_CLIPS = 240  # caps ml (521 clips, about 20 min); every other reader has fewer
FLUIDSYNTH_GAIN = 0.6
MIDI_TAIL_S = 2.0  # rendered past the last note so releases and reverb are not cut off
FADE_S = 0.010

INSTRUMENT_SECONDS = (60.0, 20.0)
DRUM_SECONDS = (120.0, 40.0)
NOISE_SECONDS = (60.0, 20.0)
MIXTURE_MAX_S = 20.0


class CorpusError(Exception):
    """Something the build cannot do; reported as one line without a traceback."""


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


def seed_for(*parts: object) -> int:
    """A stable seed for a named piece of material (Python's ``hash`` is salted per run).

    Parameters
    ----------
    *parts : object
        Names that identify the material, e.g. ``("instruments", "piano", "train")``.

    Returns
    -------
    int
        A 32-bit seed derived from :data:`BASE_SEED` and the names.
    """
    text = "/".join(str(part) for part in (BASE_SEED, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


# ---------------------------------------------------------------------------------------------
# Installing what is missing
# ---------------------------------------------------------------------------------------------

def _package_installed(package: str) -> bool:
    result = subprocess.run(["dpkg", "-s", package], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "Status: install ok installed" in result.stdout


def _package_version(package: str) -> str:
    if shutil.which("dpkg-query") is None:
        return "unknown"
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                            text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def ensure_packages(packages: Iterable[str], *, quiet: bool = False) -> None:
    """Install the Debian packages that are missing, with apt-get.

    Parameters
    ----------
    packages : iterable of str
        Debian package names.
    quiet : bool, keyword-only
        Hide apt-get's output.

    Raises
    ------
    CorpusError
        If packages are missing and cannot be installed (no apt-get, no root and no sudo, or
        apt-get failing even after ``apt-get update``).
    """
    wanted = sorted(set(packages))
    if not wanted:
        return
    if shutil.which("dpkg") is None:
        raise CorpusError(f"cannot check for the Debian packages {' '.join(wanted)}: dpkg is "
                          "missing (this script needs Debian or Ubuntu)")
    missing = [package for package in wanted if not _package_installed(package)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise CorpusError(f"missing Debian packages {' '.join(missing)} and no apt-get to "
                          "install them")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise CorpusError(f"missing Debian packages {' '.join(missing)}; not root and no "
                              f"sudo: run apt-get install {' '.join(missing)} as root")
        prefix = ["sudo"]
    # sudo drops most of the environment, so the non-interactive frontend goes through env.
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    install = [*apt, "install", "-y", "--no-install-recommends", *missing]
    if not quiet:
        print(f"installing Debian packages: {' '.join(missing)}", file=sys.stderr, flush=True)
    output = subprocess.DEVNULL if quiet else None
    if subprocess.run(install, stdout=output, check=False).returncode != 0:
        # A fresh machine often has no package lists yet.
        subprocess.run([*apt, "update"], stdout=output, check=False)
        if subprocess.run(install, stdout=output, check=False).returncode != 0:
            raise CorpusError(f"apt-get could not install {' '.join(missing)}")
    still = [package for package in missing if not _package_installed(package)]
    if still:
        raise CorpusError(f"the Debian packages {' '.join(still)} are still not installed")


def ensure_mido(*, quiet: bool = False) -> Any:
    """Import ``mido``, installing it with pip into this interpreter when it is missing.

    Returns
    -------
    module
        The ``mido`` module.

    Raises
    ------
    CorpusError
        If pip cannot install it.
    """
    import importlib

    try:
        return importlib.import_module("mido")
    except ImportError:
        pass
    if not quiet:
        print("installing mido with pip", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "mido>=1.3"]
    if subprocess.run(command, capture_output=quiet, check=False).returncode != 0:
        raise CorpusError(f"pip could not install mido into {sys.executable}")
    importlib.invalidate_caches()
    try:
        return importlib.import_module("mido")
    except ImportError as error:
        raise CorpusError(f"mido was installed but cannot be imported ({error})") from None


def _require_file(path: Path, package: str) -> None:
    if not path.exists():
        raise CorpusError(f"{path} is missing although {package} is installed")


# ---------------------------------------------------------------------------------------------
# Signal helpers
# ---------------------------------------------------------------------------------------------

def _db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def _rms(y: npt.ArrayLike) -> float:
    data = np.asarray(y, dtype=np.float64)
    return float(np.sqrt(np.mean(data * data))) if data.size else 0.0


def normalize(y: npt.ArrayLike, *, rms_dbfs: float = TARGET_RMS_DBFS,
              peak_dbfs: float = PEAK_LIMIT_DBFS) -> tuple[FArray, float]:
    """Scale a signal to an RMS level, lowered if needed so that its peak stays below a limit.

    Parameters
    ----------
    y : array-like, shape (n,)
        The signal.
    rms_dbfs : float, keyword-only
        Target RMS level of the whole signal in dB full scale.
    peak_dbfs : float, keyword-only
        The peak is never allowed above this (drums have a large crest factor).

    Returns
    -------
    y : np.ndarray, float32
        The scaled signal.
    gain_db : float
        The gain applied.
    """
    data = np.asarray(y, dtype=np.float64)
    level = _rms(data)
    if level == 0.0:
        raise CorpusError("cannot normalise a silent signal")
    gain = 10.0 ** (rms_dbfs / 20.0) / level
    peak = float(np.max(np.abs(data))) * gain
    limit = 10.0 ** (peak_dbfs / 20.0)
    if peak > limit:
        gain *= limit / peak
    return (data * gain).astype(np.float32), _db(gain)


def write_wav(path: str | os.PathLike[str], y: npt.ArrayLike, *, sr: int) -> Path:
    """Write a mono 32-bit float WAV file, byte for byte the same for the same samples.

    libsndfile (and so :func:`livesep.audio.write`) adds a PEAK chunk holding the time of
    writing to float WAV files, which would make two identical builds differ; this writer
    puts only the ``fmt``, ``fact`` and ``data`` chunks. The file appears atomically.

    Parameters
    ----------
    path : path-like
        Destination; its folder must exist.
    y : array-like, shape (n,)
        Finite samples.
    sr : int, keyword-only
        Sample rate in Hz.

    Returns
    -------
    Path
        The written file.
    """
    data = np.ascontiguousarray(np.asarray(y, dtype="<f4"))
    if data.ndim != 1 or data.size == 0 or not np.all(np.isfinite(data)):
        raise CorpusError(f"{path}: refusing to write {data.shape} samples (need finite mono)")
    size = data.nbytes
    header = b"".join((
        b"RIFF", struct.pack("<I", 4 + 24 + 12 + 8 + size), b"WAVE",
        # WAVE_FORMAT_IEEE_FLOAT (3), mono, sr, bytes per second, block align, bits.
        b"fmt ", struct.pack("<IHHIIHH", 16, 3, 1, sr, 4 * sr, 4, 32),
        b"fact", struct.pack("<II", 4, data.size),
        b"data", struct.pack("<I", size),
    ))
    file = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part",
                                         dir=file.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(header)
            stream.write(data.tobytes())
        os.replace(temporary, file)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CorpusError(f"{file}: cannot write ({error.strerror})") from None
    return file


def _fade_out(y: FArray, sr: int) -> FArray:
    # Material cut at a fixed length ends mid-note; a short fade avoids a click at the end.
    n = min(len(y), max(1, round(FADE_S * sr)))
    out = y.copy()
    out[len(y) - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return out


def trim_silence(
    y: npt.ArrayLike, sr: int, *, threshold_db: float = TRIM_THRESHOLD_DB,
    floor_margin_db: float = TRIM_FLOOR_MARGIN_DB, ceiling_db: float = TRIM_CEILING_DB,
    max_gap_s: float = TRIM_MAX_GAP_S, frame_s: float = TRIM_FRAME_S,
    margin_s: float = TRIM_MARGIN_S,
) -> tuple[int, int]:
    """Find the span of a clip that holds its utterance, without the silence around it.

    Frame energies (RMS of 10 ms frames) are compared with a threshold relative to the
    loudest frame: ``threshold_db`` (-40 dB) in a clean recording, raised to
    ``floor_margin_db`` above the recording's noise floor (the 10th percentile frame) when
    the floor is high, but never above ``ceiling_db``. The span grows from the loudest frame
    over frames above the threshold, bridging quieter stretches up to ``max_gap_s`` long (the
    pause inside a two-word letter name), so that a click or breath far from the utterance
    does not count; it is then widened by ``margin_s`` so onsets are not clipped.

    Parameters
    ----------
    y : array-like, shape (n,)
        The clip.
    sr : int
        Its sample rate.
    threshold_db, floor_margin_db, ceiling_db : float, keyword-only
        Threshold relative to the loudest frame, margin above the noise floor, and the
        highest threshold relative to the loudest frame, in dB.
    max_gap_s, frame_s, margin_s : float, keyword-only
        Longest bridged pause, frame length and margin in seconds.

    Returns
    -------
    start, end : int
        Sample indices, ``y[start:end]`` is the kept part; ``(0, 0)`` for an all-silent clip.
    """
    data = np.asarray(y, dtype=np.float64)
    frame = max(1, round(frame_s * sr))
    n_frames = -(-len(data) // frame)
    if n_frames == 0:
        return 0, 0
    padded = np.zeros(n_frames * frame)
    padded[:len(data)] = data
    energy = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    if float(energy.max()) == 0.0:
        return 0, 0
    level = 20.0 * np.log10(np.maximum(energy, 1e-12))
    peak = float(level.max())
    floor = float(np.percentile(level, 10))
    threshold = min(max(peak + threshold_db, floor + floor_margin_db), peak + ceiling_db)
    active = np.flatnonzero(level >= threshold)
    loudest = int(np.searchsorted(active, int(np.argmax(level))))
    gap = round(max_gap_s / frame_s) + 1
    first = last = loudest
    while first > 0 and active[first] - active[first - 1] <= gap:
        first -= 1
    while last < len(active) - 1 and active[last + 1] - active[last] <= gap:
        last += 1
    margin = round(margin_s * sr)
    start = max(0, int(active[first]) * frame - margin)
    end = min(len(data), (int(active[last]) + 1) * frame + margin)
    return start, end


def mix_at_snr(a: npt.ArrayLike, b: npt.ArrayLike,
               snr_db: float = 0.0) -> tuple[FArray, FArray, FArray]:
    """Mix two sources so that ``a`` stands ``snr_db`` above ``b``.

    Both are cut to the shorter length; ``b`` is scaled to the SNR (mean power over the whole
    signals), then both are scaled together if the mixture would peak above -1 dBFS. The
    references are rounded to float32 first and the mixture is their float32 sum, so
    ``mix == a_ref + b_ref`` holds exactly, also after a float32 WAV round trip.

    Parameters
    ----------
    a, b : array-like, shape (n,)
        The sources.
    snr_db : float
        Power ratio of ``a`` to ``b`` in dB.

    Returns
    -------
    mix, a_ref, b_ref : np.ndarray, float32, same length
        The mixture and the two references as they are in it.
    """
    x = np.asarray(a, dtype=np.float64)
    z = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or z.ndim != 1:
        raise ValueError("mix_at_snr takes two mono (n,) signals")
    n = min(len(x), len(z))
    x, z = x[:n], z[:n]
    power_a, power_b = _rms(x) ** 2, _rms(z) ** 2
    if power_a == 0.0 or power_b == 0.0:
        raise ValueError("mix_at_snr needs two non-silent signals")
    z = z * math.sqrt(power_a / (power_b * 10.0 ** (snr_db / 10.0)))
    peak = float(np.max(np.abs(x + z)))
    limit = 10.0 ** (PEAK_LIMIT_DBFS / 20.0)
    scale = limit / peak if peak > limit else 1.0
    a_ref = (x * scale).astype(np.float32)
    b_ref = (z * scale).astype(np.float32)
    return a_ref + b_ref, a_ref, b_ref


# ---------------------------------------------------------------------------------------------
# Speech (klettres)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Music: composing MIDI, writing it with mido, rendering it with fluidsynth
# ---------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Note:
    """A note in beats from the start of the piece."""

    start: float
    length: float
    pitch: int
    velocity: int


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


# ---------------------------------------------------------------------------------------------
# Drums (hydrogen kits)
# ---------------------------------------------------------------------------------------------

#: Instrument names → drum categories; the first match wins, so the order matters.
_DRUM_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("hh_pedal", r"(hi-?hat|\bhh|\bhat).*(pedal|\bpd\b)|pedal ?hh"),
    ("hh_open", r"(hi-?hat|\bhh|\bhat).*(open|\bop\b|semi)|open ?hh|\bohh\b"),
    ("hh_closed", r"(hi-?hat|\bhh|\bhat).*(clos|\bcl\b)|closed ?hh|\bchh\b"),
    ("kick", r"kick|bass ?drum|\bbd\b"),
    ("snare", r"snare(?!.*roll)"),
    ("tom_low", r"(floor|low|\blo\b).*tom|tom.*(floor|low|\blo\b)"),
    ("tom_high", r"(\bhi\b|high).*tom|tom.*(\bhi\b|high)"),
    ("tom_mid", r"\btom"),
    ("crash", r"crash|splash|china|cymbal"),
    ("ride", r"\bride"),
)


@dataclass(frozen=True)
class DrumLayer:
    """One sample of a drum instrument, used for velocities in ``[vmin, vmax]``."""

    path: Path
    vmin: float
    vmax: float
    gain: float


@dataclass(frozen=True)
class DrumVoice:
    """A drum instrument of a hydrogen kit."""

    kit: str
    name: str
    category: str
    volume: float
    layers: tuple[DrumLayer, ...]

    def layer(self, velocity: float) -> DrumLayer:
        """The layer hydrogen would play at this velocity (the nearest if none covers it)."""
        for layer in self.layers:
            if layer.vmin <= velocity <= layer.vmax:
                return layer
        return min(self.layers, key=lambda l: abs((l.vmin + l.vmax) / 2 - velocity))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str, default: str = "") -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return default


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def read_drumkit(kit_dir: Path) -> list[DrumVoice]:
    """The categorised instruments of a hydrogen kit (``drumkit.xml``, old and new formats).

    Parameters
    ----------
    kit_dir : Path
        The kit's folder.

    Returns
    -------
    list of DrumVoice
        Instruments whose name maps to a category of :data:`_DRUM_CATEGORIES` and whose
        sample files exist; the others (claps, cowbells, effects ...) are left out.
    """
    xml = kit_dir / "drumkit.xml"
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as error:
        raise CorpusError(f"{xml}: cannot read the drum kit ({error})") from None
    voices: list[DrumVoice] = []
    for element in root.iter():
        if _local(element.tag) != "instrument":
            continue
        name = _child_text(element, "name")
        category = next((cat for cat, pattern in _DRUM_CATEGORIES
                         if re.search(pattern, name, re.IGNORECASE)), None)
        if category is None:
            continue
        layers: list[DrumLayer] = []
        for sub in element.iter():
            if _local(sub.tag) == "layer":
                file = _child_text(sub, "filename")
                layers.append(DrumLayer(kit_dir / file, _number(_child_text(sub, "min"), 0.0),
                                        _number(_child_text(sub, "max"), 1.0),
                                        _number(_child_text(sub, "gain"), 1.0)))
        direct = _child_text(element, "filename")
        if not layers and direct:  # the old format names one file per instrument
            layers.append(DrumLayer(kit_dir / direct, 0.0, 1.0, 1.0))
        layers = [layer for layer in layers if layer.path.is_file()]
        if layers:
            voices.append(DrumVoice(kit_dir.name, name, category,
                                    _number(_child_text(element, "volume"), 1.0),
                                    tuple(sorted(layers, key=lambda l: (l.vmin, l.vmax)))))
    return voices


def drum_kits() -> dict[str, dict[str, list[DrumVoice]]]:
    """The usable kits: those with a kick, a snare and a hi-hat or ride, by category.

    Returns
    -------
    dict
        ``{kit name: {category: [voices]}}``, sorted by kit name.
    """
    kits: dict[str, dict[str, list[DrumVoice]]] = {}
    for kit_dir in sorted(p for p in DRUMKIT_ROOT.iterdir() if (p / "drumkit.xml").is_file()):
        by_category: dict[str, list[DrumVoice]] = {}
        for voice in read_drumkit(kit_dir):
            by_category.setdefault(voice.category, []).append(voice)
        if {"kick", "snare"} <= by_category.keys() and (
                {"hh_closed", "ride"} & by_category.keys()):
            kits[kit_dir.name] = by_category
    return kits


def _kit_split(kits: dict[str, Any]) -> tuple[list[str], list[str]]:
    missing = [kit for kit in TEST_KITS if kit not in kits]
    if missing:
        raise CorpusError(f"test drum kits not found or incomplete in {DRUMKIT_ROOT}: "
                          f"{', '.join(missing)}")
    return [kit for kit in kits if kit not in TEST_KITS], list(TEST_KITS)


_SAMPLES: dict[tuple[Path, int], FArray] = {}


def _sample(path: Path, sr: int) -> FArray:
    key = (path, sr)
    if key not in _SAMPLES:
        _SAMPLES[key] = load(path, sr=sr)[0]
    return _SAMPLES[key]


@dataclass(frozen=True)
class Hit:
    """A drum hit: time in seconds, the voice, its velocity in (0, 1]."""

    time: float
    voice: DrumVoice
    velocity: float


def _render_hits(hits: Sequence[Hit], n: int, sr: int, *, choke: bool) -> np.ndarray:
    """Mix one-shots into a buffer; with ``choke`` a hi-hat stops the one ringing before it."""
    out = np.zeros(n + 10 * sr)
    hats = sorted((h for h in hits if h.voice.category.startswith("hh")), key=lambda h: h.time)
    next_hat = {id(h): (hats[i + 1].time if i + 1 < len(hats) else math.inf)
                for i, h in enumerate(hats)}
    fade = max(1, round(0.015 * sr))
    for hit in sorted(hits, key=lambda h: (h.time, h.voice.name)):
        start = round(hit.time * sr)
        if start >= n:
            continue
        layer = hit.voice.layer(hit.velocity)
        y = _sample(layer.path, sr).astype(np.float64) * (hit.velocity * layer.gain
                                                          * hit.voice.volume)
        if choke and id(hit) in next_hat and math.isfinite(next_hat[id(hit)]):
            keep = max(fade, round(next_hat[id(hit)] * sr) - start + fade)
            if keep < len(y):  # a closed hat cuts the open one short, as on a real kit
                y = y[:keep].copy()
                y[-fade:] *= np.linspace(1.0, 0.0, fade)
        y = y[:len(out) - start]
        out[start:start + len(y)] += y
    return out[:n]


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


# ---------------------------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Mixtures
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MixtureSpec:
    """A test mixture: reference names and the test files they come from (relative to DIR)."""

    name: str
    sources: tuple[tuple[str, str], tuple[str, str]]
    snr_db: float = 0.0


#: One reader of each voice for the speech-noise mixtures: those with the most test speech
#: (en has only 6 s of it).
SPEECH_NOISE_READERS = ("lt", "uk", "es")


def default_mixtures() -> list[MixtureSpec]:
    """Every test mixture the full build makes.

    Returns
    -------
    list of MixtureSpec
        ``male-female-<m>-<f>`` for each allowed male x female reader pair,
        ``speech-noise-<reader>-<noise>`` for :data:`SPEECH_NOISE_READERS` x :data:`NOISES`,
        ``bass-drums`` and ``piano-sax``, all at 0 dB.
    """
    males = [r for r, voice in READERS.items() if voice == "male"]
    females = [r for r, voice in READERS.items() if voice == "female"]
    specs = [MixtureSpec(f"male-female-{m}-{f}", (("male", f"speech/{m}/test.wav"),
                                                  ("female", f"speech/{f}/test.wav")))
             for m in males for f in females]
    specs += [MixtureSpec(f"speech-noise-{r}-{n}", (("speech", f"speech/{r}/test.wav"),
                                                    ("noise", f"noise/{n}/test.wav")))
              for r in SPEECH_NOISE_READERS for n in NOISES]
    specs.append(MixtureSpec("bass-drums", (("bass", "instruments/finger_bass/test.wav"),
                                            ("drums", "drums/test.wav"))))
    specs.append(MixtureSpec("piano-sax", (("piano", "instruments/piano/test.wav"),
                                           ("sax", "instruments/alto_sax/test.wav"))))
    return specs


def _mixture_task(out_dir: Path, sr: int, spec: MixtureSpec,
                  max_seconds: float) -> dict[str, Any]:
    signals = []
    for _, relative in spec.sources:
        path = out_dir / relative
        if not path.is_file():
            raise CorpusError(f"mixture {spec.name} needs {path}: build its part first")
        y, file_sr = load(path)
        if file_sr != sr:
            raise CorpusError(f"{path} is at {file_sr} Hz, not {sr} Hz: rebuild it")
        signals.append(y[:round(max_seconds * sr)])
    mix, a, b = mix_at_snr(signals[0], signals[1], spec.snr_db)
    folder = out_dir / "mixtures" / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    for (name, _), y in zip(spec.sources, (a, b)):
        write_wav(folder / f"{name}.wav", y, sr=sr)
    write_wav(folder / "mix.wav", mix, sr=sr)
    return {"folder": f"mixtures/{spec.name}", "snr_db": spec.snr_db,
            "seconds": round(len(mix) / sr, 3),
            "sources": {name: relative for name, relative in spec.sources}}


# ---------------------------------------------------------------------------------------------
# Running the tasks
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """One independent piece of the build; its result lands at ``manifest[part][*key]``."""

    part: str
    key: tuple[str, ...]
    func: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]

    @property
    def label(self) -> str:
        """E.g. ``instruments/piano/train``."""
        return "/".join((self.part, *self.key))


def _run(tasks: Sequence[Task], *, jobs: int, quiet: bool) -> dict[str, Any]:
    """Run tasks (in a process pool when ``jobs > 1``) and gather their manifest entries."""
    results: dict[str, Any] = {}

    def store(task: Task, entry: dict[str, Any], done: int, started: float) -> None:
        node = results.setdefault(task.part, {})
        for key in task.key[:-1]:
            node = node.setdefault(key, {})
        node[task.key[-1]] = entry
        if not quiet:
            if "seconds" in entry:
                what = f"{entry['seconds']:6.1f} s"
            else:  # speech: one task makes both files
                what = ", ".join(f"{split} {entry[split]['seconds']:.1f} s"
                                 for split in ("train", "test") if split in entry)
            print(f"[{done:3d}/{len(tasks)}] {task.label:<36} {what:<28}"
                  f"  ({time.monotonic() - started:5.1f} s elapsed)", file=sys.stderr, flush=True)

    started = time.monotonic()
    # Forking a process that runs other threads can deadlock the children: stay serial then.
    if jobs <= 1 or len(tasks) <= 1 or threading.active_count() > 1:
        for done, task in enumerate(tasks, 1):
            store(task, task.func(*task.args), done, started)
        return results
    # fork: workers inherit the loaded module, also when it was imported from a path.
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(task.func, *task.args): task for task in tasks}
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                store(futures[future], future.result(), done, started)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def _speech_tasks(out_dir: Path, sr: int, readers: Sequence[str] | None,
                  max_clips: int | None) -> list[Task]:
    for reader in readers or ():
        if reader not in READERS:
            raise CorpusError(f"klettres reader {reader!r} is held out or unknown; allowed: "
                              f"{', '.join(READERS)}")
    return [Task("speech", (reader,), _speech_task, (out_dir, sr, reader, max_clips))
            for reader in (readers or list(READERS))]


def _instrument_tasks(out_dir: Path, sr: int, names: Sequence[str] | None,
                      seconds: tuple[float, float]) -> list[Task]:
    for name in names or ():
        if name not in INSTRUMENTS:
            raise CorpusError(f"unknown instrument {name!r}; known: {', '.join(INSTRUMENTS)}")
    return [Task("instruments", (name, split), _instrument_task, (out_dir, sr, name, split, s))
            for name in (names or list(INSTRUMENTS))
            for split, s in zip(("train", "test"), seconds)]


def _drum_tasks(out_dir: Path, sr: int, seconds: tuple[float, float]) -> list[Task]:
    return [Task("drums", (split,), _drums_task, (out_dir, sr, split, s))
            for split, s in zip(("train", "test"), seconds)]


def _noise_tasks(out_dir: Path, sr: int, names: Sequence[str] | None,
                 seconds: tuple[float, float]) -> list[Task]:
    tasks = []
    for name in names or NOISES:
        if name not in NOISES:
            raise CorpusError(f"unknown noise {name!r}; known: {', '.join(NOISES)}")
        for split, s in zip(("train", "test"), seconds):
            if name == "cymbals":
                tasks.append(Task("noise", (name, split), _cymbal_noise_task,
                                  (out_dir, sr, split, s)))
            else:
                tasks.append(Task("noise", (name, split), _program_noise_task,
                                  (out_dir, sr, name, split, s)))
    return tasks


def _mixture_tasks(out_dir: Path, sr: int, specs: Sequence[MixtureSpec] | None,
                   max_seconds: float) -> list[Task]:
    return [Task("mixtures", (spec.name,), _mixture_task, (out_dir, sr, spec, max_seconds))
            for spec in (specs if specs is not None else default_mixtures())]


def _settings(sr: int) -> dict[str, Any]:
    return {
        "sr": sr, "base_seed": BASE_SEED,
        "normalize": {"rms_dbfs": TARGET_RMS_DBFS, "peak_limit_dbfs": PEAK_LIMIT_DBFS},
        "speech": {"folders": list(CLIP_FOLDERS), "trim_threshold_db": TRIM_THRESHOLD_DB,
                   "trim_floor_margin_db": TRIM_FLOOR_MARGIN_DB,
                   "trim_ceiling_db": TRIM_CEILING_DB, "trim_max_gap_s": TRIM_MAX_GAP_S,
                   "trim_frame_s": TRIM_FRAME_S, "trim_margin_s": TRIM_MARGIN_S,
                   "clip_rms_dbfs": CLIP_RMS_DBFS,
                   "gap_s": list(GAP_RANGE_S), "test_every": TEST_EVERY,
                   "max_clips": MAX_CLIPS, "resampler": "soxr VHQ"},
        "fluidsynth": {"command": "fluidsynth -ni -q -o audio.file.format=float -F OUT.wav "
                                  f"-r {sr} -g {FLUIDSYNTH_GAIN} FONT IN.mid",
                       "soundfont": str(SOUNDFONT)},
        "drums": {"root": str(DRUMKIT_ROOT), "test_kits": list(TEST_KITS)},
        "mixtures": {"max_s": MIXTURE_MAX_S, "snr": "power over the whole signals"},
    }


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return manifest if manifest.get("format") == "livesep-corpus" else {}


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    temporary = path.with_name(".manifest.json.part")
    temporary.write_text(text)
    os.replace(temporary, path)


def _forget(out_dir: Path, parts: Iterable[str]) -> None:
    """Remove parts about to be rebuilt whole: their folders and their manifest entries.

    So nothing stale survives (a mixture no longer made, a file at another rate), and a
    build that fails half-way does not leave a manifest describing files that are gone.
    Only done in a folder whose ``manifest.json`` shows that this script made it.
    """
    path = out_dir / "manifest.json"
    manifest = _read_manifest(path)
    if not manifest:
        return
    for part in parts:
        shutil.rmtree(out_dir / part, ignore_errors=True)
        manifest.pop(part, None)
    _write_manifest(path, manifest)


def _finish(out_dir: Path, sr: int, results: dict[str, Any], packages: Iterable[str]) -> Path:
    """Merge results into ``manifest.json`` (keeping entries of parts not rebuilt)."""
    path = out_dir / "manifest.json"
    manifest = _read_manifest(path)
    if manifest.get("settings", {}).get("sr") != sr:
        manifest = {}  # built at another rate: nothing in it describes the files now
    manifest["format"] = "livesep-corpus"
    manifest["version"] = 1
    manifest["settings"] = _settings(sr)
    versions = manifest.setdefault("packages", {})
    for package in sorted(set(packages)):
        versions[package] = _package_version(package)
    for part, entries in results.items():
        section = manifest.setdefault(part, {})
        section.update(entries)
        manifest[part] = dict(sorted(section.items()))
    if "drums" in results:
        train, test = _kit_split(drum_kits())
        manifest["drums"]["train_kits"], manifest["drums"]["test_kits"] = train, test
    _write_manifest(path, manifest)
    return path


def _check_sr(sr: int) -> None:
    if not isinstance(sr, (int, np.integer)) or not 8000 <= sr <= 192000:
        raise CorpusError(f"sr must be an integer rate between 8000 and 192000 Hz, got {sr!r}")


def _prepare(out_dir: Path, sr: int, parts: Iterable[str], quiet: bool) -> Path:
    _check_sr(sr)
    parts = list(parts)
    ensure_packages([p for part in parts for p in PACKAGES[part]], quiet=quiet)
    for part, path, package in (("speech", KLETTRES_ROOT, "klettres-data"),
                                ("instruments", SOUNDFONT, "fluid-soundfont-gm"),
                                ("noise", SOUNDFONT, "fluid-soundfont-gm"),
                                ("drums", DRUMKIT_ROOT, "hydrogen-drumkits"),
                                ("noise", DRUMKIT_ROOT, "hydrogen-drumkits")):
        if part in parts:
            _require_file(path, package)
    if {"instruments", "noise"} & set(parts):
        ensure_mido(quiet=quiet)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CorpusError(f"cannot create {out}: {error.strerror}") from None
    return out


def build_speech(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                 readers: Sequence[str] | None = None, max_clips: int | None = MAX_CLIPS,
                 jobs: int = 1, quiet: bool = True) -> dict[str, Any]:
    """Build ``speech/<reader>/{train,test}.wav`` from klettres clips.

    Each clip is mixed down, resampled, stripped of the silence around it and joined to the
    next with 50-100 ms of silence; every 4th clip of the sorted list goes to test.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder.
    sr : int, keyword-only
        Output sample rate.
    readers : sequence of str or None, keyword-only
        Readers to build (keys of :data:`READERS`); ``None`` for all.
    max_clips : int or None, keyword-only
        At most this many clips per reader.
    jobs : int, keyword-only
        Worker processes.
    quiet : bool, keyword-only
        No progress lines.

    Returns
    -------
    dict
        The manifest entries, ``{"speech": {reader: ...}}``; ``manifest.json`` is updated.
    """
    tasks = _speech_tasks(Path(out_dir), sr, readers, max_clips)  # checks names first
    out = _prepare(Path(out_dir), sr, ["speech"], quiet)
    results = _run(tasks, jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["speech"])
    return results


def build_instruments(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                      names: Sequence[str] | None = None,
                      seconds: tuple[float, float] = INSTRUMENT_SECONDS, jobs: int = 1,
                      quiet: bool = True) -> dict[str, Any]:
    """Build ``instruments/<name>/{train,test}.{wav,mid}`` by rendering composed MIDI.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder.
    sr : int, keyword-only
        Output (and rendering) sample rate.
    names : sequence of str or None, keyword-only
        Keys of :data:`INSTRUMENTS`; ``None`` for all.
    seconds : (float, float), keyword-only
        Train and test lengths.
    jobs, quiet
        As for :func:`build_speech`.

    Returns
    -------
    dict
        ``{"instruments": {name: {"train": ..., "test": ...}}}``.
    """
    tasks = _instrument_tasks(Path(out_dir), sr, names, seconds)
    out = _prepare(Path(out_dir), sr, ["instruments"], quiet)
    results = _run(tasks, jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["instruments"])
    return results


def build_drums(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                seconds: tuple[float, float] = DRUM_SECONDS, jobs: int = 1,
                quiet: bool = True) -> dict[str, Any]:
    """Build ``drums/{train,test}.wav``: grooves on the training kits and on :data:`TEST_KITS`.

    Parameters are as for :func:`build_instruments`.
    """
    out = _prepare(Path(out_dir), sr, ["drums"], quiet)
    results = _run(_drum_tasks(out, sr, seconds), jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["drums"])
    return results


def build_noise(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                names: Sequence[str] | None = None,
                seconds: tuple[float, float] = NOISE_SECONDS, jobs: int = 1,
                quiet: bool = True) -> dict[str, Any]:
    """Build ``noise/<name>/{train,test}.wav`` (names from :data:`NOISES`).

    Parameters are as for :func:`build_instruments`.
    """
    tasks = _noise_tasks(Path(out_dir), sr, names, seconds)
    out = _prepare(Path(out_dir), sr, ["noise"], quiet)
    results = _run(tasks, jobs=jobs, quiet=quiet)
    _finish(out, sr, results, PACKAGES["noise"])
    return results


def build_mixtures(out_dir: str | os.PathLike[str], *, sr: int = 16000,
                   specs: Sequence[MixtureSpec] | None = None,
                   max_seconds: float = MIXTURE_MAX_S, jobs: int = 1,
                   quiet: bool = True) -> dict[str, Any]:
    """Build ``mixtures/<name>/`` (``mix.wav`` and one reference per source) from test files.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder, which must already hold the test files the mixtures use.
    sr : int, keyword-only
        The corpus sample rate.
    specs : sequence of MixtureSpec or None, keyword-only
        The mixtures; ``None`` for :func:`default_mixtures`.
    max_seconds : float, keyword-only
        Longest mixture; the references are cut to the shorter source and to this.
    jobs, quiet
        As for :func:`build_speech`.
    """
    out = _prepare(Path(out_dir), sr, ["mixtures"], quiet)
    results = _run(_mixture_tasks(out, sr, specs, max_seconds), jobs=jobs, quiet=quiet)
    _finish(out, sr, results, ())
    return results


def build(out_dir: str | os.PathLike[str], *, sr: int = 16000,
          parts: Sequence[str] = PARTS, jobs: int | None = None,
          quiet: bool = False) -> Path:
    """Build the requested parts, all sources in one process pool, then the mixtures.

    Each part is rebuilt whole: in a folder this script made before, the part's old folder
    and manifest entry are removed first.

    Parameters
    ----------
    out_dir : path-like
        The corpus folder (created if needed).
    sr : int, keyword-only
        Sample rate of everything.
    parts : sequence of str, keyword-only
        Any of :data:`PARTS`.
    jobs : int or None, keyword-only
        Worker processes; ``None`` for the number of CPUs.
    quiet : bool, keyword-only
        No progress lines.

    Returns
    -------
    Path
        The manifest.
    """
    unknown = [part for part in parts if part not in PARTS]
    if not parts:
        raise CorpusError(f"nothing to build; choose parts from {', '.join(PARTS)}")
    if unknown:
        raise CorpusError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    out = _prepare(Path(out_dir), sr, parts, quiet)
    _forget(out, parts)
    jobs = jobs or os.cpu_count() or 1
    tasks: list[Task] = []
    if "speech" in parts:
        tasks += _speech_tasks(out, sr, None, MAX_CLIPS)
    if "instruments" in parts:
        tasks += _instrument_tasks(out, sr, None, INSTRUMENT_SECONDS)
    if "drums" in parts:
        tasks += _drum_tasks(out, sr, DRUM_SECONDS)
    if "noise" in parts:
        tasks += _noise_tasks(out, sr, None, NOISE_SECONDS)
    # The slow renderings first, so the pool does not end waiting on one of them.
    tasks.sort(key=lambda task: task.part not in ("instruments", "noise"))
    results = _run(tasks, jobs=jobs, quiet=quiet) if tasks else {}
    if "mixtures" in parts:
        mixes = _run(_mixture_tasks(out, sr, None, MIXTURE_MAX_S), jobs=jobs, quiet=quiet)
        results.update(mixes)
    return _finish(out, sr, results, [p for part in parts for p in PACKAGES[part]])


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str or None
        Arguments without the program name; ``None`` for ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 on success, 1 on an error (reported as one line on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="build_corpus.py",
        description="Build livesep's training and test corpus from Debian-packaged audio.")
    parser.add_argument("--out", required=True, type=Path, help="corpus folder")
    parser.add_argument("--sr", type=int, default=16000, help="sample rate (default 16000)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated parts to (re)build from scratch; mixtures need "
                             f"the others built (default {','.join(PARTS)})")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: number of CPUs)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    started = time.monotonic()
    try:
        manifest = build(args.out, sr=args.sr, parts=parts, jobs=args.jobs, quiet=args.quiet)
    except (CorpusError, LivesepError, OSError, ValueError) as error:
        print(f"build_corpus.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build_corpus.py: interrupted", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"built {', '.join(parts)} into {args.out} in {time.monotonic() - started:.1f} s; "
              f"manifest: {manifest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
