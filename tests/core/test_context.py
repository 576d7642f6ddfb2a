"""Unfolded presets fitted on stacked frames (cpp/livesep/context.h): the engine stacks each
frame with its past as the numpy reference and offline separation do, at every block size,
rate and latency mode, beside a noise floor; a context whose lag rows are zero separates as
the frame alone, and one that reads the past changes the stems."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.presets import noise, random_unfolded_preset
from livesep import ParameterError
from livesep._core import Model
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.presets import Preset, SourceModel
from livesep.separation.offline import separate_offline_unfolded
from livesep.separation.reference_engine import ReferenceSeparator

GEOMETRIES = [(16000, 512, 128), (48000, 1536, 384)]
CONTEXT = (0, 2, 5)


def stream(preset: Preset, settings: EngineSettings, x: np.ndarray, block_size: int
           ) -> np.ndarray:
    engine = create_separator(preset, settings=settings)
    return np.concatenate([engine.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)


@pytest.mark.parametrize(("sr", "n_fft", "hop"), GEOMETRIES)
@pytest.mark.parametrize("block_size", [1, 77, 128])
@pytest.mark.parametrize("latency", ["standard", "low", "ultra"])
@pytest.mark.parametrize("floors", [None, (0.0, 30.0)])
def test_engine_with_a_context_matches_the_numpy_reference(
        sr: int, n_fft: int, hop: int, block_size: int, latency: str,
        floors: tuple[float, ...] | None) -> None:
    preset = random_unfolded_preset(sr=sr, n_fft=n_fft, hop_length=hop, context=CONTEXT,
                                    floors=floors)
    settings = EngineSettings(latency=latency)
    x = noise(sr // 3, seed=4)
    got = stream(preset, settings, x, block_size)
    want = ReferenceSeparator(preset, settings=settings).process(x)
    np.testing.assert_allclose(got, want, atol=3e-5 * np.abs(want).max())
    delay = create_separator(preset, settings=settings).latency_samples()
    np.testing.assert_allclose(got.sum(axis=0)[delay:], x[:x.size - delay], atol=1e-4)


@pytest.mark.parametrize("floors", [None, (0.0, 30.0)])
def test_offline_separation_with_a_context_is_the_engine_without_its_delay(
        floors: tuple[float, ...] | None) -> None:
    preset = random_unfolded_preset(context=CONTEXT, floors=floors)
    x = noise(6000, seed=6)
    settings = EngineSettings(smoothing=0.0)
    engine = create_separator(preset, settings=settings)
    delay = engine.latency_samples()
    online = engine.process(np.concatenate([x, np.zeros(delay, np.float32)]))[:, delay:]
    np.testing.assert_allclose(separate_offline_unfolded(x, preset), online,
                               atol=3e-5 * np.abs(online).max())


def frame_alone(preset: Preset) -> Preset:
    """``preset`` without its context: each layer's rows of the frame itself."""
    n_bins = preset.n_bins
    sources = []
    for source in preset.sources:
        W = source.W[:, :n_bins].astype(np.float64)
        sources.append(SourceModel.from_unfolded(source.name, W / W.sum(axis=1, keepdims=True),
                                                 floor=source.floor))
    return dataclasses.replace(preset, sources=tuple(sources), context=None)


def with_lag_rows(preset: Preset, scale: float) -> Preset:
    """``preset`` with its lag rows scaled by ``scale`` and the columns renormalised."""
    sources = []
    for source in preset.sources:
        W = source.W.astype(np.float64)
        W[:, preset.n_bins:] *= scale
        sources.append(SourceModel.from_unfolded(source.name, W / W.sum(axis=1, keepdims=True),
                                                 floor=source.floor))
    return dataclasses.replace(preset, sources=tuple(sources))


@pytest.mark.parametrize("block_size", [1, 77, 128])
def test_a_context_whose_lag_rows_are_zero_separates_as_the_frame_alone(block_size: int
                                                                         ) -> None:
    # (Without a noise floor: a floor is repeated for every lag, so it reads the past.)
    original = random_unfolded_preset(context=CONTEXT)
    preset = with_lag_rows(original, 0.0)
    x = noise(8000, seed=8)
    settings = EngineSettings()
    got = stream(preset, settings, x, block_size)
    want = stream(frame_alone(preset), settings, x, block_size)
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    # With its lag rows the fit reads the past, and the stems move.
    reading = stream(original, settings, x, block_size)
    assert np.abs(reading - want).max() > 1e-2 * np.abs(want).max()


def test_model_refuses_a_context_it_cannot_use() -> None:
    preset = random_unfolded_preset(context=CONTEXT)
    with pytest.raises(ParameterError, match="bins times the 2 lags"):
        Model([(s.W, s.A, s.pi) for s in preset.sources], layers=[3, 3], context=[0, 1],
              context_period=0.008)
    with pytest.raises(ParameterError, match="context lags must rise from 0"):
        Model([(s.W, s.A, s.pi) for s in preset.sources], layers=[3, 3], context=[0, 2, 2],
              context_period=0.008)
    plain = random_unfolded_preset()
    with pytest.raises(ParameterError, match="needs unfolded sources"):
        Model([(s.W[:1], s.A, s.pi) for s in plain.sources], context=[0, 1],
              context_period=0.008)
    model = build_model(preset, EngineSettings(bands_above=2000.0))
    assert model.n_bins == preset.n_bins  # a context is fitted on every bin, never on bands
