"""Streaming polyphase resampling (C++ ``_core.Resampler`` through
``livesep.resampling``) and the rate bridge the live host runs it in."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import _core
from livesep.engine import create_separator
from livesep.errors import ParameterError
from livesep.live.bridge import RateBridge
from livesep.resampling import StreamResampler, design_filter, resample, resample_stream
from livesep.separation.online import separate_online

RATES = [(48000, 16000), (16000, 48000), (44100, 16000), (16000, 44100), (22050, 16000)]


def reference_resample(x: np.ndarray, up: int, down: int, taps: np.ndarray) -> np.ndarray:
    """The definition, slowly: zeros between samples, the low-pass, every down-th sample."""
    stuffed = np.zeros(x.size * up)
    stuffed[::up] = x
    return np.convolve(stuffed, taps.astype(np.float64))[::down]


@pytest.mark.parametrize("rates", RATES)
def test_resampler_matches_the_definition(rates: tuple[int, int]) -> None:
    up, down, taps = design_filter(*rates)
    x = noise(1500, seed=4)
    got = resample_stream(x, *rates)
    want = reference_resample(x.astype(np.float64), up, down, taps)
    # Every output the input completes, and no more.
    assert got.size == -(-x.size * up // down)
    np.testing.assert_allclose(got, want[:got.size], rtol=0, atol=2e-6)


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_output_does_not_depend_on_chunks(rates: tuple[int, int],
                                                    channels: int) -> None:
    x = np.stack([noise(rates[0], seed=1 + c) for c in range(channels)], axis=1)
    x = np.ascontiguousarray(x[:, 0] if channels == 1 else x)
    whole = resample_stream(x, *rates)
    resampler = StreamResampler(*rates, channels=channels)
    sizes = [1, 37, 256, 85, 1000, 3]
    pieces, start, i = [], 0, 0
    while start < x.shape[0]:
        pieces.append(resampler.process(x[start:start + sizes[i % len(sizes)]]))
        start += sizes[i % len(sizes)]
        i += 1
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    # Larger than the C++ step size: split inside, same result.
    split = _core.Resampler(up=design_filter(*rates)[0], down=design_filter(*rates)[1],
                            taps=design_filter(*rates)[2], channels=channels, max_input=100)
    np.testing.assert_array_equal(split.process(x), whole)


def test_the_band_is_kept_and_aliases_rejected() -> None:
    t = np.arange(2 * 48000) / 48000
    for freq, low, high in [(1000, -0.01, 0.01), (7000, -0.01, 0.01), (9000, -300, -105)]:
        y = resample_stream(np.sin(2 * np.pi * freq * t).astype(np.float32), 48000, 16000)
        gain = 20 * np.log10(np.sqrt(np.mean(y[4000:-4000] ** 2) * 2) + 1e-30)
        assert low < gain < high, (freq, gain)


@pytest.mark.parametrize("device_rate", [48000, 44100, 22050])
def test_the_live_filters_keep_their_pass_band_and_stop_band(device_rate: int) -> None:
    """The live path's short filters, measured on the response of the taps the C++ runs:
    flat to 35 % of the engine's rate, 70 dB down where an alias would fold into that band
    (device -> engine) or an image would appear (engine -> device)."""
    from scipy import signal

    engine_rate = 16000
    for in_rate, out_rate, stop in ((device_rate, engine_rate, 0.65 * engine_rate),
                                    (engine_rate, device_rate, 0.5 * engine_rate)):
        up, _, taps = design_filter(in_rate, out_rate, live=True)
        freqs = np.linspace(0.0, device_rate / 2, 2001)
        _, response = signal.freqz(taps.astype(np.float64) / up, worN=freqs, fs=in_rate * up)
        db = 20 * np.log10(np.abs(response) + 1e-300)
        passband = freqs <= 0.35 * engine_rate
        assert np.max(np.abs(db[passband])) < 0.005, (in_rate, out_rate)
        assert np.max(db[freqs >= stop]) < -69.0, (in_rate, out_rate, np.max(db[freqs >= stop]))


@pytest.mark.parametrize("device_rate", [48000, 44100, 22050])
@pytest.mark.parametrize("block", [1, 127, 128, 512])
def test_live_resampling_adds_under_2_ms(device_rate: int, block: int) -> None:
    preset = random_preset((2, 2), 4)
    separator = create_separator(preset)
    latency = separator.latency_samples()
    bridge = RateBridge(device_rate, preset.sr, preset.n_sources, engine_latency=latency,
                        max_block=512)
    x, out = np.zeros(block, np.float32), np.zeros((block, preset.n_sources), np.float32)
    for _ in range(max(4, 4000 // block)):
        bridge.process(separator, x, out)
    assert bridge.primed
    assert 0 < bridge.latency_samples / device_rate - latency / preset.sr < 0.002


def test_bad_rates_and_shapes_are_clear() -> None:
    with pytest.raises(ParameterError, match="44100 Hz <-> 16001 Hz"):
        design_filter(44100, 16001)
    with pytest.raises(ParameterError, match="in_rate must be a positive whole rate"):
        design_filter(0, 16000)
    with pytest.raises(ParameterError, match=r"x must have shape \(n, 2\)"):
        StreamResampler(48000, 16000, channels=2).process(np.zeros(8, np.float32))
    with pytest.raises(ParameterError, match="float32"):
        StreamResampler(48000, 16000).process(np.zeros(8))


@pytest.mark.parametrize("rate, blocks", [(48000, [256]), (44100, [512]), (48000, [1]),
                                          (48000, [128, 300, 64, 700, 37])])
def test_rate_bridge_is_the_file_path_with_a_known_delay(rate: int, blocks: list[int]) -> None:
    preset = random_preset((3, 4), 4)
    separator = create_separator(preset)
    bridge = RateBridge(rate, preset.sr, preset.n_sources, max_block=1024,
                        engine_latency=separator.latency_samples())
    seconds = 0.5 if blocks == [1] else 2
    x = np.concatenate([np.zeros(3000, np.float32), noise(int(seconds * rate), seed=2)])
    out = np.zeros((x.size, preset.n_sources), np.float32)
    start, i = 0, 0
    while start + blocks[i % len(blocks)] <= x.size:
        n = blocks[i % len(blocks)]
        bridge.process(separator, np.ascontiguousarray(x[start:start + n]), out[start:start + n])
        start, i = start + n, i + 1
    assert bridge.underruns == 0 and bridge.primed
    # The file path: the same resamplers over the whole signal around separate_online.
    low = resample_stream(x, rate, preset.sr, live=True)
    latency = separator.latency_samples()
    stems = separate_online(low, preset).T
    engine_out = np.zeros_like(stems)
    engine_out[latency:] = stems[:-latency]
    up = resample_stream(engine_out, preset.sr, rate, input_delay=bridge.chain.up_input_delay,
                         live=True)
    want = np.zeros_like(out)
    want[bridge.offset:] = up[:out.shape[0] - bridge.offset]
    np.testing.assert_array_equal(out[:start], want[:start])
    # The reported delay is where an impulse comes out: the resamplers and the queue add
    # under 2 ms to the engine's.
    assert bridge.latency_samples == bridge.offset + bridge.chain.delay
    assert 0 < bridge.latency_samples / rate - latency / preset.sr < 0.002


def test_rate_bridge_rejects_blocks_it_was_not_made_for() -> None:
    preset = random_preset((2, 2), 4)
    bridge = RateBridge(48000, preset.sr, preset.n_sources, engine_latency=511, max_block=64)
    separator = create_separator(preset)
    with pytest.raises(ParameterError, match="1 <= n <= 64"):
        bridge.process(separator, np.zeros(65, np.float32), np.zeros((65, 2), np.float32))
    with pytest.raises(ParameterError, match="the bridge was made for 2"):
        bridge.process(create_separator(preset, output="mono"), np.zeros(8, np.float32),
                       np.zeros((8, 2), np.float32))


@pytest.mark.parametrize("rate, blocks", [(48000, [256]), (44100, [512]), (44100, [100, 37])])
def test_separate_online_at_a_device_rate_is_the_live_path(rate: int, blocks: list[int]) -> None:
    """One resampler for files and live: the file path at a device rate gives what the live
    host's bridge gives, sample for sample, its reported latency later."""
    preset = random_preset((3, 4), 4)
    separator = create_separator(preset)
    bridge = RateBridge(rate, preset.sr, preset.n_sources, max_block=1024,
                        engine_latency=separator.latency_samples())
    x = noise(rate, seed=5)
    out = np.zeros((x.size, preset.n_sources), np.float32)
    start, i = 0, 0
    while start + blocks[i % len(blocks)] <= x.size:
        n = blocks[i % len(blocks)]
        bridge.process(separator, np.ascontiguousarray(x[start:start + n]), out[start:start + n])
        start, i = start + n, i + 1
    file_path = separate_online(x, preset, sr=rate).T
    delay = bridge.latency_samples
    np.testing.assert_array_equal(out[delay:start], file_path[:start - delay])


@pytest.mark.parametrize("orig_sr, target_sr", [(48000, 16000), (16000, 48000), (44100, 16000),
                                                (16000, 44100), (48000, 44100), (22050, 16000)])
def test_resample_is_aligned_with_the_original(orig_sr: int, target_sr: int) -> None:
    """Every filter delays by a whole number of samples, which resample removes: a tone comes
    out at the same phase, sampled at the new rate."""
    t = np.arange(orig_sr) / orig_sr
    y = resample(np.sin(2 * np.pi * 1234.5 * t).astype(np.float32), orig_sr=orig_sr,
                 target_sr=target_sr)
    want = np.sin(2 * np.pi * 1234.5 * np.arange(target_sr) / target_sr)
    assert y.shape == (target_sr,)
    inner = slice(target_sr // 10, -target_sr // 10)
    np.testing.assert_allclose(y[inner], want[inner], atol=1e-5)
