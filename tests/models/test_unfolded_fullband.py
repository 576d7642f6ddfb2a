"""A lower-band unfolded model extended to the full band (livesep.models.unfolded.fullband):
the gradient of the upper rows' cost against finite differences; the layers unchanged below
and zero above, so that the lower band's masks are the lower model's; the upper masks learnt
from sources whose upper band follows their lower band; refusals."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.gradients import finite_differences
from livesep.errors import ParameterError
from livesep.models.unfolded import (
    UnfoldedModel,
    extend_estimates,
    extend_layers,
    unfolded_masks,
)
from livesep.models.unfolded.fullband import upper_band_loss

#: A 16 kHz frame's bins inside a 48 kHz frame's of the same length.
LOW, FULL = 257, 769


def test_the_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    ks = [3, 2]
    theta = rng.normal(0.0, 1.0, (6, 5))
    h, x = rng.random((4, 5)), rng.random((4, 6))
    targets = rng.random((2, 4, 6)) * x
    _, gradient = upper_band_loss(theta, h, x, targets, ks)
    numeric = finite_differences(lambda: upper_band_loss(theta, h, x, targets, ks)[0],
                                 [theta])[0]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-9)


def full_band_material(seed: int = 0) -> tuple[UnfoldedModel, np.ndarray, np.ndarray]:
    """Two sources, each a mix of its own full-band templates, and the lower model: the
    templates' lower bins (normalised) in every layer."""
    rng = np.random.default_rng(seed)
    templates = [rng.random((FULL, k)) ** 4 for k in (4, 3)]
    sources = np.stack([(rng.random((300, W.shape[1])) ** 3) @ W.T for W in templates])
    low = [W[:LOW] / W[:LOW].sum(axis=0) for W in templates]
    model = UnfoldedModel(tuple(np.repeat(W[None], 4, axis=0).astype(np.float32) for W in low))
    return model, sources.sum(axis=0), sources


def test_the_lower_band_separates_as_the_lower_model_does() -> None:
    model, frames, sources = full_band_material()
    wide = extend_estimates(model, frames, sources, epochs=1, batch=64)
    for lower, full in zip(model.dictionaries, wide.dictionaries):
        assert full.shape == (4, FULL, lower.shape[2])
        np.testing.assert_array_equal(full[:, :LOW], lower)
        assert not full[:-1, LOW:].any() and full[-1, LOW:].min() >= 0
        np.testing.assert_allclose(full[:-1].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(unfolded_masks(frames, wide)[:, :, :LOW],
                               unfolded_masks(frames[:, :LOW], model), atol=1e-6)


def test_the_upper_masks_are_learnt() -> None:
    model, frames, sources = full_band_material(seed=1)

    def upper_error(wide: UnfoldedModel) -> float:
        masked = unfolded_masks(frames, wide)[:, :, LOW:] * frames[:, LOW:]
        return float(np.abs(masked - sources[:, :, LOW:]).sum() / sources[:, :, LOW:].sum())

    start = extend_estimates(model, frames, sources, epochs=0)
    trained = extend_estimates(model, frames, sources, epochs=20, batch=32)
    assert upper_error(trained) < 0.6 * upper_error(start)


def test_widened_layers_take_each_estimate_columns_shape_above() -> None:
    model, frames, sources = full_band_material()
    extended = extend_estimates(model, frames, sources, epochs=1, batch=64)
    wide = extend_layers(extended, fit_bins=LOW)
    for blind, full in zip(extended.dictionaries, wide.dictionaries):
        np.testing.assert_array_equal(full[-1], blind[-1])
        np.testing.assert_allclose(full[:-1].sum(axis=1), 1.0, atol=1e-5)
        assert full[:-1, LOW:].min() > 0
        # Below, each column keeps its shape; above, it has its estimate's, in proportion.
        for layer, old in zip(full[:-1], blind[:-1]):
            np.testing.assert_allclose(layer[:LOW] / layer[:LOW].sum(axis=0), old[:LOW],
                                       rtol=1e-4, atol=1e-9)
            np.testing.assert_allclose(
                layer[LOW:] / layer[:LOW].sum(axis=0),
                blind[-1, LOW:] / blind[-1, :LOW].sum(axis=0), rtol=1e-4, atol=1e-9)


def test_widened_layers_tell_sources_apart_by_the_band_above() -> None:
    # Two sources alike below bin 5, one bright above it and one dark: blind above, the fit
    # splits a bright frame's lower band evenly; widened, it gives it to the bright source.
    low, full, layers = 5, 9, 3
    lower = np.full((low, 1), 1.0 / low)
    bright = np.vstack([lower, np.full((full - low, 1), 0.4)])
    dark = np.vstack([lower, np.full((full - low, 1), 1e-4)])
    blind = UnfoldedModel(tuple(
        np.concatenate([np.repeat(np.vstack([lower, np.zeros((full - low, 1))])[None], layers,
                                  axis=0), estimate[None]]).astype(np.float32)
        for estimate in (bright, dark)))
    wide = extend_layers(blind, fit_bins=low)
    frame = bright.T * 3.0
    np.testing.assert_allclose(unfolded_masks(frame, blind)[:, 0, :low], 0.5, atol=1e-6)
    assert unfolded_masks(frame, wide)[0, 0, :low].min() > 0.9


@pytest.mark.parametrize("fit_bins", [0, FULL, LOW - 1])
def test_extend_layers_refuses_bins_the_layers_do_not_leave_free(fit_bins: int) -> None:
    model, frames, sources = full_band_material()
    extended = extend_estimates(model, frames, sources, epochs=0)
    with pytest.raises(ParameterError,
                       match=f"fit_bins must be|already cover bins above {fit_bins}"):
        extend_layers(extended, fit_bins=fit_bins)


@pytest.mark.parametrize("frames_shape, sources_shape", [
    ((300, LOW), (2, 300, LOW)),    # no bins above the model's
    ((300, FULL), (3, 300, FULL)),  # a source too many
    ((300, FULL), (2, 299, FULL)),
])
def test_it_refuses_frames_that_do_not_extend_the_model(
        frames_shape: tuple[int, ...], sources_shape: tuple[int, ...]) -> None:
    model = full_band_material()[0]
    with pytest.raises(ParameterError, match=f"above the model's {LOW} bins"):
        extend_estimates(model, np.ones(frames_shape), np.ones(sources_shape))
