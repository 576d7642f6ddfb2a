"""Per-state processing: each N-HMM state's signal and gains per state, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.presets import noise, random_preset
from livesep import ParameterError, audio, presets, spectral
from livesep.cli import main
from livesep.models.nhmm import train_nhmm
from livesep.presets import Preset, SourceModel
from livesep.separation.nfhmm import separate_offline_nfhmm
from livesep.separation.states import (
    apply_state_gains,
    separate_states,
    stems_and_states,
)

SR = 16000
NOTES = (440.0, 660.0)


def alternating_notes(seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Two harmonic notes taking turns every 0.25 s; returns the signal and which note
    sounds at each sample."""
    t = np.arange(int(seconds * SR)) / SR
    which = (t * 4).astype(int) % 2
    f0 = np.asarray(NOTES)[which]
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    envelope = np.exp(-3.0 * (t % 0.25))
    return (0.2 * y * envelope).astype(np.float32), which


@pytest.fixture(scope="module")
def two_note_preset() -> Preset:
    y, _ = alternating_notes()
    model = train_nhmm(spectral.magnitude(y), n_states=2, n_components=3, n_iter=10, seed=0)
    return Preset("notes", sr=SR, n_fft=512, hop_length=128, model="nhmm",
                  sources=[SourceModel("synth", W=model.W, A=model.A, pi=model.pi)])


def band_energy(y: np.ndarray, freq: float, which: np.ndarray, note: int) -> float:
    """Energy around freq in the frames where `note` sounds."""
    magnitude = spectral.magnitude(y)
    bin_ = int(round(freq * 512 / SR))
    frame_note = which[np.clip(np.arange(magnitude.shape[1]) * 128 - 256, 0, which.size - 1)]
    return float((magnitude[bin_ - 1:bin_ + 2, frame_note == note] ** 2).sum())


def test_state_signals_add_up_to_the_offline_stems() -> None:
    preset = random_preset((3, 4))
    x = noise(5000)
    stems, states = stems_and_states(x, preset)
    np.testing.assert_allclose(stems, separate_offline_nfhmm(x, preset), atol=1e-6)
    for source, source_states in enumerate(states):
        assert source_states.shape == (preset.sources[source].n_states, x.size)
        np.testing.assert_allclose(source_states.sum(axis=0), stems[source], atol=1e-6)


def test_state_gains_are_linear() -> None:
    preset = random_preset((3, 2))
    x = noise(4000)
    states = separate_states(x, preset, source="source0")
    edited = apply_state_gains(x, preset, {"source0": [0.0, 2.0, 1.0]})
    np.testing.assert_allclose(edited[0], 2.0 * states[1] + states[2], atol=1e-6)
    np.testing.assert_allclose(edited[1], separate_offline_nfhmm(x, preset)[1], atol=1e-6)


def test_a_state_gain_removes_one_note_and_keeps_the_other(two_note_preset: Preset) -> None:
    y, which = alternating_notes()
    W = two_note_preset.sources[0].W
    # The state whose dictionary holds more of the first note's fundamental owns that note.
    bins = [int(round(f * 512 / SR)) for f in NOTES]
    owner = int(np.argmax(W[:, bins[0], :].sum(axis=1)))
    gains = np.ones(2)
    gains[owner] = 0.0
    edited = apply_state_gains(y, two_note_preset, {"synth": gains})[0]
    removed = band_energy(edited, NOTES[0], which, 0) / band_energy(y, NOTES[0], which, 0)
    kept = band_energy(edited, NOTES[1], which, 1) / band_energy(y, NOTES[1], which, 1)
    assert 10 * np.log10(removed) < -10.0
    assert abs(10 * np.log10(kept)) < 1.0


def test_bad_gains_and_sources_are_refused() -> None:
    preset = random_preset((3, 2))
    x = noise(2000)
    with pytest.raises(ParameterError, match="no source 'voice'"):
        separate_states(x, preset, source="voice")
    with pytest.raises(ParameterError, match="3 finite values"):
        apply_state_gains(x, preset, {"source0": [1.0, -1.0, 1.0]})
    with pytest.raises(ParameterError, match="states 0 to 1"):
        stems_and_states(x, preset, gains={"source1": {5: 0.0}})


def test_separate_command_writes_state_signals_and_applies_gains(
        two_note_preset: Preset, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preset_path = presets.save(two_note_preset, tmp_path / "notes.npz")
    y, _ = alternating_notes(2.0)
    mix = tmp_path / "mix.wav"
    sf.write(mix, y, SR, subtype="FLOAT")
    out = tmp_path / "out"
    assert main(["separate", str(mix), "--preset", str(preset_path), "--out-dir", str(out),
                 "--mode", "offline", "--per-state", "--state-gain", "synth:0=0.5",
                 "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["synth.state0.wav", "synth.state1.wav", "synth.wav"]
    states = [audio.load(out / f"synth.state{q}.wav")[0] for q in (0, 1)]
    stem = audio.load(out / "synth.wav")[0]
    np.testing.assert_allclose(stem, 0.5 * states[0] + states[1], atol=1e-5)


@pytest.mark.parametrize("arguments, message", [
    (["--per-state"], "--mode offline"),
    (["--mode", "offline", "--state-gain", "synth=0"], "NAME:STATE=GAIN"),
    (["--mode", "offline", "--state-gain", "synth:7=0"], "states 0 to 1"),
])
def test_separate_per_state_errors_are_one_line(arguments: list[str], message: str,
                                                two_note_preset: Preset, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    preset_path = presets.save(two_note_preset, tmp_path / "notes.npz")
    mix = tmp_path / "mix.wav"
    sf.write(mix, alternating_notes(1.0)[0], SR, subtype="FLOAT")
    assert main(["separate", str(mix), "--preset", str(preset_path), "--out-dir",
                 str(tmp_path / "out"), "--quiet", *arguments]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
