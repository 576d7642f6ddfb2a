"""Writing a preset file (the format is described in :mod:`livesep.presets`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from livesep.checks import show
from livesep.errors import ParameterError, PresetError
from livesep.files import atomic_write
from livesep.presets.format import ARRAYS, COMPANION_PREFIX
from livesep.presets.types import Preset, meta_json

__all__ = ["save"]


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
    entries.update(_arrays(preset))
    if preset.companion is not None:
        entries.update({COMPANION_PREFIX + key: value
                        for key, value in _arrays(preset.companion).items()})

    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            np.savez_compressed(stream, **entries)

    return atomic_write(file, write, error=PresetError)


def _arrays(preset: Preset) -> dict[str, np.ndarray]:
    """A preset's sources' and encoder's arrays by their entry names."""
    entries = {f"source{index}.{key}": np.ascontiguousarray(getattr(source, key),
                                                            dtype=np.float32)
               for index, source in enumerate(preset.sources) for key in ARRAYS}
    if preset.encoder is not None:
        entries.update(preset.encoder.arrays())
    return entries
