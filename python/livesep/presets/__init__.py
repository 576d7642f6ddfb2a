"""Presets: the trained source models livesep separates with, and the file that holds them.

A preset is a set of 1 to 16 source models trained for one analysis setting (sample rate,
FFT size, hop). Source ``s`` has ``Q`` states; state ``q`` owns a dictionary ``W[q]`` of
``K`` spectral shapes over ``F = n_fft // 2 + 1`` bins (each column sums to 1), and the
states follow a Markov chain with transition matrix ``A`` (rows sum to 1) and initial
distribution ``pi``. Plain supervised NMF / PLCA is ``Q = 1`` (``A = [[1]]``, ``pi = [1]``).
A convolutive (NMFD) source has one state and templates spanning ``τ`` frames (``frames``):
``W[l]`` is the dictionary of the frame ``l`` back, and each template ``W[:, :, k]`` sums to
1 over lags and bins together. Unfolded sources (deep NMF, Le Roux, Hershey & Weninger 2015)
have one state and ``L`` layers (``layers``): for each frame the activations of all sources
start flat, layer ``l`` makes one multiplicative update with the dictionaries ``W[l]`` of
every source side by side, and each source's estimate is its ``W[L]`` times its
activations. They are trained together through these very updates, so a preset's sources
are all unfolded, with the same ``L``, or none is.

A recurrent non-negative autoencoder (model ``"nae"``) has plain sources (one state, one
frame) whose dictionaries are its decoder, and an :class:`Encoder`: a small recurrent network
that reads the mixture's frames in order and gives every source's activations, in place of
the activation fit (:mod:`livesep.presets.encoder` has its equations). Its weights are
trained with the dictionaries, on mixtures.

A preset may carry a companion: a second preset of the same sources and frames, run beside
it, whose masks are mixed into its own (``companion_share`` of them) before any smoothing. A
companion at a lower rate, with frames as long in seconds, covers the lower bins.

File format ``livesep-preset``, versions 1 to 7
-----------------------------------------------
Version 2 adds unfolded sources (the field ``layers``), version 3 recurrent encoders (the
field ``encoder`` and the ``encoder.*`` arrays), version 4 noise floors (a source's
``floor``), version 5 a fit on the lower bins (``fit_bins``), version 6 a companion (the
field ``companion`` and the ``companion.*`` arrays), version 7 a fit on bands above a
frequency (``fit_bands_above``); each is written only for
presets that have them, every other preset in the oldest version that holds it, which older
livesep reads too. A file of a version this livesep does not know is refused.

One ``.npz`` file (a zip of ``.npy`` members, written compressed by :func:`save`; stored
members are accepted too). It is always read with ``allow_pickle=False``. Its entries:

``meta``
    A 0-d numpy unicode array (``<U…``) holding one JSON object::

        {"format": "livesep-preset", "version": 1 | 2 | 3 | 4 | 5 | 6 | 7,
         "name": str, "description": str,
         "sr": int, "n_fft": int, "hop_length": int, "window": "sqrt-hann",
         "model": "nmf" | "nhmm" | "nae",
         "created": ISO 8601 date or date-time, "livesep_version": str,
         "sources": [{"name": str, "n_states": Q, "n_components": K,
                      "adaptive": bool, "frames": τ, "layers": L, "floor": w,
                      "provenance": {...}}, ...],
         "encoder": {"hidden": H, "layers": L},
         "fit_bins": B, "fit_bands_above": Hz,
         "companion": {"share": s, "preset": {...}}}

    ``adaptive`` (default false), ``frames`` (default 1), ``layers`` (default 0), ``floor``
    (default 0), ``provenance`` (default ``{}``), ``encoder``, ``fit_bins``,
    ``fit_bands_above`` and ``companion`` may be left out; every other field is required and
    no other field is allowed. ``companion`` (version 6 on) holds the companion's share of
    the masks, ``s`` in (0, 1), and its own ``meta`` object (of version at most the file's,
    without a companion, with the same source names, and the same ``sr``, ``n_fft`` and
    ``hop_length`` or a lower ``sr`` with ``n_fft`` and ``hop_length`` as long in seconds);
    its arrays are the entries below with ``companion.`` before their names. ``floor`` (version 4
    on) is the weight of a noise floor column the engine tracks from the stream, in (0,
    1e6], for a source that neither adapts nor spans frames. ``fit_bins`` (version 5 on,
    ``B`` in [2, F - 1]) fits the activations on the lowest ``B`` bins only, the estimates
    still covering every bin (a noise floor joins the fit on those bins), for sources
    without layers, frames or adaptation and no encoder. ``fit_bands_above`` (version 7 on,
    in (0, sr / 2) Hz) fits the activations bin by bin below it and on bands of 1/12 octave
    above it (:func:`livesep.spectral.fit_bands`; the estimates still cover every bin), for
    sources without frames or adaptation, no encoder, and no ``fit_bins``.
    ``provenance`` is free-form JSON; the trainers use the keys ``files``, ``seconds``,
    ``iterations``, ``log_likelihood``, ``seed`` and ``settings``. ``frames`` is written
    only for a convolutive source: ``τ`` in [2, 64], with ``n_states`` 1 and ``adaptive``
    false. ``layers`` exists from version 2 on (a version 1 file must not hold it) and is
    written only for an unfolded source: ``L`` in [1, 64], with ``n_states`` 1, ``frames``
    1 and ``adaptive`` false, and every source of the file unfolded with the same ``L``
    under model ``"nmf"``. Model ``"nmf"`` means one state per source, plain, convolutive
    or unfolded.
``source{i}.W``
    Source ``i`` (its position in ``meta["sources"]``), shape ``(Q, F, K)``, float32; each
    column ``W[q, :, k]`` sums to 1. For a convolutive source ``(τ, F, K)``, each template
    ``W[:, :, k]`` summing to 1. For an unfolded source ``(L + 1, F, K)``: ``W[l]`` the
    dictionary of layer ``l`` and ``W[L]`` the estimate's, each column of a layer
    ``W[l, :, k]`` (``l < L``) summing to 1; the estimate's keep the scale they were
    trained with.
``source{i}.A``
    Shape ``(Q, Q)``, float32, rows sum to 1.
``source{i}.pi``
    Shape ``(Q,)``, float32, sums to 1.
``encoder.*``
    ``encoder.input_weights``, ``encoder.input_bias``, per layer ``l``
    ``encoder.layer{l}.gate_inputs``, ``.gate_hiddens``, ``.gate_input_biases``,
    ``.gate_hidden_biases``, per source ``encoder.source{i}.output_weights``,
    ``.output_biases``, ``.output_scales``. Only with ``meta["encoder"]`` (version 3,
    model ``"nae"``, which requires it): the encoder's float32 weights, shaped ``(H, F)``,
    ``(H,)``, ``(3H, H)``, ``(3H, H)``, ``(3H,)``, ``(3H,)``, ``(K_i, H)``, ``(K_i,)``,
    ``(K_i,)``; finite, scales positive.
``companion.*``
    The companion's ``source{i}.*`` and ``encoder.*`` arrays, as above. Only with
    ``meta["companion"]``.

Nothing else may be in the file. :func:`load` checks every field, every ``.npy`` header
(before any array data is read, so a file claiming a huge array cannot make it allocate) and
every value, and raises :class:`~livesep.errors.PresetError` naming the file, the field and
the value.

This module is the public interface; the code lives beside it, one concern a module:
:mod:`livesep.presets.format` (names and limits), :mod:`livesep.presets.checks` (field and
array validation), :mod:`livesep.presets.source` (:class:`SourceModel`),
:mod:`livesep.presets.types` (:class:`Preset` and its ``meta``),
:mod:`livesep.presets.info` (:class:`PresetInfo`, :class:`SourceInfo`),
:mod:`livesep.presets.reader` (:func:`load`),
:mod:`livesep.presets.describe` (:func:`load_meta`, :func:`describe`) and
:mod:`livesep.presets.extend` (:func:`extend_band`: a preset at a higher rate). Import from
here.
"""

from __future__ import annotations

from livesep.presets.compose import combine
from livesep.presets.describe import describe, load_meta
from livesep.presets.encoder import Encoder
from livesep.presets.extend import extend_band
from livesep.presets.format import (
                                    FORMAT_NAME,
                                    FORMAT_VERSION,
                                    FORMAT_VERSIONS,
                                    MAX_ELEMENTS,
                                    MAX_FRAMES,
                                    MAX_LAYERS,
                                    MAX_SOURCES,
                                    MODELS,
                                    WINDOW,
)
from livesep.presets.info import PresetInfo, SourceInfo
from livesep.presets.reader import load
from livesep.presets.shipped import (
    DEFAULT_PRESET,
    FULL_BAND_PRESET,
    default_preset,
    load_preset,
    resolve_preset,
    shipped_presets,
)
from livesep.presets.source import SourceModel
from livesep.presets.types import Preset
from livesep.presets.writer import save

__all__ = [
    "DEFAULT_PRESET",
    "FULL_BAND_PRESET",
    "default_preset",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "MAX_ELEMENTS",
    "MAX_FRAMES",
    "MAX_LAYERS",
    "MAX_SOURCES",
    "MODELS",
    "WINDOW",
    "Encoder",
    "Preset",
    "PresetInfo",
    "SourceInfo",
    "SourceModel",
    "combine",
    "extend_band",
    "describe",
    "load",
    "load_meta",
    "load_preset",
    "resolve_preset",
    "save",
    "shipped_presets",
]
