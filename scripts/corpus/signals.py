"""Signal helpers: levels, fades, silence trimming, mixing at an SNR, and the WAV writer.

Each source file is brought to one level by :func:`normalize`, and every WAV file of the
corpus is written by :func:`write_wav`, which leaves out what would make two identical builds
differ.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .common import CorpusError, FArray

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
FADE_S = 0.010


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
