"""Unfolded (deep NMF) sources in the online engine: every frame a fresh layered fit, one
update per layer with that layer's dictionaries; matched by the slow obvious reference and by
the numpy reference engine, frame by frame and streamed in any block size."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import reference
from helpers.presets import noise, random_unfolded_preset
from livesep import ParameterError, spectral
from livesep._core import Model, _internal
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.presets import Preset
from livesep.separation.reference_engine import ReferenceFilter, ReferenceSeparator

#: (components per source, layers): 2 and 3 sources, 1, 3 and 10 layers.
SHAPES = [((5, 4), 1), ((5, 4), 3), ((6, 3), 10), ((3, 4, 2), 1), ((3, 4, 2), 3),
          ((4, 3, 5), 10)]


def single(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return W, np.ones((1, 1), dtype=np.float32), np.ones(1, dtype=np.float32)


def magnitudes(preset: Preset, seconds: float = 0.3, seed: int = 0) -> np.ndarray:
    """Mixture frames (T, F), one of them silent."""
    x = noise(int(seconds * preset.sr), seed=seed)
    V = np.ascontiguousarray(
        spectral.magnitude(x, n_fft=preset.n_fft, hop_length=preset.hop_length).T)
    V[7] = 0.0
    return V


@pytest.mark.parametrize("components, layers", SHAPES)
def test_the_engine_matches_the_slow_reference(components: tuple[int, ...],
                                               layers: int) -> None:
    preset = random_unfolded_preset(components, layers, seed=layers)
    V = magnitudes(preset)
    estimates, posteriors, _ = _internal.filter_frames(build_model(preset), V)
    expected = reference.unfolded_estimates([s.W for s in preset.sources], V)
    np.testing.assert_allclose(estimates, expected, rtol=2e-5, atol=1e-6 * np.abs(expected).max())
    assert np.all(estimates[7] == 0.0)
    assert np.all(posteriors == 1.0)


@pytest.mark.parametrize("beta, l1", [(0.0, 0.0), (2.0, 0.0), (1.0, 0.05), (0.0, 0.02)])
def test_every_divergence_and_sparsity(beta: float, l1: float) -> None:
    preset = random_unfolded_preset((4, 3), 4, seed=9)
    V = magnitudes(preset)
    settings = EngineSettings(beta=beta, l1=l1)
    estimates, _, _ = _internal.filter_frames(build_model(preset, settings), V)
    expected = reference.unfolded_estimates([s.W for s in preset.sources], V, beta=beta, l1=l1)
    np.testing.assert_allclose(estimates, expected, rtol=5e-5, atol=1e-6 * np.abs(expected).max())
    got, _, _ = ReferenceFilter(preset, settings=settings).filter_frames(V)
    np.testing.assert_allclose(got, estimates, rtol=5e-5, atol=1e-6 * np.abs(expected).max())


def test_iterations_beam_and_reseeding_do_not_apply() -> None:
    preset = random_unfolded_preset((4, 3), 3, seed=2)
    V = magnitudes(preset)
    runs = [_internal.filter_frames(build_model(preset, EngineSettings(
        n_iter=n_iter, beam=beam, reseed_floor=floor)), V)[0]
        for n_iter, beam, floor in ((None, 128, None), (0, 0, 0.0), (500, 1, 1.0))]
    for run in runs[1:]:
        np.testing.assert_array_equal(run, runs[0])
    x = noise(6000, seed=4)
    separator = create_separator(preset)
    want = separator.process(x)
    separator.reset()
    separator.set_quality(n_iter=0, beam=1)
    np.testing.assert_array_equal(separator.process(x), want)


@pytest.mark.parametrize("components, layers", SHAPES)
def test_the_reference_filter_matches_the_engine(components: tuple[int, ...],
                                                 layers: int) -> None:
    preset = random_unfolded_preset(components, layers, seed=layers + 1)
    V = magnitudes(preset, seed=1)
    want, want_posteriors, _ = _internal.filter_frames(build_model(preset), V)
    got, posteriors, evaluated = ReferenceFilter(preset).filter_frames(V)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6 * np.abs(want).max())
    np.testing.assert_array_equal(posteriors, want_posteriors)
    assert evaluated[0] == 1 and evaluated[7] == 0


@pytest.mark.parametrize("block_size", [1, 77, 128])
@pytest.mark.parametrize("components, layers", SHAPES)
def test_the_reference_stream_matches_the_engine(components: tuple[int, ...], layers: int,
                                                 block_size: int) -> None:
    preset = random_unfolded_preset(components, layers, seed=layers + 2)
    x = noise(3000, seed=5)
    x[1000:1700] = 0.0  # silent frames in the middle
    separator = create_separator(preset)
    want = np.concatenate([separator.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)
    stream = ReferenceSeparator(preset)
    got = np.concatenate([stream.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    assert stream.latency_samples() == separator.latency_samples()
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())
    np.testing.assert_allclose(stream.masks, separator.masks(), atol=2e-5)
    np.testing.assert_allclose(want.sum(axis=0)[separator.latency_samples():],
                               x[:x.size - separator.latency_samples()], atol=1e-5)


def test_the_sources_separate_and_the_state_is_trivial() -> None:
    preset = random_unfolded_preset((5, 4), 3, seed=3)
    separator = create_separator(preset)
    separator.process(noise(4000, seed=6))
    masks = separator.masks()
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-6)
    assert masks.min() < 0.3 and masks.max() > 0.7
    for marginal in separator.state_marginals():
        np.testing.assert_array_equal(marginal, [1.0])
    assert build_model(preset).n_states == [1, 1]


def test_the_engine_refuses_inconsistent_unfolded_sources() -> None:
    rng = np.random.default_rng(0)
    W = rng.random((4, 33, 2)).astype(np.float32)
    W /= W.sum(axis=1, keepdims=True)
    with pytest.raises(ParameterError, match="same number of layers; got layers 2 beside 3"):
        Model([single(W), single(W[:3])], layers=[3, 2])
    with pytest.raises(ParameterError, match="same number of layers; got layers 0 beside 3"):
        Model([single(W), single(W[:1])], layers=[3, 0])
    with pytest.raises(ParameterError, match=r"\(layers \+ 1, F, K\) with layers=2"):
        Model([single(W), single(W)], layers=[2, 2])
    with pytest.raises(ParameterError, match="layers must be >= 0, got -1"):
        Model([single(W[:1]), single(W[:1])], layers=[-1, -1])
    with pytest.raises(ParameterError, match="one value per source"):
        Model([single(W), single(W)], layers=[3])
    with pytest.raises(ParameterError, match="adaptive source must .* not be unfolded.*3 layer"):
        Model([single(W), single(W)], layers=[3, 3], adaptive=[False, True])
    with pytest.raises(ParameterError, match="one frame, got W"):
        Model([single(W), single(W)], layers=[3, 3], frames=[4, 4])
