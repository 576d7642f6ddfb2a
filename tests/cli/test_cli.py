"""The command line: help, train, separate, and one clear line for every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livesep import audio, presets
from livesep.cli import build_parser, main
from livesep.resampling import chain, resample_stream

SUBCOMMANDS = ["demo", "train", "separate", "live", "gui", "devices", "bench", "eval"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def tone_file(path: Path, freqs: list[float], *, seconds: float = 3.0, sr: int = 16000,
              channels: int = 1, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    # Notes that change every 0.25 s: something for states to track.
    note = (t * 4).astype(int) % len(freqs)
    x = 0.3 * np.sin(2 * np.pi * np.asarray(freqs)[note] * t) + 0.01 * rng.standard_normal(t.size)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    sf.write(path, data.astype(np.float32), sr,
             subtype="FLOAT" if path.suffix == ".wav" else "PCM_16")
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    low = folder / "low"
    low.mkdir()
    tone_file(low / "a.wav", [110.0, 147.0, 196.0])
    tone_file(low / "b.flac", [123.0, 165.0], seed=1)
    high = tone_file(folder / "high.wav", [1760.0, 2349.0, 2637.0], seed=2)
    return {"low": low, "high": high}


@pytest.fixture(scope="module")
def trained(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("preset") / "tones.npz"
    status = main(["train", "--out", str(out), "--source", f"low={sources['low']}",
                   "--source", f"high={sources['high']}", "--model", "nhmm", "--components", "3",
                   "--states", "3", "--iterations", "3", "--quiet"])
    assert status == 0
    return out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_explains_itself(command: str, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert len(capsys.readouterr().out) > 100


def test_no_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["gui"], ["demo", "--gui"]])
def test_the_app_without_a_display_says_so(argv: list[str], capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(argv) == 1
    assert "no display: neither DISPLAY nor WAYLAND_DISPLAY is set" in one_error_line(capsys)


def test_train_writes_a_loadable_preset(trained: Path) -> None:
    preset = presets.load(trained)
    assert preset.source_names == ("low", "high")
    assert preset.model == "nhmm"
    assert [s.n_states for s in preset.sources] == [3, 3]
    assert preset.sources[0].provenance["n_files"] == 2


def test_train_takes_per_source_sizes(sources: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sizes.npz"
    assert main(["train", "--out", str(out), "--source", f"low={sources['low']}", "--source",
                 f"high={sources['high']}", "--states", "3", "--states", "high=2",
                 "--components", "high=2", "--components", "4", "--iterations", "2",
                 "--quiet"]) == 0
    preset = presets.load(out)
    assert [(s.n_states, s.n_components) for s in preset.sources] == [(3, 4), (2, 2)]


def test_train_gives_a_source_a_noise_floor(sources: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "floor.npz"
    assert main(["train", "--out", str(out), "--source", f"low={sources['low']}", "--source",
                 f"high={sources['high']}", "--states", "2", "--floor", "high=12.5",
                 "--iterations", "2", "--quiet"]) == 0
    assert [s.floor for s in presets.load(out).sources] == [0.0, 12.5]


def test_train_convolutive_sources(sources: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "nmfd.npz"
    assert main(["train", "--out", str(out), "--source", f"high={sources['high']}",
                 "--source", f"low={sources['low']}", "--model", "nmfd", "--frames", "3",
                 "--components", "4", "--iterations", "10", "--quiet"]) == 0
    source = presets.load(out).sources[0]
    assert (source.frames, source.n_states, source.W.shape[0]) == (3, 1, 3)


def test_train_is_deterministic_for_a_seed(sources: dict[str, Path], tmp_path: Path) -> None:
    arrays = []
    for name in ("a.npz", "b.npz"):
        assert main(["train", "--out", str(tmp_path / name), "--source",
                     f"high={sources['high']}", "--source", f"low={sources['low']}",
                     "--model", "nmf", "--components", "4", "--iterations", "20", "--seed",
                     "3", "--quiet"]) == 0
        arrays.append(presets.load(tmp_path / name).sources[0].W)
    np.testing.assert_array_equal(arrays[0], arrays[1])


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--source", "x=/nonexistent/path.wav"], "no such file"),
        (["--source", "x={empty}"], "no audio files"),
        (["--source", "x={short}", "--states", "20"], "too little"),
        (["--source", "x={high}", "--components", "0"], "got 0"),
        (["--source", "x={high}", "--model", "nmf", "--states", "4"], "one state"),
        (["--source", "x={high}", "--beta", "0.5", "--model", "nmf"], "got 0.5"),
        (["--source", "x={high}", "--model", "nhmm", "--beta", "2"], "KL"),
        (["--source", "x={high}", "--n-fft", "502"], "got 502"),
        (["--source", "nameonly"], "NAME=PATH"),
        (["--source", "x={high}", "--source", "X={high}"], "twice"),
        (["--source", "x={notaudio}"], "not a readable audio file"),
        (["--source", "x={high}", "--states", "y=3"], "unknown source"),
        (["--source", "x={high}", "--states", "x=many"], "NAME=INTEGER"),
        (["--source", "x={high}", "--floor", "30"], "--floor must be NAME=NUMBER, got '30'"),
        (["--source", "x={high}", "--floor", "x=loud"], "NAME=NUMBER"),
        (["--source", "x={high}", "--floor", "y=3"], "unknown source"),
        (["--source", "x={high}", "--floor", "x=-2"], "got -2"),
        (["--source", "x={high}", "--model", "nmfd", "--frames", "1"], "frames"),
        (["--source", "x={high}", "--model", "nmf", "--frames", "3"], "frames"),
    ],
)
def test_train_bad_input_is_one_clear_line(arguments: list[str], message: str,
                                           sources: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    short = tone_file(tmp_path / "short.wav", [440.0], seconds=0.5)
    notaudio = tmp_path / "notes.wav"
    notaudio.write_text("not audio")
    filled = [a.format(empty=empty, short=short, high=sources["high"], notaudio=notaudio)
              for a in arguments]
    out = tmp_path / "p.npz"
    other = ["--source", f"other={sources['low']}"]  # a preset separates two sources at least
    assert main(["train", "--out", str(out), "--quiet", *filled, *other]) == 1
    assert message in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("mode", ["online", "offline"])
@pytest.mark.parametrize("sr, channels", [(16000, 1), (44100, 2)])
def test_separate_writes_aligned_stems_at_the_input_rate(
        trained: Path, tmp_path: Path, mode: str, sr: int, channels: int,
        capsys: pytest.CaptureFixture[str]) -> None:
    mix = tmp_path / "mix.wav"
    low, high = tmp_path / "l.wav", tmp_path / "h.wav"
    tone_file(low, [110.0, 196.0], seconds=2.0, sr=sr, channels=channels, seed=4)
    tone_file(high, [1760.0, 2637.0], seconds=2.0, sr=sr, channels=channels, seed=5)
    mixture = sf.read(low)[0] + sf.read(high)[0]
    sf.write(mix, mixture.astype(np.float32), sr, subtype="FLOAT")
    out_dir = tmp_path / "stems"
    assert main(["separate", str(mix), "--preset", str(trained), "--out-dir", str(out_dir),
                 "--mode", mode]) == 0
    captured = capsys.readouterr()
    assert ("channels" in captured.err) == (channels > 1)
    assert ("44100 Hz" in captured.err) == (sr == 44100)
    stems = {}
    for name in ("low", "high"):
        y, file_sr = audio.load(out_dir / f"{name}.wav", mono=False)
        assert file_sr == sr and y.shape == (2 * sr,)
        stems[name] = y
    mono = (mixture.mean(axis=1) if channels > 1 else mixture).astype(np.float32)
    # The stems hold what the preset's rate can: the mixture band-limited to 8 kHz, online
    # by the live path's resamplers (their delay removed), offline by the file ones (with
    # silence around it, so that the filters' ringing past both ends is kept).
    if mode == "online" and sr != 16000:
        path = chain(sr, 16000, 0)
        ahead = np.concatenate([mono, np.zeros(path.delay + 64, np.float32)])
        band_limited = resample_stream(
            resample_stream(ahead, sr, 16000, live=True), 16000, sr,
            input_delay=path.up_input_delay, live=True)[path.delay:path.delay + mono.size]
    else:
        pad = sr // 10
        around = np.pad(mono, (pad, pad))
        band_limited = audio.resample(audio.resample(around, orig_sr=sr, target_sr=16000),
                                      orig_sr=16000, target_sr=sr)[pad:pad + mono.size]
    residual = stems["low"] + stems["high"] - band_limited
    assert np.max(np.abs(residual)) < 1e-4
    assert sorted(p.name for p in out_dir.iterdir()) == ["high.wav", "low.wav"]


def test_separate_refuses_to_overwrite_without_asking(trained: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    mix = tone_file(tmp_path / "mix.wav", [220.0, 1760.0], seconds=1.0)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "low.wav").write_bytes(b"precious")
    args = ["separate", str(mix), "--preset", str(trained), "--out-dir", str(out_dir), "--quiet"]
    assert main(args) == 1
    assert "--overwrite" in one_error_line(capsys)
    assert (out_dir / "low.wav").read_bytes() == b"precious"
    assert not (out_dir / "high.wav").exists()
    assert main([*args, "--overwrite"]) == 0
    assert audio.info(out_dir / "low.wav").frames == 16000


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}", "--preset", "{preset}"], "no such file"),
        (["{corrupt}", "--preset", "{preset}"], "not a readable audio file"),
        (["{mix}", "--preset", "{corrupt}"], "not a zip|not a livesep preset|PK"),
        (["{mix}", "--preset", "no-such-preset"], "no such preset"),
        (["{mix}", "--preset", "{preset}", "--beam", "-1"], "beam"),
    ],
)
def test_separate_bad_input_is_one_clear_line(arguments: list[str], message: str,
                                              trained: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    mix = tone_file(tmp_path / "mix.wav", [220.0], seconds=0.5)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEjunk" * 10)
    filled = [a.format(missing=tmp_path / "missing.wav", corrupt=corrupt, mix=mix,
                       preset=trained) for a in arguments]
    out_dir = tmp_path / "out"
    assert main(["separate", *filled, "--out-dir", str(out_dir), "--quiet"]) == 1
    line = one_error_line(capsys)
    assert any(part in line for part in message.split("|")), line
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_parser_lists_every_subcommand() -> None:
    help_text = build_parser().format_help()
    for command in SUBCOMMANDS:
        assert command in help_text
