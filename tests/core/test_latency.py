"""Latency modes: low-delay asymmetric windows in the engine's stream (perfect reconstruction,
latency exactly 2 hop - 1, the numpy reference's stream sample for sample), the geometry each
mode gives a preset, and separation aligned sample for sample in every mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.presets import noise, random_encoder_preset, random_preset
from livesep import ParameterError, Separator, spectral
from livesep.engine import LATENCIES, EngineSettings, create_separator, latency_geometry
from livesep.separation import separate_online
from livesep.separation.reference_engine import NumpyStream, ReferenceSeparator

#: (sr, n_fft, hop) of a preset's frames.
FRAMES = [(16000, 512, 128), (44100, 2048, 512), (48000, 1024, 256)]


def stream(separator: Separator | NumpyStream, x: np.ndarray, block_size: int) -> np.ndarray:
    return np.concatenate([separator.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)


def test_the_windows_overlap_add_to_one_and_rise_long() -> None:
    analysis, synthesis = spectral.low_delay_windows(512, 64)
    product = analysis * synthesis
    assert np.all(product[:384] == 0.0) and np.all(analysis[1:] > 0)
    total = sum(np.roll(product, -k * 64) for k in range(8))  # every hop's share
    np.testing.assert_allclose(total[-64:], 1.0, atol=1e-12)
    assert analysis.argmax() == 448  # peak where the long rise meets the short fall
    with pytest.raises(ParameterError, match=r"hop_length must be in \[2, n_fft // 4 = 128\]"):
        spectral.low_delay_windows(512, 200)


@pytest.mark.parametrize("n_fft, hop", [(512, 64), (512, 24), (1024, 192), (2048, 72)])
@pytest.mark.parametrize("block_size", [1, 37, 256])
def test_the_stream_is_the_input_delayed_by_2_hop_minus_1(n_fft: int, hop: int,
                                                          block_size: int) -> None:
    x = noise(6000, seed=n_fft + hop)
    engine = Separator()
    engine.prepare(sr=48000, n_fft=n_fft, hop_length=hop, n_sources=2,
                   synthesis_length=2 * hop)
    assert engine.latency_samples() == 2 * hop - 1
    out = stream(engine, x, block_size)
    delay = 2 * hop - 1
    np.testing.assert_allclose(out[:, delay:], np.stack([x[:-delay]] * 2), atol=2e-6)
    reference = NumpyStream(n_fft=n_fft, hop_length=hop, n_channels=2, low_delay=True,
                            on_frame=lambda spectrum: np.stack([0.5 * spectrum, spectrum]))
    engine.prepare(sr=48000, n_fft=n_fft, hop_length=hop, n_sources=2,
                   synthesis_length=2 * hop)
    assert reference.latency_samples() == delay
    np.testing.assert_allclose(stream(reference, x, block_size)[1], out[1], atol=2e-6)


@pytest.mark.parametrize("synthesis, hop, message", [
    (100, 64, "twice the hop"), (384, 192, "n_fft / 2"), (2, 1, "n_fft / 2"),
])
def test_a_bad_synthesis_length_is_refused(synthesis: int, hop: int, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        Separator().prepare(sr=16000, n_fft=512, hop_length=hop, synthesis_length=synthesis)


@pytest.mark.parametrize("sr, n_fft, hop", FRAMES)
def test_each_mode_meets_its_bound(sr: int, n_fft: int, hop: int) -> None:
    preset = random_preset((1, 1), 3, sr=sr, n_fft=n_fft, hop_length=hop)
    assert latency_geometry(preset, "standard") == (hop, 0)
    for mode in ("low", "ultra"):
        new_hop, synthesis = latency_geometry(preset, mode)
        assert synthesis == 2 * new_hop and synthesis % 2 == 0
        assert (synthesis - 1) / sr <= LATENCIES[mode] < (synthesis + 1) / sr
        separator = create_separator(preset, settings=EngineSettings(latency=mode))
        assert separator.latency_samples() == synthesis - 1
    with pytest.raises(ParameterError, match="latency must be one of standard, low, ultra, "
                                             "got 'zero'"):
        EngineSettings(latency="zero")


def test_a_preset_already_within_the_bound_keeps_its_frames() -> None:
    preset = random_preset((1, 1), 3, sr=16000, n_fft=64, hop_length=16)  # 3.9 ms
    assert latency_geometry(preset, "low") == (16, 0)
    assert latency_geometry(preset, "ultra") == (16, 32)  # at most n_fft / 2


@pytest.mark.parametrize("make", [lambda: random_preset((3, 2), 4),
                                  lambda: random_encoder_preset((4, 3))],
                         ids=["nhmm", "encoder"])
@pytest.mark.parametrize("latency", ["low", "ultra"])
def test_separation_is_aligned_and_sums_to_the_input(make: object, latency: str) -> None:
    preset = make()  # type: ignore[operator]
    x = noise(8000, seed=5)
    settings = EngineSettings(latency=latency)
    stems = separate_online(x, preset, settings=settings, block_size=97)
    assert stems.shape == (2, x.size)
    np.testing.assert_allclose(stems.sum(axis=0), x, atol=2e-5)
    assert np.abs(stems[0] - x / 2).max() > 0.05 * np.abs(x).max()
    # At a device rate, through the live resamplers: still aligned, still the whole input.
    at_48k = separate_online(x, preset, sr=48000, settings=settings, block_size=128)
    assert at_48k.shape == (2, x.size)


@pytest.mark.parametrize("block_size", [1, 131])
def test_the_engine_matches_the_numpy_reference_engine(block_size: int) -> None:
    preset = random_preset((3, 2), 4, seed=3)
    settings = EngineSettings(latency="low", beam=0)
    x = noise(6000, seed=8)
    engine = create_separator(preset, settings=settings)
    reference = ReferenceSeparator(preset, settings=settings)
    assert reference.latency_samples() == engine.latency_samples() == 127
    np.testing.assert_allclose(stream(engine, x, block_size), stream(reference, x, block_size),
                               atol=2e-4 * np.abs(x).max())


def test_the_cli_latency_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import soundfile as sf

    from livesep import presets
    from livesep.cli import main

    preset = random_preset((2, 2), 4, seed=9)
    x = noise(8000, seed=6)
    sf.write(tmp_path / "mix.wav", x, 16000, subtype="FLOAT")
    path = presets.save(preset, tmp_path / "p.npz")
    args = ["separate", str(tmp_path / "mix.wav"), "--preset", str(path), "--quiet"]
    assert main([*args, "--out-dir", str(tmp_path / "low"), "--latency", "low"]) == 0
    stems = [sf.read(tmp_path / "low" / f"source{s}.wav", dtype="float32")[0] for s in (0, 1)]
    want = separate_online(x, preset, settings=EngineSettings(latency="low"))
    np.testing.assert_array_equal(np.stack(stems), want)
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out-dir", str(tmp_path / "x"), "--latency", "fast"])
    assert exit_.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err
