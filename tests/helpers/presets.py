"""Small random presets for fast tests: structure, not quality."""

from __future__ import annotations

import numpy as np

from livesep.presets import Preset, SourceModel


def random_preset(n_states: tuple[int, ...] = (3, 4), n_components: int = 4, *,
                  sr: int = 16000, n_fft: int = 512, hop_length: int = 128,
                  seed: int = 0) -> Preset:
    """A preset whose sources have random sparse dictionaries and sticky transitions."""
    rng = np.random.default_rng(seed)
    n_bins = n_fft // 2 + 1
    sources = []
    for index, q in enumerate(n_states):
        W = rng.random((q, n_bins, n_components)) ** 6 + 1e-6
        W /= W.sum(axis=1, keepdims=True)
        A = rng.random((q, q)) + 4.0 * np.eye(q)
        A /= A.sum(axis=1, keepdims=True)
        sources.append(SourceModel(f"source{index}", W=W, A=A, pi=np.full(q, 1.0 / q)))
    model = "nmf" if all(q == 1 for q in n_states) else "nhmm"
    return Preset("test", sr=sr, n_fft=n_fft, hop_length=hop_length, model=model,
                  sources=sources)


def noise(n: int, seed: int = 0) -> np.ndarray:
    """Coloured noise with some structure over time."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * np.arange(n) / 4000.0) ** 2
    return (0.2 * np.convolve(x, [1.0, 0.6, 0.3], mode="same") * envelope).astype(np.float32)


def random_unfolded_preset(n_components: tuple[int, ...] = (5, 4), layers: int = 3, *,
                           sr: int = 16000, n_fft: int = 512, hop_length: int = 128,
                           seed: int = 0) -> Preset:
    """A preset of unfolded sources with random sparse layer dictionaries."""
    rng = np.random.default_rng(seed)
    sources = []
    for index, k in enumerate(n_components):
        W = rng.random((layers + 1, n_fft // 2 + 1, k)) ** 6 + 1e-6
        sources.append(SourceModel.from_unfolded(f"source{index}",
                                                 W / W.sum(axis=1, keepdims=True)))
    return Preset("unfolded", sr=sr, n_fft=n_fft, hop_length=hop_length, model="nmf",
                  sources=sources)
