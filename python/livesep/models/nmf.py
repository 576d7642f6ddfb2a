"""Non-negative matrix factorisation by β-divergence: NMF and supervised activations.

``V ≈ W H`` with ``V`` a magnitude spectrogram (F bins × T frames), ``W`` (F × K) a dictionary
whose columns sum to one and ``H`` (K × T) the activations. :func:`nmf` fits both factors and
:func:`fit_activations` only ``H``, with ``W`` fixed, by the majorisation-minimisation
multiplicative updates of the β-divergence (β = 1, Kullback-Leibler, by default; 0
Itakura-Saito; 2 Euclidean); the updates and their guarantees are in
:mod:`livesep.models.betadiv`, the initial factors in :mod:`livesep.models.initialise`.

Penalties on ``H`` (Bryan & Sun's tutorial, "Extensions"):

- ``l1``: ``l1 · Σ H`` (sparsity, a Laplace / exponential prior on the activations);
- ``smoothness``: ``smoothness / 2 · Σ_{k,t} (H[k,t] - H[k,t-1])²`` (temporal continuity).

A caveat on ``l1`` that follows from the unit-sum dictionary columns: for β = 1,
``Σ (W H) = Σ H``, so ``KL(V | W H) + l1 · Σ H`` is the unpenalised KL problem in
``H' = (1 + l1) H``: the fit is the unpenalised one with ``H`` divided by ``1 + l1`` — the
same shapes, the same masks, no sparsity at all. The same holds for the engine's per-frame
KL activations. L1 does sparsify for β > 1 (e.g. 1.5 or 2); for β < 1 it mostly shrinks the
overall level and, in our tests, flattens ``H`` rather than sparsifying it.

PLCA, the probabilistic view of the same factorisation, is :mod:`livesep.models.plca`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from livesep.checks import check_choice, check_float, check_int, check_seed
from livesep.errors import ParameterError
from livesep.models._common import check_spectrogram, iteration_progress
from livesep.models.betadiv import check_beta, iterate, prepare_data
from livesep.models.initialise import check_rank, initial_factors
from livesep.progress import Progress

__all__ = ["NmfResult", "fit_activations", "nmf"]

Array = npt.NDArray[np.float64]


@dataclass(eq=False)
class NmfResult:
    """A fitted factorisation ``V ≈ W @ H``.

    Attributes
    ----------
    W : np.ndarray, shape (F, K), float64
        Dictionary; columns sum to one (for :func:`fit_activations`, the ``W`` given).
    H : np.ndarray, shape (K, T), float64
        Activations, in the units of ``V``.
    costs : list of float
        The penalised cost of every iterate: ``costs[0]`` at the initialisation,
        ``costs[i]`` after ``i`` iterations (length ``n_iter + 1``).
    n_iter : int
        Iterations run.
    converged : bool
        Whether the relative cost change fell below ``tol`` before ``n_iter`` ran out.
    """

    W: Array
    H: Array
    costs: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False

    @property
    def reconstruction(self) -> Array:
        """``W @ H``, shape (F, T)."""
        return self.W @ self.H


# --------------------------------------------------------------------------------------------
# Public fitting functions


def nmf(V: npt.ArrayLike, *, n_components: int, beta: float = 1.0, n_iter: int = 200,
        tol: float = 1e-4, init: str = "nndsvd", n_restarts: int = 1, seed: int = 0,
        l1: float = 0.0, smoothness: float = 0.0, progress: Progress | None = None) -> NmfResult:
    """Factorise ``V ≈ W H`` by β-divergence multiplicative updates.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative, finite data (a magnitude spectrogram), not all zero.
    n_components : int, keyword-only
        ``K``, in ``[1, min(F, T)]``.
    beta : float, keyword-only
        β ≥ 0: 0 Itakura-Saito, 1 Kullback-Leibler (default), 2 Euclidean. For β = 0 the
        exact zeros of ``V`` are lifted to the model floor (IS is infinite at zero).
    n_iter : int, keyword-only
        Maximum number of iterations (each updates H, then W).
    tol : float, keyword-only
        Stop when the relative change of the cost between iterations falls below ``tol``
        (0 runs all ``n_iter``).
    init : {"nndsvd", "random"}, keyword-only
        NNDSVDa (deterministic) or uniform random (seeded).
    n_restarts : int, keyword-only
        With ``init="random"``: run this many seeded fits and keep the one of lowest cost.
    seed : int, keyword-only
        Seed of the random initialisations; equal seeds give equal results.
    l1 : float, keyword-only
        Weight of ``Σ H`` (sparsity), in the units of the divergence. For β = 1 it only
        divides ``H`` by ``1 + l1`` (see the module docstring); it sparsifies for β > 1.
    smoothness : float, keyword-only
        Weight ``P`` of ``P/2 · Σ (H[:, t] - H[:, t-1])²`` (temporal continuity).
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    NmfResult
        ``W`` (F, K) with columns summing to one, ``H`` (K, T), the cost history.

    Raises
    ------
    ParameterError
        For bad data (negative, NaN/Inf, not 2-D, all zero) or settings; the message shows
        the bad value.
    """
    beta = check_beta(beta)
    data, eps = prepare_data(V, beta)
    K = check_rank(n_components, data.shape)
    n_iter = check_int("n_iter", n_iter, low=0)
    tol = check_float("tol", tol)
    init = check_choice("init", init, ("nndsvd", "random"))
    n_restarts = check_int("n_restarts", n_restarts, low=1)
    if n_restarts > 1 and init != "random":
        raise ParameterError(f"n_restarts > 1 needs init='random' (NNDSVD is deterministic), "
                             f"got n_restarts={n_restarts} with init={init!r}")
    seed = check_seed(seed)
    l1 = check_float("l1", l1)
    smoothness = check_float("smoothness", smoothness)

    best: NmfResult | None = None
    # One independent stream per restart: restart i is the same whatever n_restarts is.
    streams = np.random.SeedSequence(seed).spawn(n_restarts)
    with iteration_progress(n_iter * n_restarts, progress) as bar:
        for stream in streams:
            W, H = initial_factors(data, K, init, np.random.default_rng(stream))
            W, H, costs, done, converged = iterate(
                data, W, H, beta=beta, l1=l1, smoothness=smoothness, n_iter=n_iter, tol=tol,
                eps=eps, update_w=True, bar=bar)
            if best is None or costs[-1] < best.costs[-1]:
                best = NmfResult(W=W, H=H, costs=costs, n_iter=done, converged=converged)
        assert best is not None
        bar.finish()
    return best


def fit_activations(V: npt.ArrayLike, W: npt.ArrayLike, *, beta: float = 1.0,
                    n_iter: int = 100, tol: float = 1e-4, l1: float = 0.0,
                    smoothness: float = 0.0, H: npt.ArrayLike | None = None,
                    progress: Progress | None = None) -> NmfResult:
    """Fit ``H`` with the dictionary ``W`` fixed (supervised separation of a mixture).

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative data.
    W : array-like, shape (F, K)
        The fixed dictionary (e.g. several sources' dictionaries side by side); used as
        given, no column may be all zero.
    beta, n_iter, tol, l1, smoothness, progress : keyword-only
        As for :func:`nmf`.
    H : array-like, shape (K, T), optional, keyword-only
        Initial activations (positive where they should be able to grow). By default every
        frame starts flat at its own level: ``H[:, t] = Σ_f V[f, t] / Σ W``.

    Returns
    -------
    NmfResult
        ``W`` as given (float64), the fitted ``H`` and the cost history.
    """
    beta = check_beta(beta)
    data, eps = prepare_data(V, beta)
    dictionary = check_spectrogram(W, name="W")
    F, T = data.shape
    if dictionary.shape[0] != F:
        raise ParameterError(f"W must have as many rows as V has bins ({F}), got shape "
                             f"{dictionary.shape}")
    sums = dictionary.sum(axis=0)
    if not np.all(sums > 0):
        column = int(np.argmin(sums))
        raise ParameterError(f"every column of W must have a positive entry; column {column} "
                             f"sums to {float(sums[column])!r}")
    K = dictionary.shape[1]
    if H is None:
        activations = np.repeat((data.sum(axis=0) / sums.sum())[None, :], K, axis=0)
    else:
        activations = check_spectrogram(H, name="H").copy()
        if activations.shape != (K, T):
            raise ParameterError(f"H must be shaped (K, T) = ({K}, {T}), got shape "
                                 f"{activations.shape}")
    n_iter = check_int("n_iter", n_iter, low=0)
    tol = check_float("tol", tol)
    l1 = check_float("l1", l1)
    smoothness = check_float("smoothness", smoothness)
    with iteration_progress(n_iter, progress) as bar:
        dictionary, activations, costs, done, converged = iterate(
            data, dictionary, activations, beta=beta, l1=l1, smoothness=smoothness,
            n_iter=n_iter, tol=tol, eps=eps, update_w=False, bar=bar)
        bar.finish()
    return NmfResult(W=dictionary, H=activations, costs=costs, n_iter=done, converged=converged)
