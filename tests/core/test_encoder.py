"""Recurrent encoders (model "nae") in the online engine: the C++ encoder matches the slow
numpy reference frame by frame, streamed in any block size and at any rate, with log-power or
noise-aware features; reset returns to zero states and forgets the floor; nothing is
allocated per block; absurd input leaves it clean afterwards."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.blocks import assert_no_allocation_per_block
from helpers.presets import noise, random_encoder_preset, random_preset
from livesep import ParameterError
from livesep._core import Model, _internal
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.models.nae import encoder_activations, encoder_features, recurrent_estimates
from livesep.separation import separate_offline, separate_offline_recurrent, separate_online

#: (sample rate, n_fft, hop): the default voice setting and a full-band one.
SETTINGS = [(16000, 512, 128), (48000, 1024, 256)]


def test_the_reference_activations_are_non_negative_and_remember() -> None:
    preset = random_encoder_preset(seed=1)
    V = np.abs(np.random.default_rng(0).normal(size=(40, 257)))
    activations = encoder_activations(preset.encoder, V)
    assert activations.shape == (40, 9) and np.all(activations >= 0)
    # Recurrent: the same frame after a different past gives different activations.
    other = encoder_activations(preset.encoder, np.concatenate([V[::-1][:39], V[39:]]))
    assert not np.allclose(other[-1], activations[-1], rtol=1e-3)


@pytest.mark.parametrize("sr, n_fft, hop", SETTINGS)
@pytest.mark.parametrize("block_size", [1, 333, "hop"])
@pytest.mark.parametrize("mask_power", [1.0, 2.0])
def test_online_equals_the_numpy_reference(sr: int, n_fft: int, hop: int,
                                           block_size: int | str, mask_power: float) -> None:
    preset = random_encoder_preset((5, 4), hidden=12, layers=2, sr=sr, n_fft=n_fft,
                                   hop_length=hop, seed=sr)
    x = noise(sr // 2, seed=3)
    x[sr // 8:sr // 8 + 3 * n_fft] = 0.0  # silence in the middle
    settings = EngineSettings(mask_power=mask_power)
    online = separate_online(x, preset, settings=settings,
                             block_size=hop if block_size == "hop" else int(block_size))
    offline = separate_offline(x, preset, settings=settings)
    np.testing.assert_array_equal(offline, separate_offline_recurrent(
        x, preset, mask_power=mask_power, smoothing=settings.resolved(preset).smoothing))
    assert online.shape == offline.shape == (2, x.size)
    np.testing.assert_allclose(online, offline, atol=2e-5 * np.abs(x).max())
    np.testing.assert_allclose(online.sum(axis=0), x, atol=1e-5)
    assert np.abs(online[0] - x / 2).max() > 0.05 * np.abs(x).max()


def test_three_sources_and_one_layer() -> None:
    preset = random_encoder_preset((3, 6, 2), hidden=5, layers=1, seed=4)
    x = noise(8000, seed=5)
    np.testing.assert_allclose(separate_online(x, preset, block_size=97),
                               separate_offline(x, preset), atol=2e-5 * np.abs(x).max())


def test_reset_returns_to_zero_states_and_settings_do_not_apply() -> None:
    preset = random_encoder_preset(seed=6)
    x = noise(6000, seed=7)
    separator = create_separator(preset)
    first = separator.process(x)
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), first)
    separator.reset()
    separator.set_quality(n_iter=0, beam=1)
    np.testing.assert_array_equal(separator.process(x), first)
    tuned = create_separator(preset, settings=EngineSettings(n_iter=3, beam=2))
    np.testing.assert_array_equal(tuned.process(x), first)


@pytest.mark.parametrize("block_size", [1, 77, 128])
def test_nothing_is_allocated_per_block(block_size: int) -> None:
    before = _internal.allocation_count()
    separator = create_separator(random_encoder_preset(seed=8))
    assert _internal.allocation_count() > before
    x = noise(40 * block_size + 600, seed=9)
    assert_no_allocation_per_block(separator, x, block_size)
    separator.reset()
    assert_no_allocation_per_block(separator, x[:block_size], block_size)


def test_absurd_input_leaves_it_clean_afterwards() -> None:
    preset = random_encoder_preset(seed=10)
    x = noise(8000, seed=11)
    separator = create_separator(preset)
    clean = separator.process(x)
    separator.reset()
    bad = x.copy()
    bad[100:400] = np.array([np.nan, np.inf, -np.inf, 3e38, 1e-42], dtype=np.float32)[
        np.arange(300) % 5]
    out = separator.process(bad)
    assert np.all(np.isfinite(out))
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), clean)


def test_the_estimates_match_the_reference() -> None:
    preset = random_encoder_preset((4, 3), hidden=6, seed=12)
    x = noise(5000, seed=13)
    from livesep import spectral
    V = np.abs(spectral.stft(x, n_fft=preset.n_fft, hop_length=preset.hop_length)).T
    expected = recurrent_estimates(preset, V)
    assert expected.shape == (V.shape[0], 2, V.shape[1]) and np.all(expected >= 0)


def test_the_engine_refuses_an_encoder_that_does_not_fit() -> None:
    preset = random_encoder_preset((5, 4), seed=14)
    sources = [(s.W, s.A, s.pi) for s in preset.sources]
    weights = preset.encoder.engine_weights()
    with pytest.raises(ParameterError, match="the encoder's components"):
        Model(sources[::-1], encoder=weights)
    with pytest.raises(ParameterError, match="encoder\\['gate_inputs'\\] is missing"):
        Model(sources, encoder={k: v for k, v in weights.items() if k != "gate_inputs"})
    broken = dict(weights, input_bias=np.zeros(3, dtype=np.float32))
    with pytest.raises(ParameterError, match="input bias"):
        Model(sources, encoder=broken)
    states = random_preset((2, 1), 5)
    with pytest.raises(ParameterError, match="one state"):
        Model([(s.W, s.A, s.pi) for s in states.sources], encoder=weights)
    assert build_model(preset).has_encoder and not build_model(states).has_encoder


@pytest.mark.parametrize("sr, n_fft, hop", SETTINGS)
@pytest.mark.parametrize("block_size", [1, 333, "hop"])
def test_a_noise_aware_encoder_equals_the_numpy_reference(sr: int, n_fft: int, hop: int,
                                                          block_size: int | str) -> None:
    preset = random_encoder_preset((5, 4), hidden=12, layers=2, sr=sr, n_fft=n_fft,
                                   hop_length=hop, seed=sr + 1, noise_aware=True)
    x = noise(sr // 2, seed=4)
    x[: n_fft] = 0.0  # the floor starts at the first sound
    x[sr // 8:sr // 8 + 3 * n_fft] = 0.0
    x[sr // 4:] *= 0.2  # the floor follows the noise down
    online = separate_online(x, preset, block_size=hop if block_size == "hop" else
                             int(block_size))
    offline = separate_offline(x, preset)
    np.testing.assert_allclose(online, offline, atol=2e-5 * np.abs(x).max())
    plain = dataclasses.replace(preset.encoder, noise_aware=False,
                                input_weights=preset.encoder.input_weights[:, : n_fft // 2 + 1])
    other = separate_offline(x, dataclasses.replace(preset, encoder=plain))
    assert np.abs(other - offline).max() > 0.01 * np.abs(x).max()


def test_noise_aware_features_are_the_snr_and_the_level_over_the_floor() -> None:
    m = np.array([[1.0, 2.0, 0.0, 1e20]])
    floor = np.array([[1.0, 0.5, 0.0, 1.0]])
    x = encoder_features(m, floor)
    level = floor.mean() + 1e-20
    np.testing.assert_allclose(x[0, :4], [np.log10((1 + 1e-20) / (1 + 1e-20 + 1e-6 * level)),
                                          np.log10(4 / (0.5 + 1e-6 * level)),
                                          -3.0, 6.0])  # clipped
    np.testing.assert_allclose(x[0, 4:], [np.log10(1 / level), np.log10(4 / level), -6.0, 6.0])
    np.testing.assert_array_equal(encoder_features(m[0]), np.log(np.minimum(m[0] ** 2, 1e30)
                                                                 + 1e-10))


def test_a_noise_aware_encoder_forgets_the_floor_on_reset() -> None:
    preset = random_encoder_preset(seed=12, noise_aware=True)
    x = noise(6000, seed=13)
    separator = create_separator(preset)
    first = separator.process(x)
    separator.process(noise(6000, seed=14) * 5)
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), first)


@pytest.mark.parametrize("block_size", [1, 77])
def test_a_noise_aware_encoder_allocates_nothing_per_block(block_size: int) -> None:
    separator = create_separator(random_encoder_preset(seed=15, noise_aware=True))
    assert_no_allocation_per_block(separator, noise(40 * block_size + 600, seed=16), block_size)
