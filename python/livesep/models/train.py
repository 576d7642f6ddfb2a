"""Training a preset from isolated examples of each source (what ``livesep train`` runs)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
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
from livesep.presets import Preset, SourceModel
from livesep.progress import Progress, part_of

__all__ = ["TrainSettings", "collect_audio_files", "training_spectrogram", "train_source",
           "train_preset", "minimum_frames", "MODELS"]

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
    spectra = []
    for file in files:
        y, _ = audio.load(file, sr=sr)
        spectra.append(spectral.magnitude(y, n_fft=n_fft, hop_length=hop_length))
    V = np.concatenate(spectra, axis=1)
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
    needed = minimum_frames(settings)
    if V.shape[1] < needed:
        raise ParameterError(
            f"source {name!r}: {seconds:.1f} s of audio (silence removed) is too little for "
            f"{settings.n_states} state(s) x {settings.n_components} components; give at least "
            f"{needed * settings.hop_length / settings.sr:.1f} s or ask for a smaller model")
    started = time.perf_counter()
    provenance = {
        **dict(provenance or {}),
        "files": [str(file) for file in files][:200],
        "n_files": len(files),
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
    unknown = sorted(set(overrides) - set(sources))
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
    files = {source: collect_audio_files(paths) for source, paths in sources.items()}
    models = [train_source(source, source_files, per_source[source],
                           progress=part_of(progress, i / len(files), (i + 1) / len(files)))
              for i, (source, source_files) in enumerate(files.items())]
    summary = ", ".join(f"{m.name} ({m.n_states} x {m.n_components})" for m in models)
    return Preset(name, description=description or f"Trained by livesep train: {summary}.",
                  sr=settings.sr, n_fft=settings.n_fft, hop_length=settings.hop_length,
                  model="nhmm" if settings.model == "nhmm" else "nmf", sources=models)
