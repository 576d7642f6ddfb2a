"""NMF by β-divergence multiplicative updates, supervised activations and PLCA."""

from __future__ import annotations

import numpy as np
import pytest

from livesep.errors import LivesepError, ParameterError
from livesep.models.betadiv import beta_divergence
from livesep.models.initialise import nndsvd
from livesep.models.nmf import fit_activations, nmf
from livesep.models.plca import plca


def _low_rank(F: int = 30, T: int = 120, K: int = 4, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    W = rng.random((F, K))
    H = rng.random((K, T)) ** 4  # peaky, speech-like activations
    return W @ H, W, H


def _noisy(seed: int = 1) -> np.ndarray:
    V, _, _ = _low_rank(seed=seed)
    rng = np.random.default_rng(seed + 100)
    return rng.gamma(2.0, size=V.shape) * (V + 0.1)


def _roughness(H: np.ndarray) -> float:
    H = H / H.sum(axis=1, keepdims=True)
    return float(np.sum(np.diff(H, axis=1) ** 2) / np.sum(H ** 2))


def _hoyer(H: np.ndarray) -> float:
    """Mean Hoyer sparsity of the frames (0 flat, 1 one-hot)."""
    n = H.shape[0]
    H = H[:, H.sum(axis=0) > 0]
    l1 = H.sum(axis=0)
    l2 = np.sqrt((H ** 2).sum(axis=0))
    return float(np.mean((np.sqrt(n) - l1 / l2) / (np.sqrt(n) - 1)))


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("init", ["nndsvd", "random"])
def test_costs_never_increase(beta: float, init: str) -> None:
    result = nmf(_noisy(), n_components=5, beta=beta, n_iter=150, tol=0.0, init=init)
    costs = np.array(result.costs)
    assert costs.size == result.n_iter + 1 == 151
    assert np.all(np.diff(costs) <= 1e-12 * costs[0])
    assert costs[-1] < 0.5 * costs[0]


def test_penalised_kl_costs_never_increase() -> None:
    # β = 1 with both penalties is an exact MM scheme (module docstring): still monotone.
    result = nmf(_noisy(), n_components=5, n_iter=150, tol=0.0, l1=0.5, smoothness=2.0)
    costs = np.array(result.costs)
    assert np.all(np.diff(costs) <= 1e-12 * costs[0])


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0, 3.0])
def test_dictionary_columns_sum_to_one(beta: float) -> None:
    result = nmf(_noisy(), n_components=5, beta=beta, n_iter=30, init="random", seed=3)
    assert result.W.shape == (30, 5) and result.H.shape == (5, 120)
    np.testing.assert_allclose(result.W.sum(axis=0), 1.0, rtol=1e-12)
    assert result.W.min() >= 0 and result.H.min() >= 0


def test_reconstructs_a_low_rank_matrix() -> None:
    V, _, _ = _low_rank()
    result = nmf(V, n_components=4, n_iter=1500, tol=0.0)
    error = np.linalg.norm(result.reconstruction - V) / np.linalg.norm(V)
    assert error < 2e-3
    assert beta_divergence(V, result.reconstruction) < 1e-4 * V.sum()


def test_tol_stops_early_and_reports_convergence() -> None:
    result = nmf(_noisy(), n_components=5, n_iter=5000, tol=1e-6)
    assert result.converged and result.n_iter < 5000
    assert len(result.costs) == result.n_iter + 1
    assert abs(result.costs[-2] - result.costs[-1]) < 1e-6 * result.costs[-2]


@pytest.mark.parametrize("beta", [1.5, 2.0])
def test_l1_makes_activations_sparser(beta: float) -> None:
    V = _noisy()
    plain = nmf(V, n_components=6, beta=beta, n_iter=300, tol=0.0)
    sparse = nmf(V, n_components=6, beta=beta, n_iter=300, tol=0.0,
                 l1=float(V.mean()) ** (beta - 1.0))
    assert _hoyer(sparse.H) > _hoyer(plain.H) + 0.2


def test_l1_with_kl_only_rescales() -> None:
    # With unit-sum columns, Σ WH = Σ H: KL + l1 Σ H is plain KL in (1 + l1) H.
    V = _noisy()
    plain = nmf(V, n_components=6, n_iter=100, tol=0.0)
    penalised = nmf(V, n_components=6, n_iter=100, tol=0.0, l1=3.0)
    np.testing.assert_allclose(penalised.W, plain.W, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(penalised.H * 4.0, plain.H, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("beta", [1.0, 0.0])
def test_smoothness_makes_activations_smoother(beta: float) -> None:
    V = _noisy()
    plain = nmf(V, n_components=4, beta=beta, n_iter=300, tol=0.0)
    smooth = nmf(V, n_components=4, beta=beta, n_iter=300, tol=0.0, smoothness=5.0)
    assert _roughness(smooth.H) < 0.5 * _roughness(plain.H)


def test_nndsvd_is_deterministic_and_seed_free() -> None:
    V = _noisy()
    W1, H1 = nndsvd(V, n_components=5)
    W2, H2 = nndsvd(V, n_components=5)
    np.testing.assert_array_equal(W1, W2)
    np.testing.assert_array_equal(H1, H2)
    assert W1.min() > 0 and H1.min() > 0  # NNDSVDa: no zero for MU to get stuck on
    np.testing.assert_allclose(W1.sum(axis=0), 1.0)
    a = nmf(V, n_components=5, n_iter=20, seed=1)
    b = nmf(V, n_components=5, n_iter=20, seed=2)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)


def test_random_init_is_reproducible_per_seed() -> None:
    V = _noisy()
    a = nmf(V, n_components=5, n_iter=20, init="random", seed=7)
    b = nmf(V, n_components=5, n_iter=20, init="random", seed=7)
    c = nmf(V, n_components=5, n_iter=20, init="random", seed=8)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    assert a.costs == b.costs
    assert not np.allclose(a.W, c.W)


def test_restarts_keep_the_best_fit() -> None:
    V = _noisy()
    single = nmf(V, n_components=5, n_iter=40, tol=0.0, init="random", seed=4)
    best = nmf(V, n_components=5, n_iter=40, tol=0.0, init="random", seed=4, n_restarts=4)
    # Restart 0 is the single run (one independent stream per restart), so best <= it.
    assert best.costs[-1] <= single.costs[-1]


def test_plca_log_likelihood_never_decreases() -> None:
    result = plca(_noisy(), n_components=5, n_iter=150, tol=0.0)
    gains = np.diff(result.log_likelihoods)
    assert np.all(gains >= -1e-12 * abs(result.log_likelihoods[0]))
    np.testing.assert_allclose(result.p_f_z.sum(axis=0), 1.0)
    np.testing.assert_allclose(result.p_t_z.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.p_z.sum(), 1.0)


def test_plca_and_kl_nmf_reach_the_same_fit() -> None:
    # Exactly low-rank data: both reach (near) the exact factorisation.
    V, _, _ = _low_rank()
    by_em = plca(V, n_components=4, n_iter=1500, tol=0.0)
    by_mu = nmf(V, n_components=4, n_iter=1500, tol=0.0)
    scale = np.linalg.norm(V)
    assert np.linalg.norm(by_em.reconstruction - by_mu.reconstruction) / scale < 0.05
    # Noisy data: the same KL cost, and both keep the total mass (a KL fixed point does).
    V = _noisy()
    by_em = plca(V, n_components=5, n_iter=1000, tol=0.0)
    by_mu = nmf(V, n_components=5, n_iter=1000, tol=0.0)
    cost_em = beta_divergence(V, by_em.reconstruction)
    cost_mu = by_mu.costs[-1]
    assert abs(cost_em - cost_mu) < 0.01 * cost_mu
    np.testing.assert_allclose(by_em.reconstruction.sum(), V.sum(), rtol=1e-9)
    np.testing.assert_allclose(by_mu.reconstruction.sum(), V.sum(), rtol=1e-6)
    # The PLCA log-likelihood is minus the KL divergence up to a constant of V.
    constant = float(np.sum(V * np.log(V / V.sum()))) - V.sum() + V.sum()
    np.testing.assert_allclose(-by_em.log_likelihoods[-1] + constant, cost_em, rtol=1e-9)


def _reference_updates(V: np.ndarray, W: np.ndarray, H: np.ndarray, *, beta: float,
                       l1: float, smoothness: float, n_iter: int) -> np.ndarray:
    """The MU for H written entry by entry, the slow obvious way."""
    F, T = V.shape
    K = W.shape[1]
    eps = 1e-12 * V.max()
    H = H.copy()
    for _ in range(n_iter):
        Y = np.array([[sum(W[f, k] * H[k, t] for k in range(K)) + eps for t in range(T)]
                      for f in range(F)])
        new = np.empty_like(H)
        for k in range(K):
            for t in range(T):
                if beta == 1.0:
                    num = sum(W[f, k] * V[f, t] / Y[f, t] for f in range(F))
                    den = sum(W[f, k] for f in range(F))
                    if smoothness:
                        neighbours = [s for s in (t - 1, t + 1) if 0 <= s < T]
                        a = 2 * smoothness * len(neighbours)
                        b = den + l1 - smoothness * sum(H[k, t] + H[k, s] for s in neighbours)
                        c = num * H[k, t]
                        new[k, t] = (-b + np.sqrt(b * b + 4 * a * c)) / (2 * a)
                    else:
                        new[k, t] = H[k, t] * num / (den + l1)
                elif beta == 0.0:
                    num = sum(W[f, k] * V[f, t] / Y[f, t] ** 2 for f in range(F))
                    den = sum(W[f, k] / Y[f, t] for f in range(F))
                    new[k, t] = H[k, t] * np.sqrt(num / (den + l1))
                else:  # beta == 2
                    num = sum(W[f, k] * V[f, t] for f in range(F))
                    den = sum(W[f, k] * Y[f, t] for f in range(F))
                    new[k, t] = H[k, t] * num / (den + l1)
        H = new
    return H


@pytest.mark.parametrize(("beta", "l1", "smoothness"),
                         [(1.0, 0.0, 0.0), (1.0, 0.3, 0.0), (1.0, 0.2, 0.7), (0.0, 0.0, 0.0),
                          (0.0, 0.1, 0.0), (2.0, 0.0, 0.0), (2.0, 0.4, 0.0)])
def test_fit_activations_matches_a_slow_reference(beta: float, l1: float,
                                                  smoothness: float) -> None:
    rng = np.random.default_rng(5)
    V = rng.random((7, 6)) + 0.05
    W = rng.random((7, 3)) + 0.05
    H0 = rng.random((3, 6)) + 0.1
    result = fit_activations(V, W, beta=beta, n_iter=3, tol=0.0, l1=l1,
                             smoothness=smoothness, H=H0)
    expected = _reference_updates(V, W, H0, beta=beta, l1=l1, smoothness=smoothness,
                                  n_iter=3)
    np.testing.assert_allclose(result.H, expected, rtol=1e-10)
    np.testing.assert_array_equal(result.W, W)
    assert result.n_iter == 3 and len(result.costs) == 4


def test_fit_activations_recovers_known_activations() -> None:
    V, W, H = _low_rank(K=3)
    result = fit_activations(V, W, n_iter=2000, tol=0.0)
    assert np.linalg.norm(result.reconstruction - V) / np.linalg.norm(V) < 1e-3
    assert np.all(np.diff(result.costs) <= 1e-12 * result.costs[0])


@pytest.mark.parametrize(("V", "kwargs", "shown"), [
    (np.array([[1.0, -0.5], [2.0, 3.0]]), {"n_components": 1}, "-0.5"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), {"n_components": 1}, "nan"),
    (np.array([[1.0, np.inf], [2.0, 3.0]]), {"n_components": 1}, "inf"),
    (np.ones(5), {"n_components": 1}, "(5,)"),
    (np.ones((2, 3, 4)), {"n_components": 1}, "(2, 3, 4)"),
    (np.zeros((0, 4)), {"n_components": 1}, "(0, 4)"),
    (np.zeros((3, 4)), {"n_components": 1}, "all zero"),
    (np.ones((3, 4)), {"n_components": 4}, "got 4"),
    (np.ones((3, 4)), {"n_components": 0}, "got 0"),
    (np.ones((3, 4)), {"n_components": 2, "beta": -1.0}, "-1.0"),
    (np.ones((3, 4)), {"n_components": 2, "init": "svd"}, "'svd'"),
    (np.ones((3, 4)), {"n_components": 2, "n_restarts": 3}, "n_restarts=3"),
    (np.ones((3, 4)), {"n_components": 2, "l1": -0.1}, "-0.1"),
    (np.ones((3, 4)), {"n_components": 2, "smoothness": np.nan}, "nan"),
    (np.ones((3, 4)), {"n_components": 2, "n_iter": -1}, "-1"),
    (np.ones((3, 4)), {"n_components": 2, "seed": -3}, "-3"),
])
def test_bad_input_raises_parameter_error(V: np.ndarray, kwargs: dict[str, object],
                                          shown: str) -> None:
    with pytest.raises(ParameterError, match=None) as info:
        nmf(V, **kwargs)  # type: ignore[arg-type]
    assert shown in str(info.value)
    assert isinstance(info.value, LivesepError)


def test_bad_input_to_plca_and_fit_activations() -> None:
    V = np.ones((4, 5))
    with pytest.raises(ParameterError, match="got 6"):
        plca(V, n_components=6)
    with pytest.raises(ParameterError, match=r"\(3, 2\)"):
        fit_activations(V, np.ones((3, 2)))
    with pytest.raises(ParameterError, match="column 1 sums to 0.0$"):
        fit_activations(V, np.array([[1.0, 0.0]] * 4))
    with pytest.raises(ParameterError, match=r"\(2, 5\)"):
        fit_activations(V, np.ones((4, 3)), H=np.ones((2, 5)))
    with pytest.raises(ParameterError, match="-2.0"):
        fit_activations(V, np.array([[1.0, -2.0]] * 4))


def test_progress_is_reported_and_nothing_printed(capsys: pytest.CaptureFixture[str]) -> None:
    V = _noisy()
    quiet = nmf(V, n_components=3, n_iter=5, tol=0.0)
    seen: list[float] = []
    shown = nmf(V, n_components=3, n_iter=5, tol=0.0, progress=seen.append)
    np.testing.assert_array_equal(quiet.H, shown.H)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 5
    for fit in (lambda report: plca(V, n_components=3, n_iter=3, progress=report),
                lambda report: fit_activations(V, quiet.W, n_iter=3, progress=report)):
        seen = []
        fit(seen.append)
        assert seen[-1] == 1.0
    assert capsys.readouterr().err == ""
