"""The N-HMM's EM split into what each chunk of frames contributes and the M-step on the
sums, so that one process (one chunk) and a cluster (many) run the same code.

A chunk is a run of frames that forward-backward treats as one sequence. Its E-step gives
the posteriors; from them it contributes :class:`NhmmStatistics` (the dictionary numerator,
the expected transitions, the state occupancy, the log-likelihood) and updates its own
per-frame weights, which never leave it. Statistics of chunks add up
(:meth:`NhmmStatistics.__add__`); :func:`m_step` turns the total into new dictionaries and
transitions. The model itself is described in :mod:`livesep.models.nhmm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livesep.models.hmm import forward_backward

__all__ = ["NhmmStatistics", "StateFits", "chunk_statistics", "floor_columns", "m_step",
           "normalise_rows", "W_FLOOR", "A_FLOOR"]

Array = npt.NDArray[np.float64]

W_FLOOR = 1e-10
A_FLOOR = 1e-12
#: Added to the model W h: it only matters where the model is (numerically) zero.
_MODEL_EPS = 1e-30
#: Entries of the (Q, F, block) work arrays: ~16 MB in float32, cache- and memory-friendly.
_BLOCK_ENTRIES = 1 << 22


class StateFits:
    """Dictionaries ``W`` (Q, F, K), weights ``H`` (Q, K, T) and data ``V`` (F, T).

    Every pass walks the frames in blocks so that the (Q, F, block) work arrays stay small;
    within a block the states are one batched matrix product.
    """

    def __init__(self, V: npt.NDArray[np.floating], W: npt.NDArray[np.floating],
                 H: npt.NDArray[np.floating]) -> None:
        self.V = V
        self.W = W
        self.H = H
        Q, F, _ = W.shape
        self.block = max(1, _BLOCK_ENTRIES // (Q * F))

    def _blocks(self) -> range:
        return range(0, self.V.shape[1], self.block)

    def _model(self, start: int, stop: int) -> npt.NDArray[np.floating]:
        model = np.matmul(self.W, self.H[:, :, start:stop])         # (Q, F, b)
        model += _MODEL_EPS
        return model

    def log_likelihoods(self) -> Array:
        """``log b_t(q) = Σ_f v[f,t] log (W[q] h[q,t])_f``, shape (T, Q), float64."""
        T = self.V.shape[1]
        Q = self.W.shape[0]
        out = np.empty((T, Q))
        for start in self._blocks():
            stop = min(T, start + self.block)
            log_model = self._model(start, stop)
            np.log(log_model, out=log_model)
            # Σ_f v log model, per (t, q): a batched dot over f.
            out[start:stop] = np.einsum("qfb,fb->bq", log_model, self.V[:, start:stop])
        return out

    def _new_weights(self, ratio: npt.NDArray[np.floating], start: int, stop: int
                     ) -> npt.NDArray[np.floating]:
        """PLCA weight update for every (state, frame) of a block, from ``ratio = v / W h``."""
        H = self.H[:, :, start:stop]
        updated = H * np.matmul(self.W.transpose(0, 2, 1), ratio)   # (Q, K, b)
        sums = updated.sum(axis=1, keepdims=True)
        # A silent frame (no counts) carries no information: its weights stay as they were.
        return np.where(sums > 0, updated / np.where(sums > 0, sums, 1.0), H)

    def update_weights(self) -> None:
        """One weight-only update of every state's weights on every frame (W fixed)."""
        new = np.empty_like(self.H)
        for start in self._blocks():
            stop = min(self.V.shape[1], start + self.block)
            ratio = self._model(start, stop)
            np.divide(self.V[:, start:stop], ratio, out=ratio)
            new[:, :, start:stop] = self._new_weights(ratio, start, stop)
        self.H = new

    def statistics(self, gamma: Array) -> tuple[npt.NDArray[np.floating],
                                                 npt.NDArray[np.floating]]:
        """The M-step's sums over this data's frames, from the posteriors ``gamma`` (T, Q) of
        the current parameters.

        Returns
        -------
        numerator : np.ndarray, shape (Q, F, K)
            ``Σ_t γ_t(q) (v / W h) h[q,t]^T`` (before the product with ``W``): the expected
            counts of every (f, z) in state q, to be summed over chunks.
        H : np.ndarray, shape (Q, K, T)
            The updated weights of every state on every frame (local to the frames).
        """
        T = self.V.shape[1]
        numerator = np.zeros_like(self.W)
        new = np.empty_like(self.H)
        occupancy = np.ascontiguousarray(gamma.T, dtype=self.W.dtype)  # (Q, T)
        for start in self._blocks():
            stop = min(T, start + self.block)
            ratio = self._model(start, stop)
            np.divide(self.V[:, start:stop], ratio, out=ratio)
            new[:, :, start:stop] = self._new_weights(ratio, start, stop)
            # Σ_t γ_t(q) v/(W h) h[q,t]^T: the expected counts of each (f, z) in state q.
            weighted = self.H[:, :, start:stop] * occupancy[:, None, start:stop]
            numerator += np.matmul(ratio, weighted.transpose(0, 2, 1))
        return numerator, new


def floor_columns(W: npt.NDArray[np.floating], floor: float) -> npt.NDArray[np.floating]:
    """Floor entries of (Q, F, K) dictionaries and renormalise the columns over F."""
    floored = np.maximum(W, floor)
    return floored / floored.sum(axis=1, keepdims=True)


def normalise_rows(A: Array, floor: float) -> Array:
    """Rows of ``A`` (Q, Q) normalised, floored at ``floor`` and normalised again."""
    floored = np.maximum(A / A.sum(axis=1, keepdims=True), floor)
    return floored / floored.sum(axis=1, keepdims=True)


@dataclass(eq=False)
class NhmmStatistics:
    """What a chunk's E-step contributes to the M-step; chunks' statistics add up.

    Attributes
    ----------
    numerator : np.ndarray, shape (Q, F, K)
        Expected counts of every (bin, component) per state, before the product with W.
    transitions : np.ndarray, shape (Q, Q)
        Expected transition counts ``Σ_t ξ_t(i, j)``.
    occupancy : np.ndarray, shape (Q,)
        ``Σ_t γ_t(q)``.
    log_likelihood : float
        ``log P(chunk)``; chunks are independent sequences, so these add.
    frames : int
        Frames of the chunk.
    """

    numerator: npt.NDArray[np.floating]
    transitions: Array
    occupancy: Array
    log_likelihood: float
    frames: int

    def __add__(self, other: NhmmStatistics) -> NhmmStatistics:
        return NhmmStatistics(self.numerator + other.numerator,
                              self.transitions + other.transitions,
                              self.occupancy + other.occupancy,
                              self.log_likelihood + other.log_likelihood,
                              self.frames + other.frames)


def chunk_statistics(V: npt.NDArray[np.floating], W: npt.NDArray[np.floating],
                     H: npt.NDArray[np.floating], A: Array, pi: Array
                     ) -> tuple[NhmmStatistics, npt.NDArray[np.floating]]:
    """One chunk's E-step and its share of the M-step.

    Parameters
    ----------
    V : np.ndarray, shape (F, T)
        The chunk's frames, scaled to counts, in the work dtype.
    W : np.ndarray, shape (Q, F, K)
        Current dictionaries (work dtype).
    H : np.ndarray, shape (Q, K, T)
        The chunk's current weights.
    A, pi : np.ndarray, shapes (Q, Q) and (Q,)
        Current transitions and initial distribution.

    Returns
    -------
    statistics : NhmmStatistics
    H : np.ndarray, shape (Q, K, T)
        The chunk's updated weights.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> V = rng.random((6, 20)) * 10
    >>> W = floor_columns(rng.random((2, 6, 3)), W_FLOOR)
    >>> stats, H = chunk_statistics(V, W, np.full((2, 3, 20), 1 / 3), np.full((2, 2), 0.5),
    ...                             np.full(2, 0.5))
    >>> stats.numerator.shape, H.shape, stats.frames, round(float(stats.occupancy.sum()), 6)
    ((2, 6, 3), (2, 3, 20), 20, 20.0)
    """
    fits = StateFits(V, W, H)
    gamma, xi, log_likelihood = forward_backward(fits.log_likelihoods(), A, pi)
    numerator, updated = fits.statistics(gamma)
    return NhmmStatistics(numerator, xi, gamma.sum(axis=0), log_likelihood,
                          int(V.shape[1])), updated


def m_step(W: npt.NDArray[np.floating], A: Array, total: NhmmStatistics
           ) -> tuple[npt.NDArray[np.floating], Array]:
    """New dictionaries (Q, F, K) and transitions (Q, Q) from the summed statistics."""
    updated = W * total.numerator
    sums = updated.sum(axis=1, keepdims=True)
    # A component (or a state) that explains no counts keeps its previous shape.
    updated = np.where(sums > 0, updated / np.where(sums > 0, sums, 1.0), W)
    xi = total.transitions
    A = normalise_rows(np.where(xi.sum(axis=1, keepdims=True) > 0, xi, A), A_FLOOR)
    return floor_columns(updated, W_FLOOR), A
