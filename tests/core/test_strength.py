"""The strength of the separation (``Separator.set_strength``): 0 gives the input itself on
the main source, 1 the full separation, in between a blend whose sources still sum to the
input; moving it never breaks the stream."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import create_separator
from livesep.cli import main
from livesep.live.controls import Controls
from livesep.separation.online import separate_online

PRESET = random_preset((3, 4), 4)


def run(separator: object, x: np.ndarray, block: int) -> np.ndarray:
    return np.concatenate([separator.process(x[i:i + block])  # type: ignore[attr-defined]
                           for i in range(0, x.size, block)], axis=1)


@pytest.mark.parametrize("block", [1, 37, 128])
@pytest.mark.parametrize("output", ["stems", "mono", "stereo"])
def test_strength_zero_is_the_input_exactly(block: int, output: str) -> None:
    x = noise(6000, seed=1)
    separator = create_separator(PRESET, output=output)
    separator.set_strength(0.0)
    y = run(separator, x, block)
    latency = separator.latency_samples()
    np.testing.assert_array_equal(y[0, latency:], x[:-latency])
    assert not np.any(y[0, :latency])
    if output == "stems":
        assert not np.any(y[1:])
    else:
        np.testing.assert_array_equal(y[-1], y[0])


def test_strength_zero_keeps_the_soloed_source() -> None:
    x = noise(4000, seed=2)
    separator = create_separator(PRESET)
    separator.set_strength(0.0)
    separator.set_soloed(1, True)
    y = separator.process(x)
    latency = separator.latency_samples()
    np.testing.assert_array_equal(y[1, latency:], x[:-latency])
    assert not np.any(y[0])


@pytest.mark.parametrize("strength", [0.25, 0.5, 0.9])
def test_a_strength_blends_the_masks(strength: float) -> None:
    """Masks are linear in the inverse STFT: the stems at a strength are that much of the full
    separation plus the rest of the input on the main source."""
    x = noise(8000, seed=3)
    full = create_separator(PRESET).process(x)
    separator = create_separator(PRESET)
    separator.set_strength(strength)
    blended = separator.process(x)
    latency = separator.latency_samples()
    delayed = np.concatenate([np.zeros(latency, np.float32), x[:-latency]])
    want = strength * full
    want[0] += (1 - strength) * delayed
    np.testing.assert_allclose(blended, want, rtol=0, atol=2e-6)
    np.testing.assert_allclose(blended.sum(axis=0), delayed, rtol=0, atol=2e-6)


def test_moving_the_strength_keeps_the_sum_and_settles_on_the_input() -> None:
    x = noise(24000, seed=4)
    separator = create_separator(PRESET)
    latency = separator.latency_samples()
    steps = np.concatenate([np.linspace(1, 0, 60), np.zeros(40), np.linspace(0, 1, 30)])
    out = []
    for i, value in enumerate(steps):
        separator.set_strength(float(value))
        out.append(separator.process(x[i * 128:(i + 1) * 128]))
    y = np.concatenate(out, axis=1)
    delayed = np.concatenate([np.zeros(latency, np.float32), x])[:y.shape[1]]
    np.testing.assert_allclose(y.sum(axis=0), delayed, rtol=0, atol=2e-6)
    # Well inside the stretch at 0 (four frames after it began): the input, exactly.
    settled = slice(64 * 128, 100 * 128)
    np.testing.assert_array_equal(y[0, settled], delayed[settled])
    assert not np.any(y[1, settled])


def test_strength_is_clamped_and_reported() -> None:
    separator = create_separator(PRESET)
    assert separator.strength == 1.0
    for given, kept in [(-1.0, 0.0), (0.3, 0.3), (7.0, 1.0), (float("nan"), 1.0)]:
        separator.set_strength(given)
        assert separator.strength == pytest.approx(kept)


def test_live_controls_carry_the_strength() -> None:
    separator = create_separator(PRESET)
    controls = Controls(PRESET.source_names)
    controls.set_strength(0.4)
    controls.apply(separator)
    assert separator.strength == pytest.approx(0.4)
    controls.bypass = True
    controls.apply(separator)
    assert separator.strength == 1.0
    with pytest.raises(ValueError, match="strength must be a finite number"):
        controls.set_strength(1.5)


@pytest.mark.parametrize("mode", ["online", "offline"])
def test_the_cli_strength_zero_writes_the_input(mode: str, tmp_path: object,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import soundfile as sf

    from livesep import presets

    folder = tmp_path  # type: ignore[assignment]
    x = noise(8000, seed=5)
    sf.write(folder / "mix.wav", x, 16000, subtype="FLOAT")
    preset = presets.save(PRESET, folder / "p.npz")
    assert main(["separate", str(folder / "mix.wav"), "--preset", str(preset), "--out-dir",
                 str(folder / "out"), "--mode", mode, "--strength", "0", "--quiet"]) == 0
    first = sf.read(folder / "out" / "source0.wav", dtype="float32")[0]
    np.testing.assert_array_equal(first, x)
    assert not np.any(sf.read(folder / "out" / "source1.wav", dtype="float32")[0])
    assert main(["separate", str(folder / "mix.wav"), "--preset", str(preset), "--out-dir",
                 str(folder / "out2"), "--strength", "120", "--quiet"]) == 1
    assert "--strength must be a percentage in [0, 100], got 120" in capsys.readouterr().err


def test_separate_online_takes_a_strength() -> None:
    x = noise(4000, seed=6)
    np.testing.assert_array_equal(separate_online(x, PRESET, strength=0.0)[0], x)
