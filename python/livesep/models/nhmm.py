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
Training and inference need not share the choice: only ``W`` and ``A`` are kept. "global" is
the default because it weighs frames as KL-NMF does and leaves silence (common in real
streams) little say over the states.

Initialisation: states from a k-means clustering of the frames, a KL-NMF of each state's
frames for its dictionary and transitions counted on the labels
(:mod:`livesep.models.initialise`), then flat weights refined by a few weight-only updates
(each raises every ``b_t(q)``, so ``L`` too).

This module holds the model and its training on one spectrogram; the per-state fits and the
EM loop, split into per-chunk statistics and an M-step so that a corpus can be trained on a
cluster by the same code, are :mod:`livesep.models.corpus`'s. :func:`scale_counts` and
:func:`forward_backward` are :mod:`livesep.models.hmm`'s, importable from here too.

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
from livesep.models._common import check_spectrogram
from livesep.models.corpus.em import MemoryChunk, initial_nhmm, nhmm_em
from livesep.models.corpus.fits import StateFits
from livesep.models.hmm import forward_backward, scale_counts
from livesep.progress import Progress

__all__ = [
    "NhmmModel",
    "forward_backward",
    "scale_counts",
    "state_posteriors",
    "train_nhmm",
]

Array = npt.NDArray[np.float64]



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
    W0, A, pi = initial_nhmm(scaled, n_states=n_states, n_components=n_components, seed=seed,
                             init_nmf_iter=init_nmf_iter, transition_floor=transition_floor)
    fit = nhmm_em([MemoryChunk(np.ascontiguousarray(scaled, dtype=work))], W0, A, pi,
                  n_iter=n_iter, tol=tol, init_weight_iter=init_weight_iter, dtype=work,
                  progress=progress, callback=callback)
    return NhmmModel(W=np.ascontiguousarray(fit.W, dtype=np.float32), A=fit.A, pi=fit.pi,
                     log_likelihoods=fit.log_likelihoods, n_iter=fit.n_iter,
                     converged=fit.converged, counts=counts, normalization=normalization)


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
    fits = StateFits(np.ascontiguousarray(scaled, dtype=work), model.W.astype(work),
                      np.full((Q, K, data.shape[1]), 1.0 / K, dtype=work))
    for _ in range(n_iter):
        fits.update_weights()
    gamma, _, log_likelihood = forward_backward(fits.log_likelihoods(), model.A, model.pi)
    return gamma, log_likelihood
