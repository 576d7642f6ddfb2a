"""``livesep eval`` and ``livesep bench`` on small inputs, and one clear line for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.eval_material import SR, mixtures_dir, sources, tone_preset, write_mixture
from helpers.presets import random_preset
from livesep import presets
from livesep.cli import main


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture(scope="module")
def preset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return presets.save(tone_preset(), tmp_path_factory.mktemp("preset") / "tones.npz")


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mixtures_dir(tmp_path_factory.mktemp("mixtures"), n=2, seconds=1.0)


def test_eval_prints_a_table_and_writes_json_and_png(preset_file: Path, mixtures: Path,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    status = main(["eval", "--preset", str(preset_file), "--mixtures", str(mixtures),
                   "--out-dir", str(out), "--methods", "online", "mixture", "irm",
                   "--speech", "low", "--beam", "16", "--iterations", "5", "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    for text in ("mix00", "mix01", "mean of 2 mixtures", "online", "mixture (floor)",
                 "IRM (ceiling)", "SDR", "SI-SDR", "PESQ"):
        assert text in captured.out
    data = json.loads((out / "eval.json").read_text())
    assert data["methods"] == ["online", "mixture", "irm"]
    assert data["settings"]["beam"] == 16 and data["settings"]["n_iter"] == 5
    assert data["speech_sources"] == ["low"]
    assert data["mean"]["online"]["all"]["sdr"] > data["mean"]["mixture"]["all"]["sdr"] + 5
    assert (out / "eval.png").read_bytes()[:4] == b"\x89PNG"
    assert str(out / "eval.json") in captured.out


def test_eval_means_only_on_one_mixture_folder(preset_file: Path, mixtures: Path,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["eval", "--preset", str(preset_file), "--mixtures", str(mixtures / "mix00"),
                   "--out-dir", str(tmp_path), "--methods", "offline", "irm", "--speech",
                   "none", "--means-only", "--quiet"])
    out = capsys.readouterr().out
    assert status == 0
    assert "mix00" in out and "offline" in out and "online" not in out.split("Separation")[0]
    assert json.loads((tmp_path / "eval.json").read_text())["speech_sources"] == []


def test_eval_reports_swapped_outputs_as_a_failure(mixtures: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    swapping = presets.save(tone_preset(names=("high", "low")), tmp_path / "swapping.npz")
    status = main(["eval", "--preset", str(swapping), "--mixtures", str(mixtures),
                   "--out-dir", str(tmp_path / "out"), "--methods", "online", "mixture",
                   "--quiet"])
    captured = capsys.readouterr()
    assert status == 3
    assert "SWAPPED" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "2 separation(s) swapped their outputs: online on mix00" in err[0]
    data = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert data["swaps"] == [{"file": "mix00", "method": "online"},
                             {"file": "mix01", "method": "online"}]


def test_eval_skips_mixtures_of_other_sources_with_a_note(preset_file: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    root = mixtures_dir(tmp_path / "set", n=1, seconds=1.0)
    pair = sources(seconds=1.0)
    write_mixture(root / "speech-noise", {"speech": pair["low"], "noise": pair["high"]})
    status = main(["eval", "--preset", str(preset_file), "--mixtures", str(root),
                   "--out-dir", str(tmp_path / "out"), "--methods", "mixture", "--quiet"])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err.strip() == ("note: skipped 1 mixture folder(s) without low.wav or "
                                    "high.wav: speech-noise")
    assert "mix00" in captured.out and "speech-noise" not in captured.out


def _break(folder: Path, problem: str) -> None:
    refs = sources(seconds=1.0)
    high = folder / "high.wav"
    if problem == "missing":
        high.unlink()
    elif problem == "misnamed":
        high.rename(folder / "hi.wav")
    elif problem == "length":
        sf.write(high, refs["high"][:-100], SR, subtype="FLOAT")
    elif problem == "rate":
        sf.write(high, refs["high"][::2], SR // 2, subtype="FLOAT")
    elif problem == "stereo":
        sf.write(high, np.stack([refs["high"]] * 2, axis=1), SR, subtype="FLOAT")
    elif problem == "corrupt":
        high.write_bytes(b"RIFF nonsense")


@pytest.mark.parametrize("problem, expected", [
    ("missing", "no reference for source 'high'; expected low.wav, high.wav beside mix.wav"),
    ("misnamed", "(found hi.wav, low.wav, mix.wav)"),
    ("length", "high.wav: 15900 samples, but mix.wav has 16000"),
    ("rate", "high.wav: 8000 Hz, but mix.wav is 16000 Hz"),
    ("stereo", "high.wav: 2 channels; mixtures and references must be mono"),
    ("corrupt", "high.wav: not a readable audio file"),
])
def test_eval_bad_references_give_one_clear_line(preset_file: Path, tmp_path: Path,
                                                 problem: str, expected: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "set"
    write_mixture(root / "good", sources(seconds=1.0))
    broken = write_mixture(root / "broken", sources(seconds=1.0, seed=5))
    _break(broken, problem)
    status = main(["eval", "--preset", str(preset_file), "--mixtures", str(root),
                   "--out-dir", str(tmp_path / "out"), "--quiet"])
    assert status == 1
    line = one_error_line(capsys)
    assert line.startswith("livesep eval: error: ") and expected in line
    assert not (tmp_path / "out").exists()  # nothing written for a run that failed


@pytest.mark.parametrize("args, expected", [
    (["--mixtures", "{tmp}/nowhere"], "nowhere: no such folder of mixtures"),
    (["--mixtures", "{tmp}"], "no mixtures; expected"),
    (["--speech", "voice"], "speech source 'voice' is not a source of the preset"),
    (["--preset", "{tmp}/missing.npz"], "missing.npz: no such preset file"),
    (["--beam", "-1"], "--beam must be in [0, 1048576], got -1"),
    (["--methods", "online", "online"], "--methods lists a method twice"),
])
def test_eval_bad_arguments_give_one_clear_line(preset_file: Path, mixtures: Path,
                                                tmp_path: Path, args: list[str], expected: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    base = {"--preset": str(preset_file), "--mixtures": str(mixtures)}
    argv = ["eval", "--out-dir", str(tmp_path / "out"), "--quiet"]
    given = [a.format(tmp=tmp_path) for a in args]
    for key, value in base.items():
        if key not in given:
            argv += [key, value]
    status = main(argv + given)
    assert status == 1
    assert expected in one_error_line(capsys)


@pytest.fixture(scope="module")
def nhmm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return presets.save(random_preset((4, 5), n_components=3),
                        tmp_path_factory.mktemp("nhmm") / "small.npz")


def test_bench_times_the_engine_beside_numpy(nhmm_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "--preset", str(nhmm_file), "--seconds", "1", "--blocksize", "256",
                   "--beam", "8", "--iterations", "4", "--quiet"])
    out = " ".join(capsys.readouterr().out.split())  # the caption wraps anywhere
    assert status == 0
    for text in ("C++ engine, own clock", "C++ engine", "numpy reference", "median µs",
                 "p99 %ddl", "RTF", "numpy / C++", "20 joint states", "beam of 8 of 20",
                 "4 iterations", "blocks of 256", "deadline 16.000 ms"):
        assert text in out, text
    assert "/ 62" in out  # late blocks out of the 62 blocks of 256 in one second


def test_bench_engine_only_on_an_input_file(nhmm_file: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "in.wav"
    sf.write(wav, sources(seconds=1.0, sr=8000)["low"], 8000)  # resampled to 16 kHz
    status = main(["bench", "--preset", str(nhmm_file), "--input", str(wav), "--no-numpy",
                   "--quiet"])
    out = capsys.readouterr().out
    assert status == 0
    assert "in.wav" in out and "numpy reference" not in out and "C++ engine" in out


def test_bench_uses_a_shipped_preset_by_default(nhmm_file: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import livesep.presets.shipped

    monkeypatch.setattr(livesep.presets.shipped, "shipped_presets", lambda: [])
    assert main(["bench", "--quiet"]) == 1
    line = one_error_line(capsys)
    assert "no shipped preset is installed; pass --preset P" in line
    monkeypatch.setattr(livesep.presets.shipped, "shipped_presets", lambda: [nhmm_file])
    assert main(["bench", "--seconds", "0.5", "--no-numpy", "--quiet"]) == 0
    assert "C++ engine" in capsys.readouterr().out


@pytest.mark.parametrize("args, expected", [
    (["--blocksize", "0"], "--blocksize must be in [1, 65536], got 0"),
    (["--seconds", "0"], "seconds must be in (0, 3600], got 0.0"),
    (["--seconds", "0.01", "--blocksize", "4096"], "fewer than 2 blocks of 4096"),
    (["--iterations", "-2"], "--iterations must be in [0, 1000], got -2"),
    (["--input", "/nonexistent.wav"], "/nonexistent.wav: no such file"),
])
def test_bench_bad_arguments_give_one_clear_line(nhmm_file: Path, args: list[str],
                                                 expected: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--preset", str(nhmm_file), "--quiet", *args]) == 1
    assert expected in one_error_line(capsys)
