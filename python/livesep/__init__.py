"""livesep: real-time single-channel source separation with non-negative models.

The public face, for scripts: :func:`load_preset` (a shipped preset by name, or a file),
:func:`create_separator` and :class:`EngineSettings` (the C++ engine, :class:`Separator`,
for any block size), :func:`separate_file` (an audio file into stem files),
:class:`LiveSeparator` (a live stream between audio devices) and the errors, all derived
from :class:`LivesepError`. The subpackages hold the rest: :mod:`livesep.presets`,
:mod:`livesep.models` (training), :mod:`livesep.separation`, :mod:`livesep.live`,
:mod:`livesep.evaluation`; :mod:`livesep.cli` and :mod:`livesep.gui` sit on top.
"""

from __future__ import annotations

from livesep._core import Separator
from livesep.engine import EngineSettings, create_separator
from livesep.errors import (
    AudioDeviceError,
    AudioFileError,
    LivesepError,
    ParameterError,
    PresetError,
)
from livesep.live import LiveSeparator
from livesep.presets import load_preset
from livesep.separation import separate_file
from livesep.version import __version__

__all__ = [
    "AudioDeviceError",
    "AudioFileError",
    "EngineSettings",
    "LiveSeparator",
    "LivesepError",
    "ParameterError",
    "PresetError",
    "Separator",
    "__version__",
    "create_separator",
    "load_preset",
    "separate_file",
]
