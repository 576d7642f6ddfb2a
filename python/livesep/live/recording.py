"""Recording a live stream to WAV while it runs, without touching the disk from the audio
thread.

The audio callback (C++, ``livesep._core.LiveHost``) copies each block into a preallocated
ring (``livesep._core.FrameRing``: no allocation, never waits); a writer thread drains the
ring a few times a second into one 32-bit float WAV per signal and rewrites each file's
header after every drain, so that a crash (even SIGKILL) leaves complete, readable files
holding everything drained so far.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from livesep import _core
from livesep.errors import AudioFileError, ParameterError

__all__ = ["Recorder"]

# libsndfile's SFC_UPDATE_HEADER_NOW (sndfile.h); soundfile does not name it.
_SFC_UPDATE_HEADER_NOW = 0x1060


class Recorder:
    """Writes the live input and the stems to ``folder/input.wav`` and
    ``folder/<source>.wav``.

    Parameters
    ----------
    folder : path-like
        Created if missing; must not already hold any of the files.
    samplerate : int
        The stream's (device) rate.
    source_names : list of str
        One file per source, in the engine's channel order.
    seconds : float
        Ring capacity: how long the writer may stall before blocks are dropped (counted).
    interval : float
        Seconds between drains.
    """

    def __init__(self, folder: str | os.PathLike[str], *, samplerate: int,
                 source_names: list[str], seconds: float = 10.0, interval: float = 0.2) -> None:
        if samplerate <= 0 or not source_names or seconds <= 0:
            raise ParameterError(f"a recorder needs a positive rate, sources and capacity, got "
                                 f"samplerate={samplerate!r}, {len(source_names)} sources, "
                                 f"seconds={seconds!r}")
        self.folder = Path(folder)
        input_name = "input" if "input" not in source_names else "live-input"
        self.paths = [self.folder / f"{name}.wav" for name in [input_name, *source_names]]
        existing = [str(path) for path in self.paths if path.exists()]
        if existing:
            raise AudioFileError(f"{existing[0]}: already exists; record into a new or empty "
                                 "folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AudioFileError(f"{self.folder}: cannot create the folder ({error})") from None
        self.samplerate = int(samplerate)
        self.interval = interval
        #: The ring the live host's callback writes (input, then the stems).
        self.ring = _core.FrameRing(capacity=max(1, int(seconds * samplerate)),
                                    channels=len(self.paths))
        self.frames_on_disk = 0
        self.error: str | None = None
        self._files: list[sf.SoundFile] = []
        try:
            for path in self.paths:
                self._files.append(sf.SoundFile(str(path), "w", samplerate=self.samplerate,
                                                channels=1, format="WAV", subtype="FLOAT"))
        except (sf.LibsndfileError, RuntimeError, OSError) as error:
            self._close_files()
            raise AudioFileError(f"{self.folder}: cannot write recordings ({error})") from None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livesep-recorder", daemon=True)
        self._thread.start()

    @property
    def failure(self) -> AudioFileError | None:
        """What stopped the writer (a full disk, a file grown past its limit), if anything."""
        return AudioFileError(self.error) if self.error else None

    @property
    def dropped(self) -> int:
        """Frames the audio thread could not fit (it drops whole blocks rather than wait)."""
        return int(self.ring.dropped)

    def push(self, x: npt.NDArray[np.float32], stems: npt.NDArray[np.float32]) -> None:
        """Queue n input samples x (n,) and stems (n, n_sources), as the live host's callback
        does; drops (and counts) the block when the ring is full rather than wait."""
        self.ring.push(x, stems)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self._drain():
                return
        self._drain()

    def _drain(self) -> bool:
        read, written = self.ring.pending()
        n = written - read
        if n <= 0 or self.error is not None:
            return self.error is None
        storage = self.ring.storage
        indices = np.arange(read, written) % storage.shape[0]
        block = storage[indices]
        self.ring.release(n)
        try:
            for c, handle in enumerate(self._files):
                handle.write(np.ascontiguousarray(block[:, c]))
                # Header rewritten now: the file is valid up to here if the process dies.
                sf._snd.sf_command(handle._file, _SFC_UPDATE_HEADER_NOW, sf._ffi.NULL, 0)
        except (sf.LibsndfileError, RuntimeError, OSError) as error:
            self._cut_to_disk()
            kept = self.frames_on_disk / self.samplerate
            self.error = (f"recording to {self.folder} failed ({self._reason(error)}); the "
                          f"files hold the first {kept:.1f} s")
            return False
        self.frames_on_disk += n
        return True

    def _cut_to_disk(self) -> None:
        """After a failed write, every file back to the last drain all of them took: the
        recordings stay the same length, whole blocks, each header telling the truth."""
        for handle in self._files:
            try:
                handle.truncate(self.frames_on_disk)
            except (sf.LibsndfileError, RuntimeError, OSError):
                pass  # its header still names what was written before the failure

    def _reason(self, error: BaseException) -> str:
        """Why a write failed. libsndfile reports only "System error." and loses errno, so
        the usual causes are looked for: a full disk, a file at the size limit."""
        text = str(error).strip().rstrip(".")
        if "system error" not in text.lower():
            return text.split(":")[-1].strip() or type(error).__name__
        try:
            space = os.statvfs(self.folder)
            if space.f_bavail * space.f_frsize < 1 << 20:
                return "no space left on device"
        except OSError:
            pass
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and any(
                path.exists() and path.stat().st_size >= limit - 65536 for path in self.paths):
            return "file too large: the limit on a file's size was reached"
        return "a system error while writing"

    def close(self) -> list[Path]:
        """Write what is queued, close the files and return their paths."""
        self._stop.set()
        self._thread.join()
        self._close_files()
        if self.error:
            raise AudioFileError(self.error)
        return list(self.paths)

    def discard(self) -> None:
        """Stop and delete the files (for a stream that never started: nothing to keep, and
        a retry into the same folder must not find them)."""
        self._stop.set()
        self._thread.join()
        self._close_files()
        for path in self.paths:
            path.unlink(missing_ok=True)

    def _close_files(self) -> None:
        for handle in self._files:
            try:
                handle.close()
            except (sf.LibsndfileError, RuntimeError, OSError):
                pass
        self._files = []
