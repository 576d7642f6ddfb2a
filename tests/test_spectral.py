"""The offline numpy STFT: perfect reconstruction and the engine's exact framing."""

from __future__ import annotations

import numpy as np
import pytest

from livesep import ParameterError, spectral
from livesep._core import _internal


@pytest.mark.parametrize("n_fft, hop_length", [(256, 64), (512, 128), (512, 256), (2048, 512)])
@pytest.mark.parametrize("length", [1, 1000, 4097])
def test_istft_inverts_stft(n_fft: int, hop_length: int, length: int) -> None:
    x = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    X = spectral.stft(x, n_fft=n_fft, hop_length=hop_length)
    assert X.shape == (n_fft // 2 + 1, spectral.n_frames(length, n_fft=n_fft,
                                                         hop_length=hop_length))
    y = spectral.istft(X, n_fft=n_fft, hop_length=hop_length, length=length)
    assert y.shape == (length,)
    assert np.max(np.abs(y - x)) < 1e-5


@pytest.mark.parametrize("block_size", [1, 37, 128])
def test_frames_are_the_engines_frames(block_size: int) -> None:
    x = np.random.default_rng(1).standard_normal(3000).astype(np.float32)
    engine = _internal.stream_spectra(x, n_fft=512, hop_length=128, block_size=block_size)
    offline = spectral.stft(x, n_fft=512, hop_length=128).T[:engine.shape[0]]
    assert np.max(np.abs(engine - offline)) < 1e-5 * np.abs(offline).max()


def test_synthesis_window_overlap_adds_to_one() -> None:
    product = spectral.analysis_window(512) * spectral.synthesis_window(512, 128)
    np.testing.assert_allclose(product.reshape(-1, 128).sum(axis=0), 1.0, rtol=1e-12)


@pytest.mark.parametrize("n_fft, hop_length", [(510, 128), (512, 100), (512, 512), (8, 2)])
def test_bad_settings_are_refused(n_fft: int, hop_length: int) -> None:
    with pytest.raises(ParameterError):
        spectral.stft(np.zeros(100), n_fft=n_fft, hop_length=hop_length)


def test_stereo_input_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"\(2, 100\)"):
        spectral.stft(np.zeros((2, 100)))
