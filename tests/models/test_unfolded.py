"""Training deep unfolded NMF (livesep.models.unfolded): without a step the dictionaries are
the starting ones, at 16 kHz's 257 bins and at 48 kHz's 769, a tonal column (all its mass in
one bin, which scales past exp's range at 769 bins) included; training keeps them finite,
non-negative and stochastic; the hand-written gradient against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.gradients import finite_differences
from livesep.models.unfolded import train_unfolded, unfolded_loss

#: Bins of the 16 kHz (512-sample) and 48 kHz (1536-sample) frames.
BINS = [257, 769]


def starts_and_frames(n_bins: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A speech and a noise starting dictionary, the noise's first column a pure tone, and
    mixture frames with their two sources."""
    rng = np.random.default_rng(n_bins)
    speech, noise = rng.random((n_bins, 4)), rng.random((n_bins, 3))
    noise[:, 0] = 0.0
    noise[n_bins // 3, 0] = 1.0
    sources = rng.random((2, 48, n_bins))
    return [speech, noise], sources.sum(axis=0), sources


@pytest.mark.parametrize("n_bins", BINS)
def test_without_a_step_the_dictionaries_are_the_starts(n_bins: int) -> None:
    starts, frames, sources = starts_and_frames(n_bins)
    model = train_unfolded(frames, sources, starts, layers=2, epochs=0)
    for trained, start in zip(model.dictionaries, starts):
        floored = np.maximum(start / start.sum(axis=0), 1e-8)  # as train_unfolded floors it
        expected = floored / floored.sum(axis=0)
        assert trained.shape == (3, n_bins, start.shape[1])
        for layer in trained:
            np.testing.assert_allclose(layer, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("n_bins", BINS)
def test_training_keeps_the_dictionaries_finite_and_stochastic(n_bins: int) -> None:
    starts, frames, sources = starts_and_frames(n_bins)
    model = train_unfolded(frames, sources, starts, layers=2, epochs=3, batch=8)
    untrained = train_unfolded(frames, sources, starts, layers=2, epochs=0)
    for trained, start in zip(model.dictionaries, starts):
        assert trained.shape == (3, n_bins, start.shape[1])
        assert np.all(np.isfinite(trained)) and np.all(trained >= 0)
        np.testing.assert_allclose(trained.sum(axis=1), 1.0, rtol=1e-5)
    # The steps move the dictionaries, and the tone stays a tone.
    for trained, start in zip(model.dictionaries, untrained.dictionaries):
        assert np.max(np.abs(trained - start) / start) > 0.01
    assert np.all(np.argmax(model.dictionaries[1][:, :, 0], axis=1) == n_bins // 3)


def test_the_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(4)
    n_bins, ks = 6, [3, 2]
    theta = rng.normal(0, 1, (3, n_bins, sum(ks)))
    targets = rng.random((2, 5, n_bins))
    x = targets.sum(axis=0)
    x, targets = x / x.sum(axis=1, keepdims=True), targets / x.sum(axis=1)[None, :, None]
    gradient = unfolded_loss(theta, x, targets, ks)[1]
    assert gradient is not None
    numeric = finite_differences(
        lambda: unfolded_loss(theta, x, targets, ks, gradient=False)[0], [theta])[0]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-9)
