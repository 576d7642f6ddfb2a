"""Noise floors: one more column of a source, the stationary noise tracked from the stream and
rewritten every frame (cpp/livesep/floor.h). The engine against the slow loops of
helpers.reference and against the numpy reference engine (unfolded and N-HMM sources,
bands, latency modes, any block size); what the tracker follows; resets; refusals; and
nothing allocated on the audio path."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers import reference
from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import ParameterError, spectral
from livesep._core import Model, _internal
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.presets import Preset
from livesep.separation.reference_engine import ReferenceSeparator

#: Sample rates with their frames (32 ms, 8 ms hop).
GEOMETRY = {16000: (512, 128), 48000: (1536, 384)}


def with_floors(preset: Preset, weights: tuple[float, ...]) -> Preset:
    return dataclasses.replace(preset, sources=[
        dataclasses.replace(source, floor=weight)
        for source, weight in zip(preset.sources, weights)])


def hum_with_bursts(n: int, sr: int, seed: int = 0) -> np.ndarray:
    """A steady hum and hiss with louder bursts of noise over it, and a silent stretch."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    hum = 0.05 * np.sin(2 * np.pi * 120 * t) + 0.01 * rng.standard_normal(n)
    bursts = noise(n, seed=seed) * (np.sin(2 * np.pi * 2.0 * t) > 0.3)
    x = (hum + bursts).astype(np.float32)
    x[n // 3:n // 3 + sr // 20] = 0.0
    return x


def low_fit_bins(n_fft: int) -> int:
    """A fit on the lowest third of the bins (at 48 kHz with 1536-sample frames, up to 8 kHz)."""
    return (n_fft // 2 + 1) // 3


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
@pytest.mark.parametrize("weights", [(0.0, 30.0), (5.0, 30.0)])
@pytest.mark.parametrize("low_fit", [False, True], ids=["every-bin", "low-fit"])
def test_the_runtime_matches_the_slow_reference(sr: int, weights: tuple[float, ...],
                                                low_fit: bool) -> None:
    n_fft, hop = GEOMETRY[sr]
    fit_bins = low_fit_bins(n_fft) if low_fit else None
    preset = with_floors(random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop,
                                                seed=3, fit_bins=fit_bins), weights)
    # A near-silent whistle first: the floor starts far too low and of another shape, and
    # must find the hum within the window.
    quiet = (1e-4 * np.sin(2 * np.pi * 3000 * np.arange(sr * 3 // 10) / sr)).astype(np.float32)
    x = np.concatenate([quiet, hum_with_bursts(sr * 22 // 10, sr)])
    V = np.ascontiguousarray(spectral.magnitude(x, n_fft=n_fft, hop_length=hop).T)
    V[2] = 0.0  # a silent frame before the first sound
    V[9] = 0.0
    unsmoothed = EngineSettings(smoothing=0.0)
    got = _internal.runtime_masks(build_model(preset, unsmoothed), V, hop / sr)
    want = reference.floored_unfolded_masks([s.W for s in preset.sources], list(weights), V,
                                            frame_seconds=hop / sr, fit_bins=fit_bins)
    np.testing.assert_allclose(got, want, atol=2e-4)
    plain = _internal.runtime_masks(build_model(with_floors(preset, (0.0, 0.0)), unsmoothed), V,
                                    hop / sr)
    assert np.abs(plain - got).max() > 0.05  # the floor changes the separation


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
@pytest.mark.parametrize("block_size", [1, 77, 128])
@pytest.mark.parametrize("latency", ["standard", "low"])
@pytest.mark.parametrize("kind", ["unfolded", "unfolded-low-fit", "nhmm"])
def test_the_stream_matches_the_reference_engine(sr: int, block_size: int, latency: str,
                                                 kind: str) -> None:
    n_fft, hop = GEOMETRY[sr]
    fit_bins = low_fit_bins(n_fft) if kind == "unfolded-low-fit" else None
    made = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=4,
                                  fit_bins=fit_bins) if kind.startswith("unfolded") else \
        random_preset((3, 2), 4, sr=sr, n_fft=n_fft, hop_length=hop, seed=4)
    preset = with_floors(made, (0.0, 30.0))
    settings = EngineSettings(latency=latency)
    x = hum_with_bursts(sr * 3 // 10, sr, seed=1)
    separator = create_separator(preset, settings=settings)
    stream = ReferenceSeparator(preset, settings=settings)
    want = np.concatenate([separator.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)
    got = np.concatenate([stream.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    np.testing.assert_allclose(got, want, atol=5e-5 * np.abs(want).max())
    np.testing.assert_allclose(stream.masks, separator.masks(), atol=5e-5)


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
def test_a_fit_on_the_low_band_is_deaf_to_the_band_above(sr: int) -> None:
    # The floor column joins the fit on the bins the layers cover, scaled over those bins:
    # what sounds above them changes the masks there only.
    n_fft, hop = GEOMETRY[sr]
    fit_bins = low_fit_bins(n_fft)
    preset = with_floors(random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop,
                                                seed=6, fit_bins=fit_bins), (0.0, 30.0))
    V = np.ascontiguousarray(spectral.magnitude(hum_with_bursts(sr * 2, sr, seed=3),
                                                n_fft=n_fft, hop_length=hop).T)
    louder = V.copy()
    louder[:, fit_bins:] *= np.random.default_rng(0).uniform(0.0, 20.0, louder[:, fit_bins:].shape)
    model = build_model(preset, EngineSettings())
    masks = _internal.runtime_masks(model, V, hop / sr)
    changed = _internal.runtime_masks(model, louder, hop / sr)
    np.testing.assert_allclose(changed[:, :, :fit_bins], masks[:, :, :fit_bins], atol=1e-4)
    assert np.abs(changed[:, :, fit_bins:] - masks[:, :, fit_bins:]).max() > 0.05


def test_bands_take_the_floor_pooled_and_estimate_with_it_in_full() -> None:
    preset = with_floors(random_unfolded_preset((5, 4), 3, seed=5), (0.0, 30.0))
    settings = EngineSettings(bands_above=1000.0)
    assert build_model(preset, settings).band_edges
    x = hum_with_bursts(6000, 16000, seed=2)
    want = create_separator(preset, settings=settings).process(x)
    got = ReferenceSeparator(preset, settings=settings).process(x)
    np.testing.assert_allclose(got, want, atol=5e-5 * np.abs(want).max())


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
def test_the_floor_stays_on_the_hum_under_the_bursts(sr: int) -> None:
    n_fft, hop = GEOMETRY[sr]
    t = np.arange(2 * sr) / sr
    hum = (0.05 * np.sin(2 * np.pi * 120 * t)).astype(np.float32)
    loud = hum + 0.5 * noise(t.size, seed=3) * ((t > 1.0) & (t < 1.3))
    V = spectral.magnitude(loud, n_fft=n_fft, hop_length=hop).T
    quiet = spectral.magnitude(hum, n_fft=n_fft, hop_length=hop).T
    floor = spectral.noise_floor(V, sr=sr, hop_length=hop)
    np.testing.assert_allclose(floor, reference.noise_floor(V, frame_seconds=hop / sr),
                               rtol=1e-9, atol=1e-12)
    during = (np.arange(V.shape[0]) * hop / sr > 1.05) & (np.arange(V.shape[0]) * hop / sr < 1.3)
    hum_bin = round(120 * n_fft / sr)
    # 300 ms of a burst 20 dB over the hum lift the floor by at most 10 dB/s x 0.3 s = 3 dB.
    assert np.all(floor[during, hum_bin] <= quiet[during, hum_bin] * 10 ** (3.2 / 20))
    assert np.all(V[during].sum(axis=1) > 3 * floor[during].sum(axis=1))


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
def test_a_floor_that_started_too_low_finds_the_room_within_the_window(sr: int) -> None:
    n_fft, hop = GEOMETRY[sr]
    steady = noise(4 * sr, seed=5)
    quiet = 1e-5 * noise(2 * sr, seed=6)  # 100 dB down: far below what 10 dB/s can climb
    floor = spectral.noise_floor(
        spectral.magnitude(np.concatenate([quiet, steady]), n_fft=n_fft, hop_length=hop).T,
        sr=sr, hop_length=hop)
    settled = spectral.noise_floor(spectral.magnitude(steady, n_fft=n_fft, hop_length=hop).T,
                                   sr=sr, hop_length=hop)
    start = 2 * sr // hop
    # 1.75 s after the noise began (the window and a sub-window) the floors agree within 6 dB.
    after = slice(start + round(1.8 * sr / hop), start + round(3.5 * sr / hop))
    ratio = floor[after].sum(axis=1) / settled[after.start - start:after.stop - start].sum(axis=1)
    assert np.all(np.abs(20 * np.log10(ratio)) < 6), 20 * np.log10(ratio)
    before = slice(start + 2, start + round(1.0 * sr / hop))
    assert np.all(floor[before].sum(axis=1) < 0.1 * settled[2:before.stop - start].sum(axis=1))


def test_reset_forgets_the_floor_and_nothing_is_allocated() -> None:
    preset = with_floors(random_preset((3, 2), 4, seed=6), (0.0, 30.0))
    x = hum_with_bursts(8000, 16000, seed=3)
    separator = create_separator(preset)
    first = separator.process(x)
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), first)
    out = np.zeros((preset.n_sources, x.size), np.float32)
    assert _internal.count_process_allocations(separator, x, out) == 0


def test_the_model_reports_and_refuses_floors() -> None:
    preset = with_floors(random_unfolded_preset((5, 4), 2, seed=7), (0.0, 12.5))
    assert build_model(preset).floors == [0.0, 12.5]
    rng = np.random.default_rng(0)
    W = rng.random((1, 33, 3)).astype(np.float32)
    W /= W.sum(axis=1, keepdims=True)
    source = (W, np.ones((1, 1), np.float32), np.ones(1, np.float32))
    with pytest.raises(ParameterError, match=r"one weight per source \(2\), got 1"):
        Model([source, source], floors=[1.0])
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ParameterError, match="finite and >= 0"):
            Model([source, source], floors=[0.0, bad])
    with pytest.raises(ParameterError, match="neither adapts nor spans frames"):
        Model([source, source], floors=[0.0, 3.0], adaptive=[False, True])
    lags = np.repeat(W, 3, axis=0) / 3
    with pytest.raises(ParameterError, match="neither adapts nor spans frames"):
        Model([source, (lags, *source[1:])], floors=[0.0, 3.0], frames=[1, 3])
