"""Small mixtures with known sources and a preset that separates them, for scoring tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from livesep import spectral
from livesep.presets import Preset, SourceModel

SR = 16000
LOW = (110.0, 147.0, 196.0)
HIGH = (1760.0, 2349.0, 2637.0)


def tones(freqs: tuple[float, ...], *, seconds: float = 2.0, sr: int = SR,
          seed: int = 0) -> np.ndarray:
    """Harmonic notes changing every 0.25 s, with a little noise: a source with structure."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = np.asarray(freqs)[(t * 4).astype(int) % len(freqs)]
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    return (0.2 * x + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def sources(*, seconds: float = 2.0, sr: int = SR, seed: int = 0) -> dict[str, np.ndarray]:
    """Two equal-power sources, ``low`` and ``high``."""
    low = tones(LOW, seconds=seconds, sr=sr, seed=seed)
    high = tones(HIGH, seconds=seconds, sr=sr, seed=seed + 1)
    high *= np.sqrt(np.mean(low.astype(np.float64) ** 2) / np.mean(high.astype(np.float64) ** 2))
    return {"low": low, "high": high.astype(np.float32)}


def write_mixture(folder: Path, refs: dict[str, np.ndarray], *, sr: int = SR) -> Path:
    """folder/mix.wav (the sum) and folder/<name>.wav per source."""
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / "mix.wav", sum(refs.values()).astype(np.float32), sr, subtype="FLOAT")
    for name, signal in refs.items():
        sf.write(folder / f"{name}.wav", signal, sr, subtype="FLOAT")
    return folder


def mixtures_dir(root: Path, *, n: int = 2, seconds: float = 2.0) -> Path:
    """root/mixNN/{mix,low,high}.wav for n mixtures."""
    for index in range(n):
        write_mixture(root / f"mix{index:02d}", sources(seconds=seconds, seed=10 * index + 1))
    return root


def _dictionary(signal: np.ndarray, n_components: int) -> np.ndarray:
    """The loudest magnitude frames of a signal, columns normalised to sum to 1."""
    V = spectral.magnitude(signal, n_fft=512, hop_length=128).astype(np.float64)
    loudest = np.argsort(V.sum(axis=0))[-n_components:]
    W = V[:, loudest] + 1e-6
    return W / W.sum(axis=0, keepdims=True)


def tone_preset(*, names: tuple[str, str] = ("low", "high"), n_components: int = 8) -> Preset:
    """An NMF preset trained (crudely) on other low and high notes; ``names`` label the
    low model and the high model — pass ``("high", "low")`` for a preset that swaps."""
    training = sources(seconds=2.0, seed=99)
    models = [SourceModel.from_nmf(name, _dictionary(training[kind], n_components))
              for name, kind in zip(names, ("low", "high"))]
    ordered = sorted(models, key=lambda m: ("low", "high").index(m.name)) \
        if set(names) == {"low", "high"} else models
    return Preset("tones", sr=SR, n_fft=512, hop_length=128, model="nmf", sources=ordered)
