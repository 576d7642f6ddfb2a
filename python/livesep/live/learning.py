""""Learn a source" and "Learn my voice", without Qt: record from the input device, train
one source's model with progress and combine it with source models of an existing preset,
or teach a voice preset the user's voice and room (:func:`personal_preset`).

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
from livesep.models.train import TrainSettings, enrol, train_source
from livesep.presets import Preset, PresetInfo, SourceModel, combine, extend_band
from livesep.presets.shipped import FULL_BAND_RATE
from livesep.resampling import resample

__all__ = ["record_input", "learn_source", "learned_preset", "check_take", "voice_base",
           "personal_preset", "READING_TEXT", "VOICE_SECONDS", "ROOM_SECONDS", "VOICE_BASE",
           "FULL_BAND_SR"]

Progress = Callable[[float], None]
Take = tuple[npt.NDArray[np.float32], int]  # mono samples and their rate

#: How long "Learn my voice" records the user reading, and the room without speech (the
#: least enrolment takes is in :mod:`livesep.models.train`).
VOICE_SECONDS = 30.0
ROOM_SECONDS = 10.0
#: What a preset must be for enrolment to keep its speech or noise model, in words.
VOICE_BASE = "an N-HMM preset of sources 'speech' and 'noise'"
#: The rate of a full-band personal preset: the full-band default's (voice-48k), so that one
#: swaps into a stream running the other.
FULL_BAND_SR = 48000
#: A take whose sample peak stays below this (about -80 dBFS) is silence: nothing came in.
SILENT_PEAK = 1e-4
#: What the user reads aloud: plain English that takes a little over 30 s at an easy pace,
#: with statements, a question and lists, and every English phoneme (the rarer ones too:
#: "usually", "measure", "azure", "garage"; "judge", "juicy"; "thick", "weather").
READING_TEXT = (
    "Hello! I'm reading this aloud so that the app can learn the sound of my voice. I'll "
    "speak the way I usually do: not too fast, not too slow, at my normal distance from "
    "the microphone.\n\n"
    "Yesterday a young judge from the village took a short boat trip with her three "
    "cheerful nephews. They packed fresh bread, smoked fish, juicy oranges and a jar of "
    "thick yellow honey. \"Should we go north, past the lighthouse, or wait for the weather "
    "to change?\" asked the eldest boy.\n\n"
    "Measure twice, cut once. Quiet zebras chew crisp leaves beneath the azure sky, while "
    "vivid purple flags wave above the garage at seventy-five Church Street.")


def record_input(seconds: float, *, device: int | str | None = None,
                 samplerate: int | None = None, progress: Progress | None = None,
                 stop: threading.Event | None = None,
                 listen: Callable[[npt.NDArray[np.float32]], None] | None = None) -> Take:
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
    stop : threading.Event, optional
        Once set, the recording ends early and what came in so far is returned.
    listen : callable, optional
        Called about 20 times a second, on the calling thread, with the samples that came
        in since its last call (for a level meter).

    Returns
    -------
    samples : np.ndarray, shape (n,), float32
        ``seconds`` of audio, or less when stopped early.
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
    heard = 0
    try:
        with stream:
            deadline = time.monotonic() + seconds + 5.0
            while not complete.wait(0.05) and not (stop is not None and stop.is_set()):
                if listen is not None:
                    got = filled[0]
                    listen(data[heard:got])
                    heard = got
                if progress is not None:
                    progress(filled[0] / total)
                if time.monotonic() > deadline:
                    raise AudioDeviceError(f"input device {info.describe()} stopped delivering "
                                           f"audio after {filled[0] / rate:.1f} s")
    finally:
        devices.stream_closed()
    got = filled[0]  # the stream is closed: no callback writes any more
    if progress is not None:
        progress(got / total)
    return (data if got == total else data[:got].copy()), rate


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


def check_take(samples: npt.NDArray[np.float32], rate: int, *, what: str, least: float,
               origin: str) -> None:
    """Check a recording of the voice or the room before it is used.

    Parameters
    ----------
    samples : np.ndarray, shape (n,)
        The take, mono.
    rate : int
        Its rate in Hz.
    what : str
        What it holds (``"voice"``, ``"room"``), for the message.
    least : float
        The seconds it needs at least.
    origin : str
        Where it came from (``"the input device 'mic'"``, a file's name), for the message.

    Raises
    ------
    ParameterError
        If it is shorter than ``least`` or silent (its peak below ``SILENT_PEAK``).
    """
    seconds = samples.size / rate
    if seconds < least:
        raise ParameterError(f"{origin} gave {seconds:.1f} s of the {what}; at least "
                             f"{least:g} s is needed")
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if not peak >= SILENT_PEAK:
        raise ParameterError(f"the {what} recording is silent: no sound came from {origin}. "
                             "Check that the microphone is connected, switched on and not "
                             "muted, and that it is the input chosen in the Audio panel")


def voice_base(info: Preset | PresetInfo) -> bool:
    """Whether enrolment can start from this preset (:data:`VOICE_BASE`): it keeps its
    speech model when the voice is skipped, its noise model when the room is, and its
    analysis settings."""
    return (info.source_names == ("speech", "noise") and info.model == "nhmm"
            and not any(source.layers for source in info.sources))


def personal_preset(voice: Take | None, room: Take | None, base: Preset, *, name: str,
                    progress: Progress | None = None, sr: int | None = None) -> Preset:
    """A personal voice preset (:func:`livesep.models.train.enrol`) from takes at any rate:
    models of the user's voice and room, the base's for the one not given.

    With ``sr`` above the base's rate, the preset is made at the base's rate, then extended
    to ``sr`` over the full band (:func:`livesep.presets.extend_band`, fitted on the base's
    whole band): the takes, both needed at :data:`~livesep.presets.FULL_BAND_RATE` or above,
    give each source's spectrum above it; the default preset's companion stays on the base's
    band.

    Raises
    ------
    ParameterError
        Without either take, with too little of one, a base that is not
        :data:`VOICE_BASE`, or for ``sr`` without both takes at a full-band rate.
    """
    full_band = sr is not None and sr != base.sr
    if full_band and (voice is None or room is None or min(voice[1], room[1]) < FULL_BAND_RATE):
        rates = ", ".join(f"the {what} {'missing' if take is None else f'at {take[1]} Hz'}"
                          for what, take in (("voice", voice), ("room", room)))
        raise ParameterError(f"a full-band preset at {sr} Hz needs both the voice and the room "
                             f"recorded at {FULL_BAND_RATE} Hz or above; got {rates}")
    at_rate = [None if take is None else
               resample(take[0], orig_sr=take[1], target_sr=base.sr) if take[1] != base.sr
               else take[0] for take in (voice, room)]
    report = progress or (lambda fraction: None)
    report(-1.0)  # the spectrogram and the N-HMM's initialisation report nothing
    preset = enrol(at_rate[0], at_rate[1], base=base, name=name, progress=report)
    if not full_band or voice is None or room is None or sr is None:
        return preset
    recordings = {source: take[0] if take[1] == sr else resample(take[0], orig_sr=take[1],
                                                                    target_sr=sr)
                  for source, take in zip(base.source_names, (voice, room))}
    # A voice and a room separate better fitted on the base's whole band than on its
    # resampler's pass band (extend_band's default, for drums; docs/voice.md).
    return extend_band(preset, recordings, sr=sr, fit_below=base.sr / 2)
