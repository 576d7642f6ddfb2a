"""File mode: an audio file played through the live engine to the output device, as if it
came from the microphone.

Why a :class:`~livesep.live.host.LiveSeparator` subclass that only hands the C++ live host a
signal to read instead of the input device: everything after that point — the engine call,
the rate bridge when the device runs at another rate than the preset, the remix, bypass,
gains, the monitor thread, the quality governor, the statistics and the snapshot ring the
views read — is then the live host itself, not a second copy of it, so file mode shows and
measures exactly what live mode would on the same sound. The price: the stream stays full
duplex, so an input device must exist even though it is not read (a host without any input
device cannot use file mode until the live host offers an output-only stream).

The file is resampled once, to the device rate, before the stream starts; the callback then
copies a slice of it per block (no allocation, no lock).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep import audio
from livesep.errors import AudioFileError
from livesep.live.host import LiveSeparator
from livesep.presets import Preset

__all__ = ["FileSeparator"]


class FileSeparator(LiveSeparator):
    """A :class:`LiveSeparator` whose input is an audio file instead of the input device.

    Parameters
    ----------
    preset : Preset or path-like or str
        As for :class:`LiveSeparator`.
    signal : np.ndarray, shape (n,)
        The file's samples, mono float32.
    signal_rate : int
        Their rate in Hz (resampled to the device rate when the stream starts).
    loop : bool, keyword-only
        Start again at the end; otherwise silence follows and :attr:`finished` turns true.
    **options
        Everything else :class:`LiveSeparator` takes (devices, rate, block size, output).
    """

    def __init__(self, preset: Preset | str | os.PathLike[str], signal: npt.ArrayLike,
                 signal_rate: int, *, loop: bool = True, **options: Any) -> None:
        super().__init__(preset, **options)
        samples = np.ascontiguousarray(signal, dtype=np.float32)
        if samples.ndim != 1 or samples.size == 0:
            raise AudioFileError(f"file mode needs a non-empty mono signal, got shape "
                                 f"{samples.shape}")
        self.signal, self.signal_rate, self.loop = samples, int(signal_rate), bool(loop)
        self._feed_size = 0

    @classmethod
    def from_file(cls, preset: Preset | str | os.PathLike[str],
                  path: str | os.PathLike[str], **options: Any) -> FileSeparator:
        """Read ``path`` (any format :func:`livesep.audio.load` reads; mixed to mono)."""
        signal, rate = audio.load(path, mono=True)
        return cls(preset, signal, rate, **options)

    def start(self) -> FileSeparator:
        """Open the devices and start playing from the beginning of the file."""
        super().start()
        return self

    def input_feed(self) -> tuple[np.ndarray, bool]:
        """The file at the device rate, known once the devices are chosen."""
        feed = audio.resample(self.signal, orig_sr=self.signal_rate, target_sr=self.device_rate)
        feed = np.ascontiguousarray(feed, dtype=np.float32)
        self._feed_size = feed.size
        return feed, self.loop

    @property
    def duration(self) -> float:
        """The file's length in seconds."""
        return self.signal.size / self.signal_rate

    @property
    def position(self) -> float:
        """Seconds into the file of the block the callback last took."""
        if not self.device_rate:
            return 0.0
        return (self.feed_position % max(self._feed_size, 1)) / self.device_rate

    @property
    def finished(self) -> bool:
        """Whether a file played without loop has reached its end."""
        return self.feed_finished
