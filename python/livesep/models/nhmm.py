"""The non-negative hidden Markov model (N-HMM) of Mysore, Smaragdis & Raj (2010), by EM.

Model. A magnitude spectrogram ``V`` (F × T) is read as counts. A hidden Markov chain
``q_1 … q_T`` over ``Q`` states (initial distribution ``pi``, transitions ``A``) picks one
dictionary per frame; state ``q`` owns ``W[q]`` (F × K, columns ``P(f | z, q)`` summing to
one), and frame ``t`` in state ``q`` draws its counts from the mixture
``P_t(f | q) = Σ_z P_t(z | q) P(f | z, q) = (W[q] h[q, t])_f`` with per-frame, per-state
weights ``h[q, t]`` (K, summing to one). The per-state frame log-likelihood is multinomial,

    log b_t(q) = Σ_f v[f, t] log (W[q] h[q, t])_f       (without the multinomial constant),

and the quantity EM maximises is the HMM log-likelihood
``L = log Σ_{q_1..q_T} pi(q_1) Π A(q_{t-1}, q_t) Π b_t(q_t)``.

EM. The latent variables are the state sequence and, for every count, the component z that
drew it. E-step: forward-backward over ``b`` gives the state posteriors ``γ_t(q)`` and the
expected transitions ``ξ``; given the state, ``P_t(z | f, q) ∝ W[q][f, z] h[q, t][z]``.
M-step, all from that one E-step (the paper's updates):

- ``W[q][f, z] ∝ Σ_t γ_t(q) v[f, t] P_t(z | f, q)``;
- ``h[q, t][z] ∝ Σ_f v[f, t] P_t(z | f, q)`` (``γ_t(q)`` is a common factor of frame t's
  terms, so it cancels: every state's weights are refitted on every frame);
- ``A(i, j) ∝ Σ_t ξ_t(i, j)``.

This is an exact EM step in the parameters ``(W, h, A)`` — the weights ``h`` are parameters
of the likelihood, updated in the M-step — so ``L`` never decreases; it is what
``log_likelihoods`` records. ``pi`` is held fixed during EM (at the state frequencies of the
initial clustering): for one training sequence its maximum-likelihood value is the one-hot
posterior of the first frame, which would be useless to a stream that starts anywhere. The
returned ``pi`` is the state occupancy ``Σ_t γ_t(q) / T`` of the final E-step, the prior for
a stream that starts at an arbitrary frame.

Scale. The multinomial likelihood treats ``v`` as counts, so the scale of ``V`` sets how sharp
the state posteriors are. ``V`` is rescaled before training (:func:`scale_counts`):
``normalization="global"`` (default) multiplies the whole spectrogram so that the *mean*
frame holds ``counts`` counts — loud frames weigh more than quiet ones, exactly as in KL-NMF,
and near-silent frames barely pull on the state sequence; ``"frame"`` gives every frame
``counts`` counts, the engine's convention at inference (``likelihood_counts`` = 30).
Training and inference need not share the choice: only ``W`` and ``A`` are kept. On the
allowed klettres readers (five pairs, Q = 20, K = 10, offline N-FHMM scored at 30 counts per
frame) "global" 30, "global" 100 and "frame" 30 separated within 0.3 dB SI-SDR of each
other, all about 2 dB above frame-wise KL-NMF; "global" is the default because it weighs
frames as KL-NMF does and leaves silence (common in real streams) little say over the states.

Initialisation (as the prototype found best): k-means on the square-root, sum-normalised
spectra (Hellinger geometry) into Q groups, a KL-NMF of each group's frames for its
dictionary, transitions counted on the label sequence plus a small floor, flat weights refined
by a few weight-only updates (each raises every ``b_t(q)``, so ``L`` too).

Floors. ``W`` entries are floored at 1e-10 and transitions at 1e-12 (then renormalised):
the model then never assigns probability zero to a bin or a transition, which keeps
``log W`` finite for the engine and bounds the forward recursion's scale factors from below;
the floors move ``L`` by far less than float32 rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from livesep.checks import check_choice, check_float, check_int, check_seed
from livesep.errors import ParameterError
from livesep.models import nmf as _nmf
from livesep.models._common import check_spectrogram, iteration_progress
from livesep.progress import Progress

__all__ = [
    "NhmmModel",
    "forward_backward",
    "scale_counts",
    "state_posteriors",
    "train_nhmm",
]

Array = npt.NDArray[np.float64]

_W_FLOOR = 1e-10
_A_FLOOR = 1e-12
#: Added to the model W h: it only matters where the model is (numerically) zero.
_MODEL_EPS = 1e-30
#: Below this the scaled forward recursion is redone in the log domain.
_SCALE_FLOOR = 1e-250
#: Entries of the (Q, F, block) work arrays: ~16 MB in float32, cache- and memory-friendly.
_BLOCK_ENTRIES = 1 << 22


@dataclass(eq=False)
class NhmmModel:
    """A trained N-HMM.

    Attributes
    ----------
    W : np.ndarray, shape (Q, F, K), float32
        One dictionary per state; every column sums to one.
    A : np.ndarray, shape (Q, Q), float64
        Transitions ``A[i, j] = P(q_t = j | q_{t-1} = i)``; rows sum to one.
    pi : np.ndarray, shape (Q,), float64
        State occupancy of the training data (the prior for a stream starting anywhere).
    log_likelihoods : list of float
        EM's objective ``L`` (see the module docstring) for every iterate:
        ``log_likelihoods[i]`` after ``i`` EM iterations, ``[0]`` at the initialisation.
        In the counts of the scaled spectrogram; non-decreasing.
    n_iter : int
        EM iterations run.
    converged : bool
        Whether the relative increase of ``L`` fell below ``tol``.
    counts : float
        The ``counts`` the training spectrogram was scaled to.
    normalization : str
        ``"global"`` or ``"frame"``: how it was scaled.
    """

    W: npt.NDArray[np.float32]
    A: Array
    pi: Array
    log_likelihoods: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    counts: float = 30.0
    normalization: str = "global"

    @property
    def n_states(self) -> int:
        """``Q``."""
        return int(self.W.shape[0])

    @property
    def n_bins(self) -> int:
        """``F``."""
        return int(self.W.shape[1])

    @property
    def n_components(self) -> int:
        """``K``."""
        return int(self.W.shape[2])


# --------------------------------------------------------------------------------------------
# Scaling


def scale_counts(V: npt.ArrayLike, *, counts: float = 30.0,
                 normalization: str = "global") -> Array:
    """Rescale a spectrogram into the counts the multinomial likelihood reads.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative magnitudes.
    counts : float, keyword-only
        Counts of the mean frame (``"global"``) or of every frame (``"frame"``).
    normalization : {"global", "frame"}, keyword-only
        One factor for the whole spectrogram, or one per frame (all-zero frames stay zero).

    Returns
    -------
    np.ndarray, shape (F, T), float64
    """
    data = check_spectrogram(V)
    counts = check_float("counts", counts, low=0.0, low_open=True)
    normalization = check_choice("normalization", normalization, ("global", "frame"))
    totals = data.sum(axis=0)
    if normalization == "global":
        return data * (counts / totals.mean())
    return data * np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 0.0)


# --------------------------------------------------------------------------------------------
# Forward-backward


def forward_backward(log_b: npt.ArrayLike, A: npt.ArrayLike, pi: npt.ArrayLike
                     ) -> tuple[Array, Array, float]:
    """State posteriors of an HMM from per-frame state log-likelihoods.

    Runs the scaled recursion (each frame's likelihoods shifted by their maximum, each
    forward vector normalised, the log scale factors summed), which cannot underflow with
    length; if a frame's scale factor still falls below 1e-250 (a frame that only
    transitions of probability ~0 can explain), the whole pass is redone in the log domain.

    Parameters
    ----------
    log_b : array-like, shape (T, Q)
        ``log P(v_t | q_t = q)``; every frame needs at least one finite entry.
    A : array-like, shape (Q, Q)
        Transition matrix, rows summing to one.
    pi : array-like, shape (Q,)
        Initial distribution.

    Returns
    -------
    gamma : np.ndarray, shape (T, Q)
        ``P(q_t = q | v_1..v_T)``; rows sum to one.
    xi : np.ndarray, shape (Q, Q)
        ``Σ_t P(q_{t-1} = i, q_t = j | v_1..v_T)``, the expected transition counts.
    log_likelihood : float
        ``log P(v_1..v_T)``.
    """
    log_b = np.asarray(log_b, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    pi = np.asarray(pi, dtype=np.float64)
    if log_b.ndim != 2 or log_b.shape[0] < 1:
        raise ParameterError(f"log_b must be shaped (T, Q) with T >= 1, got shape {log_b.shape}")
    T, Q = log_b.shape
    if A.shape != (Q, Q) or pi.shape != (Q,):
        raise ParameterError(f"A must be ({Q}, {Q}) and pi ({Q},), got shapes {A.shape} and "
                             f"{pi.shape}")
    if np.isnan(log_b).any() or np.isposinf(log_b).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(log_b) | np.isposinf(log_b))[0])
        raise ParameterError(f"log_b must be finite or -inf, got {log_b[where]!r} at {where}")
    shift = log_b.max(axis=1)
    if not np.isfinite(shift).all():
        frame = int(np.argmin(np.isfinite(shift)))
        raise ParameterError(f"frame {frame} has zero likelihood under every state")
    result = _forward_backward_scaled(log_b, shift, A, pi)
    if result is None:
        result = _forward_backward_log(log_b, A, pi)
    return result


def _forward_backward_scaled(log_b: Array, shift: Array, A: Array, pi: Array
                             ) -> tuple[Array, Array, float] | None:
    T, Q = log_b.shape
    emission = np.exp(log_b - shift[:, None])       # each row's maximum is 1
    alpha = np.empty((T, Q))
    scale = np.empty(T)
    current = pi * emission[0]
    total = current.sum()
    if not total > _SCALE_FLOOR:
        return None
    alpha[0] = current / total
    scale[0] = total
    dot = np.dot
    # The recursion itself is sequential: O(T Q^2), a few microseconds per frame.
    for t in range(1, T):
        current = dot(alpha[t - 1], A)
        current *= emission[t]
        total = current.sum()
        if not total > _SCALE_FLOOR:
            return None
        np.divide(current, total, out=alpha[t])
        scale[t] = total
    beta = np.empty((T, Q))
    beta[T - 1] = 1.0
    weighted = emission / scale[:, None]            # b_t / c_t, used twice below
    for t in range(T - 2, -1, -1):
        dot(A, weighted[t + 1] * beta[t + 1], out=beta[t])
    gamma = alpha * beta
    if not np.isfinite(gamma).all():
        return None
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = A * (alpha[:-1].T @ (weighted[1:] * beta[1:]))
    log_likelihood = float(np.sum(np.log(scale)) + np.sum(shift))
    return gamma, xi, log_likelihood


def _logsumexp(x: Array, axis: int) -> Array:
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return np.squeeze(out, axis=axis)


def _forward_backward_log(log_b: Array, A: Array, pi: Array) -> tuple[Array, Array, float]:
    """The same quantities computed in the log domain (the slow, unconditionally safe path)."""
    T, Q = log_b.shape
    with np.errstate(divide="ignore"):
        log_A = np.log(A)
        log_pi = np.log(pi)
    log_alpha = np.empty((T, Q))
    log_alpha[0] = log_pi + log_b[0]
    for t in range(1, T):
        log_alpha[t] = _logsumexp(log_alpha[t - 1][:, None] + log_A, axis=0) + log_b[t]
    log_beta = np.zeros((T, Q))
    for t in range(T - 2, -1, -1):
        log_beta[t] = _logsumexp(log_A + (log_b[t + 1] + log_beta[t + 1])[None, :], axis=1)
    log_likelihood = float(_logsumexp(log_alpha[T - 1], axis=0))
    if not np.isfinite(log_likelihood):
        raise ParameterError("the observations have zero probability under the model "
                             "(no state sequence allowed by A and pi explains them)")
    gamma = np.exp(log_alpha + log_beta - log_likelihood)
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = np.zeros((Q, Q))
    ahead = log_b[1:] + log_beta[1:]
    step = max(1, (1 << 20) // (Q * Q))
    for start in range(0, T - 1, step):
        stop = min(T - 1, start + step)
        xi += np.exp(log_alpha[start:stop, :, None] + log_A[None]
                     + ahead[start:stop, None, :] - log_likelihood).sum(axis=0)
    return gamma, xi, log_likelihood


# --------------------------------------------------------------------------------------------
# The per-state likelihood machinery, vectorised over states and blocks of frames


class _StateFits:
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

    def m_step(self, gamma: Array) -> None:
        """EM update of ``W`` and ``H`` from the posteriors of the current parameters."""
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
        updated = self.W * numerator
        sums = updated.sum(axis=1, keepdims=True)
        # A component (or a state) that explains no counts keeps its previous shape.
        updated = np.where(sums > 0, updated / np.where(sums > 0, sums, 1.0), self.W)
        self.W = _floor_columns(updated, _W_FLOOR)
        self.H = new


def _floor_columns(W: npt.NDArray[np.floating], floor: float) -> npt.NDArray[np.floating]:
    """Floor entries of (Q, F, K) dictionaries and renormalise the columns over F."""
    floored = np.maximum(W, floor)
    return floored / floored.sum(axis=1, keepdims=True)


def _normalise_rows(A: Array, floor: float) -> Array:
    floored = np.maximum(A / A.sum(axis=1, keepdims=True), floor)
    return floored / floored.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------------------------
# Initialisation


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


def _initial_labels(V: Array, n_states: int, rng: np.random.Generator) -> npt.NDArray[np.intp]:
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


def _initial_dictionaries(V: Array, labels: npt.NDArray[np.intp], n_states: int,
                          n_components: int, n_iter: int, seed: int) -> Array:
    F = V.shape[0]
    W = np.empty((n_states, F, n_components))
    streams = np.random.SeedSequence(seed).spawn(n_states)
    eps = _nmf._RELATIVE_EPS * float(V.max())
    for q in range(n_states):
        group = V[:, labels == q]
        if group.shape[1] == 0 or not group.any():
            # No frame of its own: start from the average spectrum, slightly perturbed.
            group = V
        rng = np.random.default_rng(streams[q])
        init = "nndsvd" if min(group.shape) >= n_components else "random"
        W_q, H_q = _nmf._initialise(group, n_components, init, rng)
        W_q, _, _, _, _ = _nmf._iterate(group, W_q, H_q, beta=1.0, l1=0.0, smoothness=0.0,
                                         n_iter=n_iter, tol=0.0, eps=eps, update_w=True,
                                         track_cost=False)
        W[q] = W_q
    return W


def _initial_transitions(labels: npt.NDArray[np.intp], n_states: int, floor: float
                         ) -> tuple[Array, Array]:
    transitions = np.zeros((n_states, n_states))
    np.add.at(transitions, (labels[:-1], labels[1:]), 1.0)
    rows = transitions.sum(axis=1, keepdims=True)
    # A state never left (or never seen) starts uniform rather than undefined.
    A = np.where(rows > 0, transitions / np.where(rows > 0, rows, 1.0), 1.0 / n_states)
    A = (A + floor) / (1.0 + n_states * floor)
    occupancy = np.bincount(labels, minlength=n_states).astype(np.float64)
    pi = occupancy / occupancy.sum() + floor
    return A, pi / pi.sum()


# --------------------------------------------------------------------------------------------
# Training and decoding


def _check_dtype(dtype: npt.DTypeLike) -> np.dtype:
    resolved = np.dtype(dtype)
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ParameterError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def train_nhmm(V: npt.ArrayLike, *, n_states: int, n_components: int, n_iter: int = 15,
               seed: int = 0, tol: float = 1e-5, counts: float = 30.0,
               normalization: str = "global", init_nmf_iter: int = 50,
               init_weight_iter: int = 5, transition_floor: float = 1e-3,
               dtype: npt.DTypeLike = np.float32, progress: Progress | None = None,
               callback: Callable[[int, float], None] | None = None) -> NhmmModel:
    """Train an N-HMM on one source's magnitude spectrogram by EM.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative magnitudes of the training audio (one sequence; concatenated clips are
        fine: the few spurious transitions at the joins do not matter).
    n_states : int, keyword-only
        ``Q``, at most the number of frames with any energy.
    n_components : int, keyword-only
        ``K``, components per state's dictionary, in ``[1, F]``.
    n_iter : int, keyword-only
        Maximum number of EM iterations (the prototype used ~15).
    seed : int, keyword-only
        Seeds the k-means and the per-group NMFs; equal seeds give equal models.
    tol : float, keyword-only
        Stop when the relative increase of the log-likelihood falls below ``tol``.
    counts : float, keyword-only
        Frame scale: the mean frame (``"global"``) or every frame (``"frame"``) is read as
        this many counts. Larger values sharpen the state posteriors.
    normalization : {"global", "frame"}, keyword-only
        See :func:`scale_counts` and the module docstring.
    init_nmf_iter : int, keyword-only
        KL-NMF iterations per k-means group at initialisation.
    init_weight_iter : int, keyword-only
        Weight-only updates before the first E-step.
    transition_floor : float, keyword-only
        Added to every initial transition probability (then renormalised) so that EM can
        still find transitions the k-means labels never made.
    dtype : {float32, float64}, keyword-only
        Precision of the large per-state arrays (float32 is twice as fast; float64 makes the
        log-likelihood exactly monotone to ~1e-12 instead of float32 rounding).
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.
    callback : callable, optional, keyword-only
        Called as ``callback(i, log_likelihood)`` after the E-step of iterate ``i``
        (``i = 0`` is the initialisation), e.g. to time iterations or log progress.

    Returns
    -------
    NhmmModel
        ``W`` (Q, F, K) float32, ``A`` (Q, Q), ``pi`` (Q,), the log-likelihood history.

    Raises
    ------
    ParameterError
        For bad data or settings; the message shows the bad value.
    """
    data = check_spectrogram(V)
    F, T = data.shape
    n_components = check_int(f"n_components (at most F = {F})", n_components, low=1, high=F)
    voiced = int(np.count_nonzero(data.sum(axis=0) > 0))
    n_states = check_int(f"n_states (at most the {voiced} frames with energy)", n_states,
                         low=1, high=voiced)
    n_iter = check_int("n_iter", n_iter, low=0)
    seed = check_seed(seed)
    tol = check_float("tol", tol)
    counts = check_float("counts", counts, low=0.0, low_open=True)
    normalization = check_choice("normalization", normalization, ("global", "frame"))
    init_nmf_iter = check_int("init_nmf_iter", init_nmf_iter, low=0)
    init_weight_iter = check_int("init_weight_iter", init_weight_iter, low=0)
    transition_floor = check_float("transition_floor", transition_floor, high=1.0)
    work = _check_dtype(dtype)

    scaled = scale_counts(data, counts=counts, normalization=normalization)
    rng = np.random.default_rng(seed)
    labels = _initial_labels(scaled, n_states, rng)
    W0 = _initial_dictionaries(scaled, labels, n_states, n_components, init_nmf_iter,
                               int(rng.integers(2**63)))
    A, pi = _initial_transitions(labels, n_states, transition_floor)
    fits = _StateFits(np.ascontiguousarray(scaled, dtype=work),
                      _floor_columns(W0, _W_FLOOR).astype(work),
                      np.full((n_states, n_components, T), 1.0 / n_components, dtype=work))
    for _ in range(init_weight_iter):
        fits.update_weights()

    history: list[float] = []
    converged = False
    iterations = 0
    with iteration_progress(n_iter, progress) as bar:
        for iterations in range(n_iter + 1):
            gamma, xi, log_likelihood = forward_backward(fits.log_likelihoods(), A, pi)
            history.append(log_likelihood)
            if callback is not None:
                callback(iterations, log_likelihood)
            if iterations and tol > 0 and (history[-1] - history[-2]) < tol * abs(history[-2]):
                converged = True
                break
            if iterations == n_iter:
                break
            fits.m_step(gamma)
            A = _normalise_rows(np.where(xi.sum(axis=1, keepdims=True) > 0, xi, A), _A_FLOOR)
            bar.advance()
        bar.finish()
    occupancy = gamma.mean(axis=0)
    return NhmmModel(W=np.ascontiguousarray(fits.W, dtype=np.float32), A=A,
                     pi=occupancy / occupancy.sum(), log_likelihoods=history,
                     n_iter=iterations, converged=converged, counts=counts,
                     normalization=normalization)


def state_posteriors(model: NhmmModel, V: npt.ArrayLike, *, n_iter: int = 20,
                     counts: float | None = None, normalization: str | None = None,
                     dtype: npt.DTypeLike = np.float32) -> tuple[Array, float]:
    """Offline state posteriors of a trained N-HMM on new data (forward-backward).

    Every state's weights are fitted to every frame with the dictionaries fixed (``n_iter``
    PLCA weight updates from flat weights), then forward-backward runs over the resulting
    multinomial log-likelihoods.

    Parameters
    ----------
    model : NhmmModel
        The trained model.
    V : array-like, shape (F, T)
        Non-negative magnitudes with the model's number of bins.
    n_iter : int, keyword-only
        Weight updates per state and frame.
    counts, normalization : keyword-only
        Frame scale; by default the model's training scale.
    dtype : {float32, float64}, keyword-only
        Precision of the per-state arrays.

    Returns
    -------
    gamma : np.ndarray, shape (T, Q)
        ``P(q_t = q | V)``.
    log_likelihood : float
        ``log P(V)`` in the scaled counts (without the multinomial constant).
    """
    data = check_spectrogram(V)
    if data.shape[0] != model.n_bins:
        raise ParameterError(f"V must have the model's {model.n_bins} bins, got shape "
                             f"{data.shape}")
    n_iter = check_int("n_iter", n_iter, low=0)
    work = _check_dtype(dtype)
    scaled = scale_counts(data, counts=model.counts if counts is None else counts,
                          normalization=(model.normalization if normalization is None
                                         else normalization))
    Q, K = model.n_states, model.n_components
    fits = _StateFits(np.ascontiguousarray(scaled, dtype=work), model.W.astype(work),
                      np.full((Q, K, data.shape[1]), 1.0 / K, dtype=work))
    for _ in range(n_iter):
        fits.update_weights()
    gamma, _, log_likelihood = forward_backward(fits.log_likelihoods(), model.A, model.pi)
    return gamma, log_likelihood
