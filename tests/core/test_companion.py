"""A companion model in the online engine: its masks mixed into the preset's before the
smoothing, matching the numpy references (separate_offline_blend; separate_low_delay in the
low-delay modes, where a recurrent encoder reads the low-delay frame) in any block size, at
any rate and latency; reset and quality reach it; nothing is allocated per block; the engine
refuses a companion that does not fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.blocks import assert_no_allocation_per_block
from helpers.presets import noise, random_encoder_preset, random_unfolded_preset
from livesep import ParameterError, spectral
from livesep._core import Model
from livesep.engine import EngineSettings, build_model, create_separator, latency_geometry
from livesep.presets import Preset
from livesep.separation import separate_offline, separate_online
from livesep.separation.low_delay import separate_low_delay
from livesep.separation.offline import frame_masks, separate_offline_blend
from livesep.separation.reference_engine import NumpyStream, ReferenceSeparator

SETTINGS = [(16000, 512, 128), (48000, 1024, 256)]


def pair(sr: int = 16000, n_fft: int = 512, hop: int = 128, share: float = 0.3,
         seed: int = 0, *, floor: bool = True, noise_aware: bool = False) -> Preset:
    """Unfolded sources (with a noise floor), and a recurrent companion (noise-aware)."""
    made = random_unfolded_preset((5, 4), 3, sr=sr, n_fft=n_fft, hop_length=hop, seed=seed)
    main = dataclasses.replace(made, sources=[
        made.sources[0], dataclasses.replace(made.sources[1], floor=30.0 if floor else 0.0)])
    companion = random_encoder_preset((6, 3), hidden=12, layers=2, sr=sr, n_fft=n_fft,
                                      hop_length=hop, seed=seed + 1, noise_aware=noise_aware)
    return dataclasses.replace(main, companion=companion, companion_share=share)


# Which of the two read the noise floor: one tracker serves both.
FLOOR_READERS = [{"floor": True, "noise_aware": False}, {"floor": True, "noise_aware": True},
                 {"floor": False, "noise_aware": True}]


@pytest.mark.parametrize("sr, n_fft, hop", SETTINGS)
@pytest.mark.parametrize("block_size", [1, 333, "hop"])
@pytest.mark.parametrize("readers", FLOOR_READERS, ids=["model", "both", "companion"])
def test_online_equals_the_numpy_reference(sr: int, n_fft: int, hop: int,
                                           block_size: int | str,
                                           readers: dict[str, bool]) -> None:
    preset = pair(sr, n_fft, hop, seed=sr, **readers)
    x = noise(sr // 2, seed=3)
    x[sr // 8:sr // 8 + 3 * n_fft] = 0.0  # silence in the middle
    online = separate_online(x, preset, block_size=hop if block_size == "hop" else
                             int(block_size))
    offline = separate_offline(x, preset)
    np.testing.assert_array_equal(offline, separate_offline_blend(x, preset))
    np.testing.assert_allclose(online, offline, atol=2e-5 * np.abs(x).max())
    np.testing.assert_allclose(online.sum(axis=0), x, atol=1e-5)
    # Neither model alone: the mix of the two.
    for alone in (dataclasses.replace(preset, companion=None, companion_share=0.0),
                  preset.companion):
        assert np.abs(separate_offline(x, alone) - offline).max() > 0.01 * np.abs(x).max()


def lower_rate_pair(kind: str) -> Preset:
    """Unfolded sources at 48 kHz (1536 / 384, with a noise floor) and a 16 kHz companion
    (512 / 128): a noise-aware recurrent one, or unfolded with a floor of its own."""
    made = random_unfolded_preset((5, 4), 3, sr=48000, n_fft=1536, hop_length=384, seed=11)
    main = dataclasses.replace(made, sources=[
        made.sources[0], dataclasses.replace(made.sources[1], floor=30.0)])
    if kind == "recurrent":
        companion = random_encoder_preset((6, 3), hidden=12, layers=2, seed=12,
                                          noise_aware=True)
    else:  # its floor column from the 48 kHz preset's tracker
        narrow = random_unfolded_preset((5, 4), 2, seed=13)
        companion = dataclasses.replace(narrow, sources=[
            dataclasses.replace(narrow.sources[0], floor=10.0), narrow.sources[1]])
    return dataclasses.replace(main, companion=companion, companion_share=0.3)


@pytest.mark.parametrize("kind", ["recurrent", "unfolded"])
@pytest.mark.parametrize("block_size", [1, 333, "hop"])
def test_a_companion_at_a_lower_rate_mixes_into_the_lower_bins(kind: str,
                                                               block_size: int | str) -> None:
    preset = lower_rate_pair(kind)
    main, companion = dataclasses.replace(preset, companion=None, companion_share=0.0), \
        preset.companion
    x = noise(24000, seed=3)
    x[6000:6000 + 3 * 1536] = 0.0
    online = separate_online(x, preset, block_size=384 if block_size == "hop" else
                             int(block_size))
    offline = separate_offline(x, preset)
    np.testing.assert_array_equal(offline, separate_offline_blend(x, preset))
    np.testing.assert_allclose(online, offline, atol=2e-5 * np.abs(x).max())
    # Above 8 kHz the masks are the preset's own; below, the mix.
    X = spectral.stft(x, n_fft=1536, hop_length=384)
    V = np.abs(X).T
    floor = spectral.noise_floor(V, sr=48000, hop_length=384)
    own = frame_masks(V, main)
    theirs = frame_masks(V[:, :257], companion, floor=floor[:, :257])
    blend = own.copy()
    blend[:, :257] = 0.7 * own[:, :257] + 0.3 * theirs
    smoothed = spectral.smooth_masks(blend, np.abs(X), seconds=0.03, sr=48000, hop_length=384)
    expected = np.stack([spectral.istft(X * m, n_fft=1536, hop_length=384, length=x.size)
                         for m in smoothed])
    np.testing.assert_allclose(offline, expected, atol=1e-6)


def test_the_masks_are_the_shares_of_both_then_smoothed() -> None:
    preset = pair(share=0.25)
    x = noise(8000, seed=4)
    X = spectral.stft(x, n_fft=preset.n_fft, hop_length=preset.hop_length)
    V = np.abs(X).T
    mixed = 0.75 * frame_masks(V, dataclasses.replace(preset, companion=None,
                                                     companion_share=0.0)) \
        + 0.25 * frame_masks(V, preset.companion)
    smoothed = spectral.smooth_masks(mixed, np.abs(X), seconds=0.03, sr=preset.sr,
                                     hop_length=preset.hop_length)
    expected = np.stack([spectral.istft(X * m, n_fft=preset.n_fft,
                                        hop_length=preset.hop_length, length=x.size)
                         for m in smoothed])
    np.testing.assert_allclose(separate_offline(x, preset), expected, atol=1e-6)


@pytest.mark.parametrize("latency", ["low", "ultra"])
@pytest.mark.parametrize("block_size", [1, 77, "hop"])
@pytest.mark.parametrize("readers", FLOOR_READERS, ids=["model", "both", "companion"])
def test_short_latencies_match_the_low_delay_reference(latency: str, block_size: int | str,
                                                       readers: dict[str, bool]) -> None:
    preset = pair(seed=5, **readers)
    x = noise(6000, seed=6)
    x[1500:1500 + 1024] = 0.0
    settings = EngineSettings(latency=latency)
    hop = latency_geometry(preset, latency)[0]
    online = separate_online(x, preset, settings=settings,
                             block_size=hop if block_size == "hop" else int(block_size))
    expected = separate_low_delay(x, preset, settings=settings)
    np.testing.assert_allclose(online, expected, atol=2e-5 * np.abs(x).max())
    np.testing.assert_allclose(online.sum(axis=0), x, atol=1e-5)
    plain = separate_online(x, dataclasses.replace(preset, companion=None, companion_share=0),
                            settings=settings, block_size=77)
    assert np.abs(online - plain).max() > 0.01 * np.abs(x).max()


@pytest.mark.parametrize("kind", ["recurrent", "unfolded"])
def test_a_lower_rate_companion_at_low_matches_the_reference(kind: str) -> None:
    preset = lower_rate_pair(kind)
    x = noise(24000, seed=3)
    x[6000:6000 + 3 * 1536] = 0.0
    settings = EngineSettings(latency="low")
    online = separate_online(x, preset, settings=settings, block_size=333)
    np.testing.assert_allclose(online, separate_low_delay(x, preset, settings=settings),
                               atol=2e-5 * np.abs(x).max())


def test_at_low_a_recurrent_encoder_reads_the_frame_its_masks_act_on() -> None:
    network = pair(seed=5, noise_aware=True).companion
    x = noise(6000, seed=6)
    settings = EngineSettings(latency="low")
    online = separate_online(x, network, settings=settings, block_size=77)
    np.testing.assert_allclose(online, separate_low_delay(x, network, settings=settings),
                               atol=2e-5 * np.abs(x).max())
    # The symmetric frame, which dictionaries read, would give other masks.
    hop = latency_geometry(network, "low")[0]
    masks = [frame_masks(V, network, floor=spectral.noise_floor(V, sr=network.sr,
                                                                 hop_length=hop))
             for V in _both_frames(x, network.n_fft, hop)]
    assert np.abs(masks[0] - masks[1]).max() > 0.05


def _both_frames(x: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """The magnitudes of the symmetric and of the low-delay frames of a low-delay stream."""
    frames: list[tuple[np.ndarray, np.ndarray]] = []

    def collect(spectrum: np.ndarray) -> np.ndarray:
        frames.append((np.abs(stream.fit_spectrum), np.abs(spectrum)))
        return np.zeros((1, spectrum.size), np.complex64)

    stream = NumpyStream(n_fft=n_fft, hop_length=hop, n_channels=1, low_delay=True,
                         on_frame=collect)
    stream.process(x)
    symmetric, low_delay = (np.array(side, dtype=np.float64) for side in zip(*frames))
    return symmetric, low_delay


def test_a_model_swapped_in_at_low_reads_the_frames_as_a_fresh_one() -> None:
    preset = pair(seed=5, noise_aware=True)
    x = noise(6000, seed=6)
    settings = EngineSettings(latency="low")
    separator = create_separator(dataclasses.replace(preset, companion=None,
                                                     companion_share=0.0), settings=settings)
    separator.swap_model(build_model(preset, settings))
    separator.process(np.zeros(1, np.float32))  # the audio thread adopts it
    separator.reset()
    np.testing.assert_allclose(separator.process(x),
                               create_separator(preset, settings=settings).process(x),
                               atol=1e-6 * np.abs(x).max())


def test_reset_and_quality_reach_the_companion() -> None:
    preset = pair(seed=7, noise_aware=True)
    x = noise(6000, seed=8)
    separator = create_separator(preset)
    first = separator.process(x)
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), first)
    separator.reset()
    separator.set_quality(n_iter=0, beam=1)
    np.testing.assert_array_equal(separator.process(x), first)


@pytest.mark.parametrize("latency", ["standard", "low"])
@pytest.mark.parametrize("block_size", [1, 77, 128])
def test_nothing_is_allocated_per_block(block_size: int, latency: str) -> None:
    separator = create_separator(pair(seed=9, noise_aware=True),
                                 settings=EngineSettings(latency=latency))
    assert_no_allocation_per_block(separator, noise(40 * block_size + 600, seed=10), block_size)


@pytest.mark.parametrize("kind", ["recurrent", "unfolded"])
def test_nothing_is_allocated_per_block_with_a_lower_rate_companion(kind: str) -> None:
    separator = create_separator(lower_rate_pair(kind))
    assert_no_allocation_per_block(separator, noise(12000, seed=10), 256)


def test_the_engine_refuses_a_companion_that_does_not_fit() -> None:
    preset = pair()
    main = dataclasses.replace(preset, companion=None, companion_share=0.0)
    companion = build_model(preset.companion)
    model = build_model(main)
    assert model.companion_share == 0.0
    assert build_model(preset).companion_share == pytest.approx(0.3)
    sources = [(s.W, s.A, s.pi) for s in main.sources]
    layers = [s.layers for s in main.sources]
    for share in (0.0, 1.0, -0.5, float("nan")):
        with pytest.raises(ParameterError, match="a companion's share must be in"):
            Model(sources, layers=layers, companion=companion, companion_share=share)
    three = build_model(random_encoder_preset((2, 2, 2), seed=3))
    smoothed = build_model(preset.companion, EngineSettings(smoothing=0.05))
    wider = build_model(random_encoder_preset((3, 2), sr=32000, n_fft=1024, hop_length=256))
    for bad in (three, smoothed, build_model(preset), wider):
        with pytest.raises(ParameterError, match="a companion model must have this model's 2 "
                                                 "sources, at most its 257 bins, no smoothing "
                                                 "and no companion"):
            Model(sources, layers=layers, companion=bad, companion_share=0.5)
    with pytest.raises(ParameterError, match="companion must be a Model"):
        Model(sources, layers=layers, companion="voice", companion_share=0.5)  # type: ignore


def test_the_streaming_numpy_reference_points_to_the_offline_one() -> None:
    with pytest.raises(ParameterError, match="no recurrent encoder or companion .* "
                                             "separate_offline runs them"):
        ReferenceSeparator(pair())
