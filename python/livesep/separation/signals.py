"""What every separation path shares: the input check, masking back to a signal, the
refusal of convolutive and unfolded sources by the references that read W as states, and
separating a signal at another rate than the model's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.checks import check_float
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.resampling import filter_reach, resample

__all__ = ["check_signal", "apply_masks", "refuse_convolutive", "refuse_unfolded",
           "separate_at_rate", "at_strength"]


def check_signal(y: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """``y`` as a C-contiguous float32 mono signal; :class:`ParameterError` if it is not one."""
    signal = np.ascontiguousarray(y, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ParameterError(f"the signal must be mono and non-empty, shaped (n,), got shape "
                             f"{signal.shape}")
    return signal


def refuse_convolutive(preset: Preset, method: str) -> None:
    """The state-based references read W as one dictionary per state; lags are not states."""
    convolutive = [source.name for source in preset.sources if source.frames > 1]
    if convolutive:
        raise ParameterError(
            f"offline separation with convolutive sources ({', '.join(map(repr, convolutive))} "
            f"of preset {preset.name!r}): {method} reads W as one dictionary per state; use "
            f"separate_offline_nmf (batch NMFD, livesep.models.nmfd) or the online engine")


def refuse_unfolded(preset: Preset, method: str) -> None:
    """Unfolded sources hold one dictionary per layer of their fit, not per state; a
    recurrent encoder's sources get their activations from it, not from a fit."""
    if preset.encoder is not None:
        raise ParameterError(
            f"offline separation with preset {preset.name!r} (model 'nae'): {method} fits "
            f"activations, but this preset's come from its recurrent encoder; use "
            f"separate_offline (the encoder in numpy) or the online engine")
    unfolded = [source.name for source in preset.sources if source.layers]
    if unfolded:
        raise ParameterError(
            f"offline separation with unfolded sources ({', '.join(map(repr, unfolded))} of "
            f"preset {preset.name!r}): {method} reads W as one dictionary per state, not per "
            f"layer; use separate_offline (their layered fit) or the online engine")


def apply_masks(X: npt.NDArray[np.complex64], masks: npt.NDArray[np.float64], preset: Preset,
                length: int, *, smoothing: float = 0.0) -> npt.NDArray[np.float32]:
    """Each mask (S, F, T) on the mixture STFT X (F, T), back to ``length`` samples each;
    ``smoothing`` seconds smooth the masks over time first, as the engine does
    (:func:`livesep.spectral.smooth_masks`)."""
    if smoothing > 0:
        masks = spectral.smooth_masks(masks, np.abs(X), seconds=smoothing, sr=preset.sr,
                                      hop_length=preset.hop_length)
    return np.stack([spectral.istft(X * mask, n_fft=preset.n_fft, hop_length=preset.hop_length,
                                    length=length) for mask in masks])


def separate_at_rate(y: npt.NDArray[np.float32], sr: int, rate: int,
                     separate: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
                     ) -> npt.NDArray[np.float32]:
    """``separate`` (signal at ``rate`` in, stems (S, n) out) applied to ``y`` at ``sr``:
    resampled there and back, aligned with ``y`` and as long. Silence around the signal
    keeps the resamplers' ringing past its ends."""
    if sr == rate:
        return _fit_length(separate(y), y.size)
    edge = filter_reach(sr, rate) + -(-filter_reach(rate, sr) * sr // rate)
    stems = separate(resample(np.pad(y, (edge, edge)), orig_sr=sr, target_sr=rate))
    return _fit_length(resample(stems, orig_sr=rate, target_sr=sr)[:, edge:], y.size)


def _fit_length(stems: npt.NDArray[np.float32], length: int) -> npt.NDArray[np.float32]:
    if stems.shape[1] >= length:
        return stems[:, :length]
    return np.pad(stems, ((0, 0), (0, length - stems.shape[1])))


def at_strength(stems: npt.NDArray[np.float32], y: npt.NDArray[np.float32], strength: float
                ) -> npt.NDArray[np.float32]:
    """Stems (S, n) of ``y`` separated only ``strength`` of the way (0 to 1), as the engine
    blends its masks: the first source moves towards ``y`` itself, the others towards
    silence, so the stems still sum to ``y`` (masks are linear in the inverse STFT)."""
    check_float("strength", strength, low=0.0, high=1.0)
    if strength == 1.0:
        return stems
    blended = (strength * stems).astype(np.float32)
    blended[0] += (1.0 - strength) * y[:blended.shape[1]]
    return blended
