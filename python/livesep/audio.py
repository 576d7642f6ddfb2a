"""Audio files: reading, mixing down, resampling and writing.

Everything here works on float32 arrays shaped ``(n,)`` for mono or ``(channels, n)``.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from livesep.errors import AudioFileError, ParameterError, TruncatedAudioWarning
from livesep.files import atomic_write
from livesep.resampling import resample

__all__ = ["AudioInfo", "info", "load", "resample", "to_mono", "write", "AUDIO_EXTENSIONS"]

#: File name endings recognised as audio when a folder is scanned.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3", ".opus")


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, read from its header.

    ``frames`` is what the file holds; ``declared_frames`` what its header promises, more
    when the file was cut off (``truncated``).
    """

    path: Path
    sr: int
    channels: int
    frames: int
    declared_frames: int | None = None

    @property
    def truncated(self) -> bool:
        """Whether the file holds less audio than its header promises."""
        return self.declared_frames is not None and self.declared_frames > self.frames

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sr


def _check_readable(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if not file.exists():
        raise AudioFileError(f"{file}: no such file")
    if file.is_dir():
        raise AudioFileError(f"{file}: is a folder, not an audio file")
    return file


def info(path: str | os.PathLike[str]) -> AudioInfo:
    """Read the header of an audio file.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    AudioInfo
        Sample rate, channel count and length in frames.

    Raises
    ------
    AudioFileError
        If the file is missing, unreadable, corrupt or of an unsupported format.
    """
    file = _check_readable(path)
    try:
        header = sf.info(str(file))
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioFileError(f"{file}: not a readable audio file ({_reason(error)})") from None
    return AudioInfo(path=file, sr=int(header.samplerate), channels=int(header.channels),
                     frames=int(header.frames),
                     declared_frames=_declared_frames(header.extra_info, int(header.frames)))


# libsndfile's header log: "data : 64000 (should be 31960)" for a chunk cut short.
_CUT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _declared_frames(log: str, frames: int) -> int | None:
    """The frames a cut-off file's header promises, from libsndfile's log (None: not cut)."""
    match = _CUT_CHUNK.search(log or "")
    if match is None or int(match.group(3)) <= 0:
        return None
    declared, present = int(match.group(2)), int(match.group(3))
    return frames * declared // present if declared > present else None


def warn_if_truncated(header: AudioInfo) -> None:
    """A :class:`~livesep.errors.TruncatedAudioWarning` for a file cut short."""
    if header.truncated:
        promised = header.declared_frames / header.sr  # type: ignore[operator]
        warnings.warn(f"{header.path}: the file is cut short: its header promises "
                      f"{promised:.2f} s of audio, it holds {header.duration:.2f} s (read what "
                      f"is there)", TruncatedAudioWarning, stacklevel=3)


def load(
    path: str | os.PathLike[str], *, sr: int | None = None, mono: bool = True
) -> tuple[npt.NDArray[np.float32], int]:
    """Read an audio file as float32.

    Parameters
    ----------
    path : str or path-like
        Any format libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, MP3 ...).
    sr : int or None, keyword-only
        Resample to this rate (:func:`livesep.resampling.resample`, the resampler of the live
        path, its delay removed); ``None`` keeps the file's rate.
    mono : bool, keyword-only
        Average the channels into one.

    Returns
    -------
    y : np.ndarray, shape (n,) or (channels, n), float32
        The samples: one dimension when ``mono`` or when the file has one channel.
    sr : int
        Their sample rate.

    Raises
    ------
    AudioFileError
        If the file is missing, corrupt, empty, unsupported or holds non-finite samples, or
        if its rate cannot be resampled to ``sr`` (a ratio needing more than
        ``livesep.resampling.MAX_FACTOR`` filter phases, e.g. 44101 Hz to 16000 Hz).
    ParameterError
        If ``sr`` is not a positive rate.

    Warns
    -----
    TruncatedAudioWarning
        If the file holds less audio than its header promises; what is there is read.
    """
    if sr is not None and (not isinstance(sr, (int, np.integer)) or sr <= 0):
        raise ParameterError(f"sr must be a positive integer rate in Hz, got {sr!r}")
    file = _check_readable(path)
    warn_if_truncated(info(file))
    try:
        data, file_sr = _read_frames(file)
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioFileError(f"{file}: not a readable audio file ({_reason(error)})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{file}: the file holds no audio (0 frames)")
    if not np.all(np.isfinite(data)):
        raise AudioFileError(f"{file}: the file holds non-finite samples (NaN or Inf)")
    y = np.ascontiguousarray(data.T)
    if mono or y.shape[0] == 1:
        y = to_mono(y) if y.shape[0] > 1 else np.ascontiguousarray(y[0])
    if sr is not None and sr != file_sr:
        try:
            y = resample(y, orig_sr=int(file_sr), target_sr=int(sr))
        except ParameterError as error:  # the file's rate, not the argument, is at fault
            raise AudioFileError(f"{file}: {error}") from None
        file_sr = sr
    return y, int(file_sr)


#: Samples (frames x channels) read at a time.
_CHUNK_SAMPLES = 1 << 20


def _read_frames(file: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Every frame of ``file`` as float32 (frames, channels), and its rate.

    Read in chunks, so that memory follows what the file holds: reading it whole would
    allocate what its header claims first (a corrupt FLAC header can claim 2**36 frames).
    """
    with sf.SoundFile(str(file)) as stream:
        chunk_frames = max(1, _CHUNK_SAMPLES // stream.channels)
        chunks = [np.empty((0, stream.channels), np.float32)]
        while len(chunk := stream.read(chunk_frames, dtype="float32", always_2d=True)):
            chunks.append(chunk)
        return np.concatenate(chunks), int(stream.samplerate)


def to_mono(y: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Average channels: ``(channels, n)`` → ``(n,)``; a 1-D input is returned as float32."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        return y
    if y.ndim != 2:
        raise ParameterError(f"audio must be shaped (n,) or (channels, n), got shape {y.shape}")
    return np.ascontiguousarray(y.mean(axis=0, dtype=np.float64).astype(np.float32))


def write(path: str | os.PathLike[str], y: npt.ArrayLike, *, sr: int) -> Path:
    """Write a WAV file (32-bit float) atomically: it appears complete or not at all.

    Parameters
    ----------
    path : str or path-like
        Destination; its folder must exist.
    y : array-like, shape (n,) or (channels, n)
        The samples.
    sr : int, keyword-only
        The sample rate in Hz.

    Returns
    -------
    Path
        The written file.
    """
    file = Path(path)
    data = np.asarray(y, dtype=np.float32)
    if data.ndim not in (1, 2) or data.size == 0:
        raise ParameterError(f"audio must be a non-empty (n,) or (channels, n) array, got shape "
                             f"{data.shape}")
    if sr <= 0:
        raise ParameterError(f"sr must be a positive rate in Hz, got {sr!r}")
    frames = data if data.ndim == 1 else data.T
    try:
        return atomic_write(file, lambda name: sf.write(name, frames, sr, format="WAV",
                                                        subtype="FLOAT"), error=AudioFileError)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioFileError(f"{file}: cannot write ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    # libsndfile prefixes its messages with the path, which the caller already names.
    if text.startswith("Error opening"):
        text = text.split(":", 1)[-1].strip()
    return text or type(error).__name__
