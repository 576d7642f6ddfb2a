"""Extending a preset to a higher rate (livesep.presets.extend): the same fit on the bins
it had, the band above given to the sources that bring it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.presets import random_preset, random_unfolded_preset
from livesep.errors import ParameterError
from livesep.presets import SourceModel
from livesep.presets.extend import extend_band, upper_profile
from livesep.separation.online import separate_online


def low_hum(sr: int, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Tones below 1 kHz: nothing above 8 kHz."""
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(seed)
    return sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (110, 220, 330, 770)
               ).astype(np.float32) * 0.1


def hiss(sr: int, seconds: float = 1.0, seed: int = 1) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(sr * seconds))
            ).astype(np.float32)


def recordings(sr: int) -> dict[str, np.ndarray]:
    return {"source0": low_hum(sr), "source1": hiss(sr)}


@pytest.mark.parametrize("sr", [32000, 48000])
def test_the_extension_keeps_the_fit_and_its_transitions(sr: int) -> None:
    preset = random_preset((3, 2))
    wide = extend_band(preset, recordings(sr), sr=sr, name="wide")
    ratio = sr // preset.sr
    assert (wide.sr, wide.n_fft, wide.hop_length) == (sr, ratio * 512, ratio * 128)
    assert wide.name == "wide" and wide.description == preset.description
    # The fit stops at 45 % of the original rate (7.2 kHz), in the same bins.
    assert wide.fit_bins == int(7200 * wide.n_fft / sr) + 1 == 231
    for narrow, extended in zip(preset.sources, wide.sources):
        below = extended.W[:, :preset.n_bins]
        np.testing.assert_allclose(below / below.sum(axis=1, keepdims=True), narrow.W,
                                   rtol=1e-5, atol=1e-9)
        np.testing.assert_array_equal(extended.A, narrow.A)
        np.testing.assert_array_equal(extended.pi, narrow.pi)
        np.testing.assert_allclose(extended.W.sum(axis=1), 1.0, rtol=1e-5)
    assert extend_band(preset, recordings(sr), sr=sr, fit_below=8000.0).fit_bins == 257


def test_the_band_above_goes_to_the_source_that_brings_it() -> None:
    sr = 48000
    wide = extend_band(random_preset((2, 2)), recordings(sr), sr=sr)
    hum_share, hiss_share = (s.provenance["extended"]["upper_share"] for s in wide.sources)
    assert hum_share < 0.01 < 0.5 < hiss_share  # the hum's is the window's leakage
    x = low_hum(sr, 2.0, seed=3) + hiss(sr, 2.0, seed=4)
    stems = separate_online(x, wide, sr=sr)
    above = np.fft.rfftfreq(x.size, 1.0 / sr) > 8000.0

    def high(y: np.ndarray) -> float:
        return float(np.sum(np.abs(np.fft.rfft(y.astype(np.float64))[above]) ** 2))

    assert high(stems[1]) > 0.99 * high(x)
    assert high(stems[0]) < 1e-3 * high(x)
    np.testing.assert_allclose(stems.sum(axis=0), x, atol=1e-5)


def test_upper_profile_is_the_mean_spectrum_above_over_the_mean_sum_below() -> None:
    sr, n_fft = 48000, 1536
    profile = upper_profile(hiss(sr), n_fft=n_fft, hop_length=384, fit_bins=257)
    assert profile.shape == (769 - 257,)
    # White noise: as much in each bin above as in each below.
    assert profile.sum() == pytest.approx(512 / 257, rel=0.05)
    assert upper_profile(low_hum(sr), n_fft=n_fft, hop_length=384, fit_bins=257).max() < 1e-4


@pytest.mark.parametrize("change, needle", [
    (lambda p, r: extend_band(p, r, sr=16000), "sr must be an int above the preset's 16000"),
    (lambda p, r: extend_band(p, r, sr=44100), "are 1411.2 / 352.8 samples at 44100 Hz"),
    (lambda p, r: extend_band(p, {"source0": r["source0"]}, sr=48000),
     "no recording for source(s) 'source1'"),
    (lambda p, r: extend_band(p, r, sr=48000, fit_below=9000.0),
     "fit_below must be in (0, 8000] Hz, got 9000.0"),
    (lambda p, r: extend_band(p, {**r, "source0": np.zeros(48000, np.float32)}, sr=48000),
     "the recording is silent below the band it should extend"),
    (lambda p, r: extend_band(p.with_sources([p.sources[0], SourceModel(
        "source1", W=p.sources[1].W[:1], A=np.ones((1, 1)), pi=np.ones(1), adaptive=True)]),
        r, sr=48000), "needs plain or N-HMM sources"),
    (lambda p, r: extend_band(random_unfolded_preset(), {"speech": r["source0"],
                                                         "noise": r["source1"]}, sr=48000),
     "needs plain or N-HMM sources"),
    (lambda p, r: extend_band(extend_band(p, r, sr=32000), r, sr=48000),
     "needs plain or N-HMM sources, not extended yet"),
], ids=["same-rate", "fractional-frames", "missing", "fit-below", "silent", "adaptive",
        "unfolded", "twice"])
def test_bad_extensions_are_one_clear_error(change: object, needle: str) -> None:
    with pytest.raises(ParameterError) as raised:
        change(random_preset((2, 2)), recordings(48000))  # type: ignore[operator]
    assert needle in str(raised.value)


def test_a_noise_floor_is_kept_and_joins_the_fit_on_its_bins() -> None:
    sr = 48000
    made = random_preset((2, 2))
    floored = made.with_sources([made.sources[0],
                                 dataclasses.replace(made.sources[1], floor=30.0)])
    wide = extend_band(floored, recordings(sr), sr=sr)
    assert [s.floor for s in wide.sources] == [0.0, 30.0]
    x = low_hum(sr, 2.0, seed=3) + hiss(sr, 2.0, seed=4)
    stems = separate_online(x, wide, sr=sr)
    np.testing.assert_allclose(stems.sum(axis=0), x, atol=1e-5)
    unfloored = separate_online(x, extend_band(made, recordings(sr), sr=sr), sr=sr)
    assert np.abs(stems - unfloored).max() > 1e-3 * np.abs(x).max()
