"""``livesep train --latency low|ultra``: a preset trained at the hop the engine runs in that
mode, on the frames it fits there (the symmetric window over the low-delay frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livesep import load_preset, spectral
from livesep.cli import main
from livesep.engine import EngineSettings, create_separator, latency_geometry
from livesep.models.train import signals_spectrogram

from .test_cli import one_error_line, sources  # noqa: F401  (the module's fixture)


@pytest.mark.parametrize(("latency", "hop"), [("low", 64), ("ultra", 32)])
def test_train_for_a_latency_mode(latency: str, hop: int, sources: dict[str, Path],  # noqa: F811
                                  tmp_path: Path) -> None:
    out = tmp_path / "low.npz"
    assert main(["train", "--out", str(out), "--source", f"low={sources['low']}",
                 "--source", f"high={sources['high']}", "--model", "nhmm", "--components", "3",
                 "--states", "3", "--iterations", "2", "--latency", latency, "--quiet"]) == 0
    preset = load_preset(out)
    assert preset.hop_length == hop and preset.n_fft == 512
    # The mode runs it at its hop (ultra's 24 rounds up to 32, the nearest hop dividing
    # n_fft; the engine scales the transitions the rest of the way).
    run, synthesis = latency_geometry(preset, latency)
    assert synthesis == 2 * run and run <= hop


def test_train_latency_errors_name_the_flags(sources: dict[str, Path], tmp_path: Path,  # noqa: F811
                                             capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--out", str(tmp_path / "p.npz"), "--source", f"low={sources['low']}",
            "--source", f"high={sources['high']}", "--quiet"]
    assert main([*base, "--latency", "low", "--hop", "64"]) != 0
    assert "give --hop or --latency low, not both" in one_error_line(capsys)
    assert main([*base, "--latency", "low", "--n-fft", "64", "--sr", "8000"]) != 0
    assert "already within --latency low" in one_error_line(capsys)
    assert not (tmp_path / "p.npz").exists()


@pytest.mark.parametrize("latency", ["low", "ultra"])
@pytest.mark.parametrize("sr", [16000, 48000])
def test_the_engine_fits_symmetric_frames_in_a_low_delay_mode(latency: str, sr: int) -> None:
    """What the engine fits at low delay: each n_fft frame (the newest ending at the hop
    just completed, zeros before the start) through the preset's symmetric window, as
    training analyses audio; the asymmetric window is for the masked output only."""
    from helpers.presets import noise, random_preset

    preset = random_preset((2, 2), sr=sr, n_fft=512 * sr // 16000, hop_length=128 * sr // 16000)
    hop, synthesis = latency_geometry(preset, latency)
    assert synthesis
    x = noise(sr // 2, seed=4)
    separator = create_separator(preset, settings=EngineSettings(latency=latency))
    separator.process(x)
    engine = separator.pop_snapshots()["spectrum"]  # (frames, F) magnitudes the engine fitted
    padded = np.concatenate([np.zeros(preset.n_fft - hop, np.float32), x])
    starts = range(0, padded.size - preset.n_fft + 1, hop)
    frames = np.array([np.abs(np.fft.rfft(padded[s:s + preset.n_fft] *
                                          spectral.analysis_window(preset.n_fft)))
                       for s in starts])
    n = min(len(engine), len(frames))
    assert n >= x.size // hop - 1
    np.testing.assert_allclose(frames[:n], engine[:n], atol=2e-4 * np.abs(engine).max())
    if preset.n_fft % hop == 0:  # a hop training can use: it sees the same frames
        V, _ = signals_spectrogram([x], sr=sr, n_fft=preset.n_fft, hop_length=hop)
        assert V.shape[1] >= n - 1
        assert np.min(np.abs(V.T - frames[n // 2]).max(axis=1)) < 2e-4 * np.abs(engine).max()
