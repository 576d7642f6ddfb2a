"""Small random presets for fast tests: structure, not quality."""

from __future__ import annotations

import numpy as np

from livesep.presets import Encoder, Preset, SourceModel


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
                           seed: int = 0, fit_bins: int | None = None) -> Preset:
    """A preset of unfolded sources with random sparse layer dictionaries. With ``fit_bins``
    the layers cover the bins below it only, and the estimate every bin, at three times the
    scale of a normalised column (a full-band estimate from a fit on fewer bins)."""
    rng = np.random.default_rng(seed)
    sources = []
    for index, k in enumerate(n_components):
        W = rng.random((layers + 1, n_fft // 2 + 1, k)) ** 6 + 1e-6
        if fit_bins is not None:
            W[:-1, fit_bins:] = 0.0
        W /= W.sum(axis=1, keepdims=True)
        if fit_bins is not None:
            W[-1] *= 3.0
        sources.append(SourceModel.from_unfolded(f"source{index}", W))
    return Preset("unfolded", sr=sr, n_fft=n_fft, hop_length=hop_length, model="nmf",
                  sources=sources)


def random_encoder(n_bins: int, n_components: tuple[int, ...] = (5, 4), *, hidden: int = 8,
                   layers: int = 2, seed: int = 0, noise_aware: bool = False) -> Encoder:
    """A recurrent encoder with random weights, large enough that its state matters (and
    with twice the inputs when noise-aware)."""
    rng = np.random.default_rng(seed)
    h = hidden
    inputs = 2 * n_bins if noise_aware else n_bins
    return Encoder(rng.normal(0, 0.3, (h, inputs)), rng.normal(0, 0.5, h),
                   [rng.normal(0, 0.6, (3 * h, h)) for _ in range(layers)],
                   [rng.normal(0, 0.6, (3 * h, h)) for _ in range(layers)],
                   [rng.normal(0, 0.3, 3 * h) for _ in range(layers)],
                   [rng.normal(0, 0.3, 3 * h) for _ in range(layers)],
                   [rng.normal(0, 1.0, (k, h)) for k in n_components],
                   [rng.normal(0, 0.5, k) for k in n_components],
                   [rng.uniform(0.5, 2.0, k) for k in n_components], noise_aware=noise_aware)


def random_encoder_preset(n_components: tuple[int, ...] = (5, 4), *, hidden: int = 8,
                          layers: int = 2, sr: int = 16000, n_fft: int = 512,
                          hop_length: int = 128, seed: int = 0,
                          noise_aware: bool = False) -> Preset:
    """A model "nae" preset: a random recurrent encoder (noise-aware: reading the noise
    floor too) and random sparse decoders."""
    rng = np.random.default_rng(seed)
    n_bins = n_fft // 2 + 1
    sources = []
    for index, k in enumerate(n_components):
        W = rng.random((1, n_bins, k)) ** 6 + 1e-6
        sources.append(SourceModel(f"source{index}", W=W / W.sum(axis=1, keepdims=True),
                                   A=np.ones((1, 1)), pi=np.ones(1)))
    return Preset("recurrent", sr=sr, n_fft=n_fft, hop_length=hop_length, model="nae",
                  sources=sources, encoder=random_encoder(n_bins, n_components, hidden=hidden,
                                                          layers=layers, seed=seed,
                                                          noise_aware=noise_aware))
