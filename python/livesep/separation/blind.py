"""Blind separation of instruments with NMF2D / NMFD (Schmidt & Mørup 2006), no training.

The recipe of the paper's section 3: STFT (2048-point window, 50 % overlap at 16 kHz), a
log-frequency magnitude spectrogram (24 bins per octave, 50 Hz – 8 kHz,
:mod:`livesep.models.logfreq`), NMF2D with one factor per instrument, each factor's own
reconstruction (eq. (4) for one ``d``) mapped back to the linear bins, soft masks on the
mixture STFT (``mask_power = inf`` gives the paper's binary masks: every bin to the loudest
source) and the inverse STFT with the mixture's phase.

The paper's τ = 0 … 6 and φ = 0 … 11 (:data:`PAPER_SETTINGS`) fit its example, whose
instruments each play three notes; on songs whose instruments range over an octave or more
12 quarter-tone shifts cannot follow the notes and the two factors share both instruments.
The defaults were chosen on rendered songs (``benchmarks/bench_blind.py``, docs/nmf2d.md):
36 shifts (an octave and a half), the paper's 7 lags, the best of 8 random starts and a light
sparsity penalty on the activations.

NMFD (``model="nmfd"``, no pitch shifts) needs one factor per note rather than per
instrument; with more factors than sources the factors must be grouped (``groups``), which
the paper does by hand. Which factor becomes which output is arbitrary in blind separation;
the outputs are ordered by the log-frequency centroid of their reconstruction, lowest first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep import audio, spectral
from livesep.checks import check_choice, check_float, check_int
from livesep.errors import AudioFileError, ParameterError
from livesep.files import check_new_files, check_output_folder
from livesep.models.logfreq import LogFrequencyMap, log_frequency_map
from livesep.models.nmf2d import COSTS, Nmf2dResult, nmf2d
from livesep.progress import Progress

__all__ = ["BLIND_MODELS", "PAPER_SETTINGS", "BlindSettings", "BlindSeparation",
           "separate_blind", "separate_blind_file", "stem_names"]

#: The blind models: with pitch shifts (one factor per instrument) or without.
BLIND_MODELS = ("nmf2d", "nmfd")


@dataclass(frozen=True)
class BlindSettings:
    """Settings of blind separation; the defaults as measured in docs/nmf2d.md.

    Attributes
    ----------
    model : {"nmf2d", "nmfd"}
    n_sources : int
        Outputs.
    n_factors : int or None
        Factors of the factorisation (default: ``n_sources``, one per source).
    sr : int
        Rate the signal is separated at (16 kHz in the paper).
    n_fft, hop_length : int
        STFT (2048 / 1024: the paper's 50 % overlap).
    bins_per_octave : int
        Log-frequency resolution (24).
    fmin, fmax : float
        Log-frequency range in Hz (50 – 8000; ``fmax`` is capped at ``sr / 2``).
    n_lags : int
        Convolutive lags in time (the paper: 7).
    n_shifts : int
        Pitch shifts in log bins for NMF2D (the paper: 12); NMFD always uses 1.
    cost : {"ls", "kl"}
        Least squares (the paper's experiment) or KL.
    n_iter : int
        Maximum iterations.
    tol : float
        Relative cost change at which to stop.
    seed : int
        Seed of the initialisation.
    n_starts : int
        Random starts (seeds ``seed`` … ``seed + n_starts - 1``), each run for
        ``start_iter`` iterations; the best fit is run on to ``n_iter``.
    start_iter : int
        Iterations of every start before the best is chosen.
    sparsity : float
        λ of the sparsity penalty on the activations (:func:`livesep.models.nmf2d.nmf2d`).
    mask_power : float
        Soft-mask exponent; ``inf`` for binary masks.
    """

    model: str = "nmf2d"
    n_sources: int = 2
    n_factors: int | None = None
    sr: int = 16000
    n_fft: int = 2048
    hop_length: int = 1024
    bins_per_octave: int = 24
    fmin: float = 50.0
    fmax: float = 8000.0
    n_lags: int = 7
    n_shifts: int = 36
    cost: str = "ls"
    n_iter: int = 500
    tol: float = 1e-6
    seed: int = 0
    n_starts: int = 8
    start_iter: int = 30
    sparsity: float = 1.0
    mask_power: float = 2.0

    def checked(self) -> BlindSettings:
        """These settings after checking every value (raises :class:`ParameterError`)."""
        check_choice("model", self.model, BLIND_MODELS)
        check_int("n_sources", self.n_sources, low=1, high=64)
        if self.n_factors is not None:
            check_int("n_factors", self.n_factors, low=self.n_sources, high=256)
        check_int("sr", self.sr, low=1000)
        spectral.check_stft_settings(self.n_fft, self.hop_length)
        check_int("n_lags", self.n_lags, low=1)
        check_int("n_shifts", self.n_shifts, low=1)
        check_choice("cost", self.cost, COSTS)
        check_int("n_iter", self.n_iter, low=0)
        check_float("tol", self.tol)
        check_int("seed", self.seed, low=0)
        check_int("n_starts", self.n_starts, low=1, high=1000)
        check_int("start_iter", self.start_iter, low=0)
        check_float("sparsity", self.sparsity, low=0.0)
        if self.mask_power != np.inf:  # inf: binary masks
            check_float("mask_power", self.mask_power, low=0.0, low_open=True)
        return self


#: The paper's settings: 7 lags, 12 shifts, one random start, no sparsity.
PAPER_SETTINGS = BlindSettings(n_lags=7, n_shifts=12, n_starts=1, sparsity=0.0)


@dataclass(eq=False)
class BlindSeparation:
    """What :func:`separate_blind` found.

    Attributes
    ----------
    stems : np.ndarray, shape (S, n), float32
        The separated sources, aligned with the input, lowest centroid first.
    groups : tuple of tuple of int
        The factors making up each stem.
    result : Nmf2dResult
        The factorisation of the log-frequency spectrogram.
    log_map : LogFrequencyMap
        The linear ↔ log-frequency mapping.
    masks : np.ndarray, shape (S, F, T)
        The masks applied to the mixture STFT.
    """

    stems: npt.NDArray[np.float32]
    groups: tuple[tuple[int, ...], ...]
    result: Nmf2dResult
    log_map: LogFrequencyMap
    masks: npt.NDArray[np.float64] = field(repr=False)


def stem_names(n_sources: int) -> list[str]:
    """``["source1", "source2", ...]``: the names of blind outputs."""
    return [f"source{i + 1}" for i in range(n_sources)]


def _check_groups(groups: Sequence[Sequence[int]] | None, n_sources: int, n_factors: int
                  ) -> list[tuple[int, ...]]:
    if groups is None:
        if n_factors != n_sources:
            raise ParameterError(f"{n_factors} factors for {n_sources} sources: say which "
                                 "factors make up each source (groups)")
        return [(d,) for d in range(n_factors)]
    listed = [tuple(int(d) for d in group) for group in groups]
    flat = sorted(d for group in listed for d in group)
    if len(listed) != n_sources or flat != list(range(n_factors)):
        raise ParameterError(f"groups must split the factors 0..{n_factors - 1} into "
                             f"{n_sources} groups, got {groups!r}")
    return listed


def _masks(estimates: npt.NDArray[np.float64], power: float) -> npt.NDArray[np.float64]:
    if np.isinf(power):  # the paper's binary masks: every bin to the loudest source
        return (np.arange(estimates.shape[0])[:, None, None]
                == np.argmax(estimates, axis=0)[None]).astype(np.float64)
    from livesep.spectral import soft_masks

    return soft_masks(estimates, power=power)


def separate_blind(y: npt.ArrayLike, *, settings: BlindSettings | None = None,
                   groups: Sequence[Sequence[int]] | None = None,
                   progress: Progress | None = None) -> BlindSeparation:
    """Separate a mixture of instruments blindly by NMF2D (or NMFD) and masking.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono mixture at ``settings.sr``.
    settings : BlindSettings, optional
        The paper's settings by default.
    groups : sequence of sequence of int, optional, keyword-only
        Factors per source when there are more factors than sources.
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    BlindSeparation

    Raises
    ------
    ParameterError
        For a bad setting, an empty or silent mixture.
    """
    settings = (settings or BlindSettings()).checked()
    signal = np.asarray(y, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ParameterError(f"the mixture must be mono and non-empty, shaped (n,), got "
                             f"shape {signal.shape}")
    if not np.all(np.isfinite(signal)):
        raise ParameterError("the mixture holds non-finite samples (NaN or Inf)")
    n_factors = settings.n_factors or settings.n_sources
    chosen = _check_groups(groups, settings.n_sources, n_factors)
    log_map = log_frequency_map(sr=settings.sr, n_fft=settings.n_fft,
                                bins_per_octave=settings.bins_per_octave, fmin=settings.fmin,
                                fmax=min(settings.fmax, settings.sr / 2))
    X = spectral.stft(signal, n_fft=settings.n_fft, hop_length=settings.hop_length)
    L = log_map.to_log(np.abs(X).astype(np.float64))
    if not L.any():
        raise ParameterError("the mixture is silent: nothing to separate")
    result = _factorise(L, settings, n_factors, progress)
    parts = result.factor_reconstructions()
    log_estimates = np.stack([parts[list(group)].sum(axis=0) for group in chosen])
    # Blind outputs have no names: order them by pitch (log-frequency centroid), low first.
    mass = log_estimates.sum(axis=2)
    centroids = (mass @ np.arange(L.shape[0])) / np.maximum(mass.sum(axis=1), 1e-300)
    order = np.argsort(centroids, kind="stable")
    log_estimates = log_estimates[order]
    chosen = [chosen[i] for i in order]
    estimates = np.stack([log_map.to_linear(part) for part in log_estimates])
    masks = _masks(estimates, settings.mask_power)
    stems = np.stack([spectral.istft(X * mask, n_fft=settings.n_fft,
                                     hop_length=settings.hop_length, length=signal.size)
                      for mask in masks])
    return BlindSeparation(stems=stems, groups=tuple(chosen), result=result, log_map=log_map,
                           masks=masks)


def _factorise(L: npt.NDArray[np.float64], settings: BlindSettings, n_factors: int,
               progress: Progress | None) -> Nmf2dResult:
    """NMF2D of ``L`` from the best of ``settings.n_starts`` random starts."""
    n_shifts = settings.n_shifts if settings.model == "nmf2d" else 1
    common: dict[str, Any] = {"n_factors": n_factors,
                              "n_lags": min(settings.n_lags, L.shape[1]),
                              "n_shifts": min(n_shifts, L.shape[0]), "cost": settings.cost,
                              "sparsity": settings.sparsity}
    best: Nmf2dResult | None = None
    if settings.n_starts > 1:
        # The fit has many local optima, and which one a start falls into shows early.
        for seed in range(settings.seed, settings.seed + settings.n_starts):
            trial = nmf2d(L, **common, n_iter=settings.start_iter, tol=0.0, seed=seed)
            if best is None or trial.costs[-1] < best.costs[-1]:
                best = trial
    return nmf2d(L, **common, n_iter=settings.n_iter, tol=settings.tol, seed=settings.seed,
                 W=None if best is None else best.W, H=None if best is None else best.H,
                 progress=progress)


def separate_blind_file(mixture: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                        settings: BlindSettings | None = None, overwrite: bool = False,
                        progress: Progress | None = None) -> list[Path]:
    """Separate an audio file blindly into ``out_dir/source1.wav``, ``source2.wav``, ...

    The stems have the input's rate and length and line up with it sample for sample; a
    multi-channel input is mixed down, another rate than ``settings.sr`` resampled for the
    separation and back. Stems appear only once all are written.

    Parameters
    ----------
    mixture : path-like
        The input file.
    out_dir : path-like
        Created if missing.
    settings : BlindSettings, optional
    overwrite : bool, keyword-only
        Replace stems that already exist.
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    list of Path
        The stems written.
    """
    from livesep.separation.files import write_stems
    from livesep.separation.signals import separate_at_rate

    settings = (settings or BlindSettings()).checked()
    check_output_folder(out_dir, error=AudioFileError)
    audio.info(mixture)  # a clear error for a missing or unreadable file
    targets = [Path(out_dir) / f"{name}.wav" for name in stem_names(settings.n_sources)]
    check_new_files(targets, overwrite=overwrite, inputs=[mixture], error=AudioFileError)
    y, file_sr = audio.load(mixture, mono=True)
    stems = separate_at_rate(y, file_sr, settings.sr, lambda signal: separate_blind(
        signal, settings=settings, progress=progress).stems)
    return write_stems(stems, targets, sr=file_sr)
