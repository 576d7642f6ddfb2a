"""File mode: an audio file played through the live engine to the output device, as if it
came from the microphone.

Why a :class:`~livesep.stream.LiveSeparator` subclass that only swaps the callback's input
for the file's next block: everything after that point — the engine call, the rate bridge
when the device runs at another rate than the preset, the remix, bypass, gains, the
monitor thread, the quality governor, the statistics and the snapshot ring the views read —
is then the live host itself, not a second copy of it, so file mode shows and measures
exactly what live mode would on the same sound. The price: the stream stays full duplex,
so an input device must exist even though it is not read (a host without any input device
cannot use file mode until the live host offers an output-only stream).

The file is resampled once, to the device rate, when the stream starts; the callback then
only copies a slice of it into a preallocated buffer (no allocation, no lock) before the
usual engine call.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt

from livesep import audio
from livesep.errors import AudioFileError
from livesep.presets import Preset
from livesep.stream import LiveSeparator

__all__ = ["FileSeparator"]

_PREALLOCATED = 16384  # frames: more than any callback asks for in practice


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
        self._feed: npt.NDArray[np.float32] | None = None  # at the device rate, once started
        self._position = 0
        self._input = np.zeros((_PREALLOCATED, self.input_channel + 1), dtype=np.float32)
        self.finished = False

    @classmethod
    def from_file(cls, preset: Preset | str | os.PathLike[str],
                  path: str | os.PathLike[str], **options: Any) -> FileSeparator:
        """Read ``path`` (any format :func:`livesep.audio.load` reads; mixed to mono)."""
        signal, rate = audio.load(path, mono=True)
        return cls(preset, signal, rate, **options)

    def start(self) -> FileSeparator:
        """Open the devices and start playing from the beginning of the file."""
        self._feed, self._position, self.finished = None, 0, False
        super().start()
        # The device rate is known only once the stream is open; until the resampled file
        # is in place (a few milliseconds) the callback plays silence.
        self._feed = audio.resample(self.signal, orig_sr=self.signal_rate,
                                    target_sr=self.device_rate)
        return self

    @property
    def duration(self) -> float:
        """The file's length in seconds."""
        return self.signal.size / self.signal_rate

    @property
    def position(self) -> float:
        """Seconds into the file of the block the callback last took."""
        feed, rate = self._feed, getattr(self, "device_rate", 0)
        if feed is None or not rate:
            return 0.0
        return (self._position % max(feed.size, 1)) / rate

    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int,
                  time_info: Any, status: Any) -> None:
        buffer = self._input
        if frames > buffer.shape[0]:  # never seen in practice; allocating beats failing
            buffer = self._input = np.zeros((frames, buffer.shape[1]), dtype=np.float32)
        block = buffer[:frames]
        self._fill(block[:, self.input_channel], frames)
        super()._callback(block, outdata, frames, time_info, status)

    def _fill(self, target: np.ndarray, frames: int) -> None:
        feed = self._feed
        if feed is None or self.finished:
            target.fill(0.0)
            return
        done, position, size = 0, self._position, feed.size
        while done < frames:
            if position >= size:
                if not self.loop:
                    target[done:].fill(0.0)
                    self.finished = True
                    break
                position = 0
            count = min(frames - done, size - position)
            target[done:done + count] = feed[position:position + count]
            done += count
            position += count
        self._position = position
