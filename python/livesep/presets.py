"""Presets: the trained source models livesep separates with, and the file that holds them.

A preset is a set of 1 to 16 source models trained for one analysis setting (sample rate,
FFT size, hop). Source ``s`` has ``Q`` states; state ``q`` owns a dictionary ``W[q]`` of
``K`` spectral shapes over ``F = n_fft // 2 + 1`` bins (each column sums to 1), and the
states follow a Markov chain with transition matrix ``A`` (rows sum to 1) and initial
distribution ``pi``. Plain supervised NMF / PLCA is ``Q = 1`` (``A = [[1]]``, ``pi = [1]``).
A convolutive (NMFD) source has one state and templates spanning ``τ`` frames (``frames``):
``W[l]`` is the dictionary of the frame ``l`` back, and each template ``W[:, :, k]`` sums to
1 over lags and bins together.

File format ``livesep-preset``, version 1
-----------------------------------------
One ``.npz`` file (a zip of ``.npy`` members, written compressed by :func:`save`; stored
members are accepted too). It is always read with ``allow_pickle=False``. Its entries:

``meta``
    A 0-d numpy unicode array (``<U…``) holding one JSON object::

        {"format": "livesep-preset", "version": 1,
         "name": str, "description": str,
         "sr": int, "n_fft": int, "hop_length": int, "window": "sqrt-hann",
         "model": "nmf" | "nhmm",
         "created": ISO 8601 date or date-time, "livesep_version": str,
         "sources": [{"name": str, "n_states": Q, "n_components": K,
                      "adaptive": bool, "frames": τ, "provenance": {...}}, ...]}

    ``adaptive`` (default false), ``frames`` (default 1) and ``provenance`` (default
    ``{}``) may be left out; every other field is required and no other field is allowed.
    ``provenance`` is free-form JSON; the trainers use the keys ``files``, ``seconds``,
    ``iterations``, ``log_likelihood``, ``seed`` and ``settings``. ``frames`` is written
    only for a convolutive source: ``τ`` in [2, 64], with ``n_states`` 1 and ``adaptive``
    false. Model ``"nmf"`` means one state per source, plain or convolutive.
``source{i}.W``
    Source ``i`` (its position in ``meta["sources"]``), shape ``(Q, F, K)``, float32; each
    column ``W[q, :, k]`` sums to 1. For a convolutive source ``(τ, F, K)``, each template
    ``W[:, :, k]`` summing to 1.
``source{i}.A``
    Shape ``(Q, Q)``, float32, rows sum to 1.
``source{i}.pi``
    Shape ``(Q,)``, float32, sums to 1.

Nothing else may be in the file. :func:`load` checks every field, every ``.npy`` header
(before any array data is read, so a file claiming a huge array cannot make it allocate) and
every value, and raises :class:`~livesep.errors.PresetError` naming the file, the field and
the value.

This module is the public interface; the code lives beside it, one concern a module:
:mod:`livesep.preset_format` (names and limits), :mod:`livesep.preset_checks` (field and
array validation), :mod:`livesep.preset_types` (:class:`SourceModel`, :class:`Preset`),
:mod:`livesep.preset_info` (:class:`PresetInfo`, :class:`SourceInfo`),
:mod:`livesep.preset_reader` (:func:`load`, :func:`load_meta`) and
:mod:`livesep.preset_describe` (:func:`describe`). Import from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

import numpy as np

from livesep.errors import ParameterError, PresetError
from livesep.files import atomic_write
from livesep.preset_checks import show
from livesep.preset_describe import describe
from livesep.preset_format import (
    ARRAYS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_ELEMENTS,
    MAX_FRAMES,
    MAX_META_CHARS,
    MAX_NAME_CHARS,
    MAX_SOURCES,
    MAX_SR,
    MIN_SR,
    MODELS,
    SUM_TOLERANCE,
    WINDOW,
)
from livesep.preset_info import PresetInfo, SourceInfo
from livesep.preset_reader import load, load_meta
from livesep.preset_types import Preset, SourceModel, meta_json

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_ELEMENTS",
    "MAX_FRAMES",
    "MAX_SOURCES",
    "MODELS",
    "WINDOW",
    "Preset",
    "PresetInfo",
    "SourceInfo",
    "SourceModel",
    "combine",
    "describe",
    "load",
    "load_meta",
    "save",
]

# Limits importable from here too (``presets.MIN_SR``), though not part of ``__all__``.
_LIMITS = (MAX_META_CHARS, MAX_NAME_CHARS, MAX_SR, MIN_SR, SUM_TOLERANCE)

_Part = Union[Preset, tuple[Preset, Union[str, Iterable[str]]]]


def combine(*parts: _Part, name: str, description: str | None = None) -> Preset:
    """A new preset made of source models taken from other presets.

    For instance your own voice with the shipped noise model:
    ``combine((mine, "voice"), (shipped, "noise"), name="my voice in noise")``.

    Parameters
    ----------
    *parts : Preset or (Preset, str or iterable of str)
        A whole preset (all its sources), or a preset and the names of the sources to take.
    name : str, keyword-only
        The new preset's name.
    description : str or None, keyword-only
        ``None`` writes where each source came from.

    Returns
    -------
    Preset
        Model ``"nmf"`` if every source has one state (plain or convolutive), else
        ``"nhmm"``.

    Raises
    ------
    PresetError
        If the presets differ in sr, n_fft, hop_length or window, or two chosen sources
        share a name (rename one with :meth:`SourceModel.renamed` first).
    ParameterError
        If a part is not a preset, names a source the preset lacks, or ``name`` is invalid.
    """
    if not parts:
        raise ParameterError("combine needs at least one preset")
    reference: Preset | None = None
    chosen: list[SourceModel] = []
    origins: list[str] = []
    for part in parts:
        if isinstance(part, Preset):
            preset, picked = part, list(part.source_names)
        elif (isinstance(part, tuple) and len(part) == 2 and isinstance(part[0], Preset)):
            preset = part[0]
            picked = [part[1]] if isinstance(part[1], str) else list(part[1])
        else:
            raise ParameterError(f"combine takes presets or (preset, source names) pairs, "
                                 f"got {show(part)}")
        if reference is None:
            reference = preset
        for key in ("sr", "n_fft", "hop_length", "window"):
            if getattr(preset, key) != getattr(reference, key):
                raise PresetError(
                    f"cannot combine preset {preset.name!r} ({key}={getattr(preset, key)!r}) "
                    f"with preset {reference.name!r} ({key}={getattr(reference, key)!r}): "
                    f"{key} must be the same")
        for source_name in picked:
            source = preset.source(source_name)
            for earlier, origin in zip(chosen, origins):
                if earlier.name.casefold() == source.name.casefold():
                    raise PresetError(
                        f"cannot combine source {source.name!r} of preset {preset.name!r} "
                        f"with source {earlier.name!r} of preset {origin!r}: names must "
                        f"differ (rename one with SourceModel.renamed)")
            chosen.append(source)
            origins.append(preset.name)
    assert reference is not None
    if description is None:
        description = "; ".join(f"{source.name} from {origin!r}"
                                for source, origin in zip(chosen, origins))
    model = "nmf" if all(source.n_states == 1 for source in chosen) else "nhmm"
    return Preset(name, description=description, sr=reference.sr, n_fft=reference.n_fft,
                  hop_length=reference.hop_length, window=reference.window, model=model,
                  sources=tuple(chosen))


def save(preset: Preset, path: str | os.PathLike[str]) -> Path:
    """Write a preset atomically: the file appears complete or not at all.

    Parameters
    ----------
    preset : Preset
        What to write.
    path : str or path-like
        Destination (conventionally ``*.npz``); its folder must exist. An existing file is
        replaced only once the new one is completely written.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    PresetError
        If the file cannot be written.
    ParameterError
        If ``preset`` is not a :class:`Preset`.
    """
    if not isinstance(preset, Preset):
        raise ParameterError(f"save needs a Preset, got {show(preset)}")
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"path must be a str or path-like, got {show(path)}")
    file = Path(path)
    entries: dict[str, np.ndarray] = {"meta": np.array(meta_json(preset))}
    for index, source in enumerate(preset.sources):
        for key in ARRAYS:
            entries[f"source{index}.{key}"] = np.ascontiguousarray(getattr(source, key),
                                                                   dtype=np.float32)
    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, **entries)

    return atomic_write(file, write, error=PresetError)
