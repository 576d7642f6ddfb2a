"""``livesep train --latency low|ultra``: a preset trained on the frames the engine analyses
in that mode (its low-delay window at its hop)."""

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
    assert all(source.provenance["low_delay"] for source in preset.sources)
    # The mode runs it at its hop with the low-delay windows it was trained on (ultra's 24
    # rounds up to 32, the nearest hop dividing n_fft).
    run, synthesis = latency_geometry(preset, latency)
    assert synthesis == 2 * run and run <= hop


def test_train_latency_errors_name_the_flags(sources: dict[str, Path], tmp_path: Path,  # noqa: F811
                                             capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--out", str(tmp_path / "p.npz"), "--source", f"low={sources['low']}",
            "--source", f"high={sources['high']}", "--quiet"]
    assert main([*base, "--latency", "low", "--hop", "64"]) != 0
    assert "give --hop or --latency low, not both" in one_error_line(capsys)
    assert main([*base, "--latency", "low", "--workers", "1"]) != 0
    assert "low-delay training" in one_error_line(capsys)
    assert not (tmp_path / "p.npz").exists()


@pytest.mark.parametrize("latency", ["low", "ultra"])
@pytest.mark.parametrize("sr", [16000, 48000])
def test_low_delay_frames_are_what_the_engine_analyses(latency: str, sr: int) -> None:
    from helpers.presets import noise, random_preset

    preset = random_preset((2, 2), sr=sr, n_fft=512 * sr // 16000, hop_length=128 * sr // 16000)
    hop, _ = latency_geometry(preset, latency)
    x = noise(sr // 2, seed=4)
    separator = create_separator(preset, settings=EngineSettings(latency=latency))
    separator.process(x)
    engine = separator.pop_snapshots()["spectrum"]  # (frames, F) magnitudes the engine fitted
    frames = spectral.low_delay_magnitude(x, n_fft=preset.n_fft, hop_length=hop).T
    n = min(len(engine), len(frames))
    assert n >= x.size // hop - 1
    np.testing.assert_allclose(frames[:n], engine[:n], atol=2e-4 * np.abs(engine).max())
    V, seconds = signals_spectrogram([x], sr=sr, n_fft=preset.n_fft, hop_length=hop,
                                     low_delay=True)
    assert V.shape[0] == preset.n_bins and 0 < seconds <= x.size / sr + hop / sr
