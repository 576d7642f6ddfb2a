"""The presets shipped with livesep, found by name, and :func:`load_preset`, which takes a
name or a file."""

from __future__ import annotations

import os
from pathlib import Path

from livesep.errors import PresetError
from livesep.presets.reader import load
from livesep.presets.types import Preset

__all__ = ["shipped_presets_dir", "shipped_presets", "resolve_preset", "load_preset"]

_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_presets_dir() -> Path | None:
    """The folder of shipped presets: inside an installed package, or a source checkout's
    top-level ``presets/`` for an editable install."""
    for candidate in (_PACKAGE / "data" / "presets", _PACKAGE.parents[1] / "presets"):
        if candidate.is_dir() and any(candidate.glob("*.npz")):
            return candidate
    return None


def shipped_presets() -> list[Path]:
    """Every shipped preset file, sorted by name."""
    folder = shipped_presets_dir()
    return sorted(folder.glob("*.npz")) if folder else []


def resolve_preset(spec: str | os.PathLike[str]) -> Path:
    """A preset file from a path or a shipped preset's name (``male-female-nhmm``).

    Raises
    ------
    PresetError
        If neither a file nor a shipped preset of that name exists.
    """
    path = Path(spec)
    if path.is_file():
        return path
    if path.is_dir():
        raise PresetError(f"{path}: is a folder, not a preset file")
    name = path.name.removesuffix(".npz")
    for candidate in shipped_presets():
        if candidate.stem == name and len(path.parts) == 1:
            return candidate
    names = ", ".join(p.stem for p in shipped_presets()) or "none installed"
    raise PresetError(f"{spec}: no such preset file, nor a shipped preset of that name "
                      f"(shipped: {names})")


def load_preset(preset: Preset | str | os.PathLike[str]) -> Preset:
    """A preset from a file or a shipped preset's name, fully checked; a :class:`Preset` is
    returned as it is.

    Parameters
    ----------
    preset : Preset, str or path-like
        A preset, a preset file, or the name of a shipped preset (``"male-female-nhmm"``).

    Returns
    -------
    Preset

    Raises
    ------
    PresetError
        If there is no such file or shipped preset, or the file is not a valid preset.

    Examples
    --------
    >>> from livesep import load_preset
    >>> preset = load_preset("male-female-nhmm")
    >>> preset.source_names, preset.sr
    (('male', 'female'), 16000)
    """
    if isinstance(preset, Preset):
        return preset
    return load(resolve_preset(preset))
