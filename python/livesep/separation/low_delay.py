"""The numpy reference for presets fitted frame by frame (unfolded sources, a recurrent
encoder, a companion) in a low-delay mode, where the engine frames each hop twice: through
the symmetric window that dictionaries were trained on, and through the low-delay window
whose frame the masks act on. A recurrent encoder reads the latter, where the newest
milliseconds weigh most; a companion that reads another frame than its preset tracks a
noise floor of its own.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.engine import EngineSettings, latency_geometry
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.separation.offline import blended_masks
from livesep.separation.reference_engine import NumpyStream
from livesep.separation.signals import check_signal

__all__ = ["separate_low_delay"]


def separate_low_delay(y: npt.ArrayLike, preset: Preset, *,
                       settings: EngineSettings | None = None) -> npt.NDArray[np.float32]:
    """What the online engine computes for ``preset`` in a low-delay mode, within float32
    rounding, aligned with ``y`` (its latency taken out).

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
        Unfolded sources or a recurrent encoder, with or without a companion of either.
    settings : EngineSettings, optional
        Inference settings; ``latency`` must give low-delay windows for the preset.

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32

    Raises
    ------
    ParameterError
        For a bad signal, a latency that keeps the symmetric windows, or a model not
        fitted frame by frame.

    Examples
    --------
    >>> import numpy as np
    >>> from livesep import load_preset
    >>> from livesep.engine import EngineSettings
    >>> x = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    >>> low = EngineSettings(latency="low")
    >>> separate_low_delay(x, load_preset("voice"), settings=low).shape
    (2, 4000)
    """
    signal = check_signal(y)
    resolved = (settings or EngineSettings()).resolved(preset)
    hop, synthesis = latency_geometry(preset, resolved.latency)
    if synthesis == 0:
        raise ParameterError(f"latency {resolved.latency!r} keeps preset {preset.name!r}'s "
                             f"symmetric windows; separate_offline is its reference")
    delay = synthesis - 1
    padded = np.concatenate([signal, np.zeros(delay, dtype=np.float32)])
    fit_frames: list[npt.NDArray[np.float64]] = []
    masked_frames: list[npt.NDArray[np.float64]] = []

    def collect(spectrum: npt.NDArray[np.complex64]) -> npt.NDArray[np.complex64]:
        fit_frames.append(np.abs(stream.fit_spectrum).astype(np.float64))
        masked_frames.append(np.abs(spectrum).astype(np.float64))
        return np.zeros((preset.n_sources, spectrum.size), dtype=np.complex64)

    stream = NumpyStream(n_fft=preset.n_fft, hop_length=hop, n_channels=preset.n_sources,
                         on_frame=collect, low_delay=True)
    stream.process(padded)
    fit, masked = np.array(fit_frames), np.array(masked_frames)
    masks = blended_masks(fit, masked, preset, settings=resolved, hop_length=hop)
    if resolved.smoothing > 0:
        reads = masked if preset.encoder is not None else fit
        masks = spectral.smooth_masks(masks, reads.T, seconds=resolved.smoothing, sr=preset.sr,
                                      hop_length=hop)
    per_frame = iter(np.moveaxis(masks, 2, 0).astype(np.float32))
    synthesis_stream = NumpyStream(n_fft=preset.n_fft, hop_length=hop,
                                   n_channels=preset.n_sources, low_delay=True,
                                   on_frame=lambda spectrum: spectrum[None, :] * next(per_frame))
    return synthesis_stream.process(padded)[:, delay:]

