"""Convolutive (NMFD) sources in the online engine: lagged dictionaries, the past frames'
activations held fixed."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import reference
from livesep import ParameterError
from livesep._core import Model, _internal


def lagged(frames: int, n_components: int, n_bins: int, rng: np.random.Generator) -> np.ndarray:
    """Convolutive templates (frames, F, K), each template summing to one over lags and bins."""
    W = rng.random((frames, n_bins, n_components)).astype(np.float32) ** 4
    decay = np.exp(-np.arange(frames))[:, None, None].astype(np.float32)
    W *= decay
    return W / W.sum(axis=(0, 1), keepdims=True)


def single(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return W, np.ones((1, 1), dtype=np.float32), np.ones(1, dtype=np.float32)


@pytest.mark.parametrize("frames", [(3, 1), (4, 2), (1, 1)])
def test_online_nmfd_matches_the_numpy_reference(frames: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(frames))
    dictionaries = [lagged(frames[0], 4, 65, rng), lagged(frames[1], 3, 65, rng)]
    V = (rng.random((30, 65)) ** 2).astype(np.float32)
    V[12] = 0.0  # a silent frame in the middle
    model = Model([single(W) for W in dictionaries], frames=list(frames), n_iter=8,
                  reseed_floor=1e-3)
    estimates, posteriors, _ = _internal.filter_frames(model, V)
    expected = reference.online_convolutive_nmf(dictionaries, V, n_iter=8, floor=1e-3)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(estimates, expected, atol=1e-4 * scale)
    assert np.all(posteriors == 1.0)


def test_a_convolutive_source_beside_an_nhmm() -> None:
    rng = np.random.default_rng(1)
    W = rng.random((4, 65, 3)).astype(np.float32) ** 4
    W /= W.sum(axis=1, keepdims=True)
    A = np.full((4, 4), 0.1, dtype=np.float32) + 0.6 * np.eye(4, dtype=np.float32)
    nhmm = (W, A / A.sum(axis=1, keepdims=True), np.full(4, 0.25, dtype=np.float32))
    conv = single(lagged(3, 4, 65, rng))
    V = (rng.random((40, 65)) ** 2).astype(np.float32)
    estimates, posteriors, evaluated = _internal.filter_frames(
        Model([nhmm, conv], frames=[1, 3], beam=0), V)
    assert np.all(evaluated == 4)
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(estimates)) and np.all(estimates >= 0)


def test_convolutive_sources_must_be_consistent() -> None:
    rng = np.random.default_rng(0)
    conv = single(lagged(3, 2, 33, rng))
    with pytest.raises(ParameterError, match="frames=4"):
        Model([conv, conv], frames=[4, 1])
    with pytest.raises(ParameterError, match="one value per source"):
        Model([conv, conv], frames=[3])
    with pytest.raises(ParameterError, match="one frame"):
        Model([conv, conv], frames=[3, 3], adaptive=[True, False])
