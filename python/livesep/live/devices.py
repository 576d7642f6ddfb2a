"""Audio devices through PortAudio (sounddevice): listing, choosing, checking, and turning
PortAudio's errors into one clear :class:`~livesep.errors.AudioDeviceError` each.

PortAudio is loaded lazily (``import livesep`` works without libportaudio2). Its JACK host
API prints libjack's diagnostics straight to file descriptor 2 when no JACK server runs
("Cannot connect to server socket ..."); those lines would break the command line's
one-line error contract, so every PortAudio initialisation here runs with fd 2 captured.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from livesep.errors import AudioDeviceError

__all__ = ["DeviceInfo", "portaudio", "portaudio_if_loaded", "rescan", "terminate",
           "list_devices", "resolve_device", "check_stream", "device_error", "format_devices",
           "stream_opened", "stream_closed", "close_stream", "mark_unusable", "choose_stream",
           "StreamChoice",
           "NO_DEVICES_HINT"]

Kind = Literal["input", "output"]

#: What to do when PortAudio sees no device at all.
NO_DEVICES_HINT = ("PortAudio finds no sound card and no running JACK server (start one, e.g. "
                   "`jackd -d dummy` without hardware, or check the permissions of /dev/snd)")

_lock = threading.RLock()
_module: ModuleType | None = None
_open_streams = 0  # streams this process holds open; PortAudio must not be re-initialised then
_wedged_reason: str | None = None  # set once PortAudio lost its device mid-stream
_ABANDONED: list[Any] = []  # streams whose device vanished (with what they use): never closed

# PortAudio error codes (portaudio.h, PaErrorCode) that have a better explanation.
_INVALID_CHANNELS = -9998
_INVALID_RATE = -9997
_DEVICE_UNAVAILABLE = -9985
_BAD_IO_DEVICE = -9996
_NOT_INITIALISED = -10000


@contextmanager
def _captured_fd2() -> Iterator[list[str]]:
    """Redirect file descriptor 2 into a temporary file; yields a list that receives the
    captured text. Why fd 2 and not sys.stderr: libjack writes with C stdio."""
    captured: list[str] = []
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def portaudio() -> ModuleType:
    """The ``sounddevice`` module, initialised; PortAudio's noise on stderr is swallowed.

    Raises
    ------
    AudioDeviceError
        If the PortAudio library (Debian package libportaudio2) is missing.
    """
    global _module
    with _lock:
        _check_usable()
        if _module is None:
            with _captured_fd2():
                try:
                    import sounddevice
                except OSError as error:
                    raise AudioDeviceError(
                        f"the PortAudio library is missing ({error}); install it (Debian/Ubuntu: "
                        "apt-get install libportaudio2)") from None
            _module = sounddevice
        if not _module._initialized:
            with _captured_fd2():
                _module._initialize()
        return _module


def portaudio_if_loaded() -> ModuleType | None:
    """The ``sounddevice`` module if it was imported, without initialising anything."""
    return _module


def _check_usable() -> None:
    if _wedged_reason is not None:
        raise AudioDeviceError(_wedged_reason)


def mark_unusable(reason: str) -> None:
    """Mark PortAudio unusable for the rest of the process: once a JACK server vanished
    under an open stream, PortAudio hangs in every stop, close and terminate."""
    global _wedged_reason
    _wedged_reason = reason


def rescan() -> None:
    """Re-initialise PortAudio so that it sees devices (or a JACK server) that appeared or
    went away since it started. Refused while a stream is open.

    Raises
    ------
    AudioDeviceError
        If a stream is open.
    """
    with _lock:
        if _open_streams:
            raise AudioDeviceError("cannot rescan the audio devices while a live stream runs; "
                                   "stop it first")
        _check_usable()
        sd = portaudio()
        with _captured_fd2():
            sd._terminate()
            sd._initialize()


def terminate() -> None:
    """Shut PortAudio down (it closes its JACK client); :func:`portaudio` starts it again.
    A test stops PortAudio before stopping the JACK server it uses: PortAudio hangs in
    every later call if its server vanished under it."""
    with _lock:
        if _open_streams:
            raise AudioDeviceError("cannot shut PortAudio down while a live stream runs")
        _check_usable()
        if _module is not None and _module._initialized:
            with _captured_fd2():
                _module._terminate()


def stream_opened() -> None:
    """Count a stream this process opened: PortAudio is not re-initialised while one is."""
    global _open_streams
    with _lock:
        _open_streams += 1


def close_stream(stream: Any, *, keep_alive: object, abandon: bool = False,
                 timeout: float = 3.0) -> None:
    """Stop and close a stream this process opened, without ever hanging.

    A stream that does not close within ``timeout`` seconds, or one given up on
    (``abandon``: its device vanished), is kept alive for the rest of the process, with
    ``keep_alive`` (what its callback uses): PortAudio hangs in stop, close and terminate
    once its JACK server is gone, at exit too (sounddevice's exit handler, unregistered).
    PortAudio is then marked unusable.
    """
    if not abandon:
        closer = threading.Thread(target=_close_quietly, args=(stream,), daemon=True)
        closer.start()
        closer.join(timeout=timeout)
        abandon = closer.is_alive()
    if not abandon:
        stream_closed()
        return
    _ABANDONED.append((stream, keep_alive))
    mark_unusable("the audio device was lost mid-stream; restart livesep to use audio again")
    if _module is not None:
        atexit.unregister(_module._exit_handler)


def _close_quietly(stream: Any) -> None:
    try:
        stream.stop()
        stream.close()
    except Exception:  # a stream whose device failed: it is gone either way
        pass


def stream_closed() -> None:
    """Count a stream this process closed (see :func:`stream_opened`)."""
    global _open_streams
    with _lock:
        _open_streams = max(0, _open_streams - 1)


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    default_low_input_latency: float
    default_low_output_latency: float
    is_default_input: bool = False
    is_default_output: bool = False

    def channels(self, kind: Kind) -> int:
        """Channels of that direction."""
        return self.max_input_channels if kind == "input" else self.max_output_channels

    def describe(self) -> str:
        return f"{self.index} {self.name!r} ({self.hostapi})"


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees (possibly none), defaults marked."""
    sd = portaudio()
    hostapis = [api["name"] for api in sd.query_hostapis()]
    try:
        default_in, default_out = (int(d) for d in sd.default.device)
    except (TypeError, ValueError):
        default_in = default_out = -1
    if default_in < 0 or default_out < 0:
        # sounddevice's default is -1 until set: ask the host APIs for theirs.
        for api in sd.query_hostapis():
            default_in = default_in if default_in >= 0 else api["default_input_device"]
            default_out = default_out if default_out >= 0 else api["default_output_device"]
    devices = []
    for raw in sd.query_devices():
        index = int(raw["index"])
        devices.append(DeviceInfo(
            index=index, name=str(raw["name"]), hostapi=hostapis[raw["hostapi"]],
            max_input_channels=int(raw["max_input_channels"]),
            max_output_channels=int(raw["max_output_channels"]),
            default_samplerate=float(raw["default_samplerate"]),
            default_low_input_latency=float(raw["default_low_input_latency"]),
            default_low_output_latency=float(raw["default_low_output_latency"]),
            is_default_input=index == default_in, is_default_output=index == default_out))
    return devices


def resolve_device(spec: int | str | None, kind: Kind) -> DeviceInfo:
    """The device to use for input or output.

    Parameters
    ----------
    spec : int, str or None
        A device number, a (case-insensitive) part of its name, or None for the default.
    kind : {"input", "output"}

    Raises
    ------
    AudioDeviceError
        No device at all, no match, several matches, or a device without that direction.
    """
    devices = list_devices()
    if not devices:
        raise AudioDeviceError(f"no audio devices: {NO_DEVICES_HINT}")
    usable = [device for device in devices if device.channels(kind) > 0]
    if not usable:
        raise AudioDeviceError(f"no {kind} device: none of the {len(devices)} audio devices has "
                               f"{kind} channels")
    names = ", ".join(device.describe() for device in usable)
    if spec is None or spec == "":
        defaults = [d for d in usable if (d.is_default_input if kind == "input"
                                          else d.is_default_output)]
        return defaults[0] if defaults else usable[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().lstrip("-").isdigit()):
        index = int(spec)
        for device in devices:
            if device.index == index:
                if device.channels(kind) == 0:
                    raise AudioDeviceError(f"device {device.describe()} has no {kind} channels "
                                           f"({kind} devices: {names})")
                return device
        raise AudioDeviceError(f"no audio device number {index} ({kind} devices: {names})")
    text = str(spec).strip().lower()
    exact = [device for device in usable if device.name.lower() == text]
    matches = exact or [device for device in usable if text in device.name.lower()]
    if not matches:
        raise AudioDeviceError(f"no {kind} device matches {spec!r} ({kind} devices: {names})")
    if len(matches) > 1:
        listed = ", ".join(device.describe() for device in matches)
        raise AudioDeviceError(f"{spec!r} matches several {kind} devices ({listed}); give its "
                               "number")
    return matches[0]


def device_error(error: BaseException, *, device: DeviceInfo | None = None,
                 kind: str = "audio", samplerate: float | None = None,
                 channels: int | None = None) -> AudioDeviceError:
    """One clear AudioDeviceError for a PortAudio failure, naming the device and the value
    it refused."""
    args: tuple[Any, ...] = getattr(error, "args", ())
    message = str(args[0]) if args else str(error)
    code = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    where = f"{kind} device {device.describe()}" if device else f"the {kind} device"
    if code == _INVALID_RATE and samplerate is not None:
        default = f" (its default rate is {device.default_samplerate:g} Hz)" if device else ""
        return AudioDeviceError(f"{where} does not support {samplerate:g} Hz{default}")
    if code == _INVALID_CHANNELS and channels is not None:
        most = f"; it has {device.channels(kind)}" if device and kind in ("input", "output") \
            else ""
        return AudioDeviceError(f"{where} cannot open {channels} {kind} channels{most}")
    if code == _DEVICE_UNAVAILABLE:
        return AudioDeviceError(f"{where} is busy or unavailable (another program may hold "
                                f"it): {message}")
    if code in (_BAD_IO_DEVICE, _NOT_INITIALISED):
        return AudioDeviceError(f"{where} cannot be used ({message}); {NO_DEVICES_HINT}")
    return AudioDeviceError(f"{where} failed: {message}")


def check_stream(input_device: DeviceInfo, output_device: DeviceInfo, *, samplerate: float,
                 input_channels: int, output_channels: int) -> None:
    """Check that both devices accept the rate and channel counts before opening anything.

    Raises
    ------
    AudioDeviceError
        Naming the device and the refused rate or channel count.
    """
    sd = portaudio()
    for kind, device, channels, check in (
            ("input", input_device, input_channels, sd.check_input_settings),
            ("output", output_device, output_channels, sd.check_output_settings)):
        if channels > device.channels(kind):
            raise AudioDeviceError(f"{kind} device {device.describe()} has "
                                   f"{device.channels(kind)} {kind} channels; {channels} needed")
        try:
            check(device=device.index, channels=channels, dtype="float32",
                  samplerate=samplerate)
        except sd.PortAudioError as error:
            raise device_error(error, device=device, kind=kind, samplerate=samplerate,
                               channels=channels) from None


def format_devices(devices: list[DeviceInfo]) -> str:
    """A table of devices for ``livesep devices``; ``>``/``<`` mark the default input/output."""
    lines = [f"{'':2}{'#':>3}  {'name':<32} {'host API':<26} {'in':>3} {'out':>3} {'rate':>7}"]
    for d in devices:
        mark = (">" if d.is_default_input else " ") + ("<" if d.is_default_output else " ")
        lines.append(f"{mark}{d.index:>3}  {d.name[:32]:<32} {d.hostapi[:26]:<26} "
                     f"{d.max_input_channels:>3} {d.max_output_channels:>3} "
                     f"{d.default_samplerate:>7g}")
    lines.append("(> default input, < default output)")
    return "\n".join(lines)


@dataclass(frozen=True)
class StreamChoice:
    """The devices, rate and output layout a live stream opens with."""

    input: DeviceInfo
    output: DeviceInfo
    samplerate: int
    output_layout: str
    output_channels: int


def choose_stream(*, input_device: int | str | None, output_device: int | str | None,
                  samplerate: int | None, preferred_rate: int, input_channel: int,
                  output: str, n_sources: int) -> StreamChoice:
    """Resolve and check the devices, the rate and the output layout of a live stream.

    Parameters
    ----------
    input_device, output_device : int, str or None
        As :func:`resolve_device` takes them.
    samplerate : int or None
        The device rate; None takes ``preferred_rate`` if both devices accept it, else the
        output device's default rate.
    preferred_rate : int
        The engine's rate (no resampling when the device runs at it).
    input_channel : int
        The input channel to separate (from 0).
    output : {"stems", "stereo", "mono", "auto"}
        One channel per source, or their remix; "auto" is stems when the output device has
        the channels, else stereo (or mono).
    n_sources : int

    Raises
    ------
    AudioDeviceError
        Naming the device and what it lacks.
    """
    input_info = resolve_device(input_device, "input")
    output_info = resolve_device(output_device, "output")
    if output == "auto":
        most = output_info.max_output_channels
        output = "stems" if most >= n_sources else "stereo" if most >= 2 else "mono"
    out_channels = {"mono": 1, "stereo": 2}.get(output, n_sources)
    if input_channel >= input_info.max_input_channels:
        raise AudioDeviceError(
            f"input_channel {input_channel} does not exist: input device "
            f"{input_info.describe()} has {input_info.max_input_channels} input channels "
            f"(they count from 0)")
    if out_channels > output_info.max_output_channels:
        hint = " (use output='stereo' or output='mono')" if output == "stems" else ""
        raise AudioDeviceError(
            f"output device {output_info.describe()} has {output_info.max_output_channels} "
            f"output channels; {output} output of {n_sources} sources needs "
            f"{out_channels}{hint}")
    check = dict(input_channels=input_channel + 1, output_channels=out_channels)
    rate = samplerate
    if rate is None:
        try:
            check_stream(input_info, output_info, samplerate=preferred_rate, **check)
            rate = preferred_rate
        except AudioDeviceError:
            rate = int(output_info.default_samplerate)
    check_stream(input_info, output_info, samplerate=rate, **check)
    return StreamChoice(input=input_info, output=output_info, samplerate=int(rate),
                        output_layout=output, output_channels=out_channels)
