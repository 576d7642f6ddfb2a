"""The β-divergence and its multiplicative updates: the machinery behind every NMF fit here.

:func:`~livesep.models.nmf.nmf`, :func:`~livesep.models.nmf.fit_activations` and the N-HMM's
initial dictionaries all run :func:`iterate`, so the updates, their guarantees and the
numerical floors live here once. For the β-divergence

    d_β(x | y) = (x^β + (β - 1) y^β - β x y^(β-1)) / (β (β - 1)),

with the limits β = 1 (Kullback-Leibler) and β = 0 (Itakura-Saito), the updates are the
majorisation-minimisation (MM) multiplicative updates of Févotte & Idier (2011): the ratio of
the negative to the positive part of the gradient is raised to the exponent 1/(2 - β) for
β < 1, 1 for 1 ≤ β ≤ 2 and 1/(β - 1) for β > 2, which makes every update decrease the cost.

Monotone guarantees: without penalties, the cost never increases for any β ≥ 0. With
penalties and β = 1 the updates are still exact MM steps — ``W`` is updated on the simplex
(columns summing to one, the PLCA M-step), which is exactly the MM minimiser under that
constraint, so the penalised cost does not move when ``W`` is renormalised; the smoothness
term is majorised by ``(a - b)² ≤ 2(a - c)² + 2(b - c)²`` with ``c`` the midpoint of the
current values, which decouples the frames and leaves a quadratic per entry whose positive root
is the update. For β ≠ 1 with penalties the updates are the usual split-gradient heuristic and
the cost is monitored but not guaranteed to decrease.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import xlogy

from livesep.checks import check_float
from livesep.models._common import IterationCount, check_spectrogram

__all__ = [
    "RELATIVE_EPS",
    "TINY",
    "beta_divergence",
    "check_beta",
    "iterate",
    "normalise_columns",
    "prepare_data",
    "relative_change",
    "update_h",
    "w_statistics",
    "w_update",
]

Array = npt.NDArray[np.float64]

#: Model floor relative to ``max(V)``: keeps ``V / (W H)`` finite where the model is zero.
RELATIVE_EPS = 1e-12
#: Absolute floor for divisions whose operands are already scaled (sums, norms).
TINY = 1e-300


# --------------------------------------------------------------------------------------------
# β-divergence


def beta_divergence(V: npt.ArrayLike, Y: npt.ArrayLike, *, beta: float = 1.0) -> float:
    """``Σ d_β(V | Y)``, the β-divergence summed over every entry.

    Parameters
    ----------
    V, Y : array-like, same shape
        Data and model, non-negative; ``Y`` must be positive where the divergence needs it
        (everywhere for β ≤ 1, where ``V > 0`` for β = 1).
    beta : float, keyword-only
        0 Itakura-Saito, 1 Kullback-Leibler, 2 half the squared Euclidean distance.

    Returns
    -------
    float
    """
    data = np.asarray(V, dtype=np.float64)
    model = np.asarray(Y, dtype=np.float64)
    if beta == 1:
        return float(np.sum(xlogy(data, data / model) - data + model))
    if beta == 0:
        ratio = data / model
        return float(np.sum(ratio - np.log(ratio) - 1.0))
    if beta == 2:
        return float(0.5 * np.sum((data - model) ** 2))
    return float(np.sum(data ** beta + (beta - 1.0) * model ** beta
                        - beta * data * model ** (beta - 1.0)) / (beta * (beta - 1.0)))


def _mm_exponent(beta: float) -> float:
    """Exponent that makes the multiplicative update an MM step (Févotte & Idier 2011)."""
    if beta < 1.0:
        return 1.0 / (2.0 - beta)
    if beta > 2.0:
        return 1.0 / (beta - 1.0)
    return 1.0


def _gradient_terms(V: Array, Y: Array, beta: float) -> tuple[Array, Array | None]:
    """The matrices ``V ⊙ Y^(β-2)`` and ``Y^(β-1)`` (``None`` for β = 1, where it is ones)."""
    if beta == 1:
        return V / Y, None
    if beta == 2:
        return V, Y
    if beta == 0:
        inverse = 1.0 / Y
        return V * inverse * inverse, inverse
    return V * Y ** (beta - 2.0), Y ** (beta - 1.0)


def _penalty(H: Array, l1: float, smoothness: float) -> float:
    total = 0.0
    if l1:
        total += l1 * float(H.sum())
    if smoothness and H.shape[1] > 1:
        total += 0.5 * smoothness * float(np.sum(np.diff(H, axis=1) ** 2))
    return total


# --------------------------------------------------------------------------------------------
# Updates


def _neighbour_terms(H: Array) -> tuple[Array, Array]:
    """Per frame: the number of neighbours ``n_t`` (T,) and the sum of neighbours (K, T)."""
    T = H.shape[1]
    count = np.full(T, 2.0)
    count[0] -= 1.0
    count[-1] -= 1.0
    count = np.maximum(count, 0.0)  # T == 1: no neighbour at all
    neighbours = np.zeros_like(H)
    neighbours[:, 1:] += H[:, :-1]
    neighbours[:, :-1] += H[:, 1:]
    return count, neighbours


def update_h(V: Array, W: Array, H: Array, Y: Array, *, beta: float, l1: float,
              smoothness: float, column_sums: Array) -> Array:
    """One MM update of ``H`` (returns the new array; ``Y = W H + eps`` for the current H).
    Frame by frame, except for the smoothness penalty's neighbours."""
    numerator_terms, denominator_terms = _gradient_terms(V, Y, beta)
    numerator = W.T @ numerator_terms
    denominator = (column_sums[:, None] if denominator_terms is None
                   else W.T @ denominator_terms)
    if smoothness and H.shape[1] > 1:
        count, neighbours = _neighbour_terms(H)
        if beta == 1:
            # Exact MM: with the midpoint majoriser, entry (k, t) minimises
            #   den·h + l1·h + P·(n h² - 2 s h) - num·h̃·log h,  s = (n h̃ + neighbours) / 2,
            # whose stationary point is the positive root of a h² + b h - c = 0.
            a = 2.0 * smoothness * count[None, :]
            b = denominator + l1 - smoothness * (count[None, :] * H + neighbours)
            c = numerator * H
            root = np.sqrt(b * b + 4.0 * a * c)
            with np.errstate(divide="ignore", invalid="ignore"):
                # Two algebraically equal forms; each is the stable one for its sign of b.
                updated = np.where(b >= 0.0, 2.0 * c / np.maximum(b + root, TINY),
                                   (root - b) / np.maximum(2.0 * a, TINY))
            return updated
        # Split-gradient heuristic: the penalty's gradient P(n h - neighbours) goes to the
        # denominator (positive part) and numerator (negative part).
        ratio = ((numerator + smoothness * neighbours)
                 / np.maximum(denominator + l1 + smoothness * count[None, :] * H, TINY))
        return H * ratio ** _mm_exponent(beta)
    ratio = numerator / np.maximum(denominator + l1, TINY)
    exponent = _mm_exponent(beta)
    return H * (ratio if exponent == 1.0 else ratio ** exponent)


def normalise_columns(W: Array, H: Array | None) -> tuple[Array, Array | None]:
    """Scale W's columns to sum to one and H's rows by the inverse (WH unchanged)."""
    sums = W.sum(axis=0)
    safe = np.where(sums > 0, sums, 1.0)
    W = W / safe
    if H is not None:
        H = H * safe[:, None]
    return W, H


def w_statistics(V: Array, Y: Array, H: Array, *, beta: float) -> tuple[Array, Array | None]:
    """The sums over frames W's MM update needs: ``(V ⊙ Y^(β-2)) Hᵀ`` and ``Y^(β-1) Hᵀ``
    (``None`` for β = 1), both (F, K). Over frames they add, chunk by chunk."""
    numerator_terms, denominator_terms = _gradient_terms(V, Y, beta)
    return (numerator_terms @ H.T,
            None if denominator_terms is None else denominator_terms @ H.T)


def w_update(W: Array, numerator: Array, denominator: Array | None, *, beta: float
             ) -> tuple[Array, Array | None]:
    """W's MM update from :func:`w_statistics`: the new W, columns summing to one, and the
    factor (K,) every row of H must be multiplied by to keep ``W H`` (None: H unchanged)."""
    if denominator is None:
        # KL on the simplex: the MM minimiser under Σ_f W[f,k] = 1 is the normalised product
        # (the PLCA M-step). H keeps the scale, so penalties on H are not disturbed.
        updated = W * numerator
        sums = updated.sum(axis=0)
        # A component that explains nothing (zero activations) keeps its old shape.
        return np.where(sums > 0, updated / np.where(sums > 0, sums, 1.0), W), None
    ratio = numerator / np.maximum(denominator, TINY)
    exponent = _mm_exponent(beta)
    updated = W * (ratio if exponent == 1.0 else ratio ** exponent)
    sums = updated.sum(axis=0)
    safe = np.where(sums > 0, sums, 1.0)
    return updated / safe, safe


def _update_w(V: Array, W: Array, H: Array, Y: Array, *, beta: float) -> tuple[Array, Array]:
    """One MM update of ``W``, returning ``(W, H)`` with W's columns summing to one."""
    numerator, denominator = w_statistics(V, Y, H, beta=beta)
    W, scale = w_update(W, numerator, denominator, beta=beta)
    return W, (H if scale is None else H * scale[:, None])


def relative_change(previous: float, current: float) -> float:
    """``|previous - current| / |previous|``, the convergence test of every fit here."""
    return abs(previous - current) / max(abs(previous), TINY)


def iterate(V: Array, W: Array, H: Array, *, beta: float, l1: float, smoothness: float,
             n_iter: int, tol: float, eps: float, update_w: bool,
             bar: IterationCount | None = None, track_cost: bool = True
             ) -> tuple[Array, Array, list[float], int, bool]:
    """Run the MU loop; the cost of each iterate comes from the ``W H`` the update needs.

    ``track_cost=False`` (internal callers that only want the factors) skips the cost, whose
    logarithms are a large part of an iteration, and disables the ``tol`` test.

    Parameters
    ----------
    V : np.ndarray, shape (F, T)
        Checked data (see :func:`prepare_data`).
    W : np.ndarray, shape (F, K)
        Initial dictionary, columns summing to one (kept fixed unless ``update_w``).
    H : np.ndarray, shape (K, T)
        Initial activations.
    beta, l1, smoothness : float, keyword-only
        The divergence and the penalties on ``H`` (see :mod:`livesep.models.nmf`).
    n_iter : int, keyword-only
        Maximum number of iterations (each updates H, then W if ``update_w``).
    tol : float, keyword-only
        Stop when the relative cost change falls below ``tol`` (0 runs all ``n_iter``).
    eps : float, keyword-only
        Model floor added to ``W H``.
    update_w : bool, keyword-only
        Whether ``W`` is updated too (NMF) or held fixed (supervised activations).
    bar : IterationCount, optional, keyword-only
        Advanced once per iteration.
    track_cost : bool, keyword-only
        Whether to compute the cost of every iterate.

    Returns
    -------
    W, H : np.ndarray
        The fitted factors.
    costs : list of float
        The penalised cost of every iterate (empty without ``track_cost``).
    n_iter : int
        Iterations run.
    converged : bool
        Whether the ``tol`` test stopped the loop.
    """
    costs: list[float] = []
    converged = False
    iterations = 0
    column_sums = W.sum(axis=0)
    for iterations in range(n_iter + 1):
        Y = W @ H + eps
        if track_cost:
            costs.append(beta_divergence(V, Y, beta=beta) + _penalty(H, l1, smoothness))
        if (track_cost and iterations and tol > 0
                and relative_change(costs[-2], costs[-1]) < tol):
            converged = True
            break
        if iterations == n_iter:
            break
        H = update_h(V, W, H, Y, beta=beta, l1=l1, smoothness=smoothness,
                      column_sums=column_sums)
        if update_w:
            W, H = _update_w(V, W, H, W @ H + eps, beta=beta)
            column_sums = W.sum(axis=0)
        if bar is not None:
            bar.advance()
    return W, H, costs, iterations, converged


# --------------------------------------------------------------------------------------------
# Checks


def check_beta(beta: object) -> float:
    """``beta`` as a float, after checking ``beta >= 0``."""
    return check_float("beta", beta, low=0.0)


def prepare_data(V: npt.ArrayLike, beta: float) -> tuple[Array, float]:
    """Checked float64 copy of V and the model floor eps (IS needs V > 0 as well)."""
    data = check_spectrogram(V)
    eps = RELATIVE_EPS * float(data.max())
    if beta == 0:
        # d_IS(0 | y) is infinite: lift exact zeros to the model floor.
        data = np.maximum(data, eps)
    return data, eps
