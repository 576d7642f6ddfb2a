"""The shipped full-band presets: extended from 16 kHz ones to 48 kHz, they separate 48 kHz
input as live, the engine alone (no resampling), into stems that sum to the input, its band
above 8 kHz included, which their 16 kHz counterparts run at 48 kHz cannot give back."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise
from livesep.presets.shipped import load_preset
from livesep.separation.online import separate_online

SR = 48000
#: Each full-band preset and its sources.
FULL_BAND = {"voice-48k": ("speech", "noise"), "bass-drums-nhmm-48k": ("bass", "drums")}
#: The 16 kHz preset each was extended from.
COUNTERPART = {"voice-48k": "voice", "bass-drums-nhmm-48k": "bass-drums-nhmm"}
HIGH_BAND_HZ = 8000.0


def high_band_energy(x: np.ndarray) -> float:
    spectrum = np.fft.rfft(x.astype(np.float64))
    return float(np.sum(np.abs(spectrum[np.fft.rfftfreq(x.size, 1.0 / SR) > HIGH_BAND_HZ])
                        ** 2))


@pytest.mark.parametrize("name", FULL_BAND)
def test_a_full_band_preset_runs_at_48k_with_32_ms_frames(name: str) -> None:
    preset = load_preset(name)
    assert preset.name == name
    assert preset.source_names == FULL_BAND[name]
    assert (preset.sr, preset.n_fft, preset.hop_length) == (SR, 1536, 384)


@pytest.mark.parametrize("block_size", [256, 1000])
@pytest.mark.parametrize("name", FULL_BAND)
def test_stems_of_48k_noise_are_finite_and_sum_to_it(name: str, block_size: int) -> None:
    x = noise(SR, seed=4)
    stems = separate_online(x, load_preset(name), sr=SR, block_size=block_size)
    assert stems.shape == (2, x.size) and stems.dtype == np.float32
    assert np.all(np.isfinite(stems))
    assert np.max(np.abs(stems.sum(axis=0) - x)) < 1e-5
    # It separates: neither stem is the input.
    assert min(np.abs(stem - x).max() for stem in stems) > 0.01 * np.abs(x).max()


@pytest.mark.parametrize("name", FULL_BAND)
def test_the_16k_counterpart_at_48k_loses_the_high_band(name: str) -> None:
    x = noise(SR, seed=4)
    stems = separate_online(x, load_preset(COUNTERPART[name]), sr=SR)
    assert stems.shape == (2, x.size)
    assert high_band_energy(stems.sum(axis=0)) < 1e-3 * high_band_energy(x)


def test_voice_48k_is_voice_extended_and_its_layers_widened() -> None:
    # voice-48k is voice extended (livesep.models.unfolded.fullband): voice's estimates on the
    # 257 bins both frames share and estimates learnt above them; voice's layers there, each
    # column widened above them with its estimate column's shape, then summing to one.
    full, lower = load_preset("voice-48k"), load_preset("voice")
    assert full.fitted_bins == full.n_bins
    for wide, narrow in zip(full.sources, lower.sources):
        low_bins = narrow.W.shape[1]
        np.testing.assert_array_equal(wide.W[-1, :low_bins], narrow.W[-1])
        assert wide.W[-1, low_bins:].sum(axis=0).min() > 0.0
        layers = wide.W[:-1].astype(np.float64)
        np.testing.assert_allclose(layers.sum(axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(layers[:, :low_bins] / layers[:, :low_bins].sum(axis=1,
                                                                                 keepdims=True),
                                   narrow.W[:-1], rtol=1e-3, atol=1e-7)
        estimate = wide.W[-1].astype(np.float64)
        np.testing.assert_allclose(
            layers[:, low_bins:] / layers[:, :low_bins].sum(axis=1, keepdims=True),
            np.broadcast_to(estimate[low_bins:] / estimate[:low_bins].sum(axis=0),
                            layers[:, low_bins:].shape), rtol=1e-3, atol=1e-7)
        assert wide.floor == narrow.floor
    # Beside it, voice's recurrent network, on the bins up to 8 kHz.
    assert full.companion == lower.companion and full.companion_share == lower.companion_share


def test_bass_drums_48k_fits_the_band_bass_drums_fits_and_estimates_the_rest() -> None:
    # bass-drums-nhmm-48k is bass-drums-nhmm extended (livesep.presets.extend): its
    # dictionaries and transitions in the 257 bins both frames share, fitted up to 7.2 kHz,
    # and above 8 kHz each source's mean spectrum there: the drums bring most of it.
    full, lower = load_preset("bass-drums-nhmm-48k"), load_preset("bass-drums-nhmm")
    assert full.fit_bins == 231 and full.fitted_bins == 231
    for wide, narrow in zip(full.sources, lower.sources):
        below = wide.W[:, :narrow.n_bins]
        np.testing.assert_allclose(below / below.sum(axis=1, keepdims=True), narrow.W,
                                   rtol=1e-4, atol=1e-8)
        np.testing.assert_array_equal(wide.A, narrow.A)
    bass, drums = (s.provenance["extended"]["upper_share"] for s in full.sources)
    assert drums > 100 * bass
