"""The numpy reference engine computes what the C++ engine computes, within float32."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import ParameterError, spectral
from livesep._core import _internal
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.presets import Preset, SourceModel
from livesep.separation.reference_engine import ReferenceFilter, ReferenceSeparator


def preset_with_distinct_priors(n_states: tuple[int, ...], n_components: int = 4,
                                seed: int = 0) -> Preset:
    """random_preset with non-uniform pi: no ties among the first frame's predictions, so
    which states a beam keeps is well defined."""
    base = random_preset(n_states, n_components, seed=seed)
    rng = np.random.default_rng(seed + 100)
    sources = []
    for source in base.sources:
        pi = rng.random(source.n_states) + 0.5
        sources.append(SourceModel(source.name, W=source.W, A=source.A, pi=pi / pi.sum()))
    return base.with_sources(sources)


def frames(preset: Preset, seconds: float = 0.5) -> np.ndarray:
    x = noise(int(seconds * preset.sr))
    return np.ascontiguousarray(
        spectral.magnitude(x, n_fft=preset.n_fft, hop_length=preset.hop_length).T)


def assert_filters_agree(preset: Preset, settings: EngineSettings) -> None:
    V = frames(preset)
    want = _internal.filter_frames(build_model(preset, settings), V)
    got = ReferenceFilter(preset, settings=settings).filter_frames(V)
    np.testing.assert_array_equal(got[2], want[2])  # the same number of states evaluated
    np.testing.assert_allclose(got[1], want[1], atol=1e-4)  # posteriors
    scale = np.abs(want[0]).max()
    np.testing.assert_allclose(got[0], want[0], atol=1e-4 * scale)  # estimates


@pytest.mark.parametrize("beam", [0, 1, 5, 12])
def test_filter_matches_the_engine_exact_and_beam(beam: int) -> None:
    preset = preset_with_distinct_priors((3, 4))
    assert_filters_agree(preset, EngineSettings(beam=beam, n_iter=8))


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_filter_matches_the_engine_for_every_divergence(beta: float) -> None:
    preset = preset_with_distinct_priors((3, 3), seed=1)
    assert_filters_agree(preset, EngineSettings(beta=beta, l1=0.01, beam=4))


def test_filter_matches_the_engine_with_three_sources() -> None:
    preset = preset_with_distinct_priors((2, 3, 2), n_components=3, seed=2)
    assert_filters_agree(preset, EngineSettings(beam=7, likelihood_counts=50.0))


def test_the_posterior_is_informative_so_the_comparison_means_something() -> None:
    preset = preset_with_distinct_priors((3, 4))
    _, posteriors, _ = ReferenceFilter(preset, settings=EngineSettings(beam=0)).filter_frames(
        frames(preset))
    assert posteriors.max(axis=1).mean() > 0.3
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("block_size", [1, 100, 128, 777])
def test_stream_matches_the_engine_for_any_block_size(block_size: int) -> None:
    preset = preset_with_distinct_priors((3, 4))
    settings = EngineSettings(beam=6)
    x = noise(8000, seed=3)
    want = create_separator(preset, settings=settings).process(x)
    reference = ReferenceSeparator(preset, settings=settings)
    got = np.concatenate([reference.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    assert reference.latency_samples() == create_separator(preset).latency_samples()
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())
    assert np.abs(want).max() > 0.05


def test_stream_matches_the_engine_for_nmf_and_mask_power_one() -> None:
    preset = random_preset((1, 1), n_components=16, seed=4)
    settings = EngineSettings(mask_power=1.0)
    x = noise(6000, seed=5)
    want = create_separator(preset, settings=settings).process(x)
    got = ReferenceSeparator(preset, settings=settings).process(x)
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())


def test_silence_and_non_finite_input_match_the_engine() -> None:
    preset = preset_with_distinct_priors((2, 2))
    x = noise(4000, seed=6)
    x[:1000] = 0.0
    x[2000:2010] = np.nan
    x[3000] = np.inf
    want = create_separator(preset).process(x)
    got = ReferenceSeparator(preset).process(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())


def test_reset_starts_over() -> None:
    preset = preset_with_distinct_priors((2, 3))
    reference = ReferenceSeparator(preset)
    x = noise(3000, seed=7)
    first = reference.process(x)
    reference.reset()
    np.testing.assert_array_equal(reference.process(x), first)


def test_bad_input_is_refused() -> None:
    preset = random_preset((2, 2))
    with pytest.raises(ParameterError, match="mono"):
        ReferenceSeparator(preset).process(np.zeros((2, 10), np.float32))
    with pytest.raises(ParameterError, match=r"\(T, 257\)"):
        ReferenceFilter(preset).filter_frames(np.zeros((3, 10), np.float32))


def test_beam_ties_break_the_same_way_in_both() -> None:
    """A uniform prior makes every first-frame prediction equal: both keep the lowest joint
    indices."""
    assert_filters_agree(random_preset((3, 4)), EngineSettings(beam=5, n_iter=8))


@pytest.mark.parametrize("block_size", [1, 37, 128])
def test_numpy_stream_is_the_engines_stream(block_size: int) -> None:
    """With the identity mask both are the input delayed by n_fft - 1 samples."""
    from livesep import Separator
    from livesep.separation.reference_engine import NumpyStream

    x = noise(5000)
    engine = Separator()
    engine.prepare(sr=16000, n_fft=512, hop_length=128, n_sources=2)
    stream = NumpyStream(n_fft=512, hop_length=128, n_channels=2,
                         on_frame=lambda spectrum: np.stack([spectrum, spectrum]))
    got = np.concatenate([stream.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    want = np.concatenate([engine.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)
    assert np.max(np.abs(got - want)) < 1e-5
    assert stream.latency_samples() == engine.latency_samples()
