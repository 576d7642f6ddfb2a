"""Speech in a room: voice mixtures whose speech is heard through a synthetic room.

A room's impulse response (:func:`room_impulse_response`) is the direct sound and, from
3 ms on, Gaussian noise under an exponential decay that falls 60 dB in ``rt60`` seconds
(Polack's statistical model of late reverberation), scaled so that the direct sound is
``drr_db`` above the rest. :func:`in_room` puts the speech of every mixture through the room
of its reader and noise (:func:`pair_room`; the same room at every SNR), at the power the dry
speech had, so that the SNR stays; the noise is left as it was, and the reverberant speech is
the reference a separator is scored against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from livesep.errors import ParameterError
from livesep.evaluation.voice import VoiceMixture, labelled_rng

__all__ = ["RT60_RANGE", "DRR_RANGE", "room_impulse_response", "pair_room", "reverberate",
           "in_room"]

#: Reverberation times (seconds) and direct-to-reverberant ratios (dB) drawn by
#: :func:`pair_room`: small and medium rooms, a microphone near the talker.
RT60_RANGE = (0.2, 0.7)
DRR_RANGE = (0.0, 8.0)
_PRE_DELAY = 0.003

Floats = npt.NDArray[np.float64]


def room_impulse_response(*, sr: int, rt60: float, drr_db: float,
                          rng: np.random.Generator) -> Floats:
    """A synthetic room impulse response (see the module's description).

    Parameters
    ----------
    sr : int, keyword-only
        Sample rate in Hz, at least 8000.
    rt60 : float, keyword-only
        Reverberation time in seconds (the decay's 60 dB), in (0.01, 5].
    drr_db : float, keyword-only
        Direct-to-reverberant energy ratio in dB.
    rng : numpy.random.Generator, keyword-only
        The source of the reverberant tail's noise.

    Returns
    -------
    np.ndarray, shape (round(rt60 * sr),), float64
        The response; its first sample, 1, is the direct sound.

    Examples
    --------
    >>> import numpy as np
    >>> h = room_impulse_response(sr=16000, rt60=0.4, drr_db=6.0,
    ...                           rng=np.random.default_rng(0))
    >>> h.shape, float(h[0])
    ((6400,), 1.0)
    >>> round(float(10 * np.log10(1.0 / np.sum(h[1:] ** 2))), 6)
    6.0
    """
    if sr < 8000 or not 0.01 < rt60 <= 5.0 or not np.isfinite(drr_db):
        raise ParameterError(f"a room needs sr >= 8000, rt60 in (0.01, 5] s and a finite "
                             f"drr_db, got sr={sr!r}, rt60={rt60!r}, drr_db={drr_db!r}")
    n = round(rt60 * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60)  # -60 dB at rt60
    tail[:max(1, round(_PRE_DELAY * sr))] = 0.0
    tail *= 10.0 ** (-drr_db / 20.0) / np.sqrt(np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def pair_room(seed: int, reader: str, noise: str, *, sr: int,
              rt60_range: tuple[float, float] = RT60_RANGE,
              drr_range: tuple[float, float] = DRR_RANGE) -> Floats:
    """The room of one reader and noise: RT60 and DRR drawn uniformly from the ranges, and
    the tail, all from ``seed``, ``reader`` and ``noise``. The same arguments give the same
    room."""
    if not (0.0 < rt60_range[0] <= rt60_range[1] and drr_range[0] <= drr_range[1]):
        raise ParameterError(f"ranges must run low to high (RT60 above 0), got "
                             f"rt60_range={rt60_range!r}, drr_range={drr_range!r}")
    rng = labelled_rng(seed, reader, noise)
    return room_impulse_response(sr=sr, rt60=float(rng.uniform(*rt60_range)),
                                 drr_db=float(rng.uniform(*drr_range)), rng=rng)


def reverberate(speech: npt.ArrayLike, response: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """``speech`` through ``response``, cut to its length and brought back to its power."""
    dry = np.asarray(speech, dtype=np.float64)
    power = np.sum(dry ** 2)
    if dry.ndim != 1 or not power > 0.0:
        raise ParameterError(f"reverberate needs one channel of speech that is not silent, "
                             f"got shape {dry.shape}")
    wet = sps.fftconvolve(dry, np.asarray(response, dtype=np.float64))[:dry.size]
    return (wet * np.sqrt(power / max(np.sum(wet ** 2), 1e-300))).astype(np.float32)


def in_room(mixtures: Sequence[VoiceMixture], *, seed: int = 0,
            rt60_range: tuple[float, float] = RT60_RANGE,
            drr_range: tuple[float, float] = DRR_RANGE) -> list[VoiceMixture]:
    """The mixtures with their speech heard in the room of its reader and noise
    (:func:`pair_room`), at the dry speech's power; named ``<name>-room``."""
    out = []
    for mixture in mixtures:
        response = pair_room(seed, mixture.reader, mixture.noise, sr=mixture.sr,
                             rt60_range=rt60_range, drr_range=drr_range)
        references = np.stack([reverberate(mixture.references[0], response),
                               mixture.references[1]])
        peak = np.max(np.abs(references.sum(axis=0)))
        if peak > 1.0:  # keep the mixture a valid signal
            references /= peak
        out.append(dataclasses.replace(mixture, name=f"{mixture.name}-room",
                                       mixture=references.sum(axis=0), references=references))
    return out
