"""Engine speed against the block deadline (what ``livesep bench`` runs).

A signal is streamed block by block, as an audio callback would, through the C++ engine
and through the numpy reference (:mod:`livesep.separation.reference_engine`, the same computation in
vectorised numpy). Every block call is timed; the deadline of a block is the audio it
holds (``block_size / sr``). The engine is timed twice: by its own clock inside C++ (what
an audio callback costs) and from Python around the call (the same clock as the numpy
path, for the ratio).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from livesep.checks import check_int
from livesep.engine import EngineSettings, create_separator
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.separation.online import MAX_BLOCK
from livesep.separation.reference_engine import ReferenceSeparator
from livesep.threads import blas_threads

__all__ = ["BlockTimes", "BenchResult", "bench_signal", "run_bench", "bench_table",
           "split_blocks", "time_calls",
           "ENGINE", "ENGINE_OWN_CLOCK", "NUMPY"]

#: The processors' names in the report.
ENGINE_OWN_CLOCK = "C++ engine, own clock"
ENGINE = "C++ engine"
NUMPY = "numpy reference"


@dataclass(frozen=True)
class BlockTimes:
    """Wall-clock seconds of each block call of one processor.

    Attributes
    ----------
    name : str
        The processor.
    seconds : np.ndarray, shape (n_blocks,)
    deadline : float
        Seconds of audio per block.
    """

    name: str
    seconds: npt.NDArray[np.float64]
    deadline: float

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.seconds, 99))

    @property
    def max(self) -> float:
        return float(self.seconds.max())

    @property
    def late(self) -> int:
        """Blocks that took longer than their deadline."""
        return int(np.count_nonzero(self.seconds > self.deadline))

    @property
    def real_time_factor(self) -> float:
        """Processing time over audio time (below 1: faster than real time)."""
        return float(self.seconds.sum() / (self.deadline * self.seconds.size))


@dataclass(frozen=True)
class BenchResult:
    """Timings of the processors on one signal, with what was measured."""

    preset: str
    shape: str
    settings: EngineSettings
    block_size: int
    sr: int
    seconds: float
    signal: str
    times: list[BlockTimes] = field(default_factory=list)
    machine: str = ""
    n_joint: int = 1


def bench_signal(*, sr: int, seconds: float, seed: int = 0) -> npt.NDArray[np.float32]:
    """A deterministic speech-like test signal: coloured noise under a syllable-rate
    envelope (4 Hz) that never falls silent, so every frame is fitted.

    Returns
    -------
    np.ndarray, shape (round(sr * seconds),), float32
    """
    n = int(round(sr * seconds))
    if n < 1:
        raise ParameterError(f"seconds must give at least one sample, got {seconds!r}")
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(n)
    coloured = np.convolve(white, [1.0, 0.8, 0.5, 0.2], mode="same")
    t = np.arange(n) / sr
    envelope = 0.3 + 0.7 * np.sin(np.pi * 4.0 * t) ** 2
    return (0.05 * coloured * envelope).astype(np.float32)


def split_blocks(signal: npt.NDArray[np.float32], block_size: int
                 ) -> list[npt.NDArray[np.float32]]:
    """Consecutive contiguous blocks of ``block_size`` samples (a partial tail is dropped)."""
    return [np.ascontiguousarray(signal[i:i + block_size])
            for i in range(0, signal.size - block_size + 1, block_size)]


def time_calls(process: Callable[[npt.NDArray[np.float32]], object],
               blocks: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
    """Wall-clock seconds of ``process(block)`` for each block, in order."""
    seconds = np.empty(len(blocks))
    clock = time.perf_counter
    for index, block in enumerate(blocks):
        start = clock()
        process(block)
        seconds[index] = clock() - start
    return seconds


def _time_reference(reference: ReferenceSeparator, blocks: list[npt.NDArray[np.float32]],
                    warmup_blocks: int, progress: Callable[[float], None] | None,
                    done_before: float) -> npt.NDArray[np.float64]:
    for block in blocks[:warmup_blocks]:
        reference.process(block)
    reference.reset()
    seconds = np.empty(len(blocks))
    for start in range(0, len(blocks), 64):
        chunk = blocks[start:start + 64]
        seconds[start:start + len(chunk)] = time_calls(reference.process, chunk)
        if progress is not None:
            progress(done_before + (1 - done_before) * (start + len(chunk)) / len(blocks))
    return seconds


def run_bench(preset: Preset, *, settings: EngineSettings | None = None,
              block_size: int = 128, seconds: float = 10.0,
              signal: npt.ArrayLike | None = None, signal_name: str = "",
              numpy_reference: bool = True, warmup_blocks: int = 20,
              progress: Callable[[float], None] | None = None) -> BenchResult:
    """Time the engine (and the numpy reference) block by block on one signal.

    Parameters
    ----------
    preset : Preset
    settings : EngineSettings, optional, keyword-only
    block_size : int, keyword-only
        Samples per call, as an audio callback's period.
    seconds : float, keyword-only
        Length of the generated signal (ignored when ``signal`` is given).
    signal : array-like, shape (n,), optional, keyword-only
        Audio at ``preset.sr`` to stream instead of :func:`bench_signal`.
    signal_name : str, keyword-only
        How the report names ``signal``.
    numpy_reference : bool, keyword-only
        Also time the numpy reference engine.
    warmup_blocks : int, keyword-only
        Blocks run (and thrown away) before timing, after which the processor is reset.
    progress : callable, optional, keyword-only
        Fraction done.

    Returns
    -------
    BenchResult
    """
    settings = (settings or EngineSettings()).resolved(preset)
    check_int("block_size", block_size, low=1, high=MAX_BLOCK)
    if signal is None:
        if not 0 < seconds <= 3600:
            raise ParameterError(f"seconds must be in (0, 3600], got {seconds!r}")
        audio = bench_signal(sr=preset.sr, seconds=seconds)
        signal_name = "generated speech-like noise (never silent)"
    else:
        audio = np.ascontiguousarray(signal, dtype=np.float32)
    blocks = split_blocks(audio, block_size)
    if len(blocks) < 2:
        raise ParameterError(f"the signal ({audio.size} samples) holds fewer than 2 blocks of "
                             f"{block_size}; give more seconds or a smaller block size")
    deadline = block_size / preset.sr
    times: list[BlockTimes] = []

    separator = create_separator(preset, settings=settings)
    separator.set_snapshots_enabled(False)
    out = np.empty((preset.n_sources, block_size), dtype=np.float32)
    for block in blocks[:warmup_blocks]:
        separator.process(block, out=out)
    separator.reset()
    separator.pop_timings()
    # The numpy reference is the slow part: it gets most of the progress bar.
    engine_share = 0.2 if numpy_reference else 1.0
    inside: list[npt.NDArray[np.float64]] = []
    python_side = np.empty(len(blocks))
    for start in range(0, len(blocks), 1024):  # the engine's timing ring holds 4096 calls
        chunk = blocks[start:start + 1024]
        python_side[start:start + len(chunk)] = time_calls(
            lambda b: separator.process(b, out=out), chunk)
        inside.append(np.asarray(separator.pop_timings()[0], dtype=np.float64))
        if progress is not None:
            progress(engine_share * (start + len(chunk)) / len(blocks))
    engine_clock = np.concatenate(inside)
    if engine_clock.size == len(blocks):
        times.append(BlockTimes(ENGINE_OWN_CLOCK, engine_clock, deadline))
    times.append(BlockTimes(ENGINE, python_side, deadline))

    if numpy_reference:
        with blas_threads(1):  # one thread, like the engine; see livesep.threads
            numpy_times = _time_reference(ReferenceSeparator(preset, settings=settings),
                                          blocks, warmup_blocks, progress, engine_share)
        times.append(BlockTimes(NUMPY, numpy_times, deadline))

    shape = " + ".join(f"{s.name} {s.n_states}x{s.n_components}" for s in preset.sources)
    joint = int(np.prod([s.n_states for s in preset.sources]))
    cpus, load = os.cpu_count() or 1, os.getloadavg()[0]
    machine = (f"{cpus} CPUs, {platform.machine()}, Python {platform.python_version()}, "
               f"numpy {np.__version__}, 1-min load average {load:.2f}")
    if load >= 0.75 * cpus:
        machine += (" — a busy machine: p99 and max include time spent waiting for a CPU "
                    "(preemption), not only work")
    plural = "s" if joint != 1 else ""
    return BenchResult(preset=preset.name,
                       shape=f"{shape} (states x components), {joint} joint state{plural}",
                       settings=settings, block_size=block_size, sr=preset.sr,
                       seconds=len(blocks) * deadline, signal=signal_name, times=times,
                       machine=machine, n_joint=joint)


def bench_table(result: BenchResult) -> object:
    """A rich ``Table`` of the timings: per-block median, p99 and max in microseconds and
    as a share of the deadline, late blocks and the real-time factor, then numpy / C++."""
    from rich import box
    from rich.table import Table

    deadline = result.times[0].deadline
    beam = result.settings.beam
    states = ("one joint state" if result.n_joint == 1
              else f"all {result.n_joint} joint states" if beam == 0 or beam >= result.n_joint
              else f"beam of {beam} of {result.n_joint} joint states")
    table = Table(
        title=f"{result.preset}: {result.shape}",
        caption=(f"{result.seconds:.1f} s of {result.signal} at {result.sr} Hz in blocks of "
                 f"{result.block_size} (deadline {deadline * 1e3:.3f} ms); {states} "
                 f"fitted per frame, {result.settings.n_iter} iterations per fit. %ddl: "
                 f"share of the deadline; RTF: processing time / audio time. The own clock "
                 f"is the engine's timing inside C++, the others are timed from Python "
                 f"around each call; numpy runs with one BLAS thread, as the engine runs "
                 f"on one thread. "
                 f"{result.machine}."),
        caption_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("processor")
    for label in ("median µs", "p99 µs", "max µs", "median %ddl", "p99 %ddl", "max %ddl",
                  "late blocks", "RTF"):
        table.add_column(label, justify="right")
    for t in result.times:
        style = "red" if t.late else None
        table.add_row(t.name, f"{t.median * 1e6:.1f}", f"{t.p99 * 1e6:.1f}",
                      f"{t.max * 1e6:.1f}", f"{100 * t.median / deadline:.1f}%",
                      f"{100 * t.p99 / deadline:.1f}%", f"{100 * t.max / deadline:.1f}%",
                      f"{t.late} / {t.seconds.size}", f"{t.real_time_factor:.4f}", style=style)
    by_name = {t.name: t for t in result.times}
    engine, reference = by_name.get(ENGINE), by_name.get(NUMPY)
    if engine is not None and reference is not None:
        table.add_section()
        table.add_row("numpy / C++ (x slower)", f"{reference.median / engine.median:.1f}",
                      f"{reference.p99 / engine.p99:.1f}", f"{reference.max / engine.max:.1f}",
                      "", "", "", "",
                      f"{reference.real_time_factor / engine.real_time_factor:.1f}",
                      style="bold")
    return table
