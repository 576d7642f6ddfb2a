"""Training mixtures for models trained on mixtures (livesep.models.unfolded.augment): generic
noises, steady ones among them, and the frames made from a seed."""

from __future__ import annotations

import numpy as np
import pytest

from livesep.errors import ParameterError
from livesep.models.unfolded import generic_noise, mixture_frames

SR = 16000


def level_spread(y: np.ndarray, window: int = SR) -> float:
    """The spread of ``y``'s RMS over windows, relative to its mean."""
    rms = np.sqrt(np.mean(y[: y.size // window * window].reshape(-1, window) ** 2, axis=1))
    return float(rms.std() / rms.mean())


@pytest.mark.parametrize("seed", range(6))
def test_steady_noise_keeps_its_level_and_is_drawn_from_the_seed(seed: int) -> None:
    steady = generic_noise(8 * SR, sr=SR, rng=np.random.default_rng(seed), steady=True)
    again = generic_noise(8 * SR, sr=SR, rng=np.random.default_rng(seed), steady=True)
    np.testing.assert_array_equal(steady, again)
    assert steady.dtype == np.float32 and np.all(np.isfinite(steady))
    assert level_spread(steady) < 0.06  # a second's RMS of noise under a steep tilt varies


def test_generic_noise_is_mostly_not_steady() -> None:
    spreads = [level_spread(generic_noise(8 * SR, sr=SR, rng=np.random.default_rng(seed)))
               for seed in range(12)]
    assert np.median(spreads) > 0.1


def test_a_steady_share_makes_steadier_mixtures_from_the_same_seed() -> None:
    speech = [np.random.default_rng(0).standard_normal(6 * SR).astype(np.float32)]
    kwargs = dict(sr=SR, n_fft=512, hop_length=128, seconds=32.0, segment=4.0, seed=3)

    def spread(frames: np.ndarray) -> float:
        energy = frames.reshape(8, -1, frames.shape[1]).sum(axis=2)[:, 4:-4]
        return float(np.median(energy.std(axis=1) / energy.mean(axis=1)))

    plain = mixture_frames(speech, [], **kwargs)
    np.testing.assert_array_equal(plain.noise, mixture_frames(speech, [], **kwargs).noise)
    np.testing.assert_array_equal(plain.noise,
                                  mixture_frames(speech, [], steady_share=0.0, **kwargs).noise)
    steady = mixture_frames(speech, [], steady_share=1.0, **kwargs)
    assert steady.noise.shape == plain.noise.shape
    assert spread(steady.noise) < spread(plain.noise)


def test_a_steady_share_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ParameterError, match="steady_share"):
        mixture_frames([np.ones(SR, np.float32)], [], sr=SR, n_fft=512, hop_length=128,
                       seconds=4.0, steady_share=1.5)
