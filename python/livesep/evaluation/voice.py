"""Voice isolation on voices and noises no preset heard: the material and the comparison.

Noises made from a seed (:func:`make_noise`), each at unit RMS:

- ``babble``: 4–6 talkers at once (the count from the seed), each a given talker signal
  looped from a random offset, at one RMS with a gain within ±3 dB, summed.
- ``pink``: Gaussian noise with a 1/f power spectrum (flat below 20 Hz) under a slow level
  walk: steps of N(0, 2 dB) every 0.5 s, held within ±8 dB, interpolated linearly.
- ``brown``: the same with a 1/f² power spectrum (a rumble).
- ``fan``: a hum, fundamental in 90–140 Hz wobbling ±0.5 % at 0.1–0.3 Hz, harmonics 1–12 at
  1/k^1.2 with random phases, plus hiss of equal power (white noise, one-pole low-pass at
  1.5–3 kHz).
- ``rain``: drops, 150–300 per s (Poisson), log-normal amplitudes (σ = 0.6), each a noise
  burst decaying in 2.5 ms band-passed (2nd-order Butterworth, 1/3 octave) around one of
  six centres from 0.8 to 6.4 kHz, over hiss high-passed at 1 kHz 12 dB below, under the
  level walk of ``pink``.
- ``keyboard``: words of 2–8 keystrokes at 5–10 per s, 0.2–0.7 s apart (1–2 s after one
  word in six); a keystroke is a press and, 60–120 ms later, a release 6 dB quieter, each a
  noise transient (0.3 ms decay), two damped sines at 1.5–5 kHz (2 ms) and a damped thump
  at 150–300 Hz (8 ms), levels within ±4 dB.

:func:`voice_mixtures` mixes speech and noise at an SNR (power over the whole signals);
:func:`compare` scores :class:`Method` s — a name and a callable from the mixture to a
speech estimate; the noise estimate is the rest of the mixture — beside the noisy input
(floor) and the ideal ratio mask (ceiling) with the figures of ``livesep eval``.
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

from livesep import audio
from livesep.engine import EngineSettings
from livesep.errors import ParameterError
from livesep.evaluation import metrics
from livesep.evaluation.evaluate import score_estimates
from livesep.presets import Preset
from livesep.progress import Progress
from livesep.separation.online import separate_online
from livesep.threads import blas_threads

__all__ = ["CEILING", "FLOOR", "GENERATED_NOISES", "Estimate", "Method", "VoiceMixture",
           "VoiceScore", "compare", "make_noise", "mean_scores", "preset_method",
           "save_mixtures", "voice_mixtures"]

GENERATED_NOISES = ("babble", "pink", "brown", "fan", "rain", "keyboard")
#: The method names of the noisy input and of the ideal ratio mask.
FLOOR, CEILING = "input", "irm"
#: Mixtures are brought to this RMS, lowered if their peak would pass -1 dBFS.
LEVEL_DBFS = -23.0
SOURCES = ("speech", "noise")

Signal = npt.NDArray[np.float32]


def labelled_rng(seed: int, *labels: str) -> np.random.Generator:
    """A generator drawn from ``seed`` and names (a reader, a noise): one stream per name."""
    return np.random.default_rng([seed, *(zlib.crc32(label.encode()) for label in labels)])


def _unit(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    y = np.asarray(x, dtype=np.float64)
    return y / max(float(np.sqrt(np.mean(y * y))), 1e-12)


def _drift(n: int, sr: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    knots = int(np.ceil(n / sr / 0.5)) + 2
    level_db = np.clip(np.cumsum(rng.normal(0.0, 2.0, knots)), -8.0, 8.0)
    return 10.0 ** (np.interp(np.arange(n) / sr, 0.5 * np.arange(knots), level_db) / 20.0)


def _coloured(n: int, sr: int, rng: np.random.Generator, exponent: float
              ) -> npt.NDArray[np.float64]:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum *= np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 20.0) ** (-exponent / 2.0)
    return _unit(np.fft.irfft(spectrum, n)) * _drift(n, sr, rng)


def _babble(n: int, rng: np.random.Generator, talkers: Sequence[Signal]
            ) -> npt.NDArray[np.float64]:
    if not talkers:
        raise ParameterError("babble needs talker signals")
    count = int(rng.integers(4, 7))
    chosen = rng.choice(len(talkers), size=count, replace=len(talkers) < count)
    total = np.zeros(n)
    for index in chosen:
        voice = np.asarray(talkers[index], dtype=np.float64)
        looped = np.resize(np.roll(voice, -int(rng.integers(voice.size))), n)
        total += _unit(looped) * 10.0 ** (rng.uniform(-3.0, 3.0) / 20.0)
    return total


def _fan(n: int, sr: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    t = np.arange(n) / sr
    f0 = rng.uniform(90.0, 140.0) * (1.0 + 0.005 * np.sin(
        2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    hum = sum(k ** -1.2 * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 13))
    lowpass = sps.butter(1, rng.uniform(1500.0, 3000.0), fs=sr, output="sos")
    return _unit(hum) + _unit(sps.sosfilt(lowpass, rng.standard_normal(n)))


def _rain(n: int, sr: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    count = rng.poisson(rng.uniform(150.0, 300.0) * n / sr)
    onsets, amplitudes = rng.integers(0, n, count), rng.lognormal(0.0, 0.6, count)
    centres = [c for c in 800.0 * 2.0 ** (0.6 * np.arange(6)) if c * 2 ** (1 / 6) < 0.45 * sr]
    bands = rng.integers(0, len(centres), count)
    tail = np.arange(int(0.015 * sr))
    burst = rng.standard_normal(tail.size) * np.exp(-tail / (0.0025 * sr))
    drops = np.zeros(n)
    for band, centre in enumerate(centres):
        impulses = np.zeros(n)
        np.add.at(impulses, onsets[bands == band], amplitudes[bands == band])
        edges = [centre * 2.0 ** (-1 / 6), centre * 2.0 ** (1 / 6)]
        bandpass = sps.butter(2, edges, btype="bandpass", fs=sr, output="sos")
        drops += sps.sosfilt(bandpass, sps.fftconvolve(impulses, burst)[:n])
    highpass = sps.butter(2, 1000.0, btype="highpass", fs=sr, output="sos")
    hiss = _unit(sps.sosfilt(highpass, rng.standard_normal(n))) * 10.0 ** (-12 / 20)
    return (_unit(drops) + hiss) * _drift(n, sr, rng)


def _keyboard(n: int, sr: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    k = np.arange(int(0.03 * sr)) / sr
    out = np.zeros(n + 2 * sr + k.size)  # room for the last word's clicks, cut at the end

    def click(at: float, gain: float) -> None:
        wave = rng.standard_normal(k.size) * np.exp(-k / 0.0003) \
            + 0.5 * np.sin(2 * np.pi * rng.uniform(150, 300) * k) * np.exp(-k / 0.008)
        for _ in range(2):
            wave += np.sin(2 * np.pi * (rng.uniform(1500, 5000) * k + rng.random())) \
                * np.exp(-k / 0.002)
        out[int(at * sr):int(at * sr) + k.size] += gain * wave

    now = rng.uniform(0.0, 0.5)
    while now < n / sr:
        for _ in range(int(rng.integers(2, 9))):
            gain = 10.0 ** (rng.uniform(-4.0, 4.0) / 20.0)
            click(now, gain)
            click(now + rng.uniform(0.06, 0.12), gain / 2.0)
            now += 1.0 / rng.uniform(5.0, 10.0)
        now += rng.uniform(1.0, 2.0) if rng.random() < 1 / 6 else rng.uniform(0.2, 0.7)
    return out[:n]


def make_noise(name: str, n: int, *, sr: int, seed: int = 0,
               talkers: Sequence[Signal] = ()) -> Signal:
    """``n`` samples at ``sr`` of a generated noise, one of :data:`GENERATED_NOISES` (see the
    module's description), unit RMS, float32; ``talkers`` (clean speech at ``sr``) for
    ``babble`` only. The same arguments give the same samples."""
    if n < 1 or sr < 8000:
        raise ParameterError(f"a noise needs n >= 1 and sr >= 8000, got {n!r} and {sr!r}")
    rng = labelled_rng(seed, name)
    makers: dict[str, Callable[[], npt.NDArray[np.float64]]] = {
        "babble": lambda: _babble(n, rng, talkers), "pink": lambda: _coloured(n, sr, rng, 1.0),
        "brown": lambda: _coloured(n, sr, rng, 2.0), "fan": lambda: _fan(n, sr, rng),
        "rain": lambda: _rain(n, sr, rng), "keyboard": lambda: _keyboard(n, sr, rng)}
    if name not in makers:
        raise ParameterError(f"unknown generated noise {name!r}; known: "
                             f"{', '.join(GENERATED_NOISES)}")
    return _unit(makers[name]()).astype(np.float32)


@dataclass(frozen=True)
class VoiceMixture:
    """Speech in noise: ``references`` are (speech, noise) as they are in ``mixture``."""

    name: str
    reader: str
    noise: str
    snr_db: float
    sr: int
    mixture: Signal
    references: Signal


def voice_mixtures(speech: Mapping[str, Signal], noises: Mapping[str, Signal], *, sr: int,
                   snrs: Sequence[float] = (0.0, 5.0), seconds: float = 8.0,
                   seed: int = 0) -> list[VoiceMixture]:
    """Every reader x noise x SNR: the first ``seconds`` of each reader's speech over an
    excerpt of the noise (its offset drawn from the seed, reader and noise), named
    ``<reader>-<noise>-<snr>dB``, brought to :data:`LEVEL_DBFS`. Raises
    :class:`ParameterError` for a signal shorter than ``seconds`` or a silent one."""
    n = round(seconds * sr)
    for label, key, value in [("speech", *item) for item in speech.items()] \
            + [("noise", *item) for item in noises.items()]:
        if n < 1 or np.asarray(value).size < n:
            raise ParameterError(f"{label} {key!r} is {np.asarray(value).size / sr:.1f} s "
                                 f"long; a mixture takes {seconds:g} s (> 0)")
    mixtures = []
    for reader, voice in speech.items():
        clean = np.asarray(voice[:n], dtype=np.float64)
        for noise_name, noise in noises.items():
            start = int(labelled_rng(seed, reader, noise_name).integers(
                np.asarray(noise).size - n + 1))
            excerpt = np.asarray(noise[start:start + n], dtype=np.float64)
            if not (np.any(clean) and np.any(excerpt)):
                raise ParameterError(f"silent speech ({reader!r}) or noise ({noise_name!r})")
            for snr in snrs:
                pair = np.stack([clean, _unit(excerpt) * np.sqrt(
                    np.mean(clean ** 2) / 10.0 ** (snr / 10.0))])
                mix = pair.sum(axis=0)
                gain = min(10.0 ** (LEVEL_DBFS / 20.0) / np.sqrt(np.mean(mix ** 2)),
                           10.0 ** (-1 / 20.0) / np.max(np.abs(mix)))
                references = (pair * gain).astype(np.float32)
                mixtures.append(VoiceMixture(
                    name=f"{reader}-{noise_name}-{snr:g}dB", reader=reader, noise=noise_name,
                    snr_db=float(snr), sr=sr, mixture=references.sum(axis=0),
                    references=references))
    return mixtures


def save_mixtures(mixtures: Sequence[VoiceMixture], folder: str | os.PathLike[str]
                  ) -> list[Path]:
    """Write ``folder/<name>/{mix,speech,noise}.wav`` per mixture, as ``livesep eval`` reads
    them; returns the mixture folders."""
    written = [Path(folder) / mixture.name for mixture in mixtures]
    for where, mixture in zip(written, mixtures):
        where.mkdir(parents=True, exist_ok=True)
        for name, samples in zip(("mix", *SOURCES), (mixture.mixture, *mixture.references)):
            audio.write(where / f"{name}.wav", samples, sr=mixture.sr)
    return written


class Estimate(NamedTuple):
    """A method's speech estimate and the seconds of processing its real-time factor counts."""

    speech: Signal
    seconds: float


@dataclass(frozen=True)
class Method:
    """A voice isolation method: a name and a callable from the mixture to an Estimate."""

    name: str
    separate: Callable[[Signal], Estimate]

    @classmethod
    def timed(cls, name: str, separate: Callable[[Signal], npt.ArrayLike]) -> Method:
        """A method from a callable returning the speech estimate, timed whole."""
        def run(mixture: Signal) -> Estimate:
            started = time.perf_counter()
            speech = np.asarray(separate(mixture), dtype=np.float32)
            return Estimate(speech, time.perf_counter() - started)
        return cls(name, run)


def preset_method(preset: Preset, *, sr: int, name: str | None = None,
                  settings: EngineSettings | None = None, block_size: int = 128) -> Method:
    """A preset run online by the C++ engine as live (block by block, at ``sr`` through the
    live path's resamplers when the preset has another rate), timed whole; its speech is the
    source named ``speech``, else the first."""
    index = preset.source_names.index("speech") if "speech" in preset.source_names else 0
    return Method.timed(name or preset.name, lambda y: separate_online(
        y, preset, sr=sr, settings=settings, block_size=block_size)[index])


@dataclass(frozen=True)
class VoiceScore:
    """One method on one mixture: the speech output's figures against the speech (``swapped``
    when BSS Eval's best permutation of speech and noise outputs is not the identity) and
    the processing time (NaN for the floor and ceiling)."""

    mixture: str
    reader: str
    noise: str
    snr_db: float
    method: str
    sdr: float
    sir: float
    sar: float
    si_sdr: float
    stoi: float
    pesq: float
    swapped: bool
    seconds: float
    audio_seconds: float
    pesq_note: str | None = None

    @property
    def rtf(self) -> float:
        """Processing time per second of audio."""
        return self.seconds / self.audio_seconds


def compare(mixtures: Sequence[VoiceMixture], methods: Sequence[Method], *,
            n_fft: int = 512, hop_length: int = 128, mask_power: float | None = None,
            progress: Progress | None = None) -> list[VoiceScore]:
    """Score :data:`FLOOR`, :data:`CEILING` (with this STFT and mask power, by default the
    engine's) and every method on every mixture, in that order per mixture. A speech output
    equal to the mixture is scored as the floor (both outputs the mixture)."""
    names = [FLOOR, CEILING, *(method.name for method in methods)]
    if len(set(names)) != len(names):
        raise ParameterError(f"method names must be distinct, got {', '.join(names)}")
    power = EngineSettings().mask_power if mask_power is None else mask_power
    scores: list[VoiceScore] = []
    with blas_threads(1):
        for mixture in mixtures:
            mix, references = mixture.mixture, mixture.references
            irm = metrics.ideal_ratio_mask(references, n_fft=n_fft, hop_length=hop_length,
                                           power=power, mixture=mix)[0]
            for method in [Method(FLOOR, lambda y: Estimate(y, math.nan)),
                           Method(CEILING, lambda y, irm=irm: Estimate(irm, math.nan)),
                           *methods]:
                speech, seconds = method.separate(mix)
                if speech.shape != mix.shape or not np.all(np.isfinite(speech)):
                    raise ParameterError(f"method {method.name!r} gave {speech.shape} samples "
                                         f"for {mix.shape} on {mixture.name}, or NaN or Inf")
                estimates = metrics.mixture_floor(mix, n_sources=2) \
                    if np.array_equal(speech, mix) else np.stack([speech, mix - speech])
                result = score_estimates(references, estimates, sr=mixture.sr,
                                         source_names=SOURCES, speech=SOURCES[:1])
                own = result.sources["speech"]
                bss = (own.sdr, own.sir, own.sar)
                if result.swapped:  # the speech output's own figures: an estimate's BSS Eval
                    # figures depend on it alone, and identical estimates are never permuted
                    alone = metrics.bss_eval(references, estimates[[0, 0]])
                    bss = (float(alone.sdr[0]), float(alone.sir[0]), float(alone.sar[0]))
                scores.append(VoiceScore(
                    mixture=mixture.name, reader=mixture.reader, noise=mixture.noise,
                    snr_db=mixture.snr_db, method=method.name, sdr=bss[0], sir=bss[1],
                    sar=bss[2], si_sdr=own.si_sdr, stoi=own.stoi, pesq=own.pesq,
                    swapped=result.swapped, seconds=seconds, audio_seconds=mix.size / mixture.sr,
                    pesq_note=own.pesq_note))
                if progress is not None:
                    progress(len(scores) / (len(mixtures) * len(names)))
    return scores


def mean_scores(scores: Sequence[VoiceScore], *, by: str | None = None
                ) -> dict[tuple[str, str], dict[str, float]]:
    """Means per (method, group): ``group`` is the value of the attribute ``by`` (e.g.
    ``"noise"``, ``"snr_db"``) as text, or ``"all"``. Figures are NaN-skipping means;
    ``rtf`` is all the time over all the audio; ``swaps`` and ``n`` are counts."""
    groups: dict[tuple[str, str], list[VoiceScore]] = {}
    for score in scores:
        value = "all" if by is None else getattr(score, by)
        group = f"{value:g}" if isinstance(value, float) else str(value)
        groups.setdefault((score.method, group), []).append(score)
    means = {}
    for key, members in groups.items():
        row = {metric: float(np.nanmean(values)) if np.any(~np.isnan(values)) else math.nan
               for metric in ("sdr", "sir", "sar", "si_sdr", "stoi", "pesq")
               for values in [np.array([getattr(m, metric) for m in members])]}
        row["rtf"] = sum(m.seconds for m in members) / sum(m.audio_seconds for m in members)
        row["swaps"] = float(sum(m.swapped for m in members))
        row["n"] = float(len(members))
        means[key] = row
    return means
