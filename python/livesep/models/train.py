"""Training a preset from isolated examples of each source (what ``livesep train`` runs)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep import audio, spectral
from livesep.errors import AudioFileError, ParameterError
from livesep.models.nhmm import train_nhmm
from livesep.models.nmf import nmf
from livesep.models.nmfd import train_nmfd
from livesep.presets import DEFAULT_PRESET, Preset, SourceModel, load_preset
from livesep.presets.format import MAX_FLOOR_WEIGHT
from livesep.progress import Progress, part_of

__all__ = ["TrainSettings", "collect_audio_files", "training_spectrogram", "signals_spectrogram",
           "train_source", "spectrogram_source", "train_preset", "minimum_frames", "enrol",
           "MODELS", "ENROLMENT_BASE", "MIN_VOICE_SECONDS", "MIN_ROOM_SECONDS"]

MODELS = ("nmf", "nhmm", "nmfd")
#: Frames quieter than this (dB below the loudest frame) carry no information about a
#: source's spectra and are left out of training.
SILENCE_DB = 60.0


@dataclass(frozen=True)
class TrainSettings:
    """How to train each source.

    Attributes
    ----------
    model : {"nmf", "nhmm", "nmfd"}
        Plain NMF (one dictionary), an N-HMM (one dictionary per state and transitions) or
        convolutive NMF (NMFD: each component a patch of ``n_frames`` frames).
    n_components : int
        Dictionary columns (per state for the N-HMM).
    n_states : int
        N-HMM states; must be 1 for NMF.
    sr, n_fft, hop_length : int
        Analysis settings; the engine will run at these.
    n_iter : int or None
        Iterations (NMF multiplicative updates, N-HMM EM iterations); None picks 200 / 15.
    beta : float
        NMF's β-divergence (0, 1, 2); the N-HMM is trained with KL (β = 1).
    seed : int
        Seed of every random choice: the same seed and data give the same preset.
    adaptive : bool
        The engine keeps learning this source's dictionary from what it hears
        (semi-supervised separation); it must have one state.
    n_frames : int
        NMFD only: frames per convolutive patch (tau).
    """

    model: str = "nhmm"
    n_components: int = 10
    n_states: int = 20
    sr: int = 16000
    n_fft: int = 512
    hop_length: int = 128
    n_iter: int | None = None
    beta: float = 1.0
    seed: int = 0
    adaptive: bool = False
    n_frames: int = 1

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ParameterError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.n_components < 1 or self.n_components > 1000:
            raise ParameterError(f"n_components must be in [1, 1000], got {self.n_components!r}")
        if self.model in ("nmf", "nmfd") and self.n_states != 1:
            raise ParameterError(f"an {self.model.upper()} model has one state, got "
                                 f"n_states={self.n_states!r} (use model='nhmm' for several)")
        if (self.model == "nmfd") != (self.n_frames > 1) or not 1 <= self.n_frames <= 64:
            raise ParameterError(f"n_frames must be in [2, 64] for model='nmfd' and 1 otherwise, "
                                 f"got frames={self.n_frames!r} with model {self.model!r}")
        if self.model == "nmfd" and self.beta not in (1.0, 2.0):
            raise ParameterError(f"NMFD is trained with KL (beta 1) or least squares (beta 2), "
                                 f"got beta={self.beta!r}")
        if self.adaptive and self.model == "nmfd":
            raise ParameterError("a convolutive (NMFD) source cannot be adaptive")
        if self.n_states < 1 or self.n_states > 200:
            raise ParameterError(f"n_states must be in [1, 200], got {self.n_states!r}")
        if not 1000 <= self.sr <= 384000:
            raise ParameterError(f"sr must be in [1000, 384000] Hz, got {self.sr!r}")
        spectral.check_stft_settings(self.n_fft, self.hop_length)
        if self.n_iter is not None and not 1 <= self.n_iter <= 100000:
            raise ParameterError(f"n_iter must be in [1, 100000], got {self.n_iter!r}")
        if self.beta not in (0.0, 1.0, 2.0):
            raise ParameterError(f"beta must be 0, 1 or 2, got {self.beta!r}")
        if self.adaptive and self.n_states != 1:
            raise ParameterError(f"an adaptive source has one state, got n_states="
                                 f"{self.n_states!r} (give it n_states=1)")
        if self.model == "nhmm" and self.beta != 1.0:
            raise ParameterError(f"the N-HMM is trained with KL divergence (beta 1), got "
                                 f"beta={self.beta!r}")

    @property
    def iterations(self) -> int:
        """The iterations to run."""
        return self.n_iter or (200 if self.model == "nmf" else 15)


def collect_audio_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Audio files named directly or found (recursively, sorted) in the folders named.

    Raises
    ------
    AudioFileError
        If a path does not exist or a folder holds no audio files.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise AudioFileError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in audio.AUDIO_EXTENSIONS)
            if not found:
                raise AudioFileError(f"{path}: no audio files in this folder (looked for "
                                     f"{', '.join(audio.AUDIO_EXTENSIONS)})")
            files.extend(found)
        else:
            files.append(path)
    return files


def training_spectrogram(files: Sequence[Path], *, sr: int, n_fft: int, hop_length: int
                         ) -> tuple[npt.NDArray[np.float32], float]:
    """Magnitude frames of every file, silent frames removed.

    Returns
    -------
    V : np.ndarray, shape (n_fft // 2 + 1, T), float32
    seconds : float
        Audio kept, in seconds (T frames of hop_length).
    """
    return signals_spectrogram([audio.load(file, sr=sr)[0] for file in files], sr=sr,
                               n_fft=n_fft, hop_length=hop_length)


def signals_spectrogram(signals: Sequence[npt.ArrayLike], *, sr: int, n_fft: int,
                        hop_length: int) -> tuple[npt.NDArray[np.float32], float]:
    """As :func:`training_spectrogram`, for mono signals at ``sr``."""
    V = np.concatenate([spectral.magnitude(np.asarray(y, dtype=np.float32), n_fft=n_fft,
                                           hop_length=hop_length) for y in signals], axis=1)
    energy = (V.astype(np.float64) ** 2).sum(axis=0)
    loud = energy > energy.max() * 10.0 ** (-SILENCE_DB / 10.0) if energy.max() > 0 else energy > 0
    V = np.ascontiguousarray(V[:, loud])
    return V, V.shape[1] * hop_length / sr


def minimum_frames(settings: TrainSettings) -> int:
    """Frames of (non-silent) audio a source needs for the model size asked."""
    # Every state needs frames of its own and every column something to explain.
    return max(50, 2 * settings.n_states * settings.n_components * settings.n_frames,
               10 * settings.n_states)


def train_source(name: str, files: Sequence[Path], settings: TrainSettings, *,
                 progress: Progress | None = None,
                 provenance: Mapping[str, Any] | None = None) -> SourceModel:
    """Train one source's model from its example files.

    Parameters
    ----------
    name : str
        The source's name.
    files : sequence of Path
        Its example audio files.
    settings : TrainSettings
    progress : callable, optional, keyword-only
        Called with the fraction done as training runs (reading the audio comes first and
        is not counted).
    provenance : mapping, optional, keyword-only
        Extra entries for the model's training provenance.

    Raises
    ------
    ParameterError
        If there is too little audio for the model size asked.
    AudioFileError
        If a file cannot be read.
    """
    V, seconds = training_spectrogram(files, sr=settings.sr, n_fft=settings.n_fft,
                                      hop_length=settings.hop_length)
    return spectrogram_source(name, V, seconds, settings, progress=progress, provenance={
        **dict(provenance or {}), "files": [str(file) for file in files][:200],
        "n_files": len(files)})


def spectrogram_source(name: str, V: npt.NDArray[np.float32], seconds: float,
                       settings: TrainSettings, *, progress: Progress | None = None,
                       provenance: Mapping[str, Any] | None = None) -> SourceModel:
    """Train one source's model from its magnitude frames ``V`` (F, T), silence removed
    (``seconds`` of audio); see :func:`train_source`."""
    needed = minimum_frames(settings)
    if V.shape[1] < needed:
        raise ParameterError(
            f"source {name!r}: {seconds:.1f} s of audio (silence removed) is too little for "
            f"{settings.n_states} state(s) x {settings.n_components} components; give at least "
            f"{needed * settings.hop_length / settings.sr:.1f} s or ask for a smaller model")
    started = time.perf_counter()
    provenance = {
        **dict(provenance or {}),
        "seconds": round(seconds, 2),
        "seed": settings.seed,
        "iterations": settings.iterations,
        "model": settings.model,
    }
    if settings.model == "nmfd":
        result = train_nmfd(V, n_components=settings.n_components, n_lags=settings.n_frames,
                            cost="kl" if settings.beta == 1.0 else "ls",
                            n_iter=settings.iterations, seed=settings.seed, progress=progress)
        provenance.update(beta=settings.beta, frames=settings.n_frames,
                          training_seconds=round(time.perf_counter() - started, 2))
        return SourceModel.from_nmfd(name, result.W.astype(np.float32), provenance=provenance)
    if settings.model == "nmf":
        result = nmf(V, n_components=settings.n_components, beta=settings.beta,
                     n_iter=settings.iterations, seed=settings.seed, progress=progress)
        provenance.update(beta=settings.beta, final_cost=float(result.costs[-1]),
                          training_seconds=round(time.perf_counter() - started, 2))
        return SourceModel.from_nmf(name, result.W.astype(np.float32), provenance=provenance,
                                    adaptive=settings.adaptive)
    model = train_nhmm(V, n_states=settings.n_states, n_components=settings.n_components,
                       n_iter=settings.iterations, seed=settings.seed, progress=progress)
    provenance.update(log_likelihood=float(model.log_likelihoods[-1]), counts=model.counts,
                      training_seconds=round(time.perf_counter() - started, 2))
    return SourceModel(name, W=model.W, A=model.A, pi=model.pi, provenance=provenance,
                       adaptive=settings.adaptive)


def train_preset(sources: Mapping[str, Sequence[str | os.PathLike[str]]],
                 settings: TrainSettings, *, name: str, description: str = "",
                 overrides: Mapping[str, Mapping[str, Any]] | None = None,
                 trainer: Callable[..., SourceModel] | None = None,
                 floors: Mapping[str, float] | None = None,
                 progress: Progress | None = None) -> Preset:
    """Train every source and bundle them into a preset.

    Parameters
    ----------
    sources : mapping of str to sequence of path-like
        Source name → its example files or folders.
    settings : TrainSettings
        Model and analysis settings, shared by every source.
    overrides : mapping of str to mapping, keyword-only
        Per source name, TrainSettings fields that differ for it (e.g. ``{"noise":
        {"n_states": 4}}``); the analysis settings (sr, n_fft, hop_length) cannot differ.
    trainer : callable, optional, keyword-only
        Called as :func:`train_source` is (the default) to train each source, e.g.
        :func:`livesep.models.corpus.source.train_source_chunked` on a cluster.
    floors : mapping of str to float, keyword-only
        Per source name, the weight of a noise floor the engine tracks for it as it plays
        (:attr:`livesep.presets.SourceModel.floor`), e.g. ``{"noise": 30.0}``.
    name, description : str, keyword-only
        The preset's title and free-text description.
    progress : callable, optional, keyword-only
        Called with the fraction done, over all sources.

    Returns
    -------
    Preset
    """
    if not 2 <= len(sources) <= 16:
        raise ParameterError(
            f"sources: a preset separates 2 to 16 sources, got {len(sources)} "
            f"({', '.join(map(repr, sources)) or 'none'}); give what to keep and what to "
            f"remove, e.g. a voice and the noise of its room")
    overrides = dict(overrides or {})
    floors = dict(floors or {})
    unknown = sorted((set(overrides) | set(floors)) - set(sources))
    if unknown:
        raise ParameterError(f"settings given for unknown source(s) {', '.join(unknown)}; the "
                             f"sources are {', '.join(sources)}")
    per_source = {}
    for source in sources:
        changes = dict(overrides.get(source, {}))
        fixed = sorted(set(changes) & {"sr", "n_fft", "hop_length", "model", "seed"})
        if fixed:
            raise ParameterError(f"source {source!r}: {', '.join(fixed)} must be the same for "
                                 "every source")
        per_source[source] = replace(settings, **changes)
    for source, weight in floors.items():
        if not 0.0 <= weight <= MAX_FLOOR_WEIGHT:
            raise ParameterError(f"the noise floor of source {source!r} must be a weight in "
                                 f"[0, {MAX_FLOOR_WEIGHT:g}], got {weight:g}")
        if weight > 0 and (per_source[source].adaptive or per_source[source].model == "nmfd"):
            raise ParameterError(f"source {source!r} adapts or is convolutive; a noise floor "
                                 f"is for a source of one frame that does not adapt")
    files = {source: collect_audio_files(paths) for source, paths in sources.items()}
    train = trainer or train_source
    models = [train(source, source_files, per_source[source],
                           progress=part_of(progress, i / len(files), (i + 1) / len(files)))
              for i, (source, source_files) in enumerate(files.items())]
    models = [replace(model, floor=floors[model.name]) if model.name in floors else model
              for model in models]
    summary = ", ".join(f"{m.name} ({m.n_states} x {m.n_components})" for m in models)
    return Preset(name, description=description or f"Trained by livesep train: {summary}.",
                  sr=settings.sr, n_fft=settings.n_fft, hop_length=settings.hop_length,
                  model="nhmm" if settings.model == "nhmm" else "nmf", sources=models)


#: The shipped N-HMM voice preset whose speech or noise model enrolment keeps when it is not
#: given that recording.
ENROLMENT_BASE = "speech-noise-nhmm"
#: Least audio of the voice and of the room (without speech) enrolment takes, in seconds.
MIN_VOICE_SECONDS = 10.0
MIN_ROOM_SECONDS = 3.0
#: The models enrolment trains: the voice as an N-HMM of 20 states, the room of 4.
VOICE_SETTINGS = TrainSettings(model="nhmm", n_states=20, n_components=10)
ROOM_SETTINGS = TrainSettings(model="nhmm", n_states=4, n_components=10)
#: The weight of the noise floor the room's model tracks in the stream (SourceModel.floor):
#: 10 s of a room is a small sample of it, and the floor follows the room as it plays.
ROOM_FLOOR = 30.0
#: The share of the masks the default preset's companion (its recurrent network) takes.
COMPANION_SHARE = 0.2


def enrol(voice: npt.ArrayLike | None, room: npt.ArrayLike | None, *,
          base: Preset | None = None, name: str = "my voice", seed: int = 0,
          companion_share: float = COMPANION_SHARE,
          progress: Progress | None = None) -> Preset:
    """A personal voice preset: an N-HMM of the user's voice and one of their room, with the
    default preset's companion beside them.

    Parameters
    ----------
    voice : array-like, shape (n,), or None
        The user reading, mono at 16 kHz; at least :data:`MIN_VOICE_SECONDS` (30 s is
        better). None keeps the base's speech model.
    room : array-like, shape (n,), or None
        The room without speech, mono at 16 kHz; at least :data:`MIN_ROOM_SECONDS` (10 s
        is better). None keeps the base's noise model.
    base : Preset, optional, keyword-only
        An N-HMM preset with sources ``speech`` and ``noise`` at 16 kHz, 512 / 128 (default:
        the shipped :data:`ENROLMENT_BASE`), for the half not given.
    name : str, keyword-only
        The new preset's name.
    seed : int, keyword-only
        The training's randomness: the same recordings and seed give the same preset.
    companion_share : float, keyword-only
        The default preset's companion's share of the masks, in [0, 1) (0: none); it joins
        a base whose frames it reads (:class:`~livesep.presets.Preset`'s ``companion``).
    progress : callable, optional, keyword-only
        Called with the fraction done.

    Returns
    -------
    Preset
        Sources ``speech`` and ``noise``, model "nhmm", at the base's settings; the noise
        also tracks the room's noise floor as it plays (``floor`` :data:`ROOM_FLOOR`).

    Raises
    ------
    ParameterError
        Without voice and room, with too little of either (silence removed), a base
        that is not an N-HMM preset of ``speech`` and ``noise``, or a share outside [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from livesep.models.train import enrol
    >>> rng = np.random.default_rng(0)
    >>> room = (0.05 * rng.standard_normal(5 * 16000)).astype(np.float32)
    >>> mine = enrol(None, room, name="my room")
    >>> mine.source_names, mine.sources[1].n_states
    (('speech', 'noise'), 4)
    """
    base = base if base is not None else load_preset(ENROLMENT_BASE)
    if base.source_names != ("speech", "noise") or base.model != "nhmm" \
            or any(source.layers for source in base.sources):
        raise ParameterError(f"enrolment keeps the speech or noise of an N-HMM preset of "
                             f"sources 'speech' and 'noise'; preset {base.name!r} has sources "
                             f"{', '.join(base.source_names)} (model {base.model!r})")
    if voice is None and room is None:
        raise ParameterError("enrolment needs the voice, the room, or both")
    if not 0.0 <= companion_share < 1.0:
        raise ParameterError(f"companion_share must be in [0, 1), got {companion_share!r}")
    given = [(label, signal, least, settings) for label, signal, least, settings in
             (("voice", voice, MIN_VOICE_SECONDS, VOICE_SETTINGS),
              ("room", room, MIN_ROOM_SECONDS, ROOM_SETTINGS)) if signal is not None]
    sources = list(base.sources)
    for step, (label, signal, least, settings) in enumerate(given):
        samples = np.asarray(signal, dtype=np.float32)
        seconds = samples.size / base.sr
        if samples.ndim != 1 or seconds < least or not np.any(samples):
            raise ParameterError(f"{label} must be mono, at least {least:g} s and not silent, "
                                 f"got {seconds:.1f} s of shape {samples.shape}")
        settings = replace(settings, sr=base.sr, n_fft=base.n_fft,
                           hop_length=base.hop_length, seed=seed)
        V, kept = signals_spectrogram([samples], sr=base.sr, n_fft=base.n_fft,
                                      hop_length=base.hop_length)
        if kept < least:
            raise ParameterError(f"{label}: {kept:.1f} s of it is more than silence; give at "
                                 f"least {least:g} s")
        index = 0 if label == "voice" else 1
        sources[index] = spectrogram_source(
            base.source_names[index], V, kept, settings,
            progress=part_of(progress, step / len(given), (step + 1) / len(given)),
            provenance={"enrolled": label, "base": base.name})
    sources[1] = replace(sources[1], floor=ROOM_FLOOR)
    taught = " and ".join(f"a {label}" for label, *_ in given)
    personal = base.with_sources(sources, name=name, model="nhmm",
                                 description=f"{base.name!r} taught {taught}")
    if not companion_share:
        return personal
    try:  # the default's companion, where it reads the base's frames (Preset's companion)
        return replace(personal, companion=load_preset(DEFAULT_PRESET).companion,
                       companion_share=companion_share)
    except ParameterError:
        return personal
