"""livesep.lv2 in real LV2 hosts and checkers from Debian: sord_validate against the LV2
specs, lv2apply over a file (equal to ``separate --mode online`` after the latency, at 44.1
and 48 kHz), and pass-through with a message when its preset is missing or corrupt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.lv2 import at_rate, tool
from livesep import load_preset
from livesep.engine import EngineSettings, create_separator
from livesep.live.plugin import BUNDLE_NAME, PLUGIN_URI
from livesep.presets import Preset, default_preset
from livesep.resampling import chain
from livesep.separation.online import separate_online

SPECS = Path("/usr/lib/lv2")


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    specs = sorted(SPECS.glob("*/*.ttl"))
    assert specs, "the LV2 specs are not installed (Debian: lv2-dev)"
    return subprocess.run([tool("sord_validate"), *map(str, specs), *map(str, files)],
                          capture_output=True, text=True)


def test_turtle_validates_against_the_lv2_specs(lv2_path: Path) -> None:
    bundle = lv2_path / BUNDLE_NAME
    result = validate(bundle / "manifest.ttl", bundle / "livesep.ttl")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found 0 errors" in result.stdout + result.stderr


def test_validation_catches_a_broken_description(lv2_path: Path, tmp_path: Path) -> None:
    # The same check fails on a port whose index is not an integer.
    broken = (lv2_path / BUNDLE_NAME / "livesep.ttl").read_text().replace(
        "lv2:index 4 ;", 'lv2:index "four" ;')
    (tmp_path / "livesep.ttl").write_text(broken)
    result = validate(tmp_path / "livesep.ttl")
    assert "Found 0 errors" not in result.stdout + result.stderr


def lv2apply(lv2_folder: Path, x: np.ndarray, rate: int, folder: Path,
             controls: dict[str, float] | None = None) -> tuple[np.ndarray, str]:
    """The plugin's outputs (source 1, source 2, mix) over x, and what it said on stderr."""
    sf.write(folder / "in.wav", x, rate, subtype="FLOAT")
    command = [tool("lv2apply"), "-i", str(folder / "in.wav"), "-o", str(folder / "out.wav")]
    for symbol, value in (controls or {}).items():
        command += ["-c", symbol, str(value)]
    result = subprocess.run([*command, PLUGIN_URI], capture_output=True, text=True,
                            env=dict(os.environ, LV2_PATH=str(lv2_folder)), timeout=300)
    assert result.returncode == 0, result.stderr
    y, out_rate = sf.read(folder / "out.wav", dtype="float32", always_2d=True)
    assert out_rate == rate and y.shape == (x.size, 3)
    return y.T, result.stderr


def plugin_delay(preset: Preset, rate: int, settings: EngineSettings | None = None) -> int:
    """The plugin's latency running ``preset`` in a host at ``rate``: the engine's, and the
    resampling chain's around it at another rate than the preset's."""
    engine = create_separator(preset, settings=settings).latency_samples()
    return engine if rate == preset.sr else chain(rate, preset.sr, engine).delay


@pytest.mark.parametrize("rate", [16000, 44100, 48000])  # voice (its companion), voice-48k
def test_lv2apply_equals_online_separation(lv2_path: Path, tmp_path: Path, rate: int,
                                           speech_in_noise: tuple[np.ndarray, int]) -> None:
    preset = load_preset(default_preset(rate))  # the bundle's default at that rate
    x = at_rate(speech_in_noise, rate)
    y, said = lv2apply(lv2_path, x, rate, tmp_path)
    latency = plugin_delay(preset, rate)
    assert f"latency {latency} samples" in said
    expected = separate_online(x, preset, sr=rate)
    n = x.size - latency
    errors = np.abs(y[:2, latency:] - expected[:, :n]).max(axis=1)
    print(f"lv2apply at {rate} Hz: max error {errors.max():.3g} after {latency} samples")
    assert np.abs(expected).max() > 0.05
    assert errors.max() < 1e-5
    np.testing.assert_allclose(y[2], y[0] + y[1], atol=1e-6)


def test_strength_zero_gives_the_input(lv2_path: Path, tmp_path: Path,
                                       speech_in_noise: tuple[np.ndarray, int]) -> None:
    x, rate = speech_in_noise
    y, _ = lv2apply(lv2_path, x, rate, tmp_path, {"strength": 0.0})
    latency = create_separator(load_preset("voice")).latency_samples()
    np.testing.assert_allclose(y[0, latency:], x[: x.size - latency], atol=1e-5)
    assert np.abs(y[1]).max() < 1e-6


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_bad_preset_passes_audio_through(lv2_path: Path, tmp_path: Path, damage: str,
                                          speech_in_noise: tuple[np.ndarray, int]) -> None:
    folder = tmp_path / "lv2"
    shutil.copytree(lv2_path, folder)
    default = folder / BUNDLE_NAME / "presets" / "voice.npz"
    if damage == "missing":
        default.unlink()
    else:
        default.write_bytes(default.read_bytes()[:5000])
    x, rate = speech_in_noise
    y, said = lv2apply(folder, x, rate, tmp_path)
    assert str(default) in said and "passing audio through" in said
    np.testing.assert_array_equal(y[0], x)
    np.testing.assert_array_equal(y[2], x)
    assert not y[1].any()


@pytest.mark.parametrize("mode, latency", [(1, "low"), (2, "ultra")])
def test_the_latency_mode_port(lv2_path: Path, tmp_path: Path, mode: int, latency: str,
                               speech_in_noise: tuple[np.ndarray, int]) -> None:
    rate = 48000
    preset = load_preset(default_preset(rate))
    x = at_rate(speech_in_noise, rate)[: 3 * rate]
    y, said = lv2apply(lv2_path, x, rate, tmp_path, {"latency_mode": mode})
    settings = EngineSettings(latency=latency)
    engine = create_separator(preset, settings=settings).latency_samples()
    delay = plugin_delay(preset, rate, settings)
    assert f"latency mode {mode}, latency {delay} samples" in said
    assert engine == {"low": 383, "ultra": 143}[latency] and delay < plugin_delay(preset, rate)
    expected = separate_online(x, preset, sr=rate, settings=settings)
    errors = np.abs(y[:2, delay:] - expected[:, : x.size - delay]).max(axis=1)
    assert np.abs(expected).max() > 0.05 and errors.max() < 1e-5
