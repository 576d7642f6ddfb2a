"""Online separation through the engine and the offline numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import ParameterError, spectral
from livesep import separation as separate
from livesep._core import _internal
from livesep.engine import EngineSettings, build_model
from livesep.separation import nfhmm


@pytest.mark.parametrize("block_size", [1, 37, 512])
def test_online_stems_are_aligned_with_the_input(block_size: int) -> None:
    preset = random_preset()
    x = noise(4000)
    stems = separate.separate_online(x, preset, block_size=block_size)
    assert stems.shape == (2, x.size) and stems.dtype == np.float32
    assert np.max(np.abs(stems.sum(axis=0) - x)) < 1e-5


def test_online_does_not_depend_on_block_size() -> None:
    preset = random_preset((2, 3))
    x = noise(5000)
    results = [separate.separate_online(x, preset, block_size=b) for b in (1, 37, 512)]
    np.testing.assert_array_equal(results[1], results[0])
    np.testing.assert_array_equal(results[2], results[0])


@pytest.mark.parametrize("method", [separate.separate_offline_nmf,
                                    separate.separate_offline_nfhmm])
def test_offline_stems_sum_to_the_input(method) -> None:
    preset = random_preset()
    x = noise(3000)
    stems = method(x, preset)
    assert stems.shape == (2, x.size)
    assert np.max(np.abs(stems.sum(axis=0) - x)) < 1e-5


def test_offline_forward_pass_is_the_online_exact_filter() -> None:
    """The offline fits and likelihoods are the online filter's (exact mode): filtering them
    forward gives the engine's posteriors."""
    preset = random_preset((3, 4))
    settings = EngineSettings(beam=0)
    V = np.abs(spectral.stft(noise(3000), n_fft=512, hop_length=128)).astype(np.float32)
    _, online, _ = _internal.filter_frames(build_model(preset, settings),
                                           np.ascontiguousarray(V.T))
    fits = nfhmm.JointFits(preset, settings)
    matrices = [s.A.astype(np.float64) for s in preset.sources]
    alpha = None
    for t, v in enumerate(V.T.astype(np.float64)):
        log_likelihoods, _ = fits.step(v)
        prior = np.multiply.outer(preset.sources[0].pi, preset.sources[1].pi)
        predicted = prior if alpha is None else nfhmm.transition(alpha, matrices,
                                                                     forward=True)
        alpha = predicted * np.exp(log_likelihoods - log_likelihoods.max())
        alpha /= alpha.sum()
        np.testing.assert_allclose(alpha.ravel(), online[t], atol=1e-4)


def test_soft_masks_split_evenly_where_nothing_is_estimated() -> None:
    estimates = np.zeros((3, 4, 2))
    estimates[0, 0, 0] = 2.0
    estimates[1, 0, 0] = 1.0
    masks = spectral.soft_masks(estimates, power=2.0)
    np.testing.assert_allclose(masks[:, 0, 0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(masks[:, 1, 1], 1.0 / 3)


@pytest.mark.parametrize("bad", [np.zeros((2, 100), dtype=np.float32),
                                 np.zeros(0, dtype=np.float32)])
def test_bad_signals_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="mono"):
        separate.separate_online(bad, random_preset())
