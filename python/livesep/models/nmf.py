"""Non-negative matrix factorisation: β-divergence NMF, supervised activations, PLCA.

``V ≈ W H`` with ``V`` a magnitude spectrogram (F bins × T frames), ``W`` (F × K) a dictionary
whose columns sum to one and ``H`` (K × T) the activations. The updates are the
majorisation-minimisation (MM) multiplicative updates of Févotte & Idier (2011): for the
β-divergence

    d_β(x | y) = (x^β + (β - 1) y^β - β x y^(β-1)) / (β (β - 1)),

with the limits β = 1 (Kullback-Leibler, the default) and β = 0 (Itakura-Saito), the ratio of
the negative to the positive part of the gradient is raised to the exponent 1/(2 - β) for
β < 1, 1 for 1 ≤ β ≤ 2 and 1/(β - 1) for β > 2, which makes every update decrease the cost.

Penalties on ``H`` (Bryan & Sun's tutorial, "Extensions"):

- ``l1``: ``l1 · Σ H`` (sparsity, a Laplace / exponential prior on the activations);
- ``smoothness``: ``smoothness / 2 · Σ_{k,t} (H[k,t] - H[k,t-1])²`` (temporal continuity).

A caveat on ``l1`` that follows from the unit-sum dictionary columns: for β = 1,
``Σ (W H) = Σ H``, so ``KL(V | W H) + l1 · Σ H`` is the unpenalised KL problem in
``H' = (1 + l1) H``: the fit is the unpenalised one with ``H`` divided by ``1 + l1`` — the
same shapes, the same masks, no sparsity at all. The same holds for the engine's per-frame
KL activations. L1 does sparsify for β > 1 (e.g. 1.5 or 2); for β < 1 it mostly shrinks the
overall level and, in our tests, flattens ``H`` rather than sparsifying it.

Monotone guarantees: without penalties, the cost never increases for any β ≥ 0. With
penalties and β = 1 the updates are still exact MM steps — ``W`` is updated on the simplex
(columns summing to one, the PLCA M-step), which is exactly the MM minimiser under that
constraint, so the penalised cost does not move when ``W`` is renormalised; the smoothness
term is majorised by ``(a - b)² ≤ 2(a - c)² + 2(b - c)²`` with ``c`` the midpoint of the
current values, which decouples the frames and leaves a quadratic per entry whose positive root
is the update. For β ≠ 1 with penalties the updates are the usual split-gradient heuristic and
the cost is monitored but not guaranteed to decrease.

PLCA (:func:`plca`) is the probabilistic view: ``V`` as counts drawn from
``P(f, t) = Σ_z P(z) P(f|z) P(t|z)``, fitted by EM. Its EM step is the KL multiplicative
update up to normalisation, so both reach the same fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.special import xlogy

from livesep.checks import check_choice, check_float, check_int, check_seed
from livesep.errors import ParameterError
from livesep.models._common import IterationCount, check_spectrogram, iteration_progress
from livesep.progress import Progress

__all__ = [
    "NmfResult",
    "PlcaResult",
    "beta_divergence",
    "fit_activations",
    "nmf",
    "nndsvd",
    "plca",
]

Array = npt.NDArray[np.float64]

#: Model floor relative to ``max(V)``: keeps ``V / (W H)`` finite where the model is zero.
_RELATIVE_EPS = 1e-12
#: Absolute floor for divisions whose operands are already scaled (sums, norms).
_TINY = 1e-300


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


def _update_h(V: Array, W: Array, H: Array, Y: Array, *, beta: float, l1: float,
              smoothness: float, column_sums: Array) -> Array:
    """One MM update of ``H`` (returns the new array; ``Y = W H + eps`` for the current H)."""
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
                updated = np.where(b >= 0.0, 2.0 * c / np.maximum(b + root, _TINY),
                                   (root - b) / np.maximum(2.0 * a, _TINY))
            return updated
        # Split-gradient heuristic: the penalty's gradient P(n h - neighbours) goes to the
        # denominator (positive part) and numerator (negative part).
        ratio = ((numerator + smoothness * neighbours)
                 / np.maximum(denominator + l1 + smoothness * count[None, :] * H, _TINY))
        return H * ratio ** _mm_exponent(beta)
    ratio = numerator / np.maximum(denominator + l1, _TINY)
    exponent = _mm_exponent(beta)
    return H * (ratio if exponent == 1.0 else ratio ** exponent)


def _normalise_columns(W: Array, H: Array | None) -> tuple[Array, Array | None]:
    """Scale W's columns to sum to one and H's rows by the inverse (WH unchanged)."""
    sums = W.sum(axis=0)
    safe = np.where(sums > 0, sums, 1.0)
    W = W / safe
    if H is not None:
        H = H * safe[:, None]
    return W, H


def _update_w(V: Array, W: Array, H: Array, Y: Array, *, beta: float) -> tuple[Array, Array]:
    """One MM update of ``W``, returning ``(W, H)`` with W's columns summing to one."""
    numerator_terms, denominator_terms = _gradient_terms(V, Y, beta)
    numerator = numerator_terms @ H.T
    if denominator_terms is None:
        # KL on the simplex: the MM minimiser under Σ_f W[f,k] = 1 is the normalised product
        # (the PLCA M-step). H keeps the scale, so penalties on H are not disturbed.
        updated = W * numerator
        sums = updated.sum(axis=0)
        # A component that explains nothing (zero activations) keeps its old shape.
        updated = np.where(sums > 0, updated / np.where(sums > 0, sums, 1.0), W)
        return updated, H
    ratio = numerator / np.maximum(denominator_terms @ H.T, _TINY)
    exponent = _mm_exponent(beta)
    updated = W * (ratio if exponent == 1.0 else ratio ** exponent)
    W_new, H_new = _normalise_columns(updated, H)
    assert H_new is not None
    return W_new, H_new


def _relative_change(previous: float, current: float) -> float:
    return abs(previous - current) / max(abs(previous), _TINY)


def _iterate(V: Array, W: Array, H: Array, *, beta: float, l1: float, smoothness: float,
             n_iter: int, tol: float, eps: float, update_w: bool,
             bar: IterationCount | None = None, track_cost: bool = True
             ) -> tuple[Array, Array, list[float], int, bool]:
    """Run the MU loop; the cost of each iterate comes from the ``W H`` the update needs.

    ``track_cost=False`` (internal callers that only want the factors) skips the cost, whose
    logarithms are a large part of an iteration, and disables the ``tol`` test.
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
                and _relative_change(costs[-2], costs[-1]) < tol):
            converged = True
            break
        if iterations == n_iter:
            break
        H = _update_h(V, W, H, Y, beta=beta, l1=l1, smoothness=smoothness,
                      column_sums=column_sums)
        if update_w:
            W, H = _update_w(V, W, H, W @ H + eps, beta=beta)
            column_sums = W.sum(axis=0)
        if bar is not None:
            bar.advance()
    return W, H, costs, iterations, converged


# --------------------------------------------------------------------------------------------
# Initialisation


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
    K = _check_rank(n_components, data.shape)
    W, H = _nndsvd(data, K)
    W_n, H_n = _normalise_columns(W, H)
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
            u, v, sigma = xp / max(xp_norm, _TINY), yp / max(yp_norm, _TINY), positive
        else:
            u, v, sigma = xn / max(xn_norm, _TINY), yn / max(yn_norm, _TINY), negative
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
    W_n, H_n = _normalise_columns(W, H)
    assert H_n is not None
    # Start at the data's total mass so the first updates refine shapes, not the scale.
    return W_n, H_n * (V.sum() / (W_n @ H_n).sum())


def _initialise(V: Array, K: int, init: str, rng: np.random.Generator) -> tuple[Array, Array]:
    if init == "nndsvd":
        W, H = _nndsvd(V, K)
        W_n, H_n = _normalise_columns(W, H)
        assert H_n is not None
        return W_n, H_n
    return _random_init(V, K, rng)


# --------------------------------------------------------------------------------------------
# Checks


def _check_rank(n_components: object, shape: tuple[int, ...]) -> int:
    F, T = shape
    return check_int(f"n_components (at most min(F, T) = min({F}, {T}))", n_components,
                     low=1, high=min(F, T))


def _check_beta(beta: object) -> float:
    return check_float("beta", beta, low=0.0)


def _prepare_data(V: npt.ArrayLike, beta: float) -> tuple[Array, float]:
    """Checked float64 copy of V and the model floor eps (IS needs V > 0 as well)."""
    data = check_spectrogram(V)
    eps = _RELATIVE_EPS * float(data.max())
    if beta == 0:
        # d_IS(0 | y) is infinite: lift exact zeros to the model floor.
        data = np.maximum(data, eps)
    return data, eps


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
    beta = _check_beta(beta)
    data, eps = _prepare_data(V, beta)
    K = _check_rank(n_components, data.shape)
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
            W, H = _initialise(data, K, init, np.random.default_rng(stream))
            W, H, costs, done, converged = _iterate(
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
    beta = _check_beta(beta)
    data, eps = _prepare_data(V, beta)
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
        dictionary, activations, costs, done, converged = _iterate(
            data, dictionary, activations, beta=beta, l1=l1, smoothness=smoothness,
            n_iter=n_iter, tol=tol, eps=eps, update_w=False, bar=bar)
        bar.finish()
    return NmfResult(W=dictionary, H=activations, costs=costs, n_iter=done, converged=converged)


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
        Initial factors, as for :func:`nmf`.
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
    K = _check_rank(n_components, data.shape)
    n_iter = check_int("n_iter", n_iter, low=0)
    tol = check_float("tol", tol)
    init = check_choice("init", init, ("nndsvd", "random"))
    seed = check_seed(seed)

    total = float(data.sum())
    counts = data / total  # work with P(f, t); the likelihood is rescaled by `total` below
    W, H = _initialise(counts, K, init, np.random.default_rng(seed))
    mass = H.sum(axis=1)
    p_z = mass / mass.sum()
    p_t_z = H / np.where(mass > 0, mass, 1.0)[:, None]
    eps = _RELATIVE_EPS * float(counts.max())
    history: list[float] = []
    converged = False
    iterations = 0
    with iteration_progress(n_iter, progress) as bar:
        for iterations in range(n_iter + 1):
            joint = p_z[:, None] * p_t_z                # P(z) P(t|z), (K, T)
            model = W @ joint + eps                     # P(f, t)
            history.append(total * float(np.sum(xlogy(counts, model))))
            if iterations and tol > 0 and _relative_change(history[-2], history[-1]) < tol:
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
