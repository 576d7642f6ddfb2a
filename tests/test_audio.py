"""Audio file reading, mixing down, resampling and atomic writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livesep import AudioFileError, ParameterError, audio


def tone(n: int, sr: int, freq: float = 440.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_24"),
                                          ("OGG", "VORBIS")])
def test_load_reads_common_formats(tmp_path: Path, sr: int, fmt: str, subtype: str) -> None:
    x = tone(sr // 2, sr)
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, x, sr, format=fmt, subtype=subtype)
    y, file_sr = audio.load(path)
    assert file_sr == sr
    assert y.dtype == np.float32 and y.shape == (sr // 2,)
    tolerance = 0.05 if fmt == "OGG" else 1e-3
    assert np.max(np.abs(y - x)) < tolerance


def test_load_mixes_down_on_request(tmp_path: Path) -> None:
    left, right = tone(1600, 16000, 300.0), tone(1600, 16000, 500.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    stereo, _ = audio.load(path, mono=False)
    mono, _ = audio.load(path)
    assert stereo.shape == (2, 1600)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("orig_sr, target_sr", [(44100, 16000), (16000, 48000), (48000, 16000)])
def test_resample_keeps_duration_and_tone(orig_sr: int, target_sr: int) -> None:
    x = tone(orig_sr, orig_sr, 1000.0)
    y = audio.resample(x, orig_sr=orig_sr, target_sr=target_sr)
    assert y.dtype == np.float32 and y.size == target_sr
    spectrum = np.abs(np.fft.rfft(y[target_sr // 4: 3 * target_sr // 4]))
    peak_hz = np.argmax(spectrum) * target_sr / (target_sr // 2)
    assert abs(peak_hz - 1000.0) <= 2.0


def test_load_resamples_to_requested_rate(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(44100, 44100), 44100)
    y, sr = audio.load(path, sr=16000)
    assert sr == 16000 and y.size == 16000


def test_write_round_trips_and_leaves_no_temporary(tmp_path: Path) -> None:
    x = np.stack([tone(800, 16000), -tone(800, 16000)])
    written = audio.write(tmp_path / "out.wav", x, sr=16000)
    y, sr = audio.load(written, mono=False)
    assert sr == 16000
    np.testing.assert_array_equal(y, x)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_failed_write_keeps_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.wav"
    audio.write(target, tone(100, 16000), sr=16000)
    before = target.read_bytes()
    with pytest.raises(ParameterError):
        audio.write(target, np.zeros((2, 2, 2)), sr=16000)
    assert target.read_bytes() == before


def test_write_into_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="does not exist"):
        audio.write(tmp_path / "nowhere" / "x.wav", tone(10, 16000), sr=16000)


def make_corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.wav"
    sf.write(path, tone(16000, 16000), 16000)
    data = bytearray(path.read_bytes())
    data[:12] = b"\x00" * 12
    path.write_bytes(bytes(data))
    return path


def make_empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    return path


def make_text(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp3"
    path.write_text("these are not sounds\n" * 50)
    return path


def make_nan(tmp_path: Path) -> Path:
    path = tmp_path / "nan.wav"
    x = tone(1000, 16000)
    x[10] = np.nan
    sf.write(path, x, 16000, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing.wav", "no such file"),
        (lambda tmp: tmp, "is a folder"),
        (make_corrupt, "not a readable audio file"),
        (make_empty, "holds no audio"),
        (make_text, "not a readable audio file"),
        (make_nan, "non-finite"),
    ],
)
def test_bad_files_raise_audio_file_error_naming_the_file(tmp_path: Path, make, message: str
                                                          ) -> None:
    path = make(tmp_path)
    with pytest.raises(AudioFileError, match=message) as caught:
        audio.load(path)
    assert str(path) in str(caught.value)


def test_info_reads_header(tmp_path: Path) -> None:
    path = tmp_path / "i.flac"
    sf.write(path, np.zeros((4410, 2), dtype=np.float32), 44100, format="FLAC")
    header = audio.info(path)
    assert (header.sr, header.channels, header.frames) == (44100, 2, 4410)
    assert header.duration == pytest.approx(0.1)


@pytest.mark.parametrize("bad_sr", [0, -16000, 16000.5])
def test_bad_rate_is_a_parameter_error(tmp_path: Path, bad_sr: object) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(100, 16000), 16000)
    with pytest.raises(ParameterError, match=str(bad_sr)):
        audio.load(path, sr=bad_sr)  # type: ignore[arg-type]
