"""Fitting on bands (cpp/livesep/bands.h): the engine fits activations on bins summed into
bands above a frequency and keeps the masks at full resolution, as the numpy reference
does; the band layout covers every bin once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers import reference
from helpers.presets import noise, random_encoder_preset, random_preset, random_unfolded_preset
from livesep import ParameterError, spectral
from livesep._core import Model, _internal
from livesep.engine import EngineSettings, build_model, create_separator, fit_band_edges
from livesep.presets import Preset, SourceModel
from livesep.separation.offline import separate_offline
from livesep.separation.reference_engine import ReferenceSeparator

GEOMETRIES = [(16000, 512, 128), (44100, 1411, 352), (48000, 1536, 384)]


@pytest.mark.parametrize(("sr", "n_fft", "hop"), GEOMETRIES)
@pytest.mark.parametrize("above", [1000.0, 4000.0, 7000.0])
@pytest.mark.parametrize("per_octave", [3, 12])
def test_bands_cover_every_bin_once(sr: int, n_fft: int, hop: int, above: float,
                                    per_octave: int) -> None:
    edges = spectral.fit_bands(sr=sr, n_fft=n_fft, above=above, per_octave=per_octave)
    n_bins = n_fft // 2 + 1
    assert edges[0] == 0 and edges[-1] == n_bins
    widths = np.diff(edges)
    assert (widths >= 1).all()
    below = int(np.ceil(above * n_fft / sr))
    assert (widths[:below] == 1).all()  # every bin its own band below `above`
    # Above it no band is wider than its share of an octave (allowing rounding to a bin).
    low = edges[below:-1] * sr / n_fft
    high = edges[below + 1:] * sr / n_fft
    assert (high <= low * 2 ** (1 / per_octave) + 1.5 * sr / n_fft).all()
    assert len(edges) - 1 < n_bins  # fewer bands than bins: the point of it


def test_pool_bands_sums_each_band() -> None:
    X = np.arange(20, dtype=np.float32).reshape(2, 10)
    np.testing.assert_array_equal(spectral.pool_bands(X, [0, 3, 4, 10]),
                                  [[3, 3, 39], [33, 13, 99]])


def banded(preset: Preset, **settings: object) -> EngineSettings:
    return EngineSettings(bands_above=0.25 * preset.sr / 2, bands_per_octave=4,
                          **settings)  # type: ignore[arg-type]


PRESETS = {
    "nhmm": lambda sr, n_fft, hop: random_preset((3, 4), sr=sr, n_fft=n_fft, hop_length=hop),
    "nmf": lambda sr, n_fft, hop: random_preset((1, 1), 6, sr=sr, n_fft=n_fft, hop_length=hop),
    "unfolded": lambda sr, n_fft, hop: random_unfolded_preset(sr=sr, n_fft=n_fft,
                                                              hop_length=hop),
    "fit_bins": lambda sr, n_fft, hop: lower_fit(random_preset((3, 4), sr=sr, n_fft=n_fft,
                                                               hop_length=hop)),
}


def lower_fit(preset: Preset) -> Preset:
    """``preset`` fitted on its lowest third of bins (Preset.fit_bins)."""
    return dataclasses.replace(preset, fit_bins=preset.n_bins // 3)


@pytest.mark.parametrize("kind", sorted(PRESETS))
@pytest.mark.parametrize(("sr", "n_fft", "hop"), [GEOMETRIES[0], GEOMETRIES[2]])
@pytest.mark.parametrize("block_size", [1, 77, 128])
@pytest.mark.parametrize("latency", ["standard", "low"])
def test_engine_on_bands_matches_the_numpy_reference(kind: str, sr: int, n_fft: int, hop: int,
                                                     block_size: int, latency: str) -> None:
    preset = PRESETS[kind](sr, n_fft, hop)
    settings = banded(preset, beam=6, latency=latency)
    assert fit_band_edges(preset, settings) is not None
    x = noise(sr // 4, seed=5)
    engine = create_separator(preset, settings=settings)
    reference = ReferenceSeparator(preset, settings=settings)
    got = np.concatenate([engine.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    want = reference.process(x)
    np.testing.assert_allclose(got, want, atol=3e-5 * np.abs(want).max())
    # The masks split the mixture: the stems still sum to the delayed input.
    delay = engine.latency_samples()
    np.testing.assert_allclose(got.sum(axis=0)[delay:], x[:x.size - delay], atol=1e-4)


def test_bands_change_the_fit_so_the_comparison_means_something() -> None:
    preset = random_preset((3, 4))
    x = noise(8000, seed=2)
    full = create_separator(preset, settings=EngineSettings(beam=6)).process(x)
    bands = create_separator(preset, settings=banded(preset, beam=6)).process(x)
    assert np.abs(full - bands).max() > 1e-3 * np.abs(full).max()


def test_model_reports_its_bands() -> None:
    preset = random_preset((2, 2))
    settings = banded(preset)
    model = build_model(preset, settings)
    assert model.band_edges == fit_band_edges(preset, settings)
    assert model.n_bins == preset.n_bins
    assert build_model(preset).band_edges == []


def test_bands_above_nyquist_or_unsupported_sources_fit_every_bin() -> None:
    preset = random_preset((2, 2))
    assert fit_band_edges(preset, EngineSettings(bands_above=9000.0)) is None
    adaptive = preset.with_sources([preset.sources[0], SourceModel(
        "noise", W=preset.sources[1].W[:1], A=np.ones((1, 1)), pi=np.ones(1), adaptive=True)])
    assert fit_band_edges(adaptive, banded(adaptive)) is None
    encoder = random_encoder_preset()
    assert fit_band_edges(encoder, banded(encoder)) is None


@pytest.mark.parametrize("edges", [[0, 257], [1, 100, 257], [0, 100, 100, 257],
                                   [0, 100, 258], [0, 300, 257]])
def test_bad_band_edges_are_one_clear_error(edges: list[int]) -> None:
    preset = random_preset((2, 2))
    sources = [(s.W.astype(np.float32), s.A.astype(np.float32), s.pi.astype(np.float32))
               for s in preset.sources]
    with pytest.raises(ParameterError,
                       match="band edges must rise from 0 to at most the 257 bins"):
        Model(sources, bands=edges)


def test_bad_band_settings_show_the_value() -> None:
    with pytest.raises(ParameterError, match="bands_above"):
        EngineSettings(bands_above=-1.0)
    with pytest.raises(ParameterError, match="bands_per_octave"):
        EngineSettings(bands_per_octave=0)


@pytest.mark.parametrize(("sr", "n_fft", "hop"), [(16000, 512, 128), (48000, 1536, 384)])
def test_an_unfolded_preset_fitted_on_fewer_bins_is_fitted_on_them_alone(
        sr: int, n_fft: int, hop: int) -> None:
    # Layers zero above fit_bins: those bins fit as one band, where every layer is zero, so
    # the fit is the same in fewer rows, and the masks those of a fit on every bin.
    fit_bins = (n_fft // 2 + 1) // 3
    preset = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=2,
                                    fit_bins=fit_bins)
    assert preset.fitted_bins == fit_bins
    assert fit_band_edges(preset, EngineSettings()) == [*range(fit_bins + 1), preset.n_bins]
    assert fit_band_edges(random_unfolded_preset(sr=sr, n_fft=n_fft, hop_length=hop),
                          EngineSettings()) is None
    chosen = fit_band_edges(preset, EngineSettings(bands_above=1000.0))
    assert chosen == spectral.fit_bands(sr=sr, n_fft=n_fft, above=1000.0).tolist()
    V = np.ascontiguousarray(spectral.magnitude(noise(sr // 2, seed=3), n_fft=n_fft,
                                                hop_length=hop).T)
    unsmoothed = EngineSettings(smoothing=0.0)
    got = _internal.runtime_masks(build_model(preset, unsmoothed), V, hop / sr)
    every_bin = reference.floored_unfolded_masks([s.W for s in preset.sources], [0.0, 0.0], V,
                                                 frame_seconds=hop / sr)
    np.testing.assert_allclose(got, every_bin, atol=2e-4)


@pytest.mark.parametrize(("sr", "n_fft", "hop"), [GEOMETRIES[0], GEOMETRIES[2]])
@pytest.mark.parametrize("block_size", [1, 77, 384])
@pytest.mark.parametrize("floor", [0.0, 30.0])
def test_a_preset_with_fit_bins_matches_the_numpy_reference(sr: int, n_fft: int, hop: int,
                                                            block_size: int,
                                                            floor: float) -> None:
    # With a noise floor, its column joins the fit on the fitted bins (summing to its weight
    # there) and the estimates on every bin.
    made = random_preset((3, 4), sr=sr, n_fft=n_fft, hop_length=hop)
    preset = lower_fit(made.with_sources([made.sources[0], dataclasses.replace(
        made.sources[1], floor=floor)]))
    settings = EngineSettings(beam=6)
    assert fit_band_edges(preset, settings) == list(range(preset.n_bins // 3 + 1))
    x = noise(sr // 4, seed=5)
    engine = create_separator(preset, settings=settings)
    got = np.concatenate([engine.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    want = ReferenceSeparator(preset, settings=settings).process(x)
    np.testing.assert_allclose(got, want, atol=3e-5 * np.abs(want).max())
    every_bin = create_separator(dataclasses.replace(preset, fit_bins=None),
                                 settings=settings).process(x)
    assert np.abs(every_bin - got).max() > 1e-3 * np.abs(got).max()


@pytest.mark.parametrize("sr", [16000, 48000])
def test_a_preset_with_fit_bins_ignores_the_bins_above_them(sr: int) -> None:
    # Only the bins below fit_bins decide the activations: whatever lies above, the masks
    # are the same, those above made from the same estimates.
    n_fft = sr // 1000 * 32
    preset = lower_fit(random_preset((3, 4), sr=sr, n_fft=n_fft, hop_length=n_fft // 4))
    V = np.ascontiguousarray(spectral.magnitude(noise(sr // 2, seed=3), n_fft=n_fft,
                                                hop_length=n_fft // 4).T)
    louder_above = V.copy()
    louder_above[:, preset.fit_bins:] *= np.random.default_rng(1).uniform(
        0.0, 30.0, louder_above[:, preset.fit_bins:].shape).astype(np.float32)
    model = build_model(preset, EngineSettings(beam=6, smoothing=0.0))
    masks = _internal.runtime_masks(model, V, 0.008)
    np.testing.assert_allclose(_internal.runtime_masks(model, louder_above, 0.008), masks,
                               atol=1e-6)
    every_bin = build_model(dataclasses.replace(preset, fit_bins=None),
                            EngineSettings(beam=6, smoothing=0.0))
    assert np.abs(_internal.runtime_masks(every_bin, louder_above, 0.008) - masks).max() > 0.05


@pytest.mark.parametrize(("sr", "n_fft", "hop"), [GEOMETRIES[0], GEOMETRIES[2]])
@pytest.mark.parametrize("floor", [0.0, 30.0])
def test_a_preset_with_fit_bands_above_is_fitted_on_those_bands(sr: int, n_fft: int, hop: int,
                                                                floor: float) -> None:
    # Preset.fit_bands_above is the engine's bands_above when that is not set: the same
    # bands, the same stems; a setting given overrides it.
    made = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=2)
    made = made.with_sources([made.sources[0], dataclasses.replace(made.sources[1],
                                                                   floor=floor)])
    preset = dataclasses.replace(made, fit_bands_above=4000.0)
    own = fit_band_edges(preset, EngineSettings())
    assert own == spectral.fit_bands(sr=sr, n_fft=n_fft, above=4000.0).tolist()
    assert fit_band_edges(preset, EngineSettings(bands_above=1000.0)) == \
        spectral.fit_bands(sr=sr, n_fft=n_fft, above=1000.0).tolist()
    x = noise(sr // 4, seed=5)
    got = create_separator(preset).process(x)
    as_setting = create_separator(made, settings=EngineSettings(bands_above=4000.0)).process(x)
    np.testing.assert_array_equal(got, as_setting)
    every_bin = create_separator(made).process(x)
    assert np.abs(every_bin - got).max() > 1e-3 * np.abs(got).max()


@pytest.mark.parametrize("block_size", [1, 77, 384])
def test_offline_separation_fits_a_preset_on_its_own_bands(block_size: int) -> None:
    # separate_offline, the numpy reference of the layered fit, fits on the preset's bands
    # as the engine does: the same stems, the engine's latency aside.
    sr, n_fft, hop = GEOMETRIES[2]
    made = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=4)
    preset = dataclasses.replace(made, fit_bands_above=4000.0)
    x = noise(sr // 4, seed=6)
    engine = create_separator(preset)
    padded = np.concatenate([x, np.zeros(engine.latency_samples(), np.float32)])
    got = np.concatenate([engine.process(padded[i:i + block_size])
                          for i in range(0, padded.size, block_size)], axis=1)
    got = got[:, engine.latency_samples():]
    want = separate_offline(x, preset)
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())
    every_bin = separate_offline(x, made)
    assert np.abs(every_bin - want).max() > 1e-3 * np.abs(want).max()
