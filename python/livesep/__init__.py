"""livesep: real-time single-channel source separation with non-negative models."""

from __future__ import annotations

from livesep._core import Separator
from livesep.errors import (
    AudioDeviceError,
    AudioFileError,
    LivesepError,
    ParameterError,
    PresetError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioDeviceError",
    "AudioFileError",
    "LivesepError",
    "ParameterError",
    "PresetError",
    "Separator",
    "__version__",
]
