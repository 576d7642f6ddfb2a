"""The numpy reference of the low-delay modes for models fitted frame by frame
(separate_low_delay): the engine matches it without a companion too, at every rate the
tests use and in odd blocks; it refuses a latency that keeps the symmetric windows and a
model that is not fitted frame by frame."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import ParameterError
from livesep.engine import EngineSettings
from livesep.separation import separate_online
from livesep.separation.low_delay import separate_low_delay


@pytest.mark.parametrize("sr, n_fft, hop", [(16000, 512, 128), (44100, 1536, 384)])
@pytest.mark.parametrize("latency", ["low", "ultra"])
def test_the_engine_matches_it_for_unfolded_sources(sr: int, n_fft: int, hop: int,
                                                    latency: str) -> None:
    preset = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=3)
    x = noise(sr // 2, seed=4)
    settings = EngineSettings(latency=latency)
    online = separate_online(x, preset, settings=settings, block_size=101)
    np.testing.assert_allclose(online, separate_low_delay(x, preset, settings=settings),
                               atol=2e-5 * np.abs(x).max())


def test_standard_latency_is_refused() -> None:
    preset = random_unfolded_preset(seed=3)
    with pytest.raises(ParameterError, match="latency 'standard' keeps preset .* symmetric "
                                             "windows; separate_offline is its reference"):
        separate_low_delay(noise(4000), preset)


def test_a_model_not_fitted_frame_by_frame_is_refused() -> None:
    with pytest.raises(ParameterError, match="is not fitted frame by frame"):
        separate_low_delay(noise(4000), random_preset(seed=3),
                           settings=EngineSettings(latency="low"))
