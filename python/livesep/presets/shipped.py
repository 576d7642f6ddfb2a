"""The presets shipped with livesep, found by name, and :func:`load_preset`, which takes a
name or a file."""

from __future__ import annotations

import os
from pathlib import Path

from livesep.errors import PresetError
from livesep.presets.reader import load
from livesep.presets.types import Preset

__all__ = ["DEFAULT_PRESET", "FULL_BAND_PRESET", "default_preset", "shipped_presets_dir",
           "shipped_presets", "resolve_preset", "load_preset"]

#: The shipped preset used when none is named: a voice, any speaker, in any noise (sources
#: ``speech`` and ``noise``).
DEFAULT_PRESET = "voice"
#: The default's full-band version (48 kHz), used when none is named for audio at 44.1 kHz
#: and above: the same separation below 8 kHz, and the band above kept.
FULL_BAND_PRESET = "voice-48k"
#: The lowest rate :func:`default_preset` takes the full-band version for.
FULL_BAND_RATE = 44100

_PACKAGE = Path(__file__).resolve().parents[1]


def shipped_presets_dir() -> Path | None:
    """The folder of shipped presets: inside an installed package, or a source checkout's
    top-level ``presets/`` for an editable install."""
    for candidate in (_PACKAGE / "data" / "presets", _PACKAGE.parents[1] / "presets"):
        if candidate.is_dir() and any(candidate.glob("*.npz")):
            return candidate
    return None


def shipped_presets() -> list[Path]:
    """Every shipped preset file, the default first, then sorted by name."""
    folder = shipped_presets_dir()
    found = sorted(folder.glob("*.npz")) if folder else []
    return sorted(found, key=lambda path: (path.stem != DEFAULT_PRESET, path.name))


def default_preset(sr: float | None = None) -> str:
    """The shipped preset used when none is named, for audio at ``sr`` Hz.

    :data:`FULL_BAND_PRESET` at 44.1 kHz and above when it is shipped (no resampling at
    48 kHz, and stems up to 20 kHz), else :data:`DEFAULT_PRESET`, whose stems hold nothing
    above 8 kHz. ``None`` (the rate is not known) gives :data:`DEFAULT_PRESET`.

    Examples
    --------
    >>> from livesep.presets import default_preset
    >>> default_preset(16000), default_preset(48000)
    ('voice', 'voice-48k')
    """
    if sr is not None and sr >= FULL_BAND_RATE and any(
            path.stem == FULL_BAND_PRESET for path in shipped_presets()):
        return FULL_BAND_PRESET
    return DEFAULT_PRESET


def resolve_preset(spec: str | os.PathLike[str]) -> Path:
    """A preset file from a path or a shipped preset's name (``male-female-nhmm``).

    A string is a path when it looks like one (it holds a ``/`` or ends with ``.npz``), and
    a shipped preset's name otherwise, even if a file of that name is in the current folder:
    write ``./NAME`` for that file. A path-like object is always a path.

    Raises
    ------
    PresetError
        If neither a file nor a shipped preset of that name exists.
    """
    path = Path(spec)
    text = os.fspath(spec)
    shipped = {candidate.stem: candidate for candidate in shipped_presets()}
    names = ", ".join(shipped) or "none installed"
    if isinstance(spec, str) and "/" not in text and os.sep not in text \
            and not text.endswith(".npz"):
        if text in shipped:
            return shipped[text]
        hint = (f"; to use the file {text!r} in this folder, give it as ./{text}"
                if path.exists() else "")
        raise PresetError(f"{spec}: no such preset: no shipped preset of that name (shipped: "
                          f"{names}){hint}")
    if path.is_file():
        return path
    if path.is_dir():
        raise PresetError(f"{path}: is a folder, not a preset file")
    if len(path.parts) == 1 and path.stem in shipped:
        return shipped[path.stem]
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
