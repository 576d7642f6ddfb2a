"""Presets with convolutive (NMFD) sources: through the engine as the numpy reference filters
them, saved and loaded, and the offline references that take them or refuse them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import reference
from helpers.presets import noise, random_preset
from livesep import ParameterError, Separator, spectral
from livesep import separation as separate
from livesep._core import _internal
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.models.nmfd import separate_nmfd
from livesep.presets import Preset, SourceModel, load, save
from livesep.separation.reference_engine import ReferenceFilter

SR, N_FFT, HOP = 16000, 512, 128
F = N_FFT // 2 + 1


def lagged(frames: int, n_components: int, rng: np.random.Generator) -> np.ndarray:
    """Convolutive templates (frames, F, K) decaying over the lags, each summing to one."""
    W = rng.random((frames, F, n_components)) ** 4 + 1e-6
    W *= np.exp(-np.arange(frames))[:, None, None]
    return W / W.sum(axis=(0, 1), keepdims=True)


def convolutive_preset(frames: tuple[int, ...] = (3, 1), n_components: int = 4, *,
                       seed: int = 0) -> Preset:
    """Sources of one state each: NMFD templates of ``frames`` lags (1: plain NMF)."""
    rng = np.random.default_rng(seed)
    sources = [SourceModel.from_nmfd(f"source{index}", lagged(lags, n_components, rng))
               for index, lags in enumerate(frames)]
    return Preset("nmfd", sr=SR, n_fft=N_FFT, hop_length=HOP, model="nmf", sources=sources)


def spectra(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """Magnitude frames (T, F) of structured noise, with a silent frame in the middle."""
    V = spectral.magnitude(noise(int(seconds * SR), seed=seed), n_fft=N_FFT, hop_length=HOP).T
    V = np.ascontiguousarray(V)
    V[V.shape[0] // 2] = 0.0
    return V


def run(separator: Separator, x: np.ndarray, block_size: int) -> np.ndarray:
    return np.concatenate([separator.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)


@pytest.mark.parametrize("frames", [(3, 1), (4, 2), (5,), (2, 3, 1)])
def test_a_convolutive_preset_filters_as_the_numpy_reference(tmp_path: Path,
                                                             frames: tuple[int, ...]) -> None:
    preset = load(save(convolutive_preset(frames), tmp_path / "nmfd.npz"))
    assert [source.frames for source in preset.sources] == list(frames)
    settings = EngineSettings(n_iter=8, reseed_floor=1e-3)
    V = spectra()
    estimates, posteriors, _ = _internal.filter_frames(build_model(preset, settings), V)
    expected = reference.online_convolutive_nmf([source.W for source in preset.sources], V,
                                                n_iter=8, floor=1e-3)
    np.testing.assert_allclose(estimates, expected, atol=1e-4 * np.abs(expected).max())
    assert np.all(posteriors == 1.0)


def test_the_separator_masks_are_the_reference_estimates_masks() -> None:
    preset = convolutive_preset((4, 1), seed=1)
    separator = create_separator(preset)  # default settings: 10 iterations, p = 2
    x = noise(HOP * 60, seed=2)
    y = run(separator, x, 100)
    snapshots = separator.pop_snapshots()
    V = np.ascontiguousarray(snapshots["spectrum"], dtype=np.float32)
    assert V.shape == (60, F)
    settings = EngineSettings().resolved(preset)
    expected = reference.online_convolutive_nmf([source.W for source in preset.sources], V,
                                                n_iter=settings.n_iter,
                                                floor=settings.reseed_floor)
    masks = spectral.soft_masks(np.moveaxis(expected, 0, -1), power=settings.mask_power)
    assert settings.smoothing > 0  # the separator smooths one-state masks by default
    masks = spectral.smooth_masks(masks, V.T, seconds=settings.smoothing, sr=SR, hop_length=HOP)
    np.testing.assert_allclose(snapshots["masks"], np.moveaxis(masks, -1, 0), atol=1e-4)
    latency = separator.latency_samples()
    assert np.max(np.abs(y.sum(axis=0)[latency:] - x[:-latency])) < 1e-5


def test_a_convolutive_source_beside_an_nhmm_in_the_separator() -> None:
    base = random_preset((3,), sr=SR, n_fft=N_FFT, hop_length=HOP)
    drums = convolutive_preset((3,), seed=3).sources[0].renamed("drums")
    preset = base.with_sources([*base.sources, drums])
    assert preset.model == "nhmm" and [s.frames for s in preset.sources] == [1, 3]
    x = noise(6000, seed=4)
    outputs = [run(create_separator(preset), x, block) for block in (1, 37, 512)]
    for other in outputs[1:]:
        np.testing.assert_array_equal(other, outputs[0])
    separator = create_separator(preset)
    y = run(separator, x, 256)
    latency = separator.latency_samples()
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y.sum(axis=0)[latency:] - x[:-latency])) < 1e-5
    marginals = separator.pop_snapshots()["marginals"]
    np.testing.assert_allclose(marginals[:, 0, :3].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(marginals[:, 1, 0], 1.0, rtol=1e-5)


def test_offline_nmf_is_batch_nmfd() -> None:
    preset = convolutive_preset((3, 3), seed=5)
    x = noise(4000, seed=6)
    stems = separate.separate_offline_nmf(x, preset, n_iter=30)
    assert stems.shape == (2, x.size) and stems.dtype == np.float32
    assert np.max(np.abs(stems.sum(axis=0) - x)) < 1e-5
    expected = separate_nmfd(x, [source.W for source in preset.sources], n_fft=N_FFT,
                             hop_length=HOP, cost="kl", n_iter=30)
    np.testing.assert_allclose(stems, expected, atol=1e-5)
    # Through the dispatcher, beside a plain NMF source, and on fewer frames than lags.
    mixed = convolutive_preset((6, 1), seed=7)
    for signal in (x, x[:300]):
        stems = separate.separate_offline(signal, mixed)
        assert stems.shape == (2, signal.size)
        assert np.max(np.abs(stems.sum(axis=0) - signal)) < 1e-5
    with pytest.raises(ParameterError, match="beta"):
        separate.separate_offline_nmf(x, preset, beta=0.0)


def test_state_based_references_refuse_convolutive_sources() -> None:
    base = random_preset((2,), sr=SR, n_fft=N_FFT, hop_length=HOP)
    drums = convolutive_preset((3,)).sources[0].renamed("drums")
    preset = base.with_sources([*base.sources, drums])
    x = noise(3000)
    for method in (separate.separate_offline_nfhmm, separate.separate_offline):
        with pytest.raises(ParameterError, match="convolutive sources.*'drums'.*per state"):
            method(x, preset)
    adaptive = preset.with_sources([SourceModel.from_nmf("room", base.sources[0].W[0],
                                                         adaptive=True), preset.sources[1]])
    with pytest.raises(ParameterError, match="convolutive"):
        separate.separate_offline_semi(x, adaptive)
    with pytest.raises(ParameterError, match="convolutive"):
        ReferenceFilter(preset)
