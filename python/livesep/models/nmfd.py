"""Convolutive dictionaries on the linear STFT (NMFD): training, supervised and causal fits.

A source's dictionary is ``W`` shaped (n_lags, F, K), F = n_fft // 2 + 1 linear bins of the
engine's STFT (:mod:`livesep.spectral`): component ``k`` is a spectrogram patch
``W[:, :, k]`` ``n_lags`` frames long, placed in time by ``H[k]``:

    V[:, t] ≈ Σ_τ W[τ] @ H[:, t - τ].

It is :func:`livesep.models.nmf2d.nmfd` without pitch shifts, with the paper's LS or KL
updates, and each component's patch normalised to unit sum (``W[:, :, k].sum() == 1``, the
engine's convention for dictionary columns; then ``Σ Λ = Σ H`` for KL). With ``n_lags = 1``
it is plain NMF.

Supervised separation (:func:`separate_nmfd`): the sources' dictionaries side by side along
K, fixed; the activations fitted to the mixture; each source's part of the model turned into
a soft mask on the mixture STFT. :func:`fit_nmfd_causal` is the frame-by-frame variant an
online engine can run: only the newest frame's activations are fitted, those of the past
``n_lags - 1`` frames are held fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.checks import check_choice, check_float, check_int
from livesep.errors import ParameterError
from livesep.models._common import check_entries, check_spectrogram
from livesep.models.nmf2d import COSTS, convolve, nmfd
from livesep.progress import Progress
from livesep.threads import blas_threads

__all__ = ["NmfdResult", "train_nmfd", "fit_nmfd_activations", "fit_nmfd_causal",
           "source_estimates", "separate_nmfd"]

Array = npt.NDArray[np.float64]


@dataclass(eq=False)
class NmfdResult:
    """A convolutive factorisation ``V ≈ Σ_τ W[τ] @ shift(H, τ)``.

    Attributes
    ----------
    W : np.ndarray, shape (n_lags, F, K)
        Every component's patch sums to one (for fits with a fixed W: as given).
    H : np.ndarray, shape (K, T)
        Activations.
    costs : list of float
        Cost at the initialisation and after every iteration.
    n_iter : int
        Iterations run.
    converged : bool
        Whether the relative cost change fell below ``tol``.
    """

    W: Array
    H: Array
    costs: list[float]
    n_iter: int
    converged: bool

    def reconstruct(self) -> Array:
        """The model, shape (F, T)."""
        return convolve(self.W, self.H[None])


def train_nmfd(V: npt.ArrayLike, *, n_components: int, n_lags: int, cost: str = "kl",
               n_iter: int = 200, tol: float = 1e-4, seed: int = 0,
               progress: Progress | None = None) -> NmfdResult:
    """Learn a source's convolutive dictionary from an isolated example.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Magnitude STFT of the example (``spectral.magnitude``).
    n_components : int, keyword-only
        K.
    n_lags : int, keyword-only
        Patch length in frames.
    cost : {"kl", "ls"}, keyword-only
        The paper's KL (eq. (22)–(23)) or least-squares (eq. (14)–(15)) updates.
    n_iter, tol, seed, progress : keyword-only
        As for :func:`livesep.models.nmf2d.nmf2d`.

    Returns
    -------
    NmfdResult
        ``W`` (n_lags, F, K) with unit-sum patches, ``H`` (K, T).
    """
    result = nmfd(V, n_factors=n_components, n_lags=n_lags, cost=cost, n_iter=n_iter, tol=tol,
                  seed=seed, norm="l1", progress=progress)
    return NmfdResult(W=result.W, H=result.H[0], costs=result.costs, n_iter=result.n_iter,
                      converged=result.converged)


def _check_dictionary(W: npt.ArrayLike, F: int | None = None) -> Array:
    array = np.asarray(W, dtype=np.float64)
    if array.ndim != 3 or (F is not None and array.shape[1] != F):
        rows = "F" if F is None else str(F)
        raise ParameterError(f"W must be shaped (n_lags, {rows}, K), got shape {array.shape}")
    check_entries("W", array)
    sums = array.sum(axis=(0, 1))
    if not np.all(sums > 0):
        raise ParameterError(f"every component of W needs a positive entry; component "
                             f"{int(np.argmin(sums))} is all zero")
    return array


def fit_nmfd_activations(V: npt.ArrayLike, W: npt.ArrayLike, *, cost: str = "kl",
                         n_iter: int = 100, tol: float = 1e-4, H: npt.ArrayLike | None = None,
                         progress: Progress | None = None) -> NmfdResult:
    """Fit the activations of fixed convolutive dictionaries (non-causal, all frames).

    Parameters
    ----------
    V : array-like, shape (F, T)
        Mixture magnitudes.
    W : array-like, shape (n_lags, F, K)
        Fixed dictionaries (several sources' side by side along K).
    cost : {"kl", "ls"}, keyword-only
    n_iter, tol, progress : keyword-only
        As for :func:`train_nmfd`.
    H : array-like, shape (K, T), optional, keyword-only
        Initial activations; by default flat at each frame's level.

    Returns
    -------
    NmfdResult
    """
    data = check_spectrogram(V)
    dictionary = _check_dictionary(W, data.shape[0])
    K, T = dictionary.shape[2], data.shape[1]
    if H is None:
        start = np.repeat((data.sum(axis=0) / dictionary.sum())[None, :], K, axis=0)
        start = np.maximum(start, 1e-12 * float(data.max()))
    else:
        start = np.asarray(H, dtype=np.float64)
        if start.shape != (K, T):
            raise ParameterError(f"H must be shaped (K, T) = ({K}, {T}), got {start.shape}")
    result = nmfd(data, n_factors=K, n_lags=dictionary.shape[0], cost=cost, n_iter=n_iter,
                  tol=tol, W=dictionary, H=start[None], fix_w=True, progress=progress)
    return NmfdResult(W=result.W, H=result.H[0], costs=result.costs, n_iter=result.n_iter,
                      converged=result.converged)


def fit_nmfd_causal(V: npt.ArrayLike, W: npt.ArrayLike, *, cost: str = "kl", n_iter: int = 10
                    ) -> Array:
    """Frame-by-frame activations, as an online engine fits them (a numpy reference).

    For each frame ``t`` the past frames' activations are fixed, so their patches give a
    known part ``c_t = Σ_{τ≥1} W[τ] h_{t-τ}``; ``h_t`` starts from ``h_{t-1}`` (from a flat
    start at ``t = 0``, and wherever it is zero) and takes ``n_iter`` multiplicative updates
    of the same cost on ``v_t ≈ W[0] h_t + c_t``:

    - KL: ``h_t ← h_t · W[0]ᵀ (v_t / (W[0] h_t + c_t)) / W[0]ᵀ 1``;
    - LS: ``h_t ← h_t · W[0]ᵀ v_t / W[0]ᵀ (W[0] h_t + c_t)``.

    Parameters
    ----------
    V : array-like, shape (F, T)
    W : array-like, shape (n_lags, F, K)
    cost : {"kl", "ls"}, keyword-only
    n_iter : int, keyword-only
        Updates per frame.

    Returns
    -------
    np.ndarray, shape (K, T)
    """
    data = check_spectrogram(V)
    dictionary = _check_dictionary(W, data.shape[0])
    kind = check_choice("cost", cost, COSTS)
    n_iter = check_int("n_iter", n_iter, low=0)
    K, T = dictionary.shape[2], data.shape[1]
    eps = 1e-12 * float(data.max())
    H = np.zeros((K, T))
    with blas_threads(1):
        _causal_frames(data, dictionary, H, kind=kind, n_iter=n_iter, eps=eps)
    return H


def _causal_frames(data: Array, dictionary: Array, H: Array, *, kind: str, n_iter: int,
                   eps: float) -> None:
    """Fill H (K, T) frame by frame (see :func:`fit_nmfd_causal`)."""
    n_lags, F, K = dictionary.shape
    first, column_sums = dictionary[0], dictionary[0].sum(axis=0)
    h = np.zeros(K)
    for t in range(data.shape[1]):
        v = data[:, t]
        known = np.zeros(F)
        for tau in range(1, min(n_lags, t + 1)):
            known += dictionary[tau] @ H[:, t - tau]
        flat = max(float(v.sum()) / float(dictionary.sum()), eps)
        h = np.where(h > 0, h, flat)
        for _ in range(n_iter):
            model = first @ h + known + eps
            if kind == "kl":
                h = h * (first.T @ (v / model)) / (column_sums + eps)
            else:
                h = h * (first.T @ v) / (first.T @ model + eps)
        H[:, t] = h


def source_estimates(dictionaries: Sequence[npt.ArrayLike], H: npt.ArrayLike) -> Array:
    """Each source's part of the model, for dictionaries fitted side by side.

    Parameters
    ----------
    dictionaries : sequence of array-like, each shaped (n_lags, F, K_s)
        In the order their components appear in ``H``.
    H : array-like, shape (Σ K_s, T)

    Returns
    -------
    np.ndarray, shape (S, F, T)
    """
    activations = np.asarray(H, dtype=np.float64)
    estimates, offset = [], 0
    for W in dictionaries:
        block = np.asarray(W, dtype=np.float64)
        k = block.shape[2]
        estimates.append(convolve(block, activations[None, offset:offset + k]))
        offset += k
    if offset != activations.shape[0]:
        raise ParameterError(f"H has {activations.shape[0]} rows but the dictionaries hold "
                             f"{offset} components")
    return np.stack(estimates)


def separate_nmfd(y: npt.ArrayLike, dictionaries: Sequence[npt.ArrayLike], *, n_fft: int = 512,
                  hop_length: int = 128, cost: str = "kl", n_iter: int = 100,
                  causal: bool = False, mask_power: float = 2.0) -> npt.NDArray[np.float32]:
    """Supervised offline separation with per-source convolutive dictionaries.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono mixture at the rate the dictionaries were trained at.
    dictionaries : sequence of array-like, each shaped (n_lags, F, K_s)
        One per source, trained with :func:`train_nmfd` on this STFT; one ``n_lags``.
    n_fft, hop_length : int, keyword-only
        The STFT the dictionaries were trained on.
    cost : {"kl", "ls"}, keyword-only
    n_iter : int, keyword-only
        Activation updates (over all frames, or per frame if ``causal``).
    causal : bool, keyword-only
        Fit frame by frame with the past fixed (:func:`fit_nmfd_causal`), as online.
    mask_power : float, keyword-only
        Soft-mask exponent p.

    Returns
    -------
    np.ndarray, shape (S, n), float32
        One stem per source, aligned with ``y``.
    """
    signal = np.asarray(y, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ParameterError(f"y must be mono and non-empty, shaped (n,), got {signal.shape}")
    mask_power = check_float("mask_power", mask_power, low=0.0, low_open=True)
    F = n_fft // 2 + 1
    blocks = [_check_dictionary(W, F) for W in dictionaries]
    if len(blocks) < 1 or len({block.shape[0] for block in blocks}) != 1:
        raise ParameterError(f"need at least one dictionary, all with the same n_lags, got "
                             f"n_lags {[block.shape[0] for block in blocks]}")
    X = spectral.stft(signal, n_fft=n_fft, hop_length=hop_length)
    V = np.abs(X).astype(np.float64)
    W = np.concatenate(blocks, axis=2)
    if causal:
        H = fit_nmfd_causal(V, W, cost=cost, n_iter=n_iter)
    else:
        H = fit_nmfd_activations(V, W, cost=cost, n_iter=n_iter, tol=0.0).H
    from livesep.spectral import soft_masks

    masks = soft_masks(source_estimates(blocks, H), power=mask_power)
    return np.stack([spectral.istft(X * mask, n_fft=n_fft, hop_length=hop_length,
                                    length=signal.size) for mask in masks])
