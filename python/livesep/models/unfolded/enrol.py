"""A personal preset from a voice preset: the user's voice and room taught to it.

The base is an unfolded (deep NMF) preset with sources ``speech`` and ``noise``, such as
livesep's default voice preset. About 30 s of the user reading and 10 s of their room
without speech become training mixtures (the voice over the room, and over generic noise so
that the preset still knows other noise), and the base's dictionaries are trained further on
them (:func:`livesep.models.unfolded.model.train_unfolded`, started from the base). The result has
the base's analysis settings and sources, so it can replace the base in a running stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep.bundled import bundled_voices
from livesep.errors import ParameterError
from livesep.models.unfolded.augment import mixture_frames
from livesep.models.unfolded.model import train_unfolded
from livesep.presets import Preset, SourceModel
from livesep.progress import Progress, part_of
from livesep.threads import blas_threads

__all__ = ["enrol", "MIN_VOICE_SECONDS", "MIN_ROOM_SECONDS"]

#: Least audio of the voice and of the room (without speech) enrolment takes, in seconds.
MIN_VOICE_SECONDS = 10.0
MIN_ROOM_SECONDS = 3.0
#: Seconds of training mixtures made from them, and passes over them.
MIXTURE_SECONDS = 60.0
EPOCHS = 3
LEARNING_RATE = 1e-3


def _check_base(base: Preset) -> None:
    layers = {source.layers for source in base.sources}
    if base.source_names != ("speech", "noise") or layers == {0} or len(layers) != 1:
        raise ParameterError(f"enrolment starts from a voice preset of unfolded sources named "
                             f"'speech' and 'noise' (like the default 'voice'); preset "
                             f"{base.name!r} has sources {', '.join(base.source_names)}"
                             + (" that are not unfolded" if layers == {0} else ""))


def enrol(voice: npt.ArrayLike | None, room: npt.ArrayLike | None, base: Preset, *,
          name: str = "my voice", seed: int = 0, progress: Progress | None = None) -> Preset:
    """The base voice preset taught a voice, a room, or both.

    Parameters
    ----------
    voice : array-like, shape (n,), or None
        The user reading, mono at ``base.sr``; at least :data:`MIN_VOICE_SECONDS`.
    room : array-like, shape (n,), or None
        The room without speech, mono at ``base.sr``; at least :data:`MIN_ROOM_SECONDS`.
    base : Preset
        A voice preset of unfolded sources ``speech`` and ``noise``.
    name : str, keyword-only
        The new preset's name.
    seed : int, keyword-only
        The mixtures' randomness: the same inputs and seed give the same preset.
    progress : callable, optional, keyword-only
        Called with the fraction done.

    Returns
    -------
    Preset
        The base's settings and sources, their dictionaries trained further.

    Raises
    ------
    ParameterError
        Without voice and room, with too little of either, or a base that is not a voice
        preset of unfolded sources.
    """
    _check_base(base)
    if voice is None and room is None:
        raise ParameterError("enrolment needs the voice, the room, or both")
    signals = {}
    for label, signal, least in (("voice", voice, MIN_VOICE_SECONDS),
                                 ("room", room, MIN_ROOM_SECONDS)):
        if signal is None:
            continue
        samples = np.asarray(signal, dtype=np.float32)
        seconds = samples.size / base.sr
        if samples.ndim != 1 or seconds < least or not np.any(samples):
            raise ParameterError(f"{label} must be mono, at least {least:g} s and not silent, "
                                 f"got {seconds:.1f} s of shape {samples.shape}")
        signals[label] = samples
    # Without a voice, the bundled voices carry the speech of the mixtures.
    speech = [signals["voice"]] if "voice" in signals else bundled_voices(base.sr)
    noises = [signals["room"]] if "room" in signals else []
    with blas_threads(1):
        frames = mixture_frames(speech, noises, sr=base.sr, n_fft=base.n_fft,
                                hop_length=base.hop_length, seconds=MIXTURE_SECONDS,
                                segment=2.0, generic_share=0.3 if noises else 1.0,
                                speed_range=(0.97, 1.03) if "voice" in signals else (0.9, 1.1),
                                seed=seed, progress=part_of(progress, 0.0, 0.1))
        model = train_unfolded(frames.mixture, np.stack([frames.speech, frames.noise]),
                               [source.W for source in base.sources],
                               layers=base.sources[0].layers, epochs=EPOCHS,
                               learning_rate=LEARNING_RATE, seed=seed,
                               progress=part_of(progress, 0.1, 1.0))
    taught = {"enrolled": {**{f"{label}_seconds": round(samples.size / base.sr, 1)
                              for label, samples in signals.items()},
                           "base": base.name, "seed": seed}}
    sources = [SourceModel.from_unfolded(source.name, W,
                                         provenance={**source.provenance, **taught})
               for source, W in zip(base.sources, model.dictionaries)]
    taught_what = " and ".join(f"a {label}" for label in signals)
    return base.with_sources(sources, name=name,
                             description=f"{base.name!r} taught {taught_what}")
