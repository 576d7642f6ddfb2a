"""The exceptions livesep raises; every one derives from :class:`LivesepError`."""

from __future__ import annotations

__all__ = [
    "LivesepWarning",
    "TruncatedAudioWarning",
    "LivesepError",
    "ParameterError",
    "PresetError",
    "AudioFileError",
    "AudioDeviceError",
    "ClusterError",
]


class LivesepError(Exception):
    """Root of every error livesep raises on purpose."""


class ParameterError(LivesepError, ValueError):
    """A bad argument: wrong shape, dtype, range or combination of settings."""


class PresetError(LivesepError):
    """A preset file that cannot be used: missing, corrupt, inconsistent or from another version."""


class AudioFileError(LivesepError):
    """An audio file that cannot be read or written: missing, corrupt, empty or unsupported."""


class AudioDeviceError(LivesepError):
    """An audio device that cannot be opened or that failed while streaming."""


class LivesepWarning(UserWarning):
    """Root of the warnings livesep gives: something a user should know, not a failure."""


class TruncatedAudioWarning(LivesepWarning):
    """An audio file holds less audio than its header promises (a cut-off download or copy):
    what is there is read."""


class ClusterError(LivesepError):
    """A Dask cluster that cannot be reached or started, or that lost the work given to it."""
