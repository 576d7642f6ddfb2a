"""The recurrent non-negative autoencoder of model ``"nae"`` presets, in numpy: the slow,
obvious forward pass that the engine's C++ encoder must match, and the offline separation.

The encoder (weights in :class:`livesep.presets.Encoder`, equations in
:mod:`livesep.presets.encoder`) reads the mixture's magnitude frames in order and gives each
source's non-negative activations; each source's dictionary (its decoder) turns them into
the source's estimate. It is trained on mixtures (``scripts/train_voice_preset.py``), so
that the soft masks from the estimates separate well.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep import spectral
from livesep.errors import ParameterError
from livesep.presets import Encoder, Preset
from livesep.presets.encoder import FEATURE_FLOOR

__all__ = ["encoder_activations", "encoder_features", "recurrent_estimates"]

Array = npt.NDArray[np.float64]


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def encoder_features(m: npt.ArrayLike, floor: npt.ArrayLike | None = None) -> Array:
    """An encoder's input for frames of magnitudes ``m`` (..., F): their log power, or, with
    the noise floor's power ``floor`` under them (same shape; a noise-aware encoder), their
    a posteriori SNR against it and their level over its mean (..., 2 F)."""
    power = np.minimum(np.square(np.asarray(m, dtype=np.float64)), 1e30)
    if floor is None:
        return np.log(power + FEATURE_FLOOR)
    noise = np.asarray(floor, dtype=np.float64)
    level = noise.mean(axis=-1, keepdims=True) + 1e-20
    return np.concatenate([
        np.clip(np.log10((power + 1e-20) / (noise + 1e-20 + 1e-6 * level)), -3.0, 6.0),
        np.clip(np.log10((power + 1e-20) / level), -6.0, 6.0)], axis=-1)


def encoder_activations(encoder: Encoder, V: npt.ArrayLike,
                        floor: npt.ArrayLike | None = None) -> Array:
    """The encoder run over frames ``V`` (T, F) from zero states: (T, sum K_s) activations,
    the sources' side by side. A noise-aware encoder needs ``floor``, the noise floor's
    magnitudes (T, F) under each frame (:func:`livesep.spectral.noise_floor`)."""
    frames = np.asarray(V, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != encoder.n_bins:
        raise ParameterError(f"V must be (T, {encoder.n_bins}) magnitude frames, got shape "
                             f"{frames.shape}")
    floors = None if floor is None else np.square(np.asarray(floor, dtype=np.float64))
    if encoder.noise_aware and (floors is None or floors.shape != frames.shape):
        raise ParameterError(f"a noise-aware encoder needs the noise floor under each frame, "
                             f"shape {frames.shape}, got "
                             f"{None if floors is None else floors.shape}")
    w = {key: np.asarray(value, dtype=np.float64) if not isinstance(value, tuple)
         else [np.asarray(v, dtype=np.float64) for v in value]
         for key, value in encoder.__dict__.items()}
    h = encoder.n_hidden
    states = [np.zeros(h) for _ in range(encoder.n_layers)]
    out = np.zeros((frames.shape[0], sum(encoder.n_components)))
    for t, m in enumerate(frames):
        x = encoder_features(m, floors[t] if encoder.noise_aware else None)
        layer_input = np.tanh(w["input_weights"] @ x + w["input_bias"])
        for layer, state in enumerate(states):
            gi = w["gate_inputs"][layer] @ layer_input + w["gate_input_biases"][layer]
            gh = w["gate_hiddens"][layer] @ state + w["gate_hidden_biases"][layer]
            reset = _sigmoid(gi[:h] + gh[:h])
            update = _sigmoid(gi[h:2 * h] + gh[h:2 * h])
            fresh = np.tanh(gi[2 * h:] + reset * gh[2 * h:])
            states[layer] = (1.0 - update) * fresh + update * state
            layer_input = states[layer]
        out[t] = np.concatenate([
            scale * np.logaddexp(0.0, weights @ layer_input + bias)
            for weights, bias, scale in zip(w["output_weights"], w["output_biases"],
                                            w["output_scales"])])
    return out


def recurrent_estimates(preset: Preset, V: npt.ArrayLike, *,
                        floor: npt.ArrayLike | None = None) -> Array:
    """Each source's estimate (T, S, F) for frames ``V`` (T, F) of a model ``"nae"`` preset:
    its dictionary times its activations from the encoder. A noise-aware encoder reads
    ``floor`` (T, F), by default the noise floor tracked through the frames in order."""
    if preset.encoder is None:
        raise ParameterError(f"preset {preset.name!r} has no recurrent encoder (model "
                             f"{preset.model!r}, not 'nae')")
    if not preset.encoder.noise_aware:
        floor = None
    elif floor is None:
        floor = spectral.noise_floor(np.asarray(V, dtype=np.float64), sr=preset.sr,
                                     hop_length=preset.hop_length)
    activations = encoder_activations(preset.encoder, V, floor)
    edges = np.cumsum([0, *preset.encoder.n_components])
    return np.stack([activations[:, a:b] @ source.W[0].T.astype(np.float64)
                     for source, a, b in zip(preset.sources, edges, edges[1:])], axis=1)
