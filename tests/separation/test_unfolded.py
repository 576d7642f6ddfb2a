"""Offline separation of unfolded (deep NMF) presets: their fit knows no time, so the offline
layered fit and the online engine give the same stems within float32 rounding; the
references that read W as one dictionary per state refuse them."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import ParameterError
from livesep.engine import EngineSettings
from livesep.separation import (
    separate_offline,
    separate_offline_nfhmm,
    separate_offline_nmf,
    separate_offline_semi,
    separate_offline_unfolded,
    separate_online,
)


@pytest.mark.parametrize("components, layers", [((5, 4), 1), ((6, 3), 10), ((3, 4, 2), 3)])
@pytest.mark.parametrize("settings", [EngineSettings(), EngineSettings(mask_power=1.0),
                                      EngineSettings(beta=0.0, l1=0.01)],
                         ids=["default", "power-1", "itakura-saito"])
def test_offline_equals_online(components: tuple[int, ...], layers: int,
                               settings: EngineSettings) -> None:
    preset = random_unfolded_preset(components, layers, seed=layers)
    x = noise(9000, seed=2)
    x[3000:4200] = 0.0  # silent frames in the middle
    online = separate_online(x, preset, settings=settings, block_size=333)
    offline = separate_offline(x, preset, settings=settings)
    assert offline.shape == online.shape == (len(components), x.size)
    assert offline.dtype == np.float32
    np.testing.assert_allclose(offline, online, atol=2e-6 * np.abs(x).max())
    np.testing.assert_allclose(offline.sum(axis=0), x, atol=1e-5)
    # The sources do separate: neither stem is the mixture or an even share of it.
    assert np.abs(offline[0] - x / len(components)).max() > 0.05 * np.abs(x).max()


def test_the_offline_fit_is_explicit() -> None:
    preset = random_unfolded_preset((5, 4), 3)
    x = noise(4000, seed=3)
    smoothing = EngineSettings().resolved(preset).smoothing
    np.testing.assert_array_equal(separate_offline_unfolded(x, preset, smoothing=smoothing),
                                  separate_offline(x, preset))
    with pytest.raises(ParameterError, match="no unfolded sources"):
        separate_offline_unfolded(x, random_preset((1, 1)))


@pytest.mark.parametrize("method, needle", [
    (separate_offline_nmf, "batch NMF"),
    (separate_offline_nfhmm, "the N-FHMM reference"),
    (separate_offline_semi, "semi-supervised NMF"),
])
def test_state_references_refuse_unfolded_sources(method: object, needle: str) -> None:
    preset = random_unfolded_preset((5, 4), 2)
    with pytest.raises(ParameterError, match=f"unfolded sources \\('source0', 'source1' of "
                                             f"preset 'unfolded'\\): {needle} reads W as one "
                                             f"dictionary per state"):
        method(noise(2000), preset)  # type: ignore[operator]
