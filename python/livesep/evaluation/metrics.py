"""Separation quality figures: BSS Eval, SI-SDR, STOI, PESQ, and the floor and ceiling.

Every function takes the true sources (references) and their estimates as arrays shaped
``(S, n)`` (or ``(n,)`` for one signal) at one sample rate, in the same order: row ``s`` of
``estimates`` is what the separator calls source ``s``.

BSS Eval comes from ``fast_bss_eval`` with its default permutation search (its
``compute_permutation=False`` path fails with numpy 2): the figures are those of the best
assignment of estimates to references, and :class:`BssEval` says which assignment that was.
A permutation other than the identity means the separator put source ``a`` where source
``b`` belongs — :attr:`BssEval.swapped` — and is reported as a failure, never hidden.

The floor (every source estimated as the mixture) and the ceiling (the ideal ratio mask,
computed with the engine's own STFT) are scored with the same functions as a separator.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.errors import ParameterError

__all__ = ["BssEval", "PesqScore", "CLAMP_DB", "bss_eval", "si_sdr", "stoi", "pesq",
           "ideal_ratio_mask", "mixture_floor", "PESQ_SR"]

#: Decibel figures are clamped to ±CLAMP_DB: beyond it (a perfect estimate, the mixture's
#: artefact-free SAR) a ratio says nothing more and would only break means.
CLAMP_DB = 100.0
#: Wideband PESQ (ITU-T P.862.2) works at this rate; other rates are resampled to it.
PESQ_SR = 16000

Array = npt.NDArray[np.float64]


def _pair(references: npt.ArrayLike, estimates: npt.ArrayLike) -> tuple[Array, Array]:
    """Both as float64 (S, n) with matching shapes and finite values."""
    ref = np.asarray(references, dtype=np.float64)
    est = np.asarray(estimates, dtype=np.float64)
    if ref.ndim == 1:
        ref = ref[np.newaxis]
    if est.ndim == 1:
        est = est[np.newaxis]
    if ref.ndim != 2 or ref.shape != est.shape or ref.size == 0:
        raise ParameterError(f"references and estimates must be non-empty arrays of one shape "
                             f"(S, n), got {np.shape(references)} and {np.shape(estimates)}")
    for name, array in (("references", ref), ("estimates", est)):
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"{name} hold non-finite values (NaN or Inf)")
    return ref, est


@dataclass(frozen=True)
class BssEval:
    """BSS Eval figures per reference source, under the best permutation.

    Attributes
    ----------
    sdr, sir, sar : np.ndarray, shape (S,)
        Signal to distortion, interference and artefact ratios in dB, per reference (row
        ``s`` scores reference ``s`` against estimate ``permutation[s]``), clamped to
        ±:data:`CLAMP_DB`.
    permutation : np.ndarray of int, shape (S,)
        The estimate matched to each reference.
    swapped : bool
        True when the permutation is not the identity: the separator's outputs are in the
        wrong order (some estimate named ``a`` holds source ``b``). Identical estimates
        (the mixture floor) never count as swapped.
    """

    sdr: Array
    sir: Array
    sar: Array
    permutation: npt.NDArray[np.int64]
    swapped: bool


def bss_eval(references: npt.ArrayLike, estimates: npt.ArrayLike, *,
             filter_length: int = 512) -> BssEval:
    """SDR, SIR and SAR (BSS Eval v4 sources, ``fast_bss_eval``) with the permutation.

    Parameters
    ----------
    references : array-like, shape (S, n)
        The true sources.
    estimates : array-like, shape (S, n)
        The separated sources, in the separator's order.
    filter_length : int, keyword-only
        Length of the distortion filter BSS Eval allows.

    Returns
    -------
    BssEval
    """
    import fast_bss_eval

    ref, est = _pair(references, estimates)
    if ref.shape[1] <= filter_length:
        raise ParameterError(f"BSS Eval needs signals longer than filter_length="
                             f"{filter_length} samples, got {ref.shape[1]}")
    silent = [s for s in range(ref.shape[0]) if not np.any(ref[s])]
    if silent:
        raise ParameterError(f"reference {silent[0]} is silent (all zeros): BSS Eval needs "
                             "every source present")
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sdr, sir, sar, perm = fast_bss_eval.bss_eval_sources(
            ref, est, filter_length=filter_length)
    perm = np.asarray(perm, dtype=np.int64)
    identical = all(np.array_equal(est[0], row) for row in est[1:])
    if identical:  # every assignment scores the same: no order to get wrong
        perm = np.arange(ref.shape[0])
    swapped = not np.array_equal(perm, np.arange(ref.shape[0]))
    return BssEval(sdr=_clean(sdr), sir=_clean(sir), sar=_clean(sar), permutation=perm,
                   swapped=swapped)


def _clean(values: npt.ArrayLike) -> Array:
    """float64, NaN from 0/0 kept, infinities clamped."""
    return np.clip(np.asarray(values, dtype=np.float64), -CLAMP_DB, CLAMP_DB)


def _db(signal: Array, noise: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return _clean(10.0 * np.log10(signal / noise))


def si_sdr(references: npt.ArrayLike, estimates: npt.ArrayLike) -> Array:
    """Scale-invariant SDR (Le Roux et al. 2019) of each estimate against its reference.

    Both are made zero-mean; the reference is scaled to best fit the estimate and what is
    left over counts as distortion.

    Parameters
    ----------
    references, estimates : array-like, shape (S, n) or (n,)
        Paired row by row (no permutation search).

    Returns
    -------
    np.ndarray, shape (S,)
        In dB, clamped to ±:data:`CLAMP_DB`; NaN for a silent reference.
    """
    ref, est = _pair(references, estimates)
    ref = ref - ref.mean(axis=1, keepdims=True)
    est = est - est.mean(axis=1, keepdims=True)
    energy = np.sum(ref * ref, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.sum(ref * est, axis=1) / energy
    target = scale[:, None] * ref
    residual = est - target
    result = _db(np.sum(target * target, axis=1), np.sum(residual * residual, axis=1))
    return np.where(energy > 0, result, np.nan)


def stoi(reference: npt.ArrayLike, estimate: npt.ArrayLike, *, sr: int) -> float:
    """Short-time objective intelligibility (Taal et al. 2011, ``pystoi``, not extended).

    Parameters
    ----------
    reference, estimate : array-like, shape (n,)
        One clean signal and its estimate.
    sr : int, keyword-only
        Their rate in Hz (pystoi resamples to 10 kHz).

    Returns
    -------
    float
        In [0, 1] roughly; NaN when the reference holds too little speech for the measure.
    """
    from pystoi import stoi as pystoi_stoi

    ref, est = _pair(reference, estimate)
    with warnings.catch_warnings():
        # pystoi warns (and returns 1e-5) when too few speech frames are left.
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return float(pystoi_stoi(ref[0], est[0], sr, extended=False))
        except RuntimeWarning:
            return float("nan")


@dataclass(frozen=True)
class PesqScore:
    """A wideband PESQ score (MOS-LQO, about 1 to 4.6) or NaN with the reason."""

    score: float
    note: str | None = None


def pesq(reference: npt.ArrayLike, estimate: npt.ArrayLike, *, sr: int) -> PesqScore:
    """Wideband PESQ (ITU-T P.862.2, PyPI ``pesq``) of one speech estimate.

    Parameters
    ----------
    reference, estimate : array-like, shape (n,)
        The clean speech and its estimate.
    sr : int, keyword-only
        Their rate in Hz; resampled to 16 kHz when different.

    Returns
    -------
    PesqScore
        NaN with a note instead of an error when PESQ cannot score the pair (no utterance
        detected in the reference, shorter than 1/4 s, silent).
    """
    from pesq import PesqError
    from pesq import pesq as pesq_wb

    from livesep.audio import resample

    ref, est = (np.asarray(x, dtype=np.float32)[0] for x in _pair(reference, estimate))
    if sr != PESQ_SR:
        ref = resample(ref, orig_sr=sr, target_sr=PESQ_SR)
        est = resample(est, orig_sr=sr, target_sr=PESQ_SR)
    if not np.any(ref) or not np.any(est):
        return PesqScore(float("nan"), "silent signal")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return PesqScore(float(pesq_wb(PESQ_SR, ref, est, "wb")))
    except PesqError as error:
        reason = error.args[0] if error.args else type(error).__name__
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        return PesqScore(float("nan"), str(reason))


def ideal_ratio_mask(references: npt.ArrayLike, *, n_fft: int, hop_length: int,
                     power: float = 2.0, mixture: npt.ArrayLike | None = None
                     ) -> npt.NDArray[np.float32]:
    """The ideal-ratio-mask ceiling: masks from the true sources, applied to the mixture.

    M_s = |S_s|^p / sum_j |S_j|^p over the STFT of each reference (framed as the engine
    frames a stream, :mod:`livesep.spectral`), applied to the complex mixture STFT — the
    best any separator that masks with soft masks of this power could do.

    Parameters
    ----------
    references : array-like, shape (S, n)
        The true sources.
    n_fft, hop_length : int, keyword-only
        The STFT of the separator being compared.
    power : float, keyword-only
        Mask exponent p, as the separator's ``mask_power``.
    mixture : array-like, shape (n,), optional
        The mixture the masks are applied to; the sum of the references by default.

    Returns
    -------
    np.ndarray, shape (S, n), float32
    """
    ref = np.asarray(references, dtype=np.float64)
    if ref.ndim != 2 or ref.size == 0:
        raise ParameterError(f"references must be shaped (S, n), got {ref.shape}")
    mix = ref.sum(axis=0) if mixture is None else np.asarray(mixture, dtype=np.float64)
    if mix.shape != ref.shape[1:]:
        raise ParameterError(f"the mixture must be shaped ({ref.shape[1]},) like each "
                             f"reference, got {mix.shape}")
    from livesep.spectral import soft_masks

    magnitudes = np.stack([np.abs(spectral.stft(r, n_fft=n_fft, hop_length=hop_length))
                           for r in ref])
    masks = soft_masks(magnitudes, power=power)
    X = spectral.stft(mix, n_fft=n_fft, hop_length=hop_length)
    return np.stack([spectral.istft(X * m, n_fft=n_fft, hop_length=hop_length,
                                    length=mix.size) for m in masks])


def mixture_floor(mixture: npt.ArrayLike, *, n_sources: int) -> npt.NDArray[np.float32]:
    """The floor: every source estimated as the mixture itself, shape (n_sources, n)."""
    mix = np.asarray(mixture, dtype=np.float32)
    if mix.ndim != 1 or n_sources < 1:
        raise ParameterError(f"the mixture must be shaped (n,) and n_sources >= 1, got shape "
                             f"{mix.shape} and n_sources={n_sources!r}")
    return np.ascontiguousarray(np.broadcast_to(mix, (n_sources, mix.size)))
