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

from livesep.errors import ParameterError
from livesep.presets import Encoder, Preset
from livesep.presets.encoder import FEATURE_FLOOR

__all__ = ["encoder_activations", "recurrent_estimates"]

Array = npt.NDArray[np.float64]


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def encoder_activations(encoder: Encoder, V: npt.ArrayLike) -> Array:
    """The encoder run over frames ``V`` (T, F) from zero states: (T, sum K_s) activations,
    the sources' side by side."""
    frames = np.asarray(V, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != encoder.n_bins:
        raise ParameterError(f"V must be (T, {encoder.n_bins}) magnitude frames, got shape "
                             f"{frames.shape}")
    w = {key: np.asarray(value, dtype=np.float64) if not isinstance(value, tuple)
         else [np.asarray(v, dtype=np.float64) for v in value]
         for key, value in encoder.__dict__.items()}
    h = encoder.n_hidden
    states = [np.zeros(h) for _ in range(encoder.n_layers)]
    out = np.zeros((frames.shape[0], sum(encoder.n_components)))
    for t, m in enumerate(frames):
        x = np.log(np.minimum(m * m, 1e30) + FEATURE_FLOOR)
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


def recurrent_estimates(preset: Preset, V: npt.ArrayLike) -> Array:
    """Each source's estimate (T, S, F) for frames ``V`` (T, F) of a model ``"nae"`` preset:
    its dictionary times its activations from the encoder."""
    if preset.encoder is None:
        raise ParameterError(f"preset {preset.name!r} has no recurrent encoder (model "
                             f"{preset.model!r}, not 'nae')")
    activations = encoder_activations(preset.encoder, V)
    edges = np.cumsum([0, *preset.encoder.n_components])
    return np.stack([activations[:, a:b] @ source.W[0].T.astype(np.float64)
                     for source, a, b in zip(preset.sources, edges, edges[1:])], axis=1)
