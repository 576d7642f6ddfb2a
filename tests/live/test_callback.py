"""The live stream's C++ audio callback (``_core.LiveHost``) without an audio device: it
must compute what the engine, the rate bridge and the mix compute, call by call, note
timings and status flags, feed the recorder, and allocate nothing."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import _core
from livesep.engine import create_separator
from livesep.errors import ParameterError
from livesep.live.bridge import RateBridge

BLOCKS = [1, 37, 256]


def run_blocks(host: _core.LiveHost, indata: np.ndarray, out_channels: int, block: int,
               flags: int = 0) -> np.ndarray:
    out = np.zeros((indata.shape[0], out_channels), np.float32)
    for start in range(0, indata.shape[0], block):
        host.run(np.ascontiguousarray(indata[start:start + block]),
                 out[start:start + block], flags=flags)
    return out


def engine_blocks(separator: _core.Separator, x: np.ndarray, block: int) -> np.ndarray:
    stems = np.zeros((x.size, separator.n_channels), np.float32)
    for start in range(0, x.size, block):
        chunk = np.ascontiguousarray(x[start:start + block, None])
        separator.process_interleaved(chunk, stems[start:start + block])
    return stems


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("input_channel", [0, 1])
def test_stems_are_the_engine_on_the_chosen_channel(block: int, input_channel: int) -> None:
    preset = random_preset((3, 4), 4)
    x = noise(4000, seed=5)
    indata = np.stack([x, -0.5 * x], axis=1)[:, :input_channel + 1].copy()
    indata[:, input_channel] = x
    host = _core.LiveHost(create_separator(preset), in_channels=input_channel + 1,
                          input_channel=input_channel, out_channels=3)
    got = run_blocks(host, indata, 3, block)
    want = engine_blocks(create_separator(preset), x, block)
    np.testing.assert_array_equal(got[:, :2], want)
    assert not got[:, 2].any()  # a device channel beyond the sources stays silent
    assert host.callbacks == -(-x.size // block) and host.frames == x.size


@pytest.mark.parametrize("block", BLOCKS)
def test_a_remix_is_the_sum_of_the_stems(block: int) -> None:
    preset = random_preset((2, 2, 2), 3)
    x = noise(3000, seed=6)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2, mix=np.ones((3, 2), np.float32))
    got = run_blocks(host, x[:, None].copy(), 2, block)
    stems = engine_blocks(create_separator(preset), x, block)
    for channel in range(2):
        np.testing.assert_allclose(got[:, channel], stems.sum(axis=1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("block", [37, 256])
def test_with_a_rate_bridge_it_is_the_bridge(block: int) -> None:
    preset = random_preset((3, 4), 4)
    x = noise(12000, seed=7)
    bridge = RateBridge(48000, preset.sr, 2, engine_latency=511, max_block=8192)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2, bridge=bridge.core)
    got = run_blocks(host, x[:, None].copy(), 2, block)
    reference = RateBridge(48000, preset.sr, 2, engine_latency=511, max_block=8192)
    separator = create_separator(preset)
    want = np.zeros_like(got)
    for start in range(0, x.size, block):
        n = min(block, x.size - start)
        reference.process(separator, np.ascontiguousarray(x[start:start + n]),
                          want[start:start + n])
    np.testing.assert_array_equal(got, want)
    assert bridge.offset == reference.offset and bridge.primed


def test_bypass_fades_over_one_block_to_the_sum() -> None:
    preset = random_preset((2, 2), 4)
    x = noise(1024, seed=8)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2, bypass_mix=np.ones((2, 2), np.float32))
    separator = create_separator(preset)
    stems = engine_blocks(separator, x, 256)
    out = np.zeros((1024, 2), np.float32)
    host.run(x[:256, None].copy(), out[:256])
    host.set_bypass(True)
    host.run(x[256:512, None].copy(), out[256:512])
    host.run(x[512:768, None].copy(), out[512:768])
    host.set_bypass(False)
    host.run(x[768:, None].copy(), out[768:])
    summed = np.repeat(stems.sum(axis=1, keepdims=True), 2, axis=1)
    ramp = (np.arange(1, 257, dtype=np.float32) / 256)[:, None]
    np.testing.assert_array_equal(out[:256], stems[:256])
    np.testing.assert_allclose(out[256:512], stems[256:512] + (summed[256:512] - stems[256:512])
                               * ramp, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out[512:768], summed[512:768], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out[768:], summed[768:] + (stems[768:] - summed[768:]) * ramp,
                               rtol=0, atol=1e-6)


def test_the_recorder_ring_gets_the_input_and_the_stems() -> None:
    preset = random_preset((2, 2), 4)
    x = noise(2000, seed=9)
    ring = _core.FrameRing(capacity=1500, channels=3)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2, recorder=ring)
    got = run_blocks(host, x[:1024, None].copy(), 2, 256)
    assert ring.pending() == (0, 1024)
    np.testing.assert_array_equal(ring.storage[:1024, 0], x[:1024])
    np.testing.assert_array_equal(ring.storage[:1024, 1:], got)
    run_blocks(host, x[1024:1824, None].copy(), 2, 400)  # 476 free: the second block drops
    assert ring.pending() == (0, 1424) and ring.dropped == 400
    np.testing.assert_array_equal(ring.storage[1024:1424, 0], x[1024:1424])
    ring.release(1024)
    run_blocks(host, x[1824:, None].copy(), 2, 176)  # wraps around the end of the storage
    assert ring.pending() == (1024, 1600) and ring.dropped == 400
    np.testing.assert_array_equal(ring.storage[:100, 0], x[1900:])


def test_status_flags_are_counted_and_logged_unless_ignored() -> None:
    preset = random_preset((2, 2), 4)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2)
    block = np.zeros((64, 1), np.float32)
    out = np.zeros((64, 2), np.float32)
    host.run(block, out)
    host.run(block, out, flags=0x2 | 0x4)  # input overflow, output underflow
    host.run(block, out, flags=0x1)
    assert host.flag_counts == (1, 1, 1, 0)
    records = host.xruns(0)
    assert [(r[0], r[3]) for r in records] == [(1, 0x6), (2, 0x1)]
    first, starts, ends, frames = host.timings(0)
    assert first == 0 and frames.tolist() == [64, 64, 64]
    assert records[0][1] == starts[1] and records[0][2] == starts[0]
    assert np.all(ends >= starts) and np.all(np.diff(starts) > 0)
    assert host.xruns(1) == records[1:] and host.timings(2)[0] == 2
    host.set_ignore_flags(True)
    host.run(block, out, flags=0x8)
    assert host.flag_counts == (1, 1, 1, 0) and len(host.xruns(0)) == 2


@pytest.mark.parametrize("bridged", [False, True])
def test_a_callback_allocates_nothing(bridged: bool) -> None:
    from livesep._core import _internal

    preset = random_preset((3, 4), 4)
    bridge = RateBridge(48000, preset.sr, 2, engine_latency=511) if bridged else None
    ring = _core.FrameRing(capacity=48000, channels=3)
    host = _core.LiveHost(create_separator(preset), in_channels=2, input_channel=1,
                          out_channels=2, bridge=bridge.core if bridge else None, recorder=ring,
                          bypass_mix=np.ones((2, 2), np.float32))
    x = np.ascontiguousarray(np.stack([noise(4096, seed=1), noise(4096, seed=2)], axis=1))
    out = np.zeros((256, 2), np.float32)
    counts = []
    for start in range(0, 4096, 256):
        host.set_bypass(start % 1024 == 0)
        counts.append(_internal.count_host_allocations(host, x[start:start + 256], out,
                                                       0x4 if start == 512 else 0))
    assert counts == [0] * 16 and np.abs(out).max() > 0


def test_portaudio_calls_the_callback_address_with_the_userdata() -> None:
    preset = random_preset((2, 2), 4)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2)
    signature = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                                 ctypes.c_void_p)
    callback = signature(host.callback_address)
    x = noise(512, seed=3)[:, None].copy()
    out = np.zeros((512, 2), np.float32)
    status = callback(x.ctypes.data, out.ctypes.data, 512, None, 0x4, host.userdata_address)
    assert status == 0  # paContinue
    np.testing.assert_array_equal(out, engine_blocks(create_separator(preset), x[:, 0], 512))
    assert host.callbacks == 1 and host.flag_counts == (0, 0, 1, 0)


def test_the_separator_is_reserved_while_a_host_exists() -> None:
    preset = random_preset((2, 2), 4)
    separator = create_separator(preset)
    host = _core.LiveHost(separator, in_channels=1, input_channel=0, out_channels=2)
    x, out = np.zeros((8, 1), np.float32), np.zeros((8, 2), np.float32)
    with pytest.raises(ParameterError, match="already in use"):
        separator.process_interleaved(x, out)
    with pytest.raises(ParameterError, match="already in use"):
        _core.LiveHost(separator, in_channels=1, input_channel=0, out_channels=2)
    del host
    separator.process_interleaved(x, out)


def test_bad_configurations_are_clear() -> None:
    preset = random_preset((2, 2), 4)
    with pytest.raises(ParameterError, match="input channel 2 of 2"):
        _core.LiveHost(create_separator(preset), in_channels=2, input_channel=2,
                       out_channels=2)
    with pytest.raises(ParameterError, match="must be 2 x 2, got 6 values"):
        _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                       out_channels=2, mix=np.ones((3, 2), np.float32))
    with pytest.raises(ParameterError, match="recorder ring needs 3 channels"):
        _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                       out_channels=2, recorder=_core.FrameRing(capacity=10, channels=2))
    with pytest.raises(ParameterError, match="prepared for 4 channels"):
        _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                       out_channels=2,
                       bridge=RateBridge(48000, 16000, 4, engine_latency=511).core)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2)
    with pytest.raises(ParameterError, match="outdata 2"):
        host.run(np.zeros((8, 1), np.float32), np.zeros((8, 3), np.float32))


@pytest.mark.parametrize("loop", [True, False])
def test_a_feed_replaces_the_input_and_loops_or_ends(loop: bool) -> None:
    preset = random_preset((2, 2), 4)
    signal = noise(700, seed=12)
    host = _core.LiveHost(create_separator(preset), in_channels=1, input_channel=0,
                          out_channels=2, feed=signal, loop=loop,
                          recorder=(ring := _core.FrameRing(capacity=4096, channels=3)))
    ignored = np.full((256, 1), 0.5, np.float32)  # the device's input is not read
    out = np.zeros((256, 2), np.float32)
    for _ in range(4):
        host.run(ignored, out)
    heard = ring.storage[:1024, 0]
    want = np.concatenate([signal, signal])[:1024] if loop else \
        np.concatenate([signal, np.zeros(324, np.float32)])
    np.testing.assert_array_equal(heard, want)
    assert host.feed_finished is (not loop)
    assert host.feed_position == (1024 - 700 if loop else 700)
