"""Starting points of the iterative fits: NMF factors and the N-HMM's states.

NMF factors (:func:`initial_factors`, :func:`nndsvd`): NNDSVDa or seeded random, for
:func:`~livesep.models.nmf.nmf` and :func:`~livesep.models.plca.plca`. Multiplicative
updates cannot move an entry that starts at zero, so both return strictly positive ``W``
(columns summing to one) and ``H``.

N-HMM states (:func:`initial_labels`, :func:`initial_dictionaries`,
:func:`initial_transitions`), for :func:`~livesep.models.nhmm.train_nhmm`: k-means on the
square-root, sum-normalised spectra (Hellinger geometry) puts the frames into Q groups; a
KL-NMF of each group's frames (:mod:`livesep.models.betadiv`, from the factors above) gives
that state's dictionary, and the transitions are counted on the label sequence plus a small
floor so that EM can still find transitions the labels never made.

The two live together because the second builds on the first and both answer the same
question (where EM or the updates start), not how they proceed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep.checks import check_int
from livesep.models._common import check_spectrogram
from livesep.models.betadiv import RELATIVE_EPS, TINY, iterate, normalise_columns

__all__ = [
    "check_rank",
    "initial_dictionaries",
    "initial_factors",
    "initial_labels",
    "initial_transitions",
    "nndsvd",
]

Array = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# NMF factors


def nndsvd(V: npt.ArrayLike, *, n_components: int) -> tuple[Array, Array]:
    """NNDSVDa initialisation (Boutsidis & Gallopoulos 2008), deterministic.

    Each leading singular pair is split into its positive and negative parts and the
    dominant part kept; the zeros this leaves are filled with the mean of ``V`` ("a" variant)
    so that multiplicative updates can move every entry.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative data.
    n_components : int, keyword-only
        ``K``, in ``[1, min(F, T)]``.

    Returns
    -------
    W : np.ndarray, shape (F, K)
        Columns sum to one.
    H : np.ndarray, shape (K, T)
    """
    data = check_spectrogram(V)
    K = check_rank(n_components, data.shape)
    W, H = _nndsvd(data, K)
    W_n, H_n = normalise_columns(W, H)
    assert H_n is not None
    return W_n, H_n


def _nndsvd(V: Array, K: int) -> tuple[Array, Array]:
    U, S, Vt = np.linalg.svd(V, full_matrices=False)
    F, T = V.shape
    W = np.zeros((F, K))
    H = np.zeros((K, T))
    # The leading pair of a non-negative matrix can be taken non-negative (Perron-Frobenius).
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[0, :] = np.sqrt(S[0]) * np.abs(Vt[0, :])
    for j in range(1, K):
        x, y = U[:, j], Vt[j, :]
        xp, xn = np.maximum(x, 0.0), np.maximum(-x, 0.0)
        yp, yn = np.maximum(y, 0.0), np.maximum(-y, 0.0)
        xp_norm, yp_norm = np.linalg.norm(xp), np.linalg.norm(yp)
        xn_norm, yn_norm = np.linalg.norm(xn), np.linalg.norm(yn)
        positive, negative = xp_norm * yp_norm, xn_norm * yn_norm
        if positive >= negative:
            u, v, sigma = xp / max(xp_norm, TINY), yp / max(yp_norm, TINY), positive
        else:
            u, v, sigma = xn / max(xn_norm, TINY), yn / max(yn_norm, TINY), negative
        scale = np.sqrt(S[j] * sigma)
        W[:, j] = scale * u
        H[j, :] = scale * v
    mean = V.mean()
    W[W <= 0] = mean
    H[H <= 0] = mean
    return W, H


def _random_init(V: Array, K: int, rng: np.random.Generator) -> tuple[Array, Array]:
    F, T = V.shape
    # 1 - U[0, 1) lies in (0, 1]: no exact zero, which a multiplicative update could not leave.
    W = 1.0 - rng.random((F, K))
    H = 1.0 - rng.random((K, T))
    W_n, H_n = normalise_columns(W, H)
    assert H_n is not None
    # Start at the data's total mass so the first updates refine shapes, not the scale.
    return W_n, H_n * (V.sum() / (W_n @ H_n).sum())


def initial_factors(V: Array, K: int, init: str, rng: np.random.Generator) -> tuple[Array, Array]:
    """Initial ``W`` (F, K), columns summing to one, and ``H`` (K, T) for checked data.

    Parameters
    ----------
    V : np.ndarray, shape (F, T)
        Checked, non-negative data.
    K : int
        Checked rank.
    init : {"nndsvd", "random"}
        NNDSVDa (deterministic, ``rng`` unused) or uniform random at the data's total mass.
    rng : np.random.Generator
        The random stream.

    Returns
    -------
    W : np.ndarray, shape (F, K)
    H : np.ndarray, shape (K, T)
    """
    if init == "nndsvd":
        W, H = _nndsvd(V, K)
        W_n, H_n = normalise_columns(W, H)
        assert H_n is not None
        return W_n, H_n
    return _random_init(V, K, rng)


def check_rank(n_components: object, shape: tuple[int, ...]) -> int:
    """``n_components`` as an int, after checking ``1 <= n_components <= min(F, T)``."""
    F, T = shape
    return check_int(f"n_components (at most min(F, T) = min({F}, {T}))", n_components,
                     low=1, high=min(F, T))


# --------------------------------------------------------------------------------------------
# N-HMM states


def _kmeans(X: Array, k: int, rng: np.random.Generator, n_iter: int = 50) -> npt.NDArray[np.intp]:
    """Seeded k-means (k-means++ seeding, Lloyd iterations); returns a label per row."""
    n = X.shape[0]
    centres = np.empty((k, X.shape[1]))
    squared = np.einsum("nd,nd->n", X, X)
    centres[0] = X[rng.integers(n)]
    nearest = np.maximum(squared - 2.0 * X @ centres[0] + centres[0] @ centres[0], 0.0)
    for i in range(1, k):
        total = nearest.sum()
        index = rng.choice(n, p=nearest / total) if total > 0 else rng.integers(n)
        centres[i] = X[index]
        distance = np.maximum(squared - 2.0 * X @ centres[i] + centres[i] @ centres[i], 0.0)
        nearest = np.minimum(nearest, distance)
    labels = np.full(n, -1, dtype=np.intp)
    for _ in range(n_iter):
        distances = squared[:, None] - 2.0 * X @ centres.T + np.einsum("kd,kd->k", centres,
                                                                         centres)[None, :]
        new_labels = np.argmin(distances, axis=1)
        counts = np.bincount(new_labels, minlength=k)
        # An empty cluster takes over the point worst explained by its own centre.
        for empty in np.flatnonzero(counts == 0):
            own = distances[np.arange(n), new_labels]
            movable = counts[new_labels] > 1
            if not movable.any():
                break
            worst = int(np.argmax(np.where(movable, own, -np.inf)))
            counts[new_labels[worst]] -= 1
            new_labels[worst] = empty
            counts[empty] = 1
            distances[worst] = np.inf
            distances[worst, empty] = 0.0
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        # Cluster sums as one (k, n) @ (n, d) product: much faster than np.add.at.
        one_hot = np.zeros((k, n))
        one_hot[labels, np.arange(n)] = 1.0
        sums = one_hot @ X
        centres = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
    return labels


def initial_labels(V: Array, n_states: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
    """k-means labels of the frames in the Hellinger geometry; silent frames follow the last."""
    totals = V.sum(axis=0)
    voiced = np.flatnonzero(totals > 0)
    # sqrt of a sum-normalised spectrum has unit norm; Euclidean distance there is Hellinger.
    shapes = np.sqrt(V[:, voiced] / totals[voiced]).T
    labels = np.full(V.shape[1], -1, dtype=np.intp)
    labels[voiced] = _kmeans(shapes, n_states, rng)
    # Frames with no energy at all take the label of the nearest earlier voiced frame.
    last = labels[voiced[0]]
    for t in range(V.shape[1]):
        if labels[t] < 0:
            labels[t] = last
        last = labels[t]
    return labels


def initial_dictionaries(V: Array, labels: npt.NDArray[np.intp], n_states: int,
                         n_components: int, n_iter: int, seed: int) -> Array:
    """One dictionary per state, shape (Q, F, K): a KL-NMF of the state's frames.

    Parameters
    ----------
    V : np.ndarray, shape (F, T)
        The scaled training spectrogram.
    labels : np.ndarray of int, shape (T,)
        Each frame's state (:func:`initial_labels`).
    n_states, n_components : int
        ``Q`` and ``K``.
    n_iter : int
        KL-NMF iterations per state.
    seed : int
        Seeds one random stream per state (used where a group is too small for NNDSVD).

    Returns
    -------
    np.ndarray, shape (Q, F, K)
        Every column sums to one.
    """
    F = V.shape[0]
    W = np.empty((n_states, F, n_components))
    streams = np.random.SeedSequence(seed).spawn(n_states)
    eps = RELATIVE_EPS * float(V.max())
    for q in range(n_states):
        group = V[:, labels == q]
        if group.shape[1] == 0 or not group.any():
            # No frame of its own: start from the average spectrum, slightly perturbed.
            group = V
        rng = np.random.default_rng(streams[q])
        init = "nndsvd" if min(group.shape) >= n_components else "random"
        W_q, H_q = initial_factors(group, n_components, init, rng)
        W_q, _, _, _, _ = iterate(group, W_q, H_q, beta=1.0, l1=0.0, smoothness=0.0,
                                  n_iter=n_iter, tol=0.0, eps=eps, update_w=True,
                                  track_cost=False)
        W[q] = W_q
    return W


def initial_transitions(labels: npt.NDArray[np.intp], n_states: int, floor: float
                        ) -> tuple[Array, Array]:
    """Transitions ``A`` (Q, Q) counted on the label sequence and ``pi`` (Q,) from the state
    frequencies, each entry lifted by ``floor`` and renormalised."""
    transitions = np.zeros((n_states, n_states))
    np.add.at(transitions, (labels[:-1], labels[1:]), 1.0)
    rows = transitions.sum(axis=1, keepdims=True)
    # A state never left (or never seen) starts uniform rather than undefined.
    A = np.where(rows > 0, transitions / np.where(rows > 0, rows, 1.0), 1.0 / n_states)
    A = (A + floor) / (1.0 + n_states * floor)
    occupancy = np.bincount(labels, minlength=n_states).astype(np.float64)
    pi = occupancy / occupancy.sum() + floor
    return A, pi / pi.sum()
