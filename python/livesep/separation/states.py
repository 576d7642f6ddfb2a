"""Per-state processing (the N-HMM paper's content-aware editing), offline.

An N-HMM state owns one dictionary: for a melodic source, often one note or one sound. The
N-FHMM, smoothed by forward-backward, says how much of each frame each state of each source
explains; that splits a source's stem into one signal per state, and a gain per state edits
the content (e.g. attenuate one note of an arpeggio) without touching the rest.

The state signals of a source add up to its stem: with M_s the source's soft mask and
V_{s,q} the posterior-weighted estimate of state q, state q's mask is M_s * V_{s,q} / V_s.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.engine import EngineSettings
from livesep.errors import ParameterError
from livesep.presets import Preset
from livesep.separation.nfhmm import joint_fits, nfhmm_posteriors
from livesep.spectral import soft_masks

__all__ = ["state_masks", "separate_states", "apply_state_gains", "stems_and_states"]


def state_masks(X: npt.NDArray[np.complex64], preset: Preset, *,
                settings: EngineSettings | None = None) -> list[npt.NDArray[np.float32]]:
    """Every state's mask on the mixture STFT, per source.

    Parameters
    ----------
    X : np.ndarray, shape (F, T), complex
        The mixture's STFT (:func:`livesep.spectral.stft` with the preset's settings).
    preset : Preset
    settings : EngineSettings, optional
        n_iter, likelihood_counts, reseed_floor and mask_power are used.

    Returns
    -------
    list of np.ndarray, each shape (Q_s, F, T), float32
        Source s's state masks; they sum over states to the source's soft mask.
    """
    settings = settings or EngineSettings()
    V = np.abs(X).astype(np.float64)
    posteriors = nfhmm_posteriors(V, preset, settings)
    per_state = [np.zeros((source.n_states,) + V.shape, dtype=np.float32)
                 for source in preset.sources]
    for t, (fits, _, mass) in enumerate(joint_fits(preset, settings, V)):
        for s in range(preset.n_sources):
            per_state[s][:, :, t] = fits.state_estimates(posteriors[t], mass, s)
    totals = np.stack([states.sum(axis=0) for states in per_state])  # (S, F, T)
    source_masks = soft_masks(totals, power=settings.mask_power)
    masks = []
    for s, states in enumerate(per_state):
        share = np.divide(states, totals[s], out=np.full_like(states, 1.0 / states.shape[0]),
                          where=totals[s] > 1e-30)
        masks.append((share * source_masks[s]).astype(np.float32))
    return masks


def _signal(y: npt.ArrayLike) -> npt.NDArray[np.float32]:
    signal = np.ascontiguousarray(y, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ParameterError(f"the signal must be mono and non-empty, shaped (n,), got shape "
                             f"{signal.shape}")
    return signal


def separate_states(y: npt.ArrayLike, preset: Preset, *, source: str,
                    settings: EngineSettings | None = None) -> npt.NDArray[np.float32]:
    """One signal per state of one source.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
    source : str, keyword-only
        The source's name.
    settings : EngineSettings, optional

    Returns
    -------
    np.ndarray, shape (Q, n), float32
        They add up to the source's offline stem.
    """
    signal = _signal(y)
    index = _source_index(preset, source)
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    masks = state_masks(X, preset, settings=settings)[index]
    return np.stack([spectral.istft(X * mask, n_fft=preset.n_fft,
                                    hop_length=preset.hop_length, length=signal.size)
                     for mask in masks])


def stems_and_states(y: npt.ArrayLike, preset: Preset, *,
                     gains: Mapping[str, Mapping[int, float]] | None = None,
                     settings: EngineSettings | None = None
                     ) -> tuple[npt.NDArray[np.float32], list[npt.NDArray[np.float32]]]:
    """Every source's stem (with per-state gains) and every state's own signal.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
    gains : mapping of str to mapping of int to float, keyword-only
        Per source name, the states whose gain is not 1 (``{"piano": {1: 0.0}}``).
    settings : EngineSettings, optional

    Returns
    -------
    stems : np.ndarray, shape (n_sources, n), float32
    states : list of np.ndarray, each shape (Q_s, n), float32
        The states' signals (before gains), which add up to the ungained stems.
    """
    signal = _signal(y)
    weights = [np.ones(source.n_states) for source in preset.sources]
    for name, per_state in (gains or {}).items():
        index = _source_index(preset, name)
        for state, gain in per_state.items():
            if not 0 <= state < preset.sources[index].n_states:
                raise ParameterError(f"source {name!r} has states 0 to "
                                     f"{preset.sources[index].n_states - 1}, got {state!r}")
            if not (np.isfinite(gain) and gain >= 0):
                raise ParameterError(f"a state gain must be finite and >= 0, got {gain!r}")
            weights[index][state] = gain
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    masks = state_masks(X, preset, settings=settings)

    def synthesise(mask: np.ndarray) -> npt.NDArray[np.float32]:
        return spectral.istft(X * mask, n_fft=preset.n_fft, hop_length=preset.hop_length,
                              length=signal.size)

    states = [np.stack([synthesise(mask) for mask in source_masks]) for source_masks in masks]
    stems = np.stack([np.tensordot(w, source_states, axes=1).astype(np.float32)
                      for w, source_states in zip(weights, states)])
    return stems, states


def apply_state_gains(y: npt.ArrayLike, preset: Preset, gains: Mapping[str, npt.ArrayLike], *,
                      settings: EngineSettings | None = None) -> npt.NDArray[np.float32]:
    """Every source's stem with a gain on each of its states.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal at ``preset.sr``.
    preset : Preset
    gains : mapping of str to array-like of shape (Q_s,)
        Per source name, a linear gain per state; sources not named keep gain 1.
    settings : EngineSettings, optional

    Returns
    -------
    np.ndarray, shape (n_sources, n), float32
    """
    signal = _signal(y)
    per_source = []
    for name, values in gains.items():
        index = _source_index(preset, name)
        vector = np.asarray(values, dtype=np.float64)
        states = preset.sources[index].n_states
        if vector.shape != (states,) or not np.all(np.isfinite(vector)) or np.any(vector < 0):
            raise ParameterError(f"gains for {name!r} must be {states} finite values >= 0, got "
                                 f"{np.asarray(values).tolist()!r}")
        per_source.append((index, vector))
    X = spectral.stft(signal, n_fft=preset.n_fft, hop_length=preset.hop_length)
    masks = state_masks(X, preset, settings=settings)
    weights = [np.ones(source.n_states) for source in preset.sources]
    for index, vector in per_source:
        weights[index] = vector
    return np.stack([
        spectral.istft(X * np.tensordot(weights[s], masks[s], axes=1), n_fft=preset.n_fft,
                       hop_length=preset.hop_length, length=signal.size)
        for s in range(preset.n_sources)])


def _source_index(preset: Preset, name: str) -> int:
    if name not in preset.source_names:
        raise ParameterError(f"preset {preset.name!r} has no source {name!r}; its sources are "
                             f"{', '.join(preset.source_names)}")
    return preset.source_names.index(name)
