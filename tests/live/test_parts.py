"""The live host's parts that need no audio device: the quality governor, statistics, the
recorder, device choice and error messages, live controls."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.presets import noise, random_preset
from livesep.errors import AudioDeviceError, AudioFileError, ParameterError
from livesep.live import devices
from livesep.live.governor import QualityGovernor
from livesep.live.host import LiveSeparator
from livesep.live.recording import Recorder
from livesep.live.stats import History, source_levels


def test_quality_governor_cuts_work_under_load_and_restores_it_with_care() -> None:
    governor = QualityGovernor(n_iter=10, beam=0, n_joint=64, recover_after=5.0, cooldown=1.0)
    assert [(q.n_iter, q.beam) for q in governor.levels] == [
        (10, 0), (5, 32), (2, 16), (1, 8), (1, 4), (1, 2)]
    assert governor.update(0.0, 0.95, 0).level == 1
    assert governor.update(0.5, 0.95, 0) is None  # cooling down
    assert governor.update(1.0, 0.95, 0).level == 2
    assert governor.update(2.0, 0.1, 3) is None  # xruns at low load: not the engine's doing
    # Level 1 does 5 x 32 / (2 x 16) = 5 times the work: 0.1 would be 0.5 there, too much.
    assert governor.update(10.0, 0.1, 0) is None
    assert governor.update(20.0, 0.05, 0) is None  # 0.25 predicted: calm from now on
    assert governor.update(25.0, 0.05, 0).level == 1
    assert governor.update(26.0, 0.9, 0).level == 2  # the raise failed within 5 s
    governor.update(27.0, 0.05, 0)
    assert governor.update(32.5, 0.05, 0) is None  # backed off: now 10 s
    assert governor.update(37.5, 0.05, 0).level == 1


def test_history_keeps_the_last_values_in_order() -> None:
    history = History(8)
    history.extend(np.arange(5))
    history.extend(np.arange(5, 11))
    np.testing.assert_array_equal(history.last(), np.arange(3, 11))
    np.testing.assert_array_equal(history.last(3), [8, 9, 10])
    history.extend(np.arange(100))
    np.testing.assert_array_equal(history.last(), np.arange(92, 100))


_RESIDENT_PROBE = """
import os, numpy as np
from livesep.live.stats import History

def resident():
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

before = resident()
history = History(1 << 19)
grown = resident() - before
history.extend(np.ones(1 << 19))
print(grown, resident() - before)
"""


def test_history_is_resident_from_the_start() -> None:
    # A ring that only became resident as it filled made a soak's memory grow for minutes.
    # In a fresh process, so that no freed memory already resident is reused.
    result = subprocess.run([sys.executable, "-c", _RESIDENT_PROBE], capture_output=True,
                            text=True, check=True)
    grown, filled = map(int, result.stdout.split())
    assert grown >= 0.9 * (4 << 20), grown  # 4 MiB of float64
    assert filled - grown < 0.1 * (4 << 20), (grown, filled)


def test_recorder_writes_readable_files_while_running(tmp_path: Path) -> None:
    from scipy.io import wavfile

    recorder = Recorder(tmp_path / "take", samplerate=16000, source_names=["a", "b"],
                        interval=0.05)
    x = noise(16000)
    stems = np.stack([x, -x], axis=1)
    for start in range(0, 16000, 128):
        recorder.push(x[start:start + 128], stems[start:start + 128])
    time.sleep(0.3)
    with warnings.catch_warnings():  # libsndfile's PEAK chunk is unknown to scipy
        warnings.simplefilter("ignore", wavfile.WavFileWarning)
        rate, data = wavfile.read(tmp_path / "take" / "a.wav")  # still open: header is current
    assert rate == 16000 and data.size == 16000
    paths = recorder.close()
    assert [p.name for p in paths] == ["input.wav", "a.wav", "b.wav"]
    np.testing.assert_array_equal(sf.read(paths[0], dtype="float32")[0], x)
    np.testing.assert_array_equal(sf.read(paths[2], dtype="float32")[0], -x)
    with pytest.raises(AudioFileError, match="already exists"):
        Recorder(tmp_path / "take", samplerate=16000, source_names=["a", "b"])


def test_recorder_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, samplerate=1000, source_names=["a"], seconds=0.5,
                        interval=60.0)
    block = np.ones(200, np.float32)
    for _ in range(4):
        recorder.push(block, block[:, None])
    assert recorder.dropped == 400
    recorder.close()
    assert sf.info(str(tmp_path / "a.wav")).frames == 400


def fake_devices() -> list[devices.DeviceInfo]:
    def device(index: int, name: str, ins: int, outs: int, **flags: bool
               ) -> devices.DeviceInfo:
        return devices.DeviceInfo(index, name, "ALSA", ins, outs, 48000.0, 0.005, 0.01,
                                  **flags)

    return [device(0, "HDA Intel PCH: ALC3246 Analog", 2, 2, is_default_input=True,
                   is_default_output=True),
            device(1, "USB Audio Interface", 4, 4), device(2, "HDMI 0", 0, 8),
            device(3, "USB Mic", 1, 0)]


def test_devices_are_chosen_by_number_name_or_default(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    monkeypatch.setattr(devices, "list_devices", fake_devices)
    assert devices.resolve_device(None, "input").index == 0
    assert devices.resolve_device("2", "output").index == 2
    assert devices.resolve_device("usb audio", "output").index == 1
    assert devices.resolve_device("mic", "input").index == 3
    for spec, kind, message in [("usb", "input", "matches several input devices"),
                                ("mic", "output", "no output device matches 'mic'"),
                                (2, "input", "has no input channels"),
                                (9, "output", "no audio device number 9")]:
        with pytest.raises(AudioDeviceError, match=message):
            devices.resolve_device(spec, kind)  # type: ignore[arg-type]
    table = devices.format_devices(fake_devices())
    assert "USB Audio Interface" in table and "><" in table


def test_device_errors_name_the_device_and_the_value() -> None:
    device = fake_devices()[1]
    cases = [((("Invalid sample rate", -9997)), {"samplerate": 44100},
              "does not support 44100 Hz (its default rate is 48000 Hz)"),
             ((("Invalid number of channels", -9998)), {"channels": 6},
              "cannot open 6 output channels; it has 4"),
             ((("Device unavailable", -9985)), {}, "is busy or unavailable"),
             ((("Something else", -9999)), {}, "failed: Something else")]
    for args, extra, message in cases:
        error = devices.device_error(Exception(*args), device=device, kind="output", **extra)
        assert isinstance(error, AudioDeviceError)
        assert message in str(error) and "'USB Audio Interface'" in str(error)


def test_live_separator_checks_its_arguments_before_any_device() -> None:
    preset = random_preset((3, 4), 4)
    with pytest.raises(ParameterError, match="output must be one of"):
        LiveSeparator(preset, output="surround")
    with pytest.raises(ParameterError, match="blocksize"):
        LiveSeparator(preset, blocksize=-1)
    live = LiveSeparator(preset)
    assert live.source_index("source1") == 1
    with pytest.raises(ParameterError, match="no source named 'drums'"):
        live.set_gain("drums", 1.0)
    with pytest.raises(ParameterError, match="gain must be finite"):
        live.set_gain(0, float("nan"))
    with pytest.raises(ParameterError, match="n_sources=3 but the running preset"):
        live.switch_preset(random_preset((2, 2, 2)))
    live.switch_preset(random_preset((3, 4), 4, seed=7))  # before start: just replaces it
    assert live.state == "stopped" and live.stop().callbacks == 0


def test_source_levels_from_snapshots() -> None:
    n_bins = 257
    spectrum = np.zeros((4, n_bins), np.float32)
    spectrum[:, 10] = (n_bins - 1) / 2  # a full-scale sine, sqrt-hann window
    masks = np.zeros((4, 2, n_bins), np.float32)
    masks[:, 0] = 1.0
    levels = source_levels({"spectrum": spectrum, "masks": masks})
    assert levels[0] == pytest.approx(0.0, abs=1e-6) and levels[1] == -np.inf
    empty = source_levels({"spectrum": np.zeros((0, n_bins)), "masks": np.zeros((0, 2, n_bins))})
    assert np.all(empty == -np.inf)
