"""Masks smoothed over time (cpp/livesep/smoothing.h): the runtime against the slow loop of
helpers.reference, the numpy smoother against the same loop, the stream against the numpy
reference engine in every latency mode and block size, the defaults per kind of preset,
the time constant kept in seconds, absurd input, refusals, and nothing allocated."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import reference
from helpers.presets import noise, random_preset, random_unfolded_preset
from livesep import ParameterError, spectral
from livesep._core import Model, _internal
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.separation.reference_engine import ReferenceSeparator

#: Sample rates with their frames (32 ms, 8 ms hop).
GEOMETRY = {16000: (512, 128), 48000: (1536, 384)}


def bursts(n: int, sr: int, seed: int = 0) -> np.ndarray:
    """Noise switched on and off 8 times a second over a quiet hiss: masks that move."""
    t = np.arange(n) / sr
    x = noise(n, seed=seed) * (0.05 + (np.sin(2 * np.pi * 4.0 * t) > 0))
    return x.astype(np.float32)


def frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    return np.ascontiguousarray(spectral.magnitude(x, n_fft=n_fft, hop_length=hop).T)


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
@pytest.mark.parametrize("mask_power", [1.0, 2.0])
@pytest.mark.parametrize("seconds", [0.01, 0.03, 0.2])
def test_the_runtime_matches_the_slow_reference(sr: int, mask_power: float,
                                                seconds: float) -> None:
    n_fft, hop = GEOMETRY[sr]
    preset = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=3)
    V = frames(bursts(sr // 2, sr), n_fft, hop)
    V[:3] = 0.0  # silence first: the frame's own (even) masks pass
    V[20] = 0.0
    raw = _internal.runtime_masks(
        build_model(preset, EngineSettings(smoothing=0.0, mask_power=mask_power)), V, hop / sr)
    got = _internal.runtime_masks(
        build_model(preset, EngineSettings(smoothing=seconds, mask_power=mask_power)), V,
        hop / sr)
    want = reference.smoothed_masks(raw, V, seconds=seconds, frame_seconds=hop / sr)
    np.testing.assert_allclose(got, want, atol=2e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(got[:3], raw[:3])
    assert np.abs(got - raw).max() > 0.05  # it does smooth
    # Flicker: the masks move less from one frame to the next.
    assert np.abs(np.diff(got, axis=0)).mean() < 0.8 * np.abs(np.diff(raw, axis=0)).mean()


def test_the_numpy_smoother_matches_the_slow_reference() -> None:
    rng = np.random.default_rng(5)
    masks = rng.dirichlet(np.ones(3), size=(40, 7)).transpose(0, 2, 1)  # (T, S, F)
    V = rng.exponential(size=(40, 7))
    V[:2] = 0.0
    V[10, 3] = np.inf  # an absurd bin starts afresh
    got = spectral.smooth_masks(masks.transpose(1, 2, 0), V.T, seconds=0.05, sr=16000,
                                hop_length=128)
    want = reference.smoothed_masks(masks, V, seconds=0.05, frame_seconds=128 / 16000)
    np.testing.assert_allclose(got.transpose(2, 0, 1), want, atol=1e-6)
    np.testing.assert_allclose(want[10, :, 3], masks[10, :, 3])


@pytest.mark.parametrize("sr", sorted(GEOMETRY))
@pytest.mark.parametrize("block_size", [1, 77, 128])
@pytest.mark.parametrize("latency", ["standard", "low", "ultra"])
@pytest.mark.parametrize("kind", ["unfolded", "nmf", "nhmm"])
def test_the_stream_matches_the_reference_engine(sr: int, block_size: int, latency: str,
                                                 kind: str) -> None:
    n_fft, hop = GEOMETRY[sr]
    preset = {
        "unfolded": lambda: random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft,
                                                   hop_length=hop, seed=4),
        "nmf": lambda: random_preset((1, 1), 6, sr=sr, n_fft=n_fft, hop_length=hop, seed=4),
        "nhmm": lambda: random_preset((3, 2), 4, sr=sr, n_fft=n_fft, hop_length=hop, seed=4),
    }[kind]()
    settings = EngineSettings(latency=latency, smoothing=0.05)
    x = bursts(sr * 3 // 10, sr, seed=1)
    separator = create_separator(preset, settings=settings)
    got = np.concatenate([separator.process(x[i:i + block_size])
                          for i in range(0, x.size, block_size)], axis=1)
    stream = ReferenceSeparator(preset, settings=settings)
    want = stream.process(x)
    np.testing.assert_allclose(got, want, atol=5e-5 * np.abs(want).max())
    np.testing.assert_allclose(stream.masks, separator.masks(), atol=5e-5)
    unsmoothed = create_separator(preset, settings=EngineSettings(latency=latency,
                                                                  smoothing=0.0))
    assert np.abs(unsmoothed.process(x) - got).max() > 1e-3 * np.abs(x).max()
    np.testing.assert_allclose(got.sum(axis=0)[separator.latency_samples():],
                               x[:x.size - separator.latency_samples()], atol=1e-5)


def test_the_defaults_smooth_one_state_presets_at_their_own_frames_only() -> None:
    nmf, nhmm = random_preset((1, 1), 6), random_preset((3, 2), 4)
    assert EngineSettings().resolved(nmf).smoothing == 0.03
    assert EngineSettings(latency="low").resolved(nmf).smoothing == 0.0
    assert EngineSettings(latency="ultra", smoothing=0.02).resolved(nmf).smoothing == 0.02
    short = random_preset((1, 1), 6, n_fft=32, hop_length=8)  # 2 ms frames: already low
    assert EngineSettings(latency="low").resolved(short).smoothing == 0.03
    assert EngineSettings().resolved(random_unfolded_preset((5, 4), 3)).smoothing == 0.03
    assert EngineSettings().resolved(nhmm).smoothing == 0.0
    assert EngineSettings(smoothing=0.1).resolved(nhmm).smoothing == 0.1
    assert build_model(nmf).mask_smoothing == pytest.approx(0.03)
    assert build_model(nhmm).mask_smoothing == 0.0


def test_the_time_constant_holds_in_seconds_at_any_hop() -> None:
    # One step of power on a bin whose masks jump from (1, 0) to (0, 1): after the same
    # time, the smoothed mask has moved as far at a hop of 128 as at a hop of 32.
    moved = []
    for hop in (128, 32):
        T = 4 * 128 // hop
        masks = np.zeros((2, 1, 2 * T))
        masks[0, 0, :T] = masks[1, 0, T:] = 1.0
        smoothed = spectral.smooth_masks(masks, np.ones((1, 2 * T)), seconds=0.03, sr=16000,
                                         hop_length=hop)
        moved.append(smoothed[1, 0, -1])
    assert moved[0] == pytest.approx(moved[1], abs=1e-4)


def test_absurd_input_leaves_the_stream_clean() -> None:
    preset = random_unfolded_preset((5, 4), 3, seed=6)
    separator = create_separator(preset, settings=EngineSettings(smoothing=0.03))
    x = bursts(8000, 16000, seed=2)
    separator.process(np.full(600, np.finfo(np.float32).max, dtype=np.float32))
    separator.process(np.full(600, np.nan, dtype=np.float32))
    separator.reset()
    after = separator.process(x)
    fresh = create_separator(preset, settings=EngineSettings(smoothing=0.03)).process(x)
    np.testing.assert_array_equal(after, fresh)


@pytest.mark.parametrize("seconds", [-0.01, 11.0, float("nan"), float("inf")])
def test_bad_time_constants_are_refused(seconds: float) -> None:
    with pytest.raises(ParameterError, match="smoothing"):
        EngineSettings(smoothing=seconds)
    W = np.full((1, 5, 2), 0.2, dtype=np.float32)
    with pytest.raises(ParameterError, match="mask smoothing must be in \\[0, 10"):
        Model([(W, np.eye(1, dtype=np.float32), np.ones(1, dtype=np.float32))] * 2,
              mask_smoothing=seconds)


def test_reset_forgets_and_nothing_is_allocated() -> None:
    preset = random_unfolded_preset((5, 4), 3, seed=7)
    separator = create_separator(preset, settings=EngineSettings(smoothing=0.03))
    x = bursts(4000, 16000, seed=3)
    first = separator.process(x)
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), first)
    out = np.zeros((preset.n_sources, x.size), np.float32)
    assert _internal.count_process_allocations(separator, x, out) == 0
