"""Separating a signal online: the causal C++ engine block by block, exactly as live."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep.engine import EngineSettings, create_separator
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.progress import Progress
from livesep.separation.signals import check_signal

__all__ = ["separate_online"]


def separate_online(y: npt.ArrayLike, preset: Preset, *, settings: EngineSettings | None = None,
                    block_size: int = 512, progress: Progress | None = None
                    ) -> npt.NDArray[np.float32]:
    """Separate with the causal C++ engine, block by block as a live stream would.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        The trained sources.
    settings : EngineSettings, optional
        Inference settings.
    block_size : int, keyword-only
        Samples per engine call; the result does not depend on it.
    progress : callable, optional
        Called with the fraction done after each block.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
        One stem per source, aligned with ``y`` sample for sample (the engine's latency is
        removed by feeding that many zeros after the end).
    """
    signal = check_signal(y)
    if block_size < 1:
        raise ParameterError(f"block_size must be >= 1, got {block_size!r}")
    separator = create_separator(preset, settings=settings)
    latency = separator.latency_samples()
    padded = np.concatenate([signal, np.zeros(latency, dtype=np.float32)])
    stems = np.empty((preset.n_sources, padded.size), dtype=np.float32)
    block = np.empty((preset.n_sources, block_size), dtype=np.float32)
    for start in range(0, padded.size, block_size):
        stop = min(start + block_size, padded.size)
        out = block if stop - start == block_size else np.empty(
            (preset.n_sources, stop - start), dtype=np.float32)
        separator.process(padded[start:stop], out=out)
        stems[:, start:stop] = out
        if progress is not None:
            progress(stop / padded.size)
    return stems[:, latency:]
