"""Separating a signal online: the causal C++ engine block by block, exactly as live.

At the preset's rate that is the engine alone, its latency removed. At another rate it is
the live host's chain (:class:`livesep.live.bridge.RateBridge`): the same resamplers down to
the preset's rate and back around the same engine, whose output a live stream at that
device rate gives sample for sample, the chain's delay later
(:class:`livesep.resampling.Chain`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep._core import Separator
from livesep.checks import check_float, check_int
from livesep.engine import EngineSettings, create_separator
from livesep.presets import Preset
from livesep.progress import Progress
from livesep.resampling import chain, resample_stream
from livesep.separation.signals import check_signal

__all__ = ["separate_online", "MAX_BLOCK"]

#: Most samples per engine call.
MAX_BLOCK = 65536


def separate_online(y: npt.ArrayLike, preset: Preset, *, sr: int | None = None,
                    settings: EngineSettings | None = None, block_size: int = 512,
                    strength: float = 1.0, progress: Progress | None = None
                    ) -> npt.NDArray[np.float32]:
    """Separate with the causal C++ engine, block by block as a live stream would.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``sr``.
    preset : Preset
        The trained sources.
    sr : int, optional, keyword-only
        The signal's rate; default the preset's. At another rate the signal goes through
        the live path's resamplers, as from a device running at ``sr``.
    settings : EngineSettings, optional, keyword-only
        Inference settings.
    block_size : int, keyword-only
        Samples per engine call; the result does not depend on it.
    strength : float, keyword-only
        How far the separation goes, 0 to 1 (``Separator.set_strength``): at 0 the first
        source is ``y`` itself and the others are silent.
    progress : callable, optional, keyword-only
        Called with the fraction done after each block.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
        One stem per source at ``sr``, aligned with ``y`` sample for sample (the path's
        delay is removed by feeding that many zeros after the end).
    """
    signal = check_signal(y)
    check_int("block_size", block_size, low=1, high=MAX_BLOCK)
    rate = preset.sr if sr is None else check_int("sr", sr, low=1)
    separator = create_separator(preset, settings=settings)
    separator.set_strength(check_float("strength", strength, low=0.0, high=1.0))
    latency = separator.latency_samples()
    if rate == preset.sr:
        padded = np.concatenate([signal, np.zeros(latency, dtype=np.float32)])
        return _stream(separator, padded, preset.n_sources, block_size, progress)[:, latency:]
    path = chain(int(rate), preset.sr, latency)
    # The chain is causal: outputs up to delay + n - 1 need the input up to there, and the
    # resamplers a few samples more to complete their last outputs.
    margin = 2 * -(-int(rate) // preset.sr) + 64
    padded = np.concatenate([signal, np.zeros(path.delay + margin, dtype=np.float32)])
    low = resample_stream(padded, int(rate), preset.sr, live=True)
    raw = _stream(separator, low, preset.n_sources, block_size, progress)
    back = resample_stream(np.ascontiguousarray(raw.T), preset.sr, int(rate),
                           input_delay=path.up_input_delay, live=True)
    return np.ascontiguousarray(back[path.delay:path.delay + signal.size].T)


def _stream(separator: Separator, x: npt.NDArray[np.float32], n_sources: int, block_size: int,
            progress: Progress | None) -> npt.NDArray[np.float32]:
    """The engine's raw output (latency included) for ``x``, block by block."""
    stems = np.empty((n_sources, x.size), dtype=np.float32)
    block = np.empty((n_sources, block_size), dtype=np.float32)
    for start in range(0, x.size, block_size):
        stop = min(start + block_size, x.size)
        out = block if stop - start == block_size else np.empty(
            (n_sources, stop - start), dtype=np.float32)
        separator.process(x[start:stop], out=out)
        stems[:, start:stop] = out
        if progress is not None:
            progress(stop / x.size)
    return stems
