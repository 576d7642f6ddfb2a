"""The clean microphone: docs/pipewire/livesep-clean-mic.conf in a headless PipeWire (with
wireplumber) makes a virtual source "livesep clean microphone" fed by the default
microphone through the plugin, and it delivers the separated speech."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.lv2 import at_rate
from helpers.pipewire_harness import FAKE_MIC, headless_pipewire
from livesep import load_preset
from livesep.presets import default_preset
from livesep.separation.online import separate_online

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "pipewire" / "livesep-clean-mic.conf"
SOURCE = "livesep_clean_microphone"
BLOCK = 8192


def energy_ratio_db(a: np.ndarray, b: np.ndarray) -> float:
    """Energy of a - b against b's, in dB; -120 dB for equal blocks (the same C++ path gives
    the same floats when the stream happens to start on the engine's frame grid)."""
    reference = float((b.astype(np.float64) ** 2).sum())
    error = float(((a.astype(np.float64) - b) ** 2).sum())
    return 10 * float(np.log10(max(error, 1e-12 * reference) / reference))


@pytest.mark.parametrize("rate", [44100, 48000])
def test_the_virtual_source_delivers_separated_speech(
        lv2_path: Path, tmp_path: Path, rate: int,
        speech_in_noise: tuple[np.ndarray, int]) -> None:
    x = at_rate(speech_in_noise, rate)
    sf.write(tmp_path / "mix.wav", x, rate, subtype="FLOAT")
    with headless_pipewire(tmp_path, [CONFIG], lv2_path=lv2_path, rate=rate) as pipewire:
        nodes = pipewire.wait_for(SOURCE, "pw-cli", "ls", "Node")
        assert 'media.class = "Audio/Source"' in nodes.split(f'node.name = "{SOURCE}"')[1]
        # wireplumber links the default microphone into the filter, as on a desktop.
        pipewire.wait_for(f"{FAKE_MIC}:capture_MONO\n  |-> capture.{SOURCE}:input_MONO",
                          "pw-link", "-l")
        recorder = pipewire.record(SOURCE, rate, tmp_path / "clean.wav")
        time.sleep(0.5)
        pipewire.play_into_microphone(tmp_path / "mix.wav")
        time.sleep(1.0)
        pipewire.stop_all()
        assert recorder.returncode is not None
    clean, recorded_rate = sf.read(tmp_path / "clean.wav", dtype="float32")
    assert recorded_rate == rate
    # The plugin ran on the silent microphone before the mixture came, so its noise floor and
    # recurrent state start from silence: so does the reference.
    lead = np.zeros(rate, dtype=np.float32)
    speech = separate_online(np.concatenate([lead, x]), load_preset(default_preset(rate)),
                             sr=rate)[0][lead.size:]
    # Where the separated speech sits in the recording: the best match of a second of it;
    # then block by block (a cycle the loaded machine dropped shifts what follows).
    probe = speech[rate:2 * rate]
    start = int(np.argmax(np.abs(np.correlate(clean, probe, mode="valid")))) - rate
    assert 0 <= start and start + x.size <= clean.size, (start, clean.size)
    to_speech, to_mixture = [], []
    for begin in range(BLOCK, x.size - 2 * BLOCK, BLOCK):
        wanted = speech[begin:begin + BLOCK]
        around = clean[max(start + begin - BLOCK, 0):start + begin + 2 * BLOCK]
        lag = int(np.argmax(np.abs(np.correlate(around, wanted, mode="valid"))))
        heard = around[lag:lag + BLOCK]
        to_speech.append(energy_ratio_db(heard, wanted))
        to_mixture.append(energy_ratio_db(heard, x[begin:begin + BLOCK]))
    print(f"PipeWire at {rate} Hz: the virtual source against the online separation, median "
          f"{np.median(to_speech):.1f} dB; against the mixture {np.median(to_mixture):.1f} dB")
    # The separation (to the stream's alignment with the frame grid), not the mixture.
    assert np.median(to_speech) < -20
    assert np.median(to_mixture) > np.median(to_speech) + 10
