"""Probabilistic latent component analysis (PLCA) by EM: NMF read as probabilities.

``V`` is read as counts of (frequency, frame) events drawn from
``P(f, t) = Σ_z P(z) P(f|z) P(t|z)``. Its EM step is the KL multiplicative update of
:mod:`livesep.models.nmf` up to normalisation, so both reach the same fits; PLCA keeps the
probabilities apart (``P(z)``, ``P(t|z)``) and reports the multinomial log-likelihood, which
EM never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.special import xlogy

from livesep.checks import check_choice, check_float, check_int, check_seed
from livesep.models._common import check_spectrogram, iteration_progress
from livesep.models.betadiv import RELATIVE_EPS, relative_change
from livesep.models.initialise import check_rank, initial_factors
from livesep.progress import Progress

__all__ = ["PlcaResult", "plca"]

Array = npt.NDArray[np.float64]


@dataclass(eq=False)
class PlcaResult:
    """A PLCA model ``P(f, t) = Σ_z P(z) P(f|z) P(t|z)`` of ``V`` seen as counts.

    Attributes
    ----------
    p_f_z : np.ndarray, shape (F, K)
        ``P(f|z)``; columns sum to one.
    p_z : np.ndarray, shape (K,)
        ``P(z)``; sums to one.
    p_t_z : np.ndarray, shape (K, T)
        ``P(t|z)``; rows sum to one.
    total : float
        ``Σ V``, the number of counts, which turns probabilities back into magnitudes.
    log_likelihoods : list of float
        ``Σ_{f,t} V[f,t] log P(f, t)`` (the multinomial log-likelihood without its constant)
        of every iterate, ``log_likelihoods[0]`` at the initialisation.
    n_iter : int
        EM iterations run.
    converged : bool
        Whether the relative change fell below ``tol`` before ``n_iter`` ran out.
    """

    p_f_z: Array
    p_z: Array
    p_t_z: Array
    total: float
    log_likelihoods: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False

    @property
    def W(self) -> Array:
        """The dictionary ``P(f|z)``, shape (F, K): the NMF ``W``."""
        return self.p_f_z

    @property
    def H(self) -> Array:
        """``total · P(z) P(t|z)``, shape (K, T): the NMF ``H`` in the units of ``V``."""
        return self.total * self.p_z[:, None] * self.p_t_z

    @property
    def reconstruction(self) -> Array:
        """``total · P(f, t)``, shape (F, T): the expected counts, comparable with ``V``."""
        return self.W @ self.H


def plca(V: npt.ArrayLike, *, n_components: int, n_iter: int = 200, tol: float = 1e-4,
         init: str = "nndsvd", seed: int = 0, progress: Progress | None = None) -> PlcaResult:
    """Probabilistic latent component analysis by EM.

    ``V`` is read as counts of (frequency, frame) events drawn from
    ``P(f, t) = Σ_z P(z) P(f|z) P(t|z)``. E-step: ``P(z|f,t) ∝ P(z) P(f|z) P(t|z)``;
    M-step: each factor ∝ the counts ``V[f,t] P(z|f,t)`` summed over the other indices.
    The log-likelihood ``Σ V log P(f, t)`` never decreases. ``W = P(f|z)`` and
    ``H = Σ V · P(z) P(t|z)`` are a KL-NMF of ``V`` (EM = KL MU up to normalisation).

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative data.
    n_components : int, keyword-only
        ``K``, in ``[1, min(F, T)]``.
    n_iter : int, keyword-only
        Maximum number of EM iterations.
    tol : float, keyword-only
        Stop when the relative change of the log-likelihood falls below ``tol``.
    init : {"nndsvd", "random"}, keyword-only
        Initial factors, as for :func:`~livesep.models.nmf.nmf`.
    seed : int, keyword-only
        Seed of the random initialisation.
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    PlcaResult
        ``P(f|z)`` (F, K), ``P(z)`` (K,), ``P(t|z)`` (K, T) and the log-likelihood history.
    """
    data = check_spectrogram(V)
    K = check_rank(n_components, data.shape)
    n_iter = check_int("n_iter", n_iter, low=0)
    tol = check_float("tol", tol)
    init = check_choice("init", init, ("nndsvd", "random"))
    seed = check_seed(seed)

    total = float(data.sum())
    counts = data / total  # work with P(f, t); the likelihood is rescaled by `total` below
    W, H = initial_factors(counts, K, init, np.random.default_rng(seed))
    mass = H.sum(axis=1)
    p_z = mass / mass.sum()
    p_t_z = H / np.where(mass > 0, mass, 1.0)[:, None]
    eps = RELATIVE_EPS * float(counts.max())
    history: list[float] = []
    converged = False
    iterations = 0
    with iteration_progress(n_iter, progress) as bar:
        for iterations in range(n_iter + 1):
            joint = p_z[:, None] * p_t_z                # P(z) P(t|z), (K, T)
            model = W @ joint + eps                     # P(f, t)
            history.append(total * float(np.sum(xlogy(counts, model))))
            if iterations and tol > 0 and relative_change(history[-2], history[-1]) < tol:
                converged = True
                break
            if iterations == n_iter:
                break
            ratio = counts / model
            # Σ_t V P(z|f,t) and Σ_f V P(z|f,t), both from the same E-step.
            by_frequency = W * (ratio @ joint.T)        # (F, K)
            by_frame = joint * (W.T @ ratio)            # (K, T)
            mass = by_frequency.sum(axis=0)
            p_z = mass / mass.sum()
            safe = np.where(mass > 0, mass, 1.0)
            W = np.where(mass > 0, by_frequency / safe, W)
            p_t_z = np.where(mass[:, None] > 0, by_frame / safe[:, None], p_t_z)
            bar.advance()
        bar.finish()
    return PlcaResult(p_f_z=W, p_z=p_z, p_t_z=p_t_z, total=total, log_likelihoods=history,
                      n_iter=iterations, converged=converged)
