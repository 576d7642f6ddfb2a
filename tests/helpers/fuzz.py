"""Property-based fuzzing of the engine, the preset loader and the audio reader.

The strategies and properties live here, once: ``tests/core/test_fuzz_engine.py``,
``tests/presets/test_fuzz_bytes.py`` and ``tests/test_fuzz_audio.py`` run them with few,
derandomised examples (CI), ``benchmarks/bench_fuzz.py`` with many and random seeds. A
property is a plain function of what a strategy draws; it returns nothing or a short outcome
label and raises (an assertion, or whatever escaped the code under test) on a violation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import io
import json
import signal
import struct
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from helpers.preset_files import (
    assert_valid,
    make_convolutive_preset,
    make_preset,
    make_unfolded_preset,
    npy,
)
from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import audio
from livesep._core import Separator
from livesep.engine import OUTPUTS, EngineSettings, build_model, create_separator
from livesep.errors import AudioFileError, PresetError, TruncatedAudioWarning
from livesep.presets import Preset, SourceModel, load, load_meta, save

#: What every CI fuzz test shares: reproducible (derandomised, no example database), no
#: per-example deadline (a time limit inside the properties catches hangs instead).
CI = settings(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32

# --------------------------------------------------------------------------- time limits


class _Overtime(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` in the code under
    test can turn a hang into an ordinary refusal."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail with an AssertionError if the body runs longer than ``seconds`` (main thread).

    A hang inside C code (libsndfile, zlib) never returns to the interpreter to see the
    alarm; for that, a backstop ten times as long dumps every thread's traceback and ends
    the process, so that a run fails instead of hanging.
    """
    def on_alarm(signum: int, frame: object) -> None:
        raise _Overtime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(10 * seconds, exit=True)
    try:
        yield
    except _Overtime:
        raise AssertionError(f"took more than {seconds} s") from None
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- engine: cases

#: How a source is modelled: (kind, size), size being the states of an N-HMM source and the
#: frames of a convolutive one (1 for the others).
SOURCE_KINDS = ("nmf", "nhmm", "adaptive", "convolutive")


@dataclass(frozen=True)
class PresetSpec:
    """A small random preset, as a few numbers (shrinkable, printable). With ``layers`` > 0
    every source is unfolded with that many layers, whatever ``sources`` says."""

    n_fft: int
    hop_length: int
    sources: tuple[tuple[str, int], ...]
    n_components: int
    seed: int
    layers: int = 0

    def build(self) -> Preset:
        """The preset: random sparse dictionaries, sticky transitions."""
        if self.layers:
            return random_unfolded_preset((self.n_components,) * len(self.sources),
                                          self.layers, n_fft=self.n_fft,
                                          hop_length=self.hop_length, seed=self.seed)
        states = tuple(size if kind == "nhmm" else 1 for kind, size in self.sources)
        base = random_preset(states, self.n_components, n_fft=self.n_fft,
                             hop_length=self.hop_length, seed=self.seed)
        rng = np.random.default_rng(self.seed)
        sources = []
        for (kind, size), source in zip(self.sources, base.sources, strict=True):
            if kind == "adaptive":
                source = SourceModel(source.name, W=source.W, A=source.A, pi=source.pi,
                                     adaptive=True)
            elif kind == "convolutive":
                W = rng.random((size, self.n_fft // 2 + 1, self.n_components)) ** 6 + 1e-6
                source = SourceModel.from_nmfd(source.name, W / W.sum(axis=(0, 1), keepdims=True))
            sources.append(source)
        return base.with_sources(sources)


@dataclass(frozen=True)
class Block:
    """One process() call: its length and what its samples are (``kind``, from ``seed``)."""

    size: int
    kind: str
    seed: int


#: Block contents. "sprinkled" is audio with a fifth of its samples replaced by specials.
BLOCK_KINDS = ("audio", "silence", "nan", "inf", "-inf", "denormal", "huge", "max",
               "clipped", "sprinkled")
#: The kinds whose special samples the engine reads as silence (non-finite, denormal).
SILENT_KINDS = ("audio", "silence", "nan", "inf", "-inf", "denormal", "sprinkled")
SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "denormal": 1e-40, "huge": 1e30,
            "max": F32_MAX}


def audio_samples(n: int, seed: int) -> np.ndarray:
    """n samples of coloured noise (``helpers.presets.noise`` wants at least 3)."""
    return noise(max(n, 3), seed=seed)[:n]


def block_samples(block: Block, *, read_as_silence_only: bool = False) -> np.ndarray:
    """The block's float32 samples. Specials get random signs (NaN's sign is moot); with
    ``read_as_silence_only``, "sprinkled" uses only NaN, infinities and denormals."""
    rng = np.random.default_rng(block.seed)
    n = block.size
    signs = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    if block.kind == "audio":
        return audio_samples(n, block.seed)
    if block.kind == "silence":
        return np.zeros(n, np.float32)
    if block.kind in ("inf", "-inf"):
        return np.full(n, SPECIALS[block.kind], np.float32)
    if block.kind in SPECIALS:
        return (signs * np.float32(SPECIALS[block.kind])).astype(np.float32)
    if block.kind == "clipped":  # an overdriven input: full scale, square-ish
        return np.clip(audio_samples(n, block.seed) * 50.0, -1.0, 1.0).astype(np.float32)
    x = audio_samples(n, block.seed)
    kinds = ("nan", "inf", "-inf", "denormal") if read_as_silence_only else tuple(SPECIALS)
    chosen = rng.random(n) < 0.2
    values = np.array([SPECIALS[k] for k in kinds], np.float32)[rng.integers(0, len(kinds), n)]
    x[chosen] = (values * signs)[chosen]
    return x


def as_read(x: np.ndarray) -> np.ndarray:
    """What the engine reads: non-finite and denormal samples as zero (float64)."""
    x = x.astype(np.float64)
    return np.where(np.isfinite(x) & (np.abs(x) >= F32_TINY), x, 0.0)


# Controls issued from another thread while the main thread processes.

@dataclass(frozen=True)
class Gain:
    source: int
    gain: float

    def apply(self, separator: Separator) -> None:
        separator.set_gain(self.source, self.gain)


@dataclass(frozen=True)
class Mute:
    source: int
    on: bool

    def apply(self, separator: Separator) -> None:
        separator.set_muted(self.source, self.on)


@dataclass(frozen=True)
class Solo:
    source: int
    on: bool

    def apply(self, separator: Separator) -> None:
        separator.set_soloed(self.source, self.on)


@dataclass(frozen=True)
class Strength:
    strength: float

    def apply(self, separator: Separator) -> None:
        separator.set_strength(self.strength)


@dataclass(frozen=True)
class Unity:
    """Bypass as the live controls apply it: unity gains, nothing muted or soloed, full
    strength."""

    def apply(self, separator: Separator) -> None:
        for source in range(separator.n_sources):
            separator.set_gain(source, 1.0)
            separator.set_muted(source, False)
            separator.set_soloed(source, False)
        separator.set_strength(1.0)


@dataclass(frozen=True)
class Quality:
    n_iter: int
    beam: int

    def apply(self, separator: Separator) -> None:
        separator.set_quality(n_iter=self.n_iter, beam=self.beam)


@dataclass(frozen=True)
class Swap:
    """A preset change: another preset with the same bins and sources, built and handed
    over on the controlling thread."""

    preset: PresetSpec
    settings: EngineSettings
    mask_power: float | None

    def apply(self, separator: Separator) -> None:
        separator.swap_model(build_model(self.preset.build(), self.settings),
                             mask_power=self.mask_power)


@dataclass(frozen=True)
class Collect:
    """Free the model a swap replaced, as the main thread does from time to time."""

    def apply(self, separator: Separator) -> None:
        separator.collect_retired()


Control = Gain | Mute | Solo | Strength | Unity | Quality | Swap | Collect


@dataclass(frozen=True)
class EngineCase:
    """A separator, the blocks fed to it, the controls another thread issues meanwhile, and
    how the clean tail after them is cut."""

    preset: PresetSpec
    settings: EngineSettings
    output: str
    blocks: tuple[Block, ...]
    controls: tuple[Control, ...]
    tail_sizes: tuple[int, ...]
    tail_extra: int


@dataclass(frozen=True)
class SilenceCase:
    """A stream with samples read as silence, fed twice: as is in ``blocks`` and with those
    samples zeroed, cut into ``other_sizes``; gains, mutes, solos and strength set before
    the stream starts."""

    preset: PresetSpec
    settings: EngineSettings
    output: str
    controls: tuple[Control, ...]
    blocks: tuple[Block, ...]
    other_sizes: tuple[int, ...]


BLOCK_SIZES = st.one_of(st.sampled_from([1, 2, 3, 63, 64, 65, 127, 128, 129, 511, 513]),
                        st.integers(1, 3000))
SEEDS = st.integers(0, 2**16)


@st.composite
def preset_specs(draw: st.DrawFn, *, n_fft: int | None = None, hop_length: int | None = None,
                 n_sources: int | None = None) -> PresetSpec:
    """Small presets: 1-3 sources of any kind, or all unfolded (two presets in nine);
    geometry fixed if given (for swaps)."""
    if n_fft is None:
        n_fft = draw(st.sampled_from([64, 128, 256]))
        hop_length = n_fft // draw(st.sampled_from([2, 4]))
    if n_sources is None:
        n_sources = draw(st.integers(1, 3))
    sources = []
    for _ in range(n_sources):
        kind = draw(st.sampled_from(SOURCE_KINDS))
        sources.append((kind, draw(st.integers(2, 3)) if kind in ("nhmm", "convolutive")
                        else 1))
    assert hop_length is not None
    return PresetSpec(n_fft=n_fft, hop_length=hop_length, sources=tuple(sources),
                      n_components=draw(st.integers(1, 5)), seed=draw(SEEDS),
                      layers=draw(st.sampled_from([0] * 7 + [1, 4])))


ENGINE_SETTINGS = st.builds(
    EngineSettings, n_iter=st.integers(0, 12), beam=st.sampled_from([0, 1, 2, 5, 128]),
    likelihood_counts=st.sampled_from([0.5, 30.0, 1000.0]),
    mask_power=st.sampled_from([1.0, 2.0]), beta=st.sampled_from([0.0, 1.0, 2.0]),
    l1=st.sampled_from([0.0, 0.5]), reseed_floor=st.sampled_from([0.0, 1e-3]),
    forgetting=st.sampled_from([0.5, 0.99, 1.0]), adaptation_prior=st.sampled_from([0.0, 1.0]))

#: Gains: off, unity, a little, a lot.
GAINS = st.one_of(st.sampled_from([0.0, 1.0, 1e3, 1e6]), st.floats(0.0, 10.0))
#: Strengths, out of range and NaN too: the engine clamps them, and reads NaN as 1.
STRENGTHS = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 2.0, float("nan")]), st.floats(0.0, 1.0))


def controls(spec: PresetSpec) -> st.SearchStrategy[Control]:
    """Any control of a separator running ``spec``."""
    source = st.integers(0, len(spec.sources) - 1)
    return st.one_of(
        st.builds(Gain, source, GAINS), st.builds(Mute, source, st.booleans()),
        st.builds(Solo, source, st.booleans()),
        st.builds(Strength, STRENGTHS),
        st.just(Unity()),
        st.builds(Quality, st.sampled_from([-1, 0, 1, 5, 20]),
                  st.sampled_from([-1, 0, 1, 3, 1000])),
        st.builds(Swap, preset_specs(n_fft=spec.n_fft, hop_length=spec.hop_length,
                                     n_sources=len(spec.sources)),
                  ENGINE_SETTINGS, st.sampled_from([None, 1.0, 2.0])),
        st.just(Collect()))


@st.composite
def engine_cases(draw: st.DrawFn) -> EngineCase:
    spec = draw(preset_specs())
    return EngineCase(
        preset=spec, settings=draw(ENGINE_SETTINGS), output=draw(st.sampled_from(OUTPUTS)),
        blocks=tuple(draw(st.lists(st.builds(Block, BLOCK_SIZES, st.sampled_from(BLOCK_KINDS),
                                             SEEDS), min_size=1, max_size=8))),
        controls=tuple(draw(st.lists(controls(spec), max_size=12))),
        tail_sizes=tuple(draw(st.lists(BLOCK_SIZES, min_size=1, max_size=4))),
        tail_extra=draw(st.integers(1, 600)))


@st.composite
def silence_cases(draw: st.DrawFn) -> SilenceCase:
    spec = draw(preset_specs())
    source = st.integers(0, len(spec.sources) - 1)
    fixed = st.one_of(st.builds(Gain, source, GAINS), st.builds(Mute, source, st.booleans()),
                      st.builds(Solo, source, st.booleans()), st.builds(Strength, STRENGTHS))
    return SilenceCase(
        preset=spec, settings=draw(ENGINE_SETTINGS), output=draw(st.sampled_from(OUTPUTS)),
        controls=tuple(draw(st.lists(fixed, max_size=4))),
        blocks=tuple(draw(st.lists(st.builds(Block, BLOCK_SIZES, st.sampled_from(SILENT_KINDS),
                                             SEEDS), min_size=1, max_size=8))),
        other_sizes=tuple(draw(st.lists(BLOCK_SIZES, min_size=1, max_size=4))))


# --------------------------------------------------------------------------- engine: properties

#: Relative slack of the energy bound and of mixture consistency, for float32 rounding.
ENERGY_SLACK = 1e-3
CONSISTENCY = 1e-4


def stream(separator: Separator, x: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """x through the separator in blocks of ``sizes`` (repeated as needed), each block's
    output checked for shape and finiteness."""
    outputs = []
    start = 0
    while start < x.size:
        for size in sizes:
            block = x[start:start + size]
            if block.size == 0:
                break
            outputs.append(checked_output(separator, block))
            start += block.size
    return np.concatenate(outputs, axis=1)


def checked_output(separator: Separator, block: np.ndarray) -> np.ndarray:
    """The separator's output for one block, checked for shape, dtype and finiteness."""
    y = separator.process(block)
    assert y.shape == (separator.n_channels, block.size) and y.dtype == np.float32, y.shape
    bad = np.argwhere(~np.isfinite(y))
    assert bad.size == 0, f"non-finite output at (channel, sample) {bad[:3].tolist()}"
    return y


def assert_energy_bound(y: np.ndarray, x_read: np.ndarray, gain: float, what: str) -> None:
    """Each channel's energy is at most gain² times the input's (see check_engine)."""
    bound = gain * gain * float(np.sum(x_read * x_read)) * (1 + ENERGY_SLACK) + 1e-20
    for channel, samples in enumerate(y.astype(np.float64)):
        energy = float(np.sum(samples * samples))
        assert energy <= bound, (f"{what}: channel {channel} carries energy {energy:g}, more "
                                 f"than gain² x input energy = {bound:g}")


def check_engine(case: EngineCase) -> None:
    """A prepared separator fed any blocks while another thread turns every knob survives
    with sane output, and once the knobs rest it is exact again.

    While the blocks (audio, NaN, ±Inf, denormals, 1e30, float32 max, silence, clipped
    full scale, in blocks of 1 to 3000 samples) go through on this thread, a second thread
    sets gains (0 to 1e6), mutes, solos, strength, unity gains, quality, swaps in models of
    other compatible presets and collects the replaced ones. Then:

    - every output block is finite and shaped (n_channels, len(block));
    - ``latency_samples`` and ``n_channels`` never change;
    - energy: each output channel carries at most g² times the energy of the input as the
      engine reads it (non-finite and denormal samples as zero), g the largest gain set.
      Masks, blended towards the input by strength, lie in [0, 1] and sum to 1 over the
      sources, so every frame's channel spectrum is at most g times the mixture's, bin by
      bin; the sqrt-Hann STFT is a tight frame and its overlap-add the canonical dual, so
      the output's energy is at most that of the frames it came from, which is at most the
      input's. A mask that is NaN, above one or unnormalised, or a state leaking between
      frames, breaks it;
    - after the controls rest at bypass (unity gains, full strength) and the default
      quality, and the last swap is taken up, clean audio fed on (in other block sizes)
      comes out consistently: past the 2 n_fft samples that can still hold earlier input,
      the stems sum to the input delayed by ``latency_samples`` (mono and stereo remixes
      equal it), each channel's energy there is bounded by that clean audio's alone, the
      masks are finite in [0, 1] and sum to one, and every state posterior is finite and
      sums to one. Unless the model's settings let activations die (``l1 > 0`` or
      ``reseed_floor = 0``), its masks are also not the even split it falls back to when
      its estimates are unusable: bad input must not break a model for good.

    Comparing with a fresh separator instead is not a valid property: the warm-started
    activations carry history by design, and two separators with different pasts differ
    for long stretches even on the same clean audio.
    """
    preset = case.preset.build()
    separator = create_separator(preset, settings=case.settings, output=case.output)
    latency, n_channels, n_fft = separator.latency_samples(), separator.n_channels, preset.n_fft
    x = np.concatenate([block_samples(block) for block in case.blocks])
    failures: list[BaseException] = []
    started = threading.Event()

    def turn_knobs() -> None:
        started.wait()
        try:
            for control in case.controls:
                control.apply(separator)
                time.sleep(1e-4)
        except BaseException as error:  # noqa: BLE001 - reported on the main thread
            failures.append(error)

    knobs = threading.Thread(target=turn_knobs, daemon=True)
    knobs.start()
    started.set()
    y = stream(separator, x, [block.size for block in case.blocks])
    knobs.join(timeout=60.0)
    assert not knobs.is_alive(), "the control thread hangs"
    if failures:
        raise failures[0]
    assert separator.latency_samples() == latency and separator.n_channels == n_channels
    gain = max([1.0] + [c.gain for c in case.controls if isinstance(c, Gain)])
    assert_energy_bound(y, as_read(x), gain, "under fire")

    Unity().apply(separator)
    separator.set_quality()
    tail = noise(2 * n_fft + case.tail_extra, seed=case.tail_extra)
    separator.collect_retired()
    first = checked_output(separator, tail[:1])  # takes up a pending swap
    separator.collect_retired()
    assert not separator.swap_pending
    y = np.concatenate([first, stream(separator, tail[1:], case.tail_sizes)], axis=1)
    assert separator.latency_samples() == latency
    settled = slice(2 * n_fft, tail.size)
    delayed = np.concatenate([np.zeros(latency, np.float32), tail])[settled]
    tolerance = CONSISTENCY * float(np.abs(tail).max())
    mix = y.sum(axis=0) if case.output == "stems" else y[0]
    assert np.abs(mix[settled] - delayed).max() <= tolerance, "the outputs do not sum to the input"
    if case.output == "stereo":
        np.testing.assert_array_equal(y[0], y[1])
    assert_energy_bound(y[:, settled], tail.astype(np.float64), 1.0, "settled")
    masks = separator.masks()
    assert np.all(np.isfinite(masks)) and masks.min() >= 0 and masks.max() <= 1 + 1e-6
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-5)
    model = next((c.settings for c in reversed(case.controls) if isinstance(c, Swap)),
                 case.settings)
    if len(masks) > 1 and model.l1 == 0 and model.reseed_floor != 0:
        # Activations reseeded above a floor (any but 0, the default included) and no
        # sparsity pulling them to zero: the model explains the clean audio, so its masks
        # are its own and not the even split it falls back to when its estimates are
        # unusable (bad input broke it for good).
        assert np.any(masks != np.float32(1 / len(masks))), "the model no longer separates"
    for marginal in separator.state_marginals():
        assert np.all(np.isfinite(marginal)) and marginal.min() >= 0
        np.testing.assert_allclose(marginal.sum(), 1.0, atol=1e-3)


def check_read_as_silence(case: SilenceCase) -> None:
    """NaN, ±Inf and denormal input samples are read as silence, exactly, and how the
    stream is cut into blocks does not matter.

    The same preset, settings and controls run twice: once on the stream as drawn, once on it
    with every non-finite or denormal sample replaced by zero and cut into other block
    sizes. The outputs, the last masks and the state posteriors must be identical, bit for
    bit: bad samples leave no trace in any state (STFT, filter, adaptive dictionaries), and
    block boundaries none either.
    """
    preset = case.preset.build()
    x = np.concatenate([block_samples(block, read_as_silence_only=True)
                        for block in case.blocks])
    runs = []
    for signal_, sizes in ((x, [block.size for block in case.blocks]),
                           (as_read(x).astype(np.float32), case.other_sizes)):
        separator = create_separator(preset, settings=case.settings, output=case.output)
        for control in case.controls:
            control.apply(separator)
        runs.append((stream(separator, signal_, sizes), separator.masks(),
                     separator.state_marginals()))
    (y, masks, marginals), (y_zeroed, masks_zeroed, marginals_zeroed) = runs
    np.testing.assert_array_equal(y, y_zeroed)
    np.testing.assert_array_equal(masks, masks_zeroed)
    for one, other in zip(marginals, marginals_zeroed, strict=True):
        np.testing.assert_array_equal(one, other)


# --------------------------------------------------------------------------- byte mutations

@dataclass(frozen=True)
class Mutation:
    """One edit of a byte string: "flip" a bit, "cut" it short, "insert" or "delete"
    bytes, or "overwrite" them. ``where`` is taken modulo the length (so shrinking works
    whatever the length); ``head`` keeps it within the first 64 bytes, where the headers
    are."""

    op: str
    where: int
    head: bool
    value: int
    payload: bytes

    def apply(self, data: bytes) -> bytes:
        span = min(len(data), 64) if self.head else len(data)
        at = self.where % (span + 1)
        if self.op == "flip":
            if not data:
                return data
            at = min(at, len(data) - 1)
            return data[:at] + bytes([data[at] ^ (1 << self.value % 8)]) + data[at + 1:]
        if self.op == "cut":
            return data[:at]
        if self.op == "insert":
            return data[:at] + self.payload + data[at:]
        if self.op == "delete":
            return data[:at] + data[at + 1 + self.value % 16:]
        return data[:at] + self.payload + data[at + len(self.payload):]  # overwrite


MUTATIONS = st.builds(Mutation, st.sampled_from(["flip", "cut", "insert", "delete", "overwrite"]),
                      st.integers(0, 2**20), st.booleans(), st.integers(0, 255),
                      st.binary(min_size=1, max_size=8))


def mutate(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    for mutation in mutations:
        data = mutation.apply(data)
    return data


def mutated(seeds: dict[str, bytes]) -> st.SearchStrategy[bytes]:
    """One of ``seeds`` (named valid files) with 1 to 4 mutations."""
    return st.builds(mutate, st.sampled_from(sorted(seeds)).map(seeds.__getitem__),
                     st.lists(MUTATIONS, min_size=1, max_size=4))


def random_bytes(prefixes: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, some starting like a file of the expected format."""
    return st.builds(lambda prefix, rest: prefix + rest, st.sampled_from([b"", *prefixes]),
                     st.binary(max_size=600))


# --------------------------------------------------------------------------- presets

LOADER_SECONDS = 5.0


@cache
def preset_seeds() -> dict[str, bytes]:
    """Valid preset files: N-HMM beside an adaptive NMF source, N-HMM beside NMFD,
    unfolded sources (format version 2), and plain ones fitted on their lower bins
    (``fit_bins``, version 5)."""
    nhmm = make_preset(n_fft=32, hop_length=8, components=(2, 2))
    fitted_low = dataclasses.replace(nhmm, fit_bins=8, sources=[
        dataclasses.replace(source, adaptive=False) for source in nhmm.sources])
    presets = {"nhmm+adaptive": nhmm, "nhmm+fit_bins": fitted_low,
               "nhmm+convolutive": make_convolutive_preset(n_fft=32, hop_length=8),
               "unfolded": make_unfolded_preset(layers=2, n_fft=32, hop_length=8)}
    with tempfile.TemporaryDirectory() as folder:
        return {name: save(preset, Path(folder) / f"{name}.npz").read_bytes()
                for name, preset in presets.items()}


def zip_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_bytes(members: dict[str, bytes], compression: int) -> bytes:
    stream_ = io.BytesIO()
    with zipfile.ZipFile(stream_, "w", compression) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return stream_.getvalue()


DESCRS = ["'<f4'", "'>f4'", "'<f8'", "'<f2'", "'<U8'", "'<U99999999'", "'|O'", "'<i4'",
          "'|b1'", "'<c8'", "'|V4'", "'|S3'", "'<M8[s]'", "[('a', '<f4')]", "'nonsense'", "3"]
DIMENSIONS = st.sampled_from([0, 1, 2, 3, 4, 17, 33, 2**31, 2**63, -1])


@st.composite
def npy_bytes(draw: st.DrawFn) -> bytes:
    """A ``.npy`` member with a random header (version, dtype, order, shape, or junk), a
    true or false header length, and a random payload."""
    major = draw(st.sampled_from([1, 2, 3, 0, 255]))
    if draw(st.booleans()):
        shape = tuple(draw(st.lists(DIMENSIONS, max_size=4)))
        fortran = draw(st.sampled_from(["True", "False", "1", "None"]))
        header = (f"{{'descr': {draw(st.sampled_from(DESCRS))}, 'fortran_order': {fortran}, "
                  f"'shape': {shape!r}, }}")
    else:
        header = draw(st.text(max_size=80))
    encoded = header.encode("utf8" if major == 3 else "latin1", errors="replace")
    field = "<H" if major == 1 else "<I"
    prefix_size = 6 + 2 + struct.calcsize(field)
    padded = encoded + b" " * (-(prefix_size + len(encoded) + 1) % 64) + b"\n"
    length = draw(st.one_of(st.just(len(padded)), st.integers(0, 2**16 - 1)))
    payload = draw(st.one_of(st.binary(max_size=256),
                             st.builds(lambda n: np.full(n, 0.25, "<f4").tobytes(),
                                       st.integers(0, 200))))
    return (b"\x93NUMPY" + bytes([major, draw(st.sampled_from([0, 1]))])
            + struct.pack(field, length) + padded + payload)


@st.composite
def preset_with_replaced_member(draw: st.DrawFn) -> bytes:
    """A valid preset whose zip has one member replaced by a random ``.npy`` (valid CRCs,
    so the damage reaches the reader's checks, not the zip's)."""
    members = zip_members(preset_seeds()[draw(st.sampled_from(sorted(preset_seeds())))])
    name = draw(st.sampled_from(sorted(members)))
    members[name] = draw(npy_bytes())
    return zip_bytes(members, draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=8)


def meta_paths(meta: dict[str, Any]) -> list[str]:
    """Dotted paths of the fields of a preset's meta, its sources' and their provenance's."""
    paths = sorted(meta)
    for index, source in enumerate(meta["sources"]):
        paths += [f"sources.{index}.{key}" for key in sorted(source)]
        paths += [f"sources.{index}.provenance.{key}" for key in sorted(source["provenance"])]
    return paths


@st.composite
def preset_with_edited_content(draw: st.DrawFn) -> bytes:
    """A valid preset, repacked as numpy writes it, with its content edited: a meta field
    set to any JSON value, deleted, or added; or an array cast (float16, float64, big-endian),
    scaled, or given a special value (NaN, ±Inf, negative, huge, tiny) somewhere."""
    members = zip_members(preset_seeds()[draw(st.sampled_from(sorted(preset_seeds())))])
    name = draw(st.sampled_from(sorted(members)))
    array = np.lib.format.read_array(io.BytesIO(members[name]))
    if name == "meta.npy":
        meta = json.loads(str(array[()]))
        *parents, last = draw(st.sampled_from(meta_paths(meta))).split(".")
        node: Any = meta
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "delete":
            del node[last]
        else:
            node[draw(st.text(max_size=8)) if action == "add" else last] = draw(JSON_VALUES)
        array = np.array(json.dumps(meta))
    else:
        array = array.astype(draw(st.sampled_from(["<f4", "<f2", "<f8", ">f4"])))
        array = array * draw(st.sampled_from([1.0, 0.0, 2.0, -1.0, 1.0001]))
        if draw(st.booleans()) and array.size:
            special = draw(st.sampled_from([np.nan, np.inf, -np.inf, -1e-3, 1e30, 1e-40]))
            with np.errstate(over="ignore"):  # 1e30 as float16 is infinite: fine
                array.flat[draw(st.integers(0, array.size - 1))] = special
    members[name] = npy(array)
    return zip_bytes(members, zipfile.ZIP_DEFLATED)


def preset_bytes() -> st.SearchStrategy[bytes]:
    """Random bytes, mutated valid presets, presets with a member replaced by a random
    ``.npy``, and presets with edited meta fields or array values."""
    return st.one_of(random_bytes([b"PK\x03\x04", b"\x93NUMPY\x01\x00"]),
                     mutated(preset_seeds()), preset_with_replaced_member(),
                     preset_with_edited_content())


def check_preset_bytes(data: bytes) -> str:
    """The preset loader on any bytes: only PresetError (naming the file) comes out, in
    time; what loads is a valid preset the engine accepts and runs, and load_meta agrees
    with load (it reads a subset of what load checks, so it succeeds whenever load does)."""
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.npz"
        path.write_bytes(data)
        with time_limit(LOADER_SECONDS):
            for loader in (load_meta, load):
                try:
                    outcomes.append(loader(path))
                except PresetError as error:
                    assert str(error).startswith(f"{path}: "), str(error)
                    outcomes.append(None)
    info, preset = outcomes
    if preset is None:
        return "rejected"
    assert info is not None, "load accepts a file that load_meta refuses"
    assert_valid(preset)
    assert (info.name, info.sr, info.n_fft, info.hop_length, info.model) == (
        preset.name, preset.sr, preset.n_fft, preset.hop_length, preset.model)
    assert [(s.name, s.n_states, s.n_components, s.adaptive, s.frames, s.layers)
            for s in info.sources] == [(s.name, s.n_states, s.n_components, s.adaptive,
                                        s.frames, s.layers) for s in preset.sources]
    separator = create_separator(preset)
    y = separator.process(noise(4 * preset.n_fft))
    assert np.all(np.isfinite(y))
    return "loaded"


# --------------------------------------------------------------------------- audio files

AUDIO_SECONDS = 5.0
#: (format, subtype, channels, rate) of the valid files the mutations start from.
AUDIO_FORMATS = {"wav-pcm16": ("WAV", "PCM_16", 1, 16000),
                 "wav-float": ("WAV", "FLOAT", 2, 44100),
                 "wav-u8": ("WAV", "PCM_U8", 1, 8000),
                 "flac-16": ("FLAC", "PCM_16", 1, 16000),
                 "flac-24": ("FLAC", "PCM_24", 2, 48000)}


@cache
def audio_seeds() -> dict[str, bytes]:
    """Small valid WAV and FLAC files (300 frames of noise)."""
    seeds = {}
    for name, (fmt, subtype, channels, rate) in AUDIO_FORMATS.items():
        frames = np.stack([noise(300, seed=c) for c in range(channels)], axis=1)
        buffer = io.BytesIO()
        sf.write(buffer, frames, rate, format=fmt, subtype=subtype)
        seeds[name] = buffer.getvalue()
    return seeds


@dataclass(frozen=True)
class AudioCase:
    """Bytes to read as an audio file, and how: its name's suffix and load's arguments."""

    data: bytes
    suffix: str
    sr: int | None
    mono: bool


def audio_cases() -> st.SearchStrategy[AudioCase]:
    data = st.one_of(random_bytes([b"RIFF\x00\x01\x00\x00WAVEfmt ", b"fLaC", b"FORM"]),
                     mutated(audio_seeds()))
    return st.builds(AudioCase, data, st.sampled_from([".wav", ".flac"]),
                     st.sampled_from([None, None, 16000, 44100]), st.booleans())


def check_audio_bytes(case: AudioCase) -> str:
    """The audio reader on any bytes: info and load raise only AudioFileError, in time, and
    warn only with TruncatedAudioWarning (for a file info calls truncated); what loads is
    finite float32 shaped as info says, at the rate asked for."""
    header = y = rate = None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{case.suffix}"
        path.write_bytes(case.data)
        with time_limit(AUDIO_SECONDS), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with contextlib.suppress(AudioFileError):
                header = audio.info(path)
            with contextlib.suppress(AudioFileError):
                y, rate = audio.load(path, sr=case.sr, mono=case.mono)
    surprises = [w for w in caught if not issubclass(w.category, TruncatedAudioWarning)]
    assert not surprises, [f"{w.category.__name__}: {w.message}" for w in surprises]
    if caught:
        assert header is not None and header.truncated, "a warning for a file not cut short"
    if y is None:
        return "rejected"
    assert header is not None, "load reads a file that info refuses"
    assert rate == (case.sr or header.sr) and y.dtype == np.float32 and np.all(np.isfinite(y))
    frames = header.frames if case.sr is None else round(header.frames * case.sr / header.sr)
    mono = case.mono or header.channels == 1
    assert y.shape == ((frames,) if mono else (header.channels, frames)), (y.shape, header)
    return "truncated" if caught else "loaded"


#: Every property by name, with its strategy, for benchmarks/bench_fuzz.py. A check takes
#: what the strategy draws and returns an outcome label (or None) to count.
PROPERTIES: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], str | None]]] = {
    "engine": (engine_cases(), check_engine),
    "engine-silence": (silence_cases(), check_read_as_silence),
    "preset-bytes": (preset_bytes(), check_preset_bytes),
    "audio-bytes": (audio_cases(), check_audio_bytes),
}
