"""Offline separation of presets with a noise floor: the floor is tracked through the frames
in order as the engine tracks it, so unfolded presets separate offline as online, and the
N-FHMM reference's fits are the online filter's; batch NMF, which holds every dictionary
fixed, refuses a floor and separate_offline takes the N-FHMM reference instead."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import ParameterError, spectral
from livesep.engine import EngineSettings
from livesep.presets import Preset
from livesep.separation import nfhmm, separate_offline, separate_offline_nmf, separate_online
from livesep.separation.reference_engine import ReferenceFilter


def floored(preset: Preset, weight: float = 30.0) -> Preset:
    *rest, last = preset.sources
    return dataclasses.replace(preset, sources=[*rest, dataclasses.replace(last, floor=weight)])


def hum_and_noise(n: int, seed: int) -> np.ndarray:
    t = np.arange(n) / 16000
    x = noise(n, seed=seed) + 0.05 * np.sin(2 * np.pi * 150 * t)
    x[n // 3:n // 3 + 1200] = 0.0  # silent frames in the middle
    return x.astype(np.float32)


@pytest.mark.parametrize("block_size", [1, 333])
def test_unfolded_offline_equals_online(block_size: int) -> None:
    preset = floored(random_unfolded_preset((5, 4), 3, seed=1))
    x = hum_and_noise(9000, seed=2)
    online = separate_online(x, preset, block_size=block_size)
    offline = separate_offline(x, preset)
    np.testing.assert_allclose(offline, online, atol=5e-6 * np.abs(x).max())
    plain = separate_offline(x, floored(preset, 0.0))
    assert np.abs(plain - offline).max() > 0.01 * np.abs(x).max()


def test_the_nfhmm_reference_fits_the_floor_as_the_online_filter() -> None:
    preset = floored(random_preset((3, 2), 4, seed=3))
    settings = EngineSettings(beam=0)
    V = np.abs(spectral.stft(hum_and_noise(4000, seed=4), n_fft=512, hop_length=128))
    _, online, _ = ReferenceFilter(preset, settings=settings).filter_frames(V.T)
    matrices = [s.A.astype(np.float64) for s in preset.sources]
    prior = np.multiply.outer(preset.sources[0].pi, preset.sources[1].pi)
    alpha = None
    for t, (_, log_likelihoods, mass) in enumerate(nfhmm.joint_fits(preset, settings, V)):
        predicted = prior if alpha is None else nfhmm.transition(alpha, matrices, forward=True)
        if mass > 0:
            alpha = predicted * np.exp(log_likelihoods - log_likelihoods.max())
            alpha /= alpha.sum()
        else:
            alpha = predicted
        np.testing.assert_allclose(alpha.ravel(), online[t], atol=1e-4)


def test_batch_nmf_refuses_a_floor_and_separate_offline_goes_round_it() -> None:
    preset = floored(random_preset((1, 1), 4, seed=5))
    x = hum_and_noise(5000, seed=6)
    with pytest.raises(ParameterError, match=r"batch NMF holds every dictionary fixed, but "
                                             r"'source1' of preset 'test' track a noise floor"):
        separate_offline_nmf(x, preset)
    stems = separate_offline(x, preset)
    np.testing.assert_allclose(stems.sum(axis=0), x, atol=1e-5)
    assert np.abs(stems[0] - x / 2).max() > 0.01
