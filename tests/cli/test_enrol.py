"""``livesep enrol`` and livesep.models.train.enrol: a personal voice preset from a voice and a
room, end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import presets
from livesep.cli import main
from livesep.errors import ParameterError
from livesep.live.learning import personal_preset
from livesep.models.train import COMPANION_SHARE, ROOM_FLOOR, enrol


def voice_base() -> presets.Preset:
    """A small N-HMM voice preset: sources named speech and noise."""
    base = random_preset((3, 2), 4)
    return base.with_sources([source.renamed(name) for source, name
                              in zip(base.sources, ("speech", "noise"))], name="tiny voice")


def speechlike(seconds: float, seed: int, sr: int = 16000) -> np.ndarray:
    """Harmonic bursts: something voiced that starts and stops."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    gate = (np.sin(2 * np.pi * 2.5 * t + seed) > -0.7).astype(np.float64)
    return (0.1 * voiced * gate).astype(np.float32)


@pytest.fixture
def recordings(tmp_path: Path) -> dict[str, Path]:
    voice, room = tmp_path / "me.wav", tmp_path / "room.wav"
    sf.write(voice, speechlike(15.0, 1), 16000, subtype="FLOAT")
    sf.write(room, noise(4 * 16000, seed=2), 16000, subtype="FLOAT")
    return {"voice": voice, "room": room}


def test_enrol_models_the_voice_and_the_room() -> None:
    base = voice_base()
    seen: list[float] = []
    mine = enrol(speechlike(15.0, 1), noise(4 * 16000, seed=2), base=base, name="mine",
                 progress=seen.append)
    assert mine.name == "mine" and mine.model == "nhmm"
    assert mine.source_names == ("speech", "noise")
    assert (mine.sr, mine.n_fft, mine.hop_length) == (base.sr, base.n_fft, base.hop_length)
    assert [s.n_states for s in mine.sources] == [20, 4]
    assert [s.provenance["enrolled"] for s in mine.sources] == ["voice", "room"]
    assert [s.floor for s in mine.sources] == [0.0, ROOM_FLOOR]
    assert seen == sorted(seen) and seen[-1] == 1.0
    again = enrol(speechlike(15.0, 1), noise(4 * 16000, seed=2), base=base, name="mine")
    assert all(np.array_equal(a.W, b.W) for a, b in zip(again.sources, mine.sources))


def test_the_default_presets_companion_runs_beside_the_personal_models() -> None:
    mine = enrol(None, noise(4 * 16000, seed=2), base=voice_base())
    default = presets.load_preset(presets.DEFAULT_PRESET)
    assert default.companion is not None and mine.companion is not None
    assert mine.companion_share == COMPANION_SHARE
    assert mine.companion.name == default.companion.name
    assert all(np.array_equal(a.W, b.W) for a, b in zip(mine.companion.sources,
                                                         default.companion.sources))
    alone = enrol(None, noise(4 * 16000, seed=2), base=voice_base(), companion_share=0.0)
    assert alone.companion is None and alone.companion_share == 0.0
    assert all(np.array_equal(a.W, b.W) for a, b in zip(alone.sources, mine.sources))
    # A base of other frames than the companion's is enrolled without it.
    other = random_preset((3, 2), 4, n_fft=1024, hop_length=256)
    other = other.with_sources([s.renamed(n) for s, n in zip(other.sources, ("speech", "noise"))])
    assert enrol(None, noise(4 * 16000, seed=2), base=other).companion is None


@pytest.mark.parametrize("share", [-0.1, 1.0, float("nan")])
def test_a_companion_share_outside_0_1_is_refused(share: float) -> None:
    with pytest.raises(ParameterError, match=f"companion_share must be in \\[0, 1\\), got {share}"):
        enrol(None, noise(4 * 16000, seed=2), base=voice_base(), companion_share=share)


@pytest.mark.parametrize("voice", [True, False])
def test_the_half_not_given_comes_from_the_base(voice: bool) -> None:
    base = voice_base()
    mine = enrol(speechlike(15.0, 1) if voice else None,
                 None if voice else noise(4 * 16000, seed=2), base=base)
    kept = mine.sources[1] if voice else mine.sources[0]
    taught = mine.sources[0] if voice else mine.sources[1]
    # The room's model, taught or kept, tracks the room's noise floor as it plays.
    assert dataclasses.replace(kept, floor=0.0) == base.sources[1 if voice else 0]
    assert mine.sources[1].floor == ROOM_FLOOR and mine.sources[0].floor == 0.0
    assert taught.provenance["enrolled"] == ("voice" if voice else "room")


@pytest.mark.parametrize("voice, room, message", [
    (None, None, "needs the voice, the room, or both"),
    (2.0, None, "voice must be mono, at least 10 s"),
    (None, 1.0, "room must be mono, at least 3 s"),
])
def test_too_little_is_refused(voice: float | None, room: float | None, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        enrol(None if voice is None else speechlike(voice, 1),
              None if room is None else noise(int(room * 16000)), base=voice_base())


def test_the_base_must_be_an_nhmm_voice_preset() -> None:
    unfolded = random_unfolded_preset((6, 4), layers=3)
    for base in (random_preset((3, 2), 4), unfolded.with_sources(
            [s.renamed(n) for s, n in zip(unfolded.sources, ("speech", "noise"))])):
        with pytest.raises(ParameterError, match="an N-HMM preset of sources 'speech'"):
            enrol(speechlike(15.0, 1), None, base=base)


def test_the_cli_writes_a_preset_the_engine_runs(recordings: dict[str, Path],
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = presets.save(voice_base(), tmp_path / "base.npz")
    out = tmp_path / "mine.npz"
    assert main(["enrol", "--voice", str(recordings["voice"]), "--room",
                 str(recordings["room"]), "--base", str(base), "--out", str(out),
                 "--quiet"]) == 0
    assert "Preset 'mine'" in capsys.readouterr().out
    mine = presets.load(out)
    assert mine.source_names == ("speech", "noise") and mine.companion is not None
    assert main(["separate", str(recordings["voice"]), "--preset", str(out), "--out-dir",
                 str(tmp_path / "stems"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["noise.wav",
                                                                      "speech.wav"]


@pytest.mark.parametrize("args, message", [
    ([], "give --voice AUDIO, --room AUDIO, or both"),
    (["--voice", "{voice}", "--out", "{voice}"], "is one of the inputs"),
    (["--voice", "{voice}", "--base", "male-female-nhmm"], "of sources 'speech' and 'noise'"),
])
def test_cli_mistakes_are_one_line(args: list[str], message: str,
                                   recordings: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    filled = [a.format(voice=recordings["voice"]) for a in args]
    if "--out" not in filled:
        filled += ["--out", str(tmp_path / "mine.npz")]
    assert main(["enrol", *filled, "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.fixture
def recordings_48k(tmp_path: Path) -> dict[str, Path]:
    """The voice and a hissing room at 48 kHz: a band above 8 kHz to learn."""
    hiss = np.random.default_rng(3).standard_normal(4 * 48000).astype(np.float32)
    voice, room = tmp_path / "me48.wav", tmp_path / "room48.wav"
    sf.write(voice, speechlike(15.0, 1, sr=48000), 48000, subtype="FLOAT")
    sf.write(room, 0.05 * hiss, 48000, subtype="FLOAT")
    return {"voice": voice, "room": room}


def test_recordings_at_48k_make_a_full_band_preset(recordings_48k: dict[str, Path],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    base = presets.save(voice_base(), tmp_path / "base.npz")
    out = tmp_path / "mine.npz"
    common = ["--voice", str(recordings_48k["voice"]), "--room", str(recordings_48k["room"]),
              "--base", str(base), "--quiet"]
    assert main(["enrol", *common, "--out", str(out)]) == 0
    assert "fitted on the 257 bins up to 8000 Hz; its estimates cover all 769" \
        in capsys.readouterr().out
    wide = presets.load(out)
    assert (wide.sr, wide.n_fft, wide.hop_length, wide.fit_bins) == (48000, 1536, 384, 257)
    assert [s.floor for s in wide.sources] == [0.0, ROOM_FLOOR]
    # Below, the personal preset at the base's rate, which --sr 16000 makes.
    assert main(["enrol", *common, "--out", str(tmp_path / "narrow.npz"), "--sr",
                 "16000"]) == 0
    narrow = presets.load(tmp_path / "narrow.npz")
    assert narrow.sr == 16000 and narrow.fit_bins is None
    # The default's companion, a network of the 16 kHz band, covers the lower bins of both.
    assert wide.companion == narrow.companion and wide.companion.sr == 16000
    for full, low in zip(wide.sources, narrow.sources):
        below = full.W[:, :low.n_bins]
        np.testing.assert_allclose(below / below.sum(axis=1, keepdims=True), low.W,
                                   rtol=1e-4, atol=1e-8)
    # The room's hiss above 8 kHz goes to the noise stem.
    assert main(["separate", str(recordings_48k["room"]), "--preset", str(out), "--out-dir",
                 str(tmp_path / "stems"), "--quiet"]) == 0
    stems = {name: sf.read(tmp_path / "stems" / f"{name}.wav")[0] for name in ("speech",
                                                                              "noise")}
    above = np.fft.rfftfreq(stems["noise"].size, 1 / 48000) > 8000

    def high(x: np.ndarray) -> float:
        return float(np.sum(np.abs(np.fft.rfft(x)[above]) ** 2))

    assert high(stems["noise"]) > 0.9 * (high(stems["noise"]) + high(stems["speech"]))


def test_a_full_band_preset_needs_both_recordings_at_a_full_band_rate(
        recordings_48k: dict[str, Path], recordings: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = presets.save(voice_base(), tmp_path / "base.npz")
    out = tmp_path / "mine.npz"
    # One recording only: the base's rate, unasked.
    assert main(["enrol", "--voice", str(recordings_48k["voice"]), "--base", str(base),
                 "--out", str(out), "--quiet"]) == 0
    assert presets.load(out).sr == 16000
    capsys.readouterr()
    for args, message in (
            (["--voice", str(recordings_48k["voice"]), "--sr", "48000"],
             "needs both the voice and the room recorded at 44100 Hz or above; got the voice "
             "at 48000 Hz, the room missing"),
            (["--voice", str(recordings_48k["voice"]), "--room", str(recordings["room"]),
              "--sr", "48000"], "got the voice at 48000 Hz, the room at 16000 Hz"),
            (["--voice", str(recordings_48k["voice"]), "--sr", "22050"],
             "--sr must be 16000 (the base's rate) or 48000 (full band), got 22050")):
        assert main(["enrol", *args, "--base", str(base), "--out", str(out), "--overwrite",
                     "--quiet"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("rate", [44100, 48000])
def test_personal_preset_extends_takes_at_a_full_band_rate(rate: int) -> None:
    hiss = np.random.default_rng(3).standard_normal(4 * rate).astype(np.float32)
    voice, room = (speechlike(15.0, 1, sr=rate), rate), (0.05 * hiss, rate)
    wide = personal_preset(voice, room, voice_base(), name="mine", sr=48000)
    assert (wide.sr, wide.fit_bins) == (48000, 257)
    speech_share, noise_share = (s.provenance["extended"]["upper_share"] for s in wide.sources)
    assert noise_share > 10 * speech_share
