"""Training mixtures for models trained on mixtures (:mod:`livesep.models.unfolded.model`): speech
made more varied by speed changes, noise of generic kinds generated from a seed, mixed at
random levels and SNRs, as magnitude frames of the mixture and of each source.

The generic noises are families, not recordings: stationary noise under a random smooth
spectral envelope (a random tilt with a few random resonances), a hum of random pitch with
random harmonics, random impulsive bursts with their own envelope, each slowly modulated,
summed in random proportions; or, asked for, steady: the shaped noise and maybe a hum,
unmodulated, as a fan or a room's hiss is. They teach a model what noise in general looks
like, beside the recorded noises it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.checks import check_float, check_int
from livesep.errors import ParameterError
from livesep.progress import Progress
from livesep.resampling import resample

__all__ = ["MixtureFrames", "perturb_speed", "generic_noise", "mixture_frames"]

Signal = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MixtureFrames:
    """Magnitude frames (T, F) of mixtures and of the speech and noise in them."""

    mixture: npt.NDArray[np.float32]
    speech: npt.NDArray[np.float32]
    noise: npt.NDArray[np.float32]


def perturb_speed(y: npt.ArrayLike, factor: float, *, sr: int) -> Signal:
    """``y`` played ``factor`` times faster (pitch and formants move with it), at ``sr``:
    resampled as if it had been recorded at ``factor * sr`` (rounded to 100 Hz)."""
    rate = int(round(sr * factor / 100.0)) * 100
    signal = np.asarray(y, dtype=np.float32)
    return resample(signal, orig_sr=rate, target_sr=sr) if rate != sr else signal


def _envelope(rng: np.random.Generator, n_bins: int) -> npt.NDArray[np.float64]:
    """A random smooth spectral envelope (linear gain per bin)."""
    bins = np.arange(1, n_bins + 1, dtype=np.float64)
    envelope = bins ** (rng.uniform(-2.5, 0.5) / 2)
    for _ in range(int(rng.integers(0, 5))):
        centre, width, gain = rng.uniform(0, n_bins), rng.uniform(3, 60), rng.uniform(-12, 12)
        envelope *= 10.0 ** (gain / 20.0 * np.exp(-0.5 * ((bins - centre) / width) ** 2))
    return envelope


def _shaped(rng: np.random.Generator, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    spectrum = np.fft.rfft(x)
    envelope = np.interp(np.linspace(0, 1, spectrum.size), np.linspace(0, 1, 512),
                         _envelope(rng, 512))
    shaped = np.fft.irfft(spectrum * envelope, n=x.size)
    return shaped / (np.std(shaped) + 1e-12)


def generic_noise(n: int, *, sr: int, rng: np.random.Generator, steady: bool = False
                  ) -> Signal:
    """``n`` samples of a generic noise drawn from ``rng`` (see the module's description),
    unit RMS before its slow modulation; ``steady`` leaves out the bursts and the
    modulation."""
    check_int("n", n, low=1)
    kind = int(rng.integers(0, 2 if steady else 4))
    out = _shaped(rng, rng.standard_normal(n))
    if kind in (1, 3):  # a hum
        f0 = rng.uniform(40, 400)
        t = np.arange(n) / sr
        hum = sum(rng.uniform(0, 1) / k ** rng.uniform(0.3, 1.5)
                  * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
                  for k in range(1, int(min(30, 0.45 * sr / f0)) + 1))
        out += rng.uniform(0.3, 3) * hum / (np.std(hum) + 1e-12)
    if kind in (2, 3):  # impulsive bursts
        bursts = np.zeros(n)
        length = max(1, int(rng.uniform(0.002, 0.06) * sr))
        decay = np.exp(-np.arange(length) / (length / 4))
        for start in rng.integers(0, n, int(np.exp(rng.uniform(np.log(2), np.log(300)))
                                            * n / sr)):
            end = min(n, start + length)
            bursts[start:end] += (rng.standard_normal(length) * decay)[:end - start] \
                * rng.uniform(0.2, 1.0)
        out += rng.uniform(0.5, 3) * _shaped(rng, bursts)
    if steady:
        return out.astype(np.float32)
    modulation = 1 + rng.uniform(0, 0.8) * np.sin(
        2 * np.pi * rng.uniform(0.05, 2) * np.arange(n) / sr + rng.uniform(0, 2 * np.pi))
    return (out * modulation).astype(np.float32)


def _excerpt(rng: np.random.Generator, signal: Signal, n: int) -> npt.NDArray[np.float64]:
    start = int(rng.integers(0, max(1, signal.size - n + 1)))
    piece = np.asarray(signal[start:start + n], dtype=np.float64)
    return np.pad(piece, (0, n - piece.size))


def mixture_frames(speech: Sequence[Signal], noises: Sequence[Signal], *, sr: int,
                   n_fft: int, hop_length: int, seconds: float, segment: float = 4.0,
                   snr_range: tuple[float, float] = (-5.0, 20.0), generic_share: float = 0.55,
                   steady_share: float = 0.0, speed_range: tuple[float, float] = (0.88, 1.12),
                   seed: int = 0, progress: Progress | None = None) -> MixtureFrames:
    """Frames of ``seconds`` of training mixtures in ``segment``-long pieces: a random
    excerpt of a random speech signal (sped up or down within ``speed_range``, 7 times in
    10) over a random excerpt of a recorded noise or, ``generic_share`` of the time, a
    generic one (``steady_share`` of those steady; sometimes both), at an SNR drawn from
    ``snr_range`` and a level between -35 and -15 dBFS. The same arguments give the same
    frames.

    Raises
    ------
    ParameterError
        Without speech, or with a range the wrong way round.
    """
    check_float("seconds", seconds, low=0.0, low_open=True)
    check_float("segment", segment, low=0.0, low_open=True)
    check_float("generic_share", generic_share, low=0.0, high=1.0)
    check_float("steady_share", steady_share, low=0.0, high=1.0)
    if not speech or snr_range[0] > snr_range[1] or speed_range[0] > speed_range[1]:
        raise ParameterError(f"mixtures need speech and ranges low to high, got "
                             f"{len(speech)} speech signals, snr_range={snr_range}, "
                             f"speed_range={speed_range}")
    rng = np.random.default_rng(seed)
    n = int(segment * sr)
    count = max(1, int(seconds / segment))
    frames: dict[str, list[npt.NDArray[np.float32]]] = {"mix": [], "speech": [], "noise": []}
    for index in range(count):
        voice = speech[int(rng.integers(len(speech)))]
        if rng.random() < 0.7:
            voice = perturb_speed(voice, rng.uniform(*speed_range), sr=sr)
        clean = _excerpt(rng, voice, n)
        if noises and rng.random() >= generic_share:
            noise = _excerpt(rng, noises[int(rng.integers(len(noises)))], n)
        else:
            # Drawn only when asked for, so that the same seeds give the same frames.
            steady = steady_share > 0 and rng.random() < steady_share
            noise = generic_noise(n, sr=sr, rng=rng, steady=steady).astype(np.float64)
        if rng.random() < 0.3:  # a second, generic noise layered on
            noise = noise / (np.std(noise) + 1e-12) \
                + rng.uniform(0.2, 1.0) * generic_noise(n, sr=sr, rng=rng)
        power = np.mean(clean ** 2) + 1e-12
        noise *= np.sqrt(power / 10.0 ** (rng.uniform(*snr_range) / 10.0)
                         / (np.mean(noise ** 2) + 1e-12))
        level = 10.0 ** (rng.uniform(-35, -15) / 20.0) / np.sqrt(
            np.mean((clean + noise) ** 2) + 1e-12)
        for key, signal in (("mix", clean + noise), ("speech", clean), ("noise", noise)):
            frames[key].append(spectral.magnitude((signal * level).astype(np.float32),
                                                  n_fft=n_fft, hop_length=hop_length).T)
        if progress is not None:
            progress((index + 1) / count)
    return MixtureFrames(*(np.concatenate(frames[key]) for key in ("mix", "speech", "noise")))
