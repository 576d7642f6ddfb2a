"""Non-negative matrix factor 2-D deconvolution (NMF2D) and deconvolution (NMFD).

Schmidt & Mørup (2006), eq. (3)–(4): a spectrogram ``V`` (F bins × T frames) is modelled as

    Λ = Σ_τ Σ_φ  ↓φ(W^τ) →τ(H^φ),   Λ[i, j] = Σ_τ Σ_φ Σ_d W^τ[i - φ, d] H^φ[d, j - τ],

where ``↓φ`` moves a matrix's rows φ down and ``→τ`` its columns τ right (zeros shifted in,
what leaves the edge is dropped). Each factor ``d`` is a time-frequency signature ``W[:, :, d]``
(``n_lags`` frames long) placed in time and pitch by ``H[:, d, :]``. NMFD (Smaragdis 2004) is
the case ``n_shifts = 1`` (φ ∈ {0}). Arrays here:

- ``W``: shape (n_lags, F, K) — ``W[τ]`` is the paper's ``W^τ`` (F × d), τ = 0 … n_lags - 1;
- ``H``: shape (n_shifts, K, T) — ``H[φ]`` is the paper's ``H^φ`` (d × T), φ = 0 … n_shifts - 1.

The updates are the paper's multiplicative updates, eq. (14)–(15) for the least-squares cost
``C_LS = Σ (V - Λ)²`` and eq. (22)–(23) for the KL divergence
``C_KL = Σ V log(V / Λ) - V + Λ``. Both are the ratio of the negative to the positive part
of the exact gradient, written with two correlations of any F × T array ``X`` with the
factors (the shift operators of eq. (15) and (23)):

    G_W(X, H)[τ, k, d] = Σ_φ Σ_j X[k + φ, j + τ] H[φ, d, j]
    G_H(X, W)[φ, d, j] = Σ_τ Σ_k W[τ, k, d] X[k + φ, j + τ]     (X zero outside F × T)

- LS: ``W ← W · G_W(V, H) / G_W(Λ, H)``,   ``H ← H · G_H(V, W) / G_H(Λ, W)``;
- KL: ``W ← W · G_W(V/Λ, H) / G_W(1, H)``, ``H ← H · G_H(V/Λ, W) / G_H(1, W)``.

Λ is linear in ``W`` (and in ``H``) with non-negative coefficients, so each update is the
Lee–Seung majorisation step of that linear model and never increases its cost; ``Λ`` is
recomputed after every update (W, then H). Normalisation: the model is unchanged by
``W[:, :, d] · c`` with ``H[:, d, :] / c``; the paper's text fixes no scale, so after each W
update each factor's signature is scaled to unit norm (Frobenius, ``"l2"``, as in the
authors' NMF2D work, or unit sum, ``"l1"``, the engine's convention for dictionaries) and
``H`` scaled inversely, which leaves ``Λ`` and the cost unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import xlogy

from livesep.checks import check_choice, check_float, check_int, check_seed
from livesep.errors import ParameterError
from livesep.models._common import check_entries, check_spectrogram, iteration_progress
from livesep.progress import Progress
from livesep.threads import blas_threads

__all__ = ["Nmf2dResult", "COSTS", "NORMS", "nmf2d", "nmfd", "convolve", "correlate_w",
           "correlate_h", "cost", "update_w", "update_h", "parameter_count"]

Array = npt.NDArray[np.float64]

#: The paper's two cost functions: least squares and the KL divergence.
COSTS = ("ls", "kl")
#: Normalisations of each factor's signature W[:, :, d].
NORMS = ("l2", "l1", "none")
#: Model floor relative to max(V): keeps V / Λ and the denominators finite.
_RELATIVE_EPS = 1e-12


@dataclass(eq=False)
class Nmf2dResult:
    """A fitted 2-D deconvolution ``V ≈ convolve(W, H)``.

    Attributes
    ----------
    W : np.ndarray, shape (n_lags, F, K)
        Time-frequency signature of every factor.
    H : np.ndarray, shape (n_shifts, K, T)
        Time-pitch activations of every factor.
    costs : list of float
        The cost (with any sparsity penalty) at the start and after every iteration (n_iter + 1).
    n_iter : int
        Iterations run.
    converged : bool
        Whether the relative cost change fell below ``tol``.
    cost : {"ls", "kl"}
        The cost function.
    """

    W: Array
    H: Array
    costs: list[float]
    n_iter: int
    converged: bool
    cost: str

    @property
    def n_parameters(self) -> int:
        """Free parameters ``(n_lags · F + n_shifts · T) · K`` (the paper's count)."""
        return int(self.W.size + self.H.size)

    def reconstruct(self) -> Array:
        """``Λ``, shape (F, T)."""
        return convolve(self.W, self.H)

    def factor_reconstructions(self) -> Array:
        """Every factor's own ``Λ_d`` (eq. (4) for one ``d``), shape (K, F, T); they sum to Λ."""
        return np.stack([convolve(self.W[:, :, d:d + 1], self.H[:, d:d + 1])
                         for d in range(self.W.shape[2])])


# --------------------------------------------------------------------------------------------
# The model and its two correlations


def _toeplitz(W: Array, n_shifts: int) -> Array:
    """``A[τ, i, d, φ] = W[τ, i - φ, d]`` (0 for i < φ): the model and both correlations
    become one matrix product each over (d, φ), not ``n_lags · n_shifts`` small ones."""
    n_lags, F, K = W.shape
    padded = np.zeros((n_lags, F + n_shifts - 1, K))
    padded[:, n_shifts - 1:] = W
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_shifts, axis=1)
    return np.ascontiguousarray(windows[..., ::-1])


def _lagged(X: Array, n_lags: int) -> Array:
    """``X`` moved left by τ = 0 … n_lags - 1 frames (zeros in), stacked: (n_lags, F, T)."""
    F, T = X.shape
    padded = np.zeros((F, T + n_lags - 1))
    padded[:, :T] = X
    windows = np.lib.stride_tricks.sliding_window_view(padded, T, axis=1)
    return np.ascontiguousarray(np.moveaxis(windows, 1, 0))


def convolve(W: npt.ArrayLike, H: npt.ArrayLike) -> Array:
    """The model ``Λ = Σ_τ Σ_φ ↓φ(W^τ) →τ(H^φ)`` (eq. (3)).

    Parameters
    ----------
    W : array-like, shape (n_lags, F, K)
    H : array-like, shape (n_shifts, K, T)

    Returns
    -------
    np.ndarray, shape (F, T)
    """
    W, H = _check_factors(W, H)
    (n_lags, F, K), (n_shifts, _, T) = W.shape, H.shape
    parts = (_toeplitz(W, n_shifts).reshape(n_lags * F, K * n_shifts)
             @ H.transpose(1, 0, 2).reshape(K * n_shifts, T)).reshape(n_lags, F, T)
    out = parts[0].copy()
    for tau in range(1, min(n_lags, T)):
        out[:, tau:] += parts[tau, :, :T - tau]
    return out


def correlate_w(X: npt.ArrayLike, H: npt.ArrayLike, *, n_lags: int) -> Array:
    """``G_W(X, H)[τ, k, d] = Σ_φ Σ_j X[k + φ, j + τ] H[φ, d, j]`` (X zero outside).

    Parameters
    ----------
    X : array-like, shape (F, T)
    H : array-like, shape (n_shifts, K, T)
    n_lags : int, keyword-only

    Returns
    -------
    np.ndarray, shape (n_lags, F, K)
    """
    X, H = np.asarray(X, dtype=np.float64), np.asarray(H, dtype=np.float64)
    F, T = X.shape
    n_shifts, K, _ = H.shape
    # Z[τ, i, d, φ] = Σ_j X[i, j + τ] H[φ, d, j]; then G_W[τ, k, d] = Σ_φ Z[τ, k + φ, d, φ].
    Z = (_lagged(X, n_lags).reshape(n_lags * F, T)
         @ H.transpose(2, 1, 0).reshape(T, K * n_shifts)).reshape(n_lags, F, K, n_shifts)
    out = Z[..., 0].copy()
    for phi in range(1, min(n_shifts, F)):
        out[:, :F - phi] += Z[:, phi:, :, phi]
    return out


def correlate_h(X: npt.ArrayLike, W: npt.ArrayLike, *, n_shifts: int) -> Array:
    """``G_H(X, W)[φ, d, j] = Σ_τ Σ_k W[τ, k, d] X[k + φ, j + τ]`` (X zero outside).

    Parameters
    ----------
    X : array-like, shape (F, T)
    W : array-like, shape (n_lags, F, K)
    n_shifts : int, keyword-only

    Returns
    -------
    np.ndarray, shape (n_shifts, K, T)
    """
    X, W = np.asarray(X, dtype=np.float64), np.asarray(W, dtype=np.float64)
    F, T = X.shape
    n_lags, _, K = W.shape
    A = _toeplitz(W, n_shifts).reshape(n_lags * F, K * n_shifts)
    out = A.T @ _lagged(X, n_lags).reshape(n_lags * F, T)
    return out.reshape(K, n_shifts, T).transpose(1, 0, 2).copy()


def cost(V: npt.ArrayLike, model: npt.ArrayLike, *, kind: str = "ls") -> float:
    """``C_LS = Σ (V - Λ)²`` (eq. (8)) or ``C_KL = Σ V log(V/Λ) - V + Λ`` (eq. (16))."""
    kind = check_choice("cost", kind, COSTS)
    V, model = np.asarray(V, dtype=np.float64), np.asarray(model, dtype=np.float64)
    if kind == "ls":
        return float(np.sum((V - model) ** 2))
    return float(np.sum(xlogy(V, V) - xlogy(V, model) - V + model))


# --------------------------------------------------------------------------------------------
# The multiplicative updates


def update_w(V: Array, W: Array, H: Array, *, kind: str = "ls", model: Array | None = None,
             eps: float = 0.0) -> Array:
    """One update of ``W`` (eq. (14)–(15) for ``"ls"``, (22)–(23) for ``"kl"``), unnormalised.

    Parameters
    ----------
    V : np.ndarray, shape (F, T)
    W : np.ndarray, shape (n_lags, F, K)
    H : np.ndarray, shape (n_shifts, K, T)
    kind : {"ls", "kl"}, keyword-only
    model : np.ndarray, shape (F, T), optional, keyword-only
        ``convolve(W, H)`` if already computed.
    eps : float, keyword-only
        Floor added to ``Λ`` and the denominators.

    Returns
    -------
    np.ndarray, shape (n_lags, F, K)
    """
    kind = check_choice("cost", kind, COSTS)
    Lam = convolve(W, H) if model is None else model
    n_lags = W.shape[0]
    if kind == "ls":
        numerator, denominator = correlate_w(V, H, n_lags=n_lags), correlate_w(Lam, H,
                                                                               n_lags=n_lags)
    else:
        numerator = correlate_w(V / (Lam + eps), H, n_lags=n_lags)
        denominator = correlate_w(np.ones_like(V), H, n_lags=n_lags)
    return W * numerator / (denominator + eps)


def update_h(V: Array, W: Array, H: Array, *, kind: str = "ls", model: Array | None = None,
             eps: float = 0.0, sparsity: float = 0.0) -> Array:
    """One update of ``H`` (eq. (15) for ``"ls"``, (23) for ``"kl"``); as :func:`update_w`.

    ``sparsity``: λ of a penalty ``λ Σ H``, whose gradient joins the denominator.

    Returns
    -------
    np.ndarray, shape (n_shifts, K, T)
    """
    kind = check_choice("cost", kind, COSTS)
    Lam = convolve(W, H) if model is None else model
    n_shifts = H.shape[0]
    if kind == "ls":
        numerator = correlate_h(V, W, n_shifts=n_shifts)
        denominator = correlate_h(Lam, W, n_shifts=n_shifts)
    else:
        numerator = correlate_h(V / (Lam + eps), W, n_shifts=n_shifts)
        denominator = correlate_h(np.ones_like(V), W, n_shifts=n_shifts)
    return H * numerator / (denominator + sparsity + eps)


def _normalise(W: Array, H: Array, norm: str) -> tuple[Array, Array]:
    if norm == "none":
        return W, H
    scale = (np.sqrt(np.sum(W ** 2, axis=(0, 1))) if norm == "l2" else W.sum(axis=(0, 1)))
    scale = np.where(scale > 0, scale, 1.0)
    return W / scale, H * scale[None, :, None]


# --------------------------------------------------------------------------------------------
# Fitting


def _check_factors(W: npt.ArrayLike, H: npt.ArrayLike) -> tuple[Array, Array]:
    W, H = np.asarray(W, dtype=np.float64), np.asarray(H, dtype=np.float64)
    if W.ndim != 3 or H.ndim != 3 or W.shape[2] != H.shape[1]:
        raise ParameterError(f"W must be shaped (n_lags, F, K) and H (n_shifts, K, T) with "
                             f"one K, got shapes {W.shape} and {H.shape}")
    return W, H


def _check_given(name: str, value: npt.ArrayLike, shape: tuple[int, ...]) -> Array:
    array = np.array(value, dtype=np.float64)
    if array.shape != shape:
        raise ParameterError(f"{name} must be shaped {shape}, got shape {array.shape}")
    check_entries(name, array)
    return array


def nmf2d(V: npt.ArrayLike, *, n_factors: int, n_lags: int, n_shifts: int, cost: str = "ls",
          n_iter: int = 200, tol: float = 1e-5, seed: int = 0, norm: str = "l2",
          W: npt.ArrayLike | None = None, H: npt.ArrayLike | None = None,
          fix_w: bool = False, sparsity: float = 0.0,
          progress: Progress | None = None) -> Nmf2dResult:
    """Fit ``V ≈ Σ_τ Σ_φ ↓φ(W^τ) →τ(H^φ)`` by the paper's multiplicative updates.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative spectrogram (log-frequency for pitch shifts to mean anything).
    n_factors : int, keyword-only
        ``K`` (the paper's ``d``): one factor per instrument for blind separation.
    n_lags : int, keyword-only
        Length of each signature in frames (τ = 0 … n_lags - 1); 7 in the paper.
    n_shifts : int, keyword-only
        Pitch shifts in bins (φ = 0 … n_shifts - 1); 12 in the paper, 1 for NMFD.
    cost : {"ls", "kl"}, keyword-only
        Least squares (eq. (14)–(15)) or KL divergence (eq. (22)–(23)).
    n_iter : int, keyword-only
        Maximum iterations (each updates W, then H).
    tol : float, keyword-only
        Stop when the relative cost change of one iteration is below ``tol`` (0: never).
    seed : int, keyword-only
        Seed of the random initialisation (uniform in (0, 1], W normalised, H scaled to fit
        V's level); equal seeds give equal results.
    norm : {"l2", "l1", "none"}, keyword-only
        Normalisation of each factor's signature after every W update.
    W, H : array-like, optional, keyword-only
        Initial factors (shapes as returned), used as given, instead of the random ones
        (a random ``H`` is scaled to fit V's level).
    fix_w : bool, keyword-only
        Keep ``W`` as given (needs ``W``): supervised activations only, no normalisation.
    sparsity : float, keyword-only
        λ ≥ 0 of ``λ · s · Σ H`` added to the cost (``s`` = 1 for KL, mean(V) for LS): without
        it one peak shifted everywhere explains any spectrum, and timbre tells nothing.
    progress : callable, optional, keyword-only
        Called with the fraction done as the iterations run.

    Returns
    -------
    Nmf2dResult

    Raises
    ------
    ParameterError
        For bad data or settings; the message shows the bad value.
    """
    data = check_spectrogram(V)
    F, T = data.shape
    K = check_int("n_factors", n_factors, low=1)
    n_lags = check_int("n_lags", n_lags, low=1, high=T)
    n_shifts = check_int("n_shifts", n_shifts, low=1, high=F)
    kind = check_choice("cost", cost, COSTS)
    n_iter = check_int("n_iter", n_iter, low=0)
    tol = check_float("tol", tol)
    rng = np.random.default_rng(check_seed(seed))
    norm = check_choice("norm", norm, NORMS)
    if fix_w and W is None:
        raise ParameterError("fix_w=True needs the dictionary W")
    eps = _RELATIVE_EPS * float(data.max())
    penalty = check_float("sparsity", sparsity, low=0.0) * (1.0 if kind == "kl"
                                                           else float(data.mean()))
    given_w, given_h = W is not None, H is not None
    W = (_check_given("W", W, (n_lags, F, K)) if given_w
         else 1.0 - rng.random((n_lags, F, K)))
    H = (_check_given("H", H, (n_shifts, K, T)) if given_h
         else 1.0 - rng.random((n_shifts, K, T)))
    if not given_w:
        W, H = _normalise(W, H, norm)
    model = convolve(W, H)
    if not model.any():
        raise ParameterError("the initial W and H give an all-zero model")
    if not given_h:
        # Start at V's level: the least-squares scale for LS, the total mass for KL.
        scale = (float(np.sum(data * model) / np.sum(model ** 2)) if kind == "ls"
                 else float(data.sum() / model.sum()))
        H, model = H * scale, model * scale
    costs = [_cost(data, model, kind, eps) + penalty * float(H.sum())]
    converged, iterations = False, 0
    # Many small products: one BLAS thread is far faster on a busy machine (livesep.threads).
    with blas_threads(1), iteration_progress(n_iter, progress) as bar:
        for iterations in range(1, n_iter + 1):
            if not fix_w:
                W = update_w(data, W, H, kind=kind, model=model, eps=eps)
                W, H = _normalise(W, H, norm)
                model = convolve(W, H)
            H = update_h(data, W, H, kind=kind, model=model, eps=eps, sparsity=penalty)
            model = convolve(W, H)
            costs.append(_cost(data, model, kind, eps) + penalty * float(H.sum()))
            bar.advance()
            if tol > 0 and abs(costs[-2] - costs[-1]) <= tol * max(abs(costs[-2]), 1e-300):
                converged = True
                break
        bar.finish()
    return Nmf2dResult(W=W, H=H, costs=costs, n_iter=iterations, converged=converged,
                       cost=kind)


def _cost(V: Array, model: Array, kind: str, eps: float) -> float:
    return cost(V, model + eps if kind == "kl" else model, kind=kind)


def nmfd(V: npt.ArrayLike, *, n_factors: int, n_lags: int, cost: str = "ls",
         n_iter: int = 200, tol: float = 1e-5, seed: int = 0, norm: str = "l2",
         W: npt.ArrayLike | None = None, H: npt.ArrayLike | None = None,
         fix_w: bool = False, progress: Progress | None = None) -> Nmf2dResult:
    """NMFD: :func:`nmf2d` with ``n_shifts = 1`` (no pitch shift, φ ∈ {0}).

    Parameters are those of :func:`nmf2d` (``H``, if given, shaped (1, K, T)).

    Returns
    -------
    Nmf2dResult
        ``W`` (n_lags, F, K) and ``H`` shaped (1, K, T).
    """
    return nmf2d(V, n_factors=n_factors, n_lags=n_lags, n_shifts=1, cost=cost, n_iter=n_iter,
                 tol=tol, seed=seed, norm=norm, W=W, H=H, fix_w=fix_w, progress=progress)


def parameter_count(n_bins: int, n_frames: int, *, n_factors: int, n_lags: int,
                    n_shifts: int = 1) -> int:
    """Free parameters ``(n_lags · I + n_shifts · J) · d`` of NMFD / NMF2D (section 4).

    The paper's example: ``parameter_count(175, 63, n_factors=6, n_lags=7) == 7728`` (NMFD)
    and ``parameter_count(175, 63, n_factors=2, n_lags=7, n_shifts=12) == 3962`` (NMF2D).
    """
    for name, value in (("n_bins", n_bins), ("n_frames", n_frames), ("n_factors", n_factors),
                        ("n_lags", n_lags), ("n_shifts", n_shifts)):
        check_int(name, value, low=1)
    return (n_lags * n_bins + n_shifts * n_frames) * n_factors
