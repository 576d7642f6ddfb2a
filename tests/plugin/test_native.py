"""The engine without Python: its ctest executable, and the C++ preset reader, engine and
resampling chain against the Python package on every shipped preset."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.lv2 import at_rate, tool
from helpers.preset_files import members_of, pack, unpack
from helpers.presets import random_encoder_preset, random_preset, random_unfolded_preset
from livesep import load_preset
from livesep.presets import Preset, extend_band, save
from livesep.presets.shipped import shipped_presets
from livesep.separation.online import separate_online

SHIPPED = [path.stem for path in shipped_presets()]


def separate_raw(native_build: Path, tmp_path: Path, path: Path, rate: int,
                 block: int = 333) -> subprocess.CompletedProcess[str]:
    """``livesep_separate_raw`` on the preset file, from ``tmp_path/in.f32`` to ``out.f32``."""
    return subprocess.run(
        [str(native_build / "livesep_separate_raw"), str(path), str(rate), str(block),
         str(tmp_path / "in.f32"), str(tmp_path / "out.f32")], capture_output=True, text=True)


def native_matches_python(native_build: Path, tmp_path: Path, path: Path, preset: Preset,
                          x: np.ndarray, rate: int) -> np.ndarray:
    """The stems of ``livesep_separate_raw`` on the preset file equal Python's (returned),
    its reported latency later, in blocks of 333 samples."""
    x.tofile(tmp_path / "in.f32")
    result = separate_raw(native_build, tmp_path, path, rate)
    assert result.returncode == 0, result.stderr
    latency = int(result.stdout)
    raw = np.fromfile(tmp_path / "out.f32", dtype=np.float32).reshape(-1, preset.n_sources).T
    expected = separate_online(x, preset, sr=rate)
    np.testing.assert_allclose(raw[:, latency:], expected[:, : x.size - latency], atol=1e-5,
                               rtol=0)
    return expected


def test_ctest_passes(native_build: Path) -> None:
    result = subprocess.run([tool("ctest"), "--output-on-failure"], cwd=native_build,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "100% tests passed" in result.stdout


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("rate", [None, 44100, 48000])
def test_cpp_reader_and_engine_match_python(native_build: Path, tmp_path: Path, name: str,
                                            rate: int | None,
                                            speech_in_noise: tuple[np.ndarray, int]) -> None:
    preset = load_preset(name)
    rate = rate or preset.sr
    x = at_rate(speech_in_noise, rate)[: 2 * rate]
    expected = native_matches_python(native_build, tmp_path,
                                     shipped_presets()[SHIPPED.index(name)], preset, x, rate)
    assert np.abs(expected).max() > 0.01


def test_cpp_reader_refuses_damaged_presets(native_build: Path, tmp_path: Path) -> None:
    good = shipped_presets()[0].read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[: len(good) // 2])
    (tmp_path / "in.f32").write_bytes(np.zeros(16, np.float32).tobytes())
    for name, needle in (("cut.npz", "truncated"), ("missing.npz", "no such file")):
        result = separate_raw(native_build, tmp_path, tmp_path / name, 16000, block=16)
        assert result.returncode == 1
        assert str(tmp_path / name) in result.stderr and needle in result.stderr


@pytest.mark.parametrize("rate", [16000, 48000])
def test_cpp_reader_runs_a_recurrent_encoder_preset(native_build: Path, tmp_path: Path,
                                                    rate: int,
                                                    speech_in_noise: tuple[np.ndarray, int]
                                                    ) -> None:

    preset = random_encoder_preset((5, 4), hidden=12, layers=2, seed=3)
    path = save(preset, tmp_path / "nae.npz")
    x = at_rate(speech_in_noise, rate)[: 2 * rate]
    native_matches_python(native_build, tmp_path, path, preset, x, rate)
    meta, arrays = unpack(path)
    meta["version"] = 2
    older = pack(tmp_path / "v2.npz", members_of(meta, arrays))
    refused = separate_raw(native_build, tmp_path, older, rate)
    assert refused.returncode == 1 and "recurrent encoders came with version 3" in refused.stderr


@pytest.mark.parametrize("rate", [16000, 44100])
def test_cpp_reader_runs_a_noise_floor(native_build: Path, tmp_path: Path, rate: int,
                                       speech_in_noise: tuple[np.ndarray, int]) -> None:
    made = random_unfolded_preset((5, 4), 3, seed=2)
    preset = dataclasses.replace(made, sources=[
        made.sources[0], dataclasses.replace(made.sources[1], floor=30.0)])
    path = save(preset, tmp_path / "floor.npz")
    x = at_rate(speech_in_noise, rate)[: 2 * rate]
    expected = native_matches_python(native_build, tmp_path, path, preset, x, rate)
    plain = separate_online(x, made, sr=rate)
    assert np.abs(plain - expected).max() > 1e-3  # the floor was read and used
    meta, arrays = unpack(path)
    meta["version"] = 3
    older = pack(tmp_path / "v3.npz", members_of(meta, arrays))
    refused = separate_raw(native_build, tmp_path, older, rate)
    assert refused.returncode == 1 and "noise floors came with version 4" in refused.stderr


def test_cpp_reader_refuses_fit_bins_in_an_older_version(native_build: Path,
                                                        tmp_path: Path) -> None:
    meta, arrays = unpack(shipped_presets()[SHIPPED.index("bass-drums-nhmm-48k")])
    assert meta["version"] == 5 and meta["fit_bins"] == 231
    meta["version"] = 4
    older = pack(tmp_path / "v4.npz", members_of(meta, arrays))
    np.zeros(16, np.float32).tofile(tmp_path / "in.f32")
    refused = separate_raw(native_build, tmp_path, older, 48000, block=16)
    assert refused.returncode == 1
    assert "fits on the lower bins came with version 5" in refused.stderr


@pytest.mark.parametrize("rate", [48000, 44100])
def test_cpp_reader_runs_fit_bins_beside_a_noise_floor(native_build: Path, tmp_path: Path,
                                                       rate: int,
                                                       speech_in_noise: tuple[np.ndarray, int]
                                                       ) -> None:
    made = random_preset((3, 2), 4, seed=2)
    floored = made.with_sources([made.sources[0],
                                 dataclasses.replace(made.sources[1], floor=30.0)])
    rng = np.random.default_rng(0)
    recordings = {name: rng.standard_normal(48000).astype(np.float32)
                  for name in floored.source_names}
    preset = extend_band(floored, recordings, sr=48000)
    path = save(preset, tmp_path / "lower.npz")
    x = at_rate(speech_in_noise, rate)[: 2 * rate]
    expected = native_matches_python(native_build, tmp_path, path, preset, x, rate)
    every_bin = separate_online(x, dataclasses.replace(preset, fit_bins=None), sr=rate)
    assert np.abs(every_bin - expected).max() > 1e-3  # fit_bins was read and used


@pytest.mark.parametrize("rate, preset_rate", [(16000, 16000), (48000, 16000), (48000, 48000)])
def test_cpp_reader_runs_a_noise_aware_companion(native_build: Path, tmp_path: Path, rate: int,
                                                 preset_rate: int,
                                                 speech_in_noise: tuple[np.ndarray, int]
                                                 ) -> None:
    # At 48 kHz, a 16 kHz companion on the lower bins of the preset's frames.
    scale = preset_rate // 16000
    made = random_unfolded_preset((5, 4), 3, sr=preset_rate, n_fft=512 * scale,
                                  hop_length=128 * scale, seed=2)
    main = dataclasses.replace(made, sources=[
        made.sources[0], dataclasses.replace(made.sources[1], floor=30.0)])
    companion = random_encoder_preset((5, 4), hidden=12, seed=3, noise_aware=True)
    preset = dataclasses.replace(main, companion=companion, companion_share=0.35)
    path = save(preset, tmp_path / "pair.npz")
    x = at_rate(speech_in_noise, rate)[: 2 * rate]
    expected = native_matches_python(native_build, tmp_path, path, preset, x, rate)
    assert np.abs(separate_online(x, main, sr=rate) - expected).max() > 1e-3
    _, arrays = unpack(path)
    for change, needle in (
            (lambda m: m.update(version=5), "companions came with version 6"),
            (lambda m: m["companion"].update(share=1.5), "companion.share must be a number in "
                                                         "(0, 1), got 1.5"),
            (lambda m: m["companion"]["preset"].update(hop_length=64),
             "must have this preset's sources, and its n_fft and hop_length at this preset's "
             "sr or a lower one"),
            (lambda m: m["companion"]["preset"].update(sr=2 * m["sr"]),
             "at this preset's sr or a lower one, as long in seconds"),
            (lambda m: m["companion"]["preset"]["encoder"].update(features="snr"),
             "encoder.features must be 'noise-aware', got 'snr'"),
            (lambda m: m["companion"]["preset"]["encoder"].pop("features"),
             "companion.encoder.input_weights: shape (12, 514) does not match"),
            (lambda m: m.pop("companion"), "unexpected entry 'companion.")):
        changed = unpack(path)[0]
        change(changed)
        bad = pack(tmp_path / "bad.npz", members_of(changed, arrays))
        refused = separate_raw(native_build, tmp_path, bad, rate)
        assert refused.returncode == 1 and needle in refused.stderr, refused.stderr


@pytest.mark.parametrize("rate, preset_rate", [(44100, 44100), (48000, 48000), (48000, 16000)])
def test_cpp_reader_runs_a_fit_on_bands(native_build: Path, tmp_path: Path, rate: int,
                                        preset_rate: int,
                                        speech_in_noise: tuple[np.ndarray, int]) -> None:
    # fit_bands_above: the C++ reader makes the bands livesep.spectral.fit_bands makes.
    scale = preset_rate / 16000
    made = random_unfolded_preset((5, 4), 3, sr=preset_rate, n_fft=4 * round(128 * scale),
                                  hop_length=round(128 * scale), seed=2)
    floored = dataclasses.replace(made, sources=[
        made.sources[0], dataclasses.replace(made.sources[1], floor=30.0)])
    preset = dataclasses.replace(floored, fit_bands_above=min(4000.0, preset_rate / 4))
    path = save(preset, tmp_path / "banded.npz")
    x = at_rate(speech_in_noise, rate)[: 2 * rate]
    expected = native_matches_python(native_build, tmp_path, path, preset, x, rate)
    every_bin = separate_online(x, floored, sr=rate)
    assert np.abs(every_bin - expected).max() > 1e-3 * np.abs(expected).max()
    _, arrays = unpack(path)
    for change, needle in (
            (lambda m: m.update(version=6), "fits on bands came with version 7"),
            (lambda m: m.update(fit_bands_above=m["sr"] / 2), "fit_bands_above must be a "
                                                              "number of Hz in (0, "),
            (lambda m: m.update(fit_bands_above="4000"), "fit_bands_above must be a number"),
            (lambda m: m.update(fit_bins=100), "fit_bands_above and fit_bins exclude each "
                                               "other")):
        changed = unpack(path)[0]
        change(changed)
        bad = pack(tmp_path / "bad.npz", members_of(changed, arrays))
        refused = separate_raw(native_build, tmp_path, bad, rate)
        assert refused.returncode == 1 and needle in refused.stderr, refused.stderr
