"""The C++ activation solver (cpp/livesep/nmf.h) against the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import reference
from livesep import ParameterError
from livesep._core import _internal


def problem(n_bins: int, n_components: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    W = rng.random((n_bins, n_components)).astype(np.float32) ** 3
    W /= W.sum(axis=0)
    v = (W @ rng.gamma(0.5, size=n_components) + 0.01 * rng.random(n_bins)).astype(np.float32)
    v /= v.sum()
    h0 = np.full(n_components, 1.0 / n_components, dtype=np.float32)
    return W, v, h0


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("l1", [0.0, 0.05])
@pytest.mark.parametrize("n_bins, n_components",
                         [(33, 1), (129, 4), (241, 7), (257, 20), (513, 64)])
def test_solver_matches_numpy_reference(beta: float, l1: float, n_bins: int,
                                        n_components: int) -> None:
    W, v, h0 = problem(n_bins, n_components, seed=n_bins + n_components)
    h = _internal.solve_activations(W, v, h0, beta=beta, l1=l1, n_iter=10, epsilon=1e-9)
    expected = reference.update_activations(W, v, h0, beta=beta, l1=l1, n_iter=10,
                                             epsilon=1e-9)
    np.testing.assert_allclose(h, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("n_components", [1, 17, 35])
@pytest.mark.parametrize("n_rows", [16 * lanes for lanes in range(1, 21)])
def test_kl_kernel_matches_reference_for_every_row_tile_shape(n_rows: int,
                                                              n_components: int) -> None:
    # Rows are padded to 16 and split into tiles of up to 9 lanes (of 4, 8 or 16 floats):
    # 1 to 20 lanes of 16 rows reach every tile size and the uneven splits; 17 and 35
    # components leave a partial group of 16 column sums.
    n_bins = n_rows - 3
    W, v, h0 = problem(n_bins, n_components, seed=n_rows * n_components)
    h = _internal.solve_activations(W, v, h0, beta=1.0, l1=0.01, n_iter=7, epsilon=1e-9)
    expected = reference.update_activations(W, v, h0, beta=1.0, l1=0.01, n_iter=7,
                                             epsilon=1e-9)
    np.testing.assert_allclose(h, expected, rtol=1e-4, atol=1e-7)


def test_kl_updates_reduce_the_divergence() -> None:
    W, v, h0 = problem(257, 16, seed=3)

    def kl(h: np.ndarray) -> float:
        model = W.astype(np.float64) @ h + 1e-9
        return float(np.sum(v * np.log(v / model) - v + model))

    costs = [kl(_internal.solve_activations(W, v, h0, n_iter=n)) for n in (0, 1, 5, 20, 100)]
    assert all(later <= earlier + 1e-9 for earlier, later in zip(costs, costs[1:]))
    assert costs[-1] < 0.2 * costs[0]


def test_zero_iterations_leave_h_unchanged() -> None:
    W, v, h0 = problem(129, 4, seed=1)
    np.testing.assert_array_equal(_internal.solve_activations(W, v, h0, n_iter=0), h0)


def test_silent_frame_drives_activations_to_zero_without_nan() -> None:
    W, _, h0 = problem(129, 4, seed=2)
    h = _internal.solve_activations(W, np.zeros(129, dtype=np.float32), h0, n_iter=10)
    assert np.all(np.isfinite(h)) and np.all(h == 0.0)


def test_unknown_beta_is_refused() -> None:
    W, v, h0 = problem(129, 4, seed=1)
    with pytest.raises(ParameterError, match="got 0.5"):
        _internal.solve_activations(W, v, h0, beta=0.5)
