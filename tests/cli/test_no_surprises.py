"""What a new user ran into, each a case: nothing they have is overwritten or lost, output
paths are checked before any work starts, every error is one line with the flags they
typed, and notices say what is true."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.presets import noise, random_preset
from livesep import presets
from livesep.cli import main
from livesep.separation import files as separation_files


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0] and "internal error" not in err[0]
    return err[0]


def wav(path: Path, seconds: float = 1.0, sr: int = 16000, seed: int = 0) -> Path:
    sf.write(path, noise(int(seconds * sr), seed=seed), sr, subtype="FLOAT")
    return path


@pytest.fixture
def preset_file(tmp_path: Path) -> Path:
    return presets.save(random_preset((2, 2), 3), tmp_path / "random.npz")


@pytest.fixture
def no_separation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any separation fails the test: the error must come before the work."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("separated before checking the output")

    monkeypatch.setattr(separation_files, "separate_online", refuse)
    monkeypatch.setattr(separation_files, "separate_offline", refuse)


# --------------------------------------------------------------------------- 1. data loss

def test_train_never_replaces_an_input(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    recording = wav(tmp_path / "rec.wav", 2.0)
    other = wav(tmp_path / "other.wav", 2.0, seed=1)
    before = recording.read_bytes()
    for extra in ([], ["--overwrite"]):
        status = main(["train", "--out", str(recording), "--source", f"voice={recording}",
                       "--source", f"other={other}", "--model", "nmf", "--components", "2",
                       "--quiet", *extra])
        assert status == 1
        assert "is one of the inputs" in one_error_line(capsys)
        assert recording.read_bytes() == before


def test_train_asks_before_replacing_a_file(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    voice, room = wav(tmp_path / "voice.wav", 2.0), wav(tmp_path / "room.wav", 2.0, seed=1)
    out = tmp_path / "mine.npz"
    out.write_bytes(b"precious")
    command = ["train", "--out", str(out), "--source", f"voice={voice}", "--source",
               f"room={room}", "--model", "nmf", "--components", "2", "--quiet"]
    assert main(command) == 1
    assert "already exists (pass --overwrite to replace it)" in one_error_line(capsys)
    assert out.read_bytes() == b"precious"
    assert main([*command, "--overwrite"]) == 0
    assert presets.load(out).source_names == ("voice", "room")


@pytest.mark.parametrize("blind", [False, True])
def test_separate_never_replaces_its_input(blind: bool, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The mixture is named like a stem and the stems go to its folder: even --overwrite
    leaves it alone."""
    name = "source1.wav" if blind else "source0.wav"
    mix = wav(tmp_path / name)
    before = mix.read_bytes()
    preset = presets.save(random_preset((2, 2), 3), tmp_path / "p.npz")
    how = ["--model", "nmf2d"] if blind else ["--preset", str(preset)]
    assert main(["separate", str(mix), *how, "--out-dir", str(tmp_path), "--overwrite",
                 "--quiet"]) == 1
    assert "is one of the inputs; it is never overwritten" in one_error_line(capsys)
    assert mix.read_bytes() == before


# --------------------------------------------------------------------------- 2. huge numbers

@pytest.mark.parametrize("command", ["separate", "bench"])
@pytest.mark.parametrize("flag, value, message", [
    ("--beam", "2147483648", "--beam must be in [0, 1048576], got 2147483648"),
    ("--iterations", "9223372036854775808", "--iterations must be in [0, 1000]"),
])
def test_huge_numbers_are_one_line(command: str, flag: str, value: str, message: str,
                                   tmp_path: Path, preset_file: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    args = ([command, str(wav(tmp_path / "mix.wav")), "--out-dir", str(tmp_path / "out")]
            if command == "separate" else [command, "--seconds", "0.5", "--no-numpy"])
    assert main([*args, "--preset", str(preset_file), flag, value, "--quiet"]) == 1
    line = one_error_line(capsys)
    assert message in line and len(line) < 200


# --------------------------------------------------------------------------- 3. outputs first

@pytest.mark.parametrize("out_dir, message", [
    ("{tmp}/afile", "cannot be an output folder (it is a file)"),
    ("{tmp}/afile/below", "is inside"),
    ("/proc/self", "cannot write there"),
])
@pytest.mark.parametrize("mode", ["online", "offline"])
def test_separate_checks_the_output_folder_first(out_dir: str, message: str, mode: str,
                                                 tmp_path: Path, preset_file: Path,
                                                 no_separation: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_bytes(b"x")
    assert main(["separate", str(wav(tmp_path / "mix.wav")), "--preset", str(preset_file),
                 "--out-dir", out_dir.format(tmp=tmp_path), "--mode", mode, "--quiet"]) == 1
    assert message in one_error_line(capsys)


def test_blind_separation_checks_the_output_folder_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from livesep.separation import blind

    monkeypatch.setattr(blind, "separate_blind", lambda *a, **k: pytest.fail("separated"))
    (tmp_path / "afile").write_bytes(b"x")
    assert main(["separate", str(wav(tmp_path / "mix.wav")), "--model", "nmf2d",
                 "--out-dir", str(tmp_path / "afile"), "--quiet"]) == 1
    assert "cannot be an output folder" in one_error_line(capsys)


@pytest.mark.parametrize("out, message", [
    ("{tmp}", "is a folder; give the file to write"),
    ("/proc/self/preset.npz", "cannot write there"),
    ("{tmp}/missing/preset.npz", "does not exist"),
])
def test_train_checks_its_output_before_training(out: str, message: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from livesep.models import train

    monkeypatch.setattr(train, "train_source", lambda *a, **k: pytest.fail("trained"))
    voice, room = wav(tmp_path / "voice.wav"), wav(tmp_path / "room.wav", seed=1)
    assert main(["train", "--out", out.format(tmp=tmp_path), "--source", f"voice={voice}",
                 "--source", f"room={room}", "--quiet"]) == 1
    assert message in one_error_line(capsys)


def test_eval_checks_its_output_folder_first(tmp_path: Path, preset_file: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from livesep.evaluation import evaluate

    monkeypatch.setattr(evaluate, "evaluate_preset", lambda *a, **k: pytest.fail("scored"))
    (tmp_path / "afile").write_bytes(b"x")
    assert main(["eval", "--preset", str(preset_file), "--mixtures", str(tmp_path),
                 "--out-dir", str(tmp_path / "afile"), "--quiet"]) == 1
    assert "cannot be an output folder" in one_error_line(capsys)


# --------------------------------------------------------------------------- 4. cut-off files

def cut_short(path: Path) -> Path:
    """Half the file gone, the header still promising all of it."""
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def test_a_truncated_wav_is_separated_with_a_warning(tmp_path: Path, preset_file: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    mix = cut_short(wav(tmp_path / "mix.wav", 2.0))
    assert main(["separate", str(mix), "--preset", str(preset_file), "--out-dir",
                 str(tmp_path / "out"), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "warning" in err[0] and "cut short" in err[0], err
    assert "promises 2.00 s" in err[0] and "holds 1.00 s" in err[0]
    assert sf.info(tmp_path / "out" / "source0.wav").frames == sf.info(mix).frames


def test_a_whole_wav_gives_no_warning(tmp_path: Path, preset_file: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["separate", str(wav(tmp_path / "mix.wav")), "--preset", str(preset_file),
                 "--out-dir", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- 5. no stray bars

def test_no_progress_line_before_an_error(tmp_path: Path, preset_file: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The input's data is corrupt past a valid header: the error comes once work began."""
    mix = wav(tmp_path / "mix.wav", 1.0)
    data = bytearray(mix.read_bytes())
    data[-400:] = struct.pack("<f", float("nan")) * 100
    mix.write_bytes(bytes(data))
    assert main(["separate", str(mix), "--preset", str(preset_file), "--out-dir",
                 str(tmp_path / "out")]) == 1
    assert "non-finite samples" in one_error_line(capsys)


# --------------------------------------------------------------------------- 6. flags

@pytest.mark.parametrize("args, message", [
    (["--iterations", "-1"], "--iterations must be in [0, 1000], got -1"),
    (["--blocksize", "0"], "--blocksize must be in [1, 65536], got 0"),
    (["--beam", "-3"], "--beam must be in [0, 1048576], got -3"),
    (["--smoothing", "-1"], "--smoothing must be a finite number >= 0 and <= 10, got -1.0"),
])
def test_messages_name_the_flags_typed(args: list[str], message: str, tmp_path: Path,
                                       preset_file: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["separate", str(wav(tmp_path / "mix.wav")), "--preset", str(preset_file),
                 "--out-dir", str(tmp_path / "out"), "--quiet", *args]) == 1
    line = one_error_line(capsys)
    assert message in line
    assert "n_iter" not in line and "block_size" not in line


def test_blind_source_count_names_the_flag(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["separate", str(wav(tmp_path / "mix.wav")), "--model", "nmf2d",
                 "--sources", "65", "--out-dir", str(tmp_path / "out"), "--quiet"]) == 1
    line = one_error_line(capsys)
    assert "--sources must be in [1, 64], got 65" in line and "n_sources" not in line


# --------------------------------------------------------------------------- 7. notices

@pytest.mark.parametrize("file_sr, preset_sr, expected", [
    (48000, 16000, "the stems hold nothing above 8000 Hz"),
    (8000, 16000, None),
    (16000, 44100, None),
])
def test_the_resampling_notice_states_the_true_limit(file_sr: int, preset_sr: int,
                                                     expected: str | None, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    n_fft = 512 if preset_sr == 16000 else 1024
    preset = presets.save(random_preset((2, 2), 3, sr=preset_sr, n_fft=n_fft,
                                        hop_length=n_fft // 4), tmp_path / "p.npz")
    mix = wav(tmp_path / "mix.wav", 0.5, sr=file_sr)
    assert main(["separate", str(mix), "--preset", str(preset), "--out-dir",
                 str(tmp_path / "out")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and f"the input is at {file_sr} Hz" in notes[0]
    if expected is None:
        assert "nothing above" not in notes[0]
    else:
        assert expected in notes[0]


# --------------------------------------------------------------------------- 8. names

def test_a_file_named_like_a_shipped_preset_does_not_replace_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("speech-noise-nhmm").write_bytes(b"not a preset")
    mix = wav(tmp_path / "mix.wav")
    assert main(["separate", str(mix), "--preset", "speech-noise-nhmm", "--out-dir", "out",
                 "--quiet"]) == 0
    assert sorted(os.listdir("out")) == ["noise.wav", "speech.wav"]
    assert main(["separate", str(mix), "--preset", "./speech-noise-nhmm", "--out-dir",
                 "out2", "--quiet"]) == 1
    assert "speech-noise-nhmm: not a preset file" in one_error_line(capsys)
    Path("mine").write_bytes(b"x")
    assert main(["separate", str(mix), "--preset", "mine", "--out-dir", "out3",
                 "--quiet"]) == 1
    assert "give it as ./mine" in one_error_line(capsys)


# --------------------------------------------------------------------------- 9. one source

def test_training_one_source_is_refused(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    voice = wav(tmp_path / "voice.wav", 2.0)
    assert main(["train", "--out", str(tmp_path / "p.npz"), "--source", f"voice={voice}",
                 "--model", "nmf", "--components", "2", "--quiet"]) == 1
    line = one_error_line(capsys)
    assert "a preset separates 2 to 16 sources, got 1" in line
    assert not (tmp_path / "p.npz").exists()


def upper_band_energy(y: np.ndarray, sr: int) -> float:
    """The energy of ``y`` above 8.5 kHz."""
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    return float(spectrum[np.fft.rfftfreq(y.size, 1 / sr) > 8500].sum())


@pytest.mark.parametrize("sr", [16000, 48000])
def test_without_a_preset_the_default_voice_preset_separates(tmp_path: Path, sr: int,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    mix = wav(tmp_path / "mix.wav", sr=sr)
    assert main(["separate", str(mix), "--out-dir", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["noise.wav", "speech.wav"]
    assert "note:" not in capsys.readouterr().err  # no resampling, nothing lost
    # White noise in, so at 48 kHz the full-band default leaves the noise stem its band above
    # 8 kHz, where the 16 kHz default has nothing.
    stems = {p.stem: sf.read(p)[0] for p in (tmp_path / "out").iterdir()}
    assert all(sf.info(tmp_path / "out" / f"{name}.wav").samplerate == sr for name in stems)
    if sr == 48000:
        upper = {name: upper_band_energy(y, sr) for name, y in
                 (("input", sf.read(mix)[0]), ("noise", stems["noise"]))}
        assert upper["noise"] > 0.5 * upper["input"], upper
