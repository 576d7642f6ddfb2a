""""Learn a source", without Qt: record from the input device, train one source's model
with progress, and combine it with source models of an existing preset.

These run on a worker thread (:class:`livesep.gui.workers.Task`); ``progress`` is called
with the fraction done, or -1 while there is no fraction to show (loading, the N-HMM's
initialisation, NMF).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from livesep.errors import AudioDeviceError, ParameterError
from livesep.live import devices
from livesep.models.train import TrainSettings, train_source
from livesep.presets import Preset, SourceModel, combine

__all__ = ["record_input", "learn_source", "learned_preset"]

Progress = Callable[[float], None]


def record_input(seconds: float, *, device: int | str | None = None,
                 samplerate: int | None = None, progress: Progress | None = None
                 ) -> tuple[npt.NDArray[np.float32], int]:
    """Record ``seconds`` of the input device's first channel.

    Parameters
    ----------
    seconds : float
        How long, in (0, 600].
    device : int or str, optional
        Input device (number or part of its name); the default input if None.
    samplerate : int, optional
        Preferred rate (e.g. the preset's); the device's default rate if it refuses it.
    progress : callable, optional
        Called with the fraction recorded; raising from it stops the recording.

    Returns
    -------
    samples : np.ndarray, shape (n,), float32
    rate : int

    Raises
    ------
    AudioDeviceError
        If the device cannot be opened or stops delivering audio.
    """
    if not 0 < seconds <= 600:
        raise ParameterError(f"record between 0 and 600 seconds, got {seconds!r}")
    sd = devices.portaudio()
    info = devices.resolve_device(device, "input")
    rate = int(samplerate or info.default_samplerate)
    try:
        sd.check_input_settings(device=info.index, channels=1, dtype="float32",
                                samplerate=rate)
    except sd.PortAudioError:
        rate = int(info.default_samplerate)
    total = int(round(seconds * rate))
    data = np.zeros(total, dtype=np.float32)
    filled = [0]
    complete = threading.Event()

    def callback(indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        start = filled[0]
        count = min(frames, total - start)
        data[start:start + count] = indata[:count, 0]
        filled[0] = start + count
        if filled[0] >= total:
            complete.set()
            raise sd.CallbackStop

    try:
        stream = sd.InputStream(samplerate=rate, device=info.index, channels=1,
                                dtype="float32", callback=callback)
    except sd.PortAudioError as error:
        raise devices.device_error(error, device=info, kind="input", samplerate=rate) from None
    devices.stream_opened()  # no PortAudio rescan under an open stream
    try:
        with stream:
            deadline = time.monotonic() + seconds + 5.0
            while not complete.wait(0.05):
                if progress is not None:
                    progress(filled[0] / total)
                if time.monotonic() > deadline:
                    raise AudioDeviceError(f"input device {info.describe()} stopped delivering "
                                           f"audio after {filled[0] / rate:.1f} s")
    finally:
        devices.stream_closed()
    if progress is not None:
        progress(1.0)
    return data, rate


def learn_source(name: str, files: Sequence[Path], settings: TrainSettings, *,
                 progress: Progress | None = None) -> SourceModel:
    """Train one source's model from its example files, reporting progress.

    The same model as :func:`livesep.models.train.train_source`; for the N-HMM each EM iteration
    is reported (the initialisation, a k-means and one NMF per state, shows as busy).
    """
    report = progress or (lambda fraction: None)
    report(-1.0)
    return train_source(name, files, settings, progress=report,
                        provenance={"trained_by": "livesep gui (learn a source)"})


def learned_preset(source: SourceModel, *, name: str, settings: TrainSettings,
                   base: Preset | None = None, keep: Sequence[str] = ()) -> Preset:
    """A preset of the learned source followed by the ``keep`` sources of ``base``.

    Raises
    ------
    PresetError
        If ``base`` has other analysis settings or a kept source has the learned one's name.
    """
    mine = Preset(name, description=f"{source.name}, learned in livesep gui",
                  sr=settings.sr, n_fft=settings.n_fft, hop_length=settings.hop_length,
                  model=settings.model, sources=(source,))
    if base is None or not keep:
        return mine
    description = (f"{source.name} learned in livesep gui; "
                   + ", ".join(keep) + f" from {base.name!r}")
    return combine((mine, source.name), (base, list(keep)), name=name,
                   description=description)
