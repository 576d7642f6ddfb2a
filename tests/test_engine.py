"""The engine with a model: masks, gains, mute and solo, output modes, model swaps,
block-size independence and the real-time rules with a model loaded."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import ParameterError, Separator
from livesep._core import _internal
from livesep.engine import EngineSettings, build_model, create_separator, warm_up

BLOCK_SIZES = [1, 37, 512]


def run(separator: Separator, x: np.ndarray, block_size: int) -> np.ndarray:
    return np.concatenate([separator.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)


@pytest.mark.parametrize("n_states", [(1, 1), (3, 4), (2, 2, 2)])
def test_output_does_not_depend_on_block_size(n_states: tuple[int, ...]) -> None:
    preset = random_preset(n_states)
    x = noise(6000)
    outputs = [run(create_separator(preset), x, block) for block in BLOCK_SIZES]
    for other in outputs[1:]:
        np.testing.assert_array_equal(other, outputs[0])


@pytest.mark.parametrize("sr, n_fft, hop_length", [(16000, 512, 128), (44100, 1024, 256),
                                                   (48000, 1024, 512)])
@pytest.mark.parametrize("mask_power", [1.0, 2.0])
def test_stems_sum_to_the_delayed_mixture(sr: int, n_fft: int, hop_length: int,
                                          mask_power: float) -> None:
    preset = random_preset((3, 2), sr=sr, n_fft=n_fft, hop_length=hop_length)
    separator = create_separator(preset, settings=EngineSettings(mask_power=mask_power))
    x = noise(9000)
    y = run(separator, x, 257)
    latency = separator.latency_samples()
    assert latency == n_fft - 1
    assert np.max(np.abs(y.sum(axis=0)[latency:] - x[:-latency])) < 1e-5
    masks = separator.masks()
    assert masks.shape == (2, n_fft // 2 + 1)
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, rtol=1e-5)
    assert np.all(masks >= 0)


def test_gains_are_applied_exactly() -> None:
    preset = random_preset()
    x = noise(5000)
    reference = run(create_separator(preset), x, 128)
    separator = create_separator(preset)
    separator.set_gain(0, 0.25)
    separator.set_gain(1, 2.0)
    y = run(separator, x, 128)
    scale = np.abs(reference).max()
    assert np.max(np.abs(y[0] - 0.25 * reference[0])) < 1e-6 * scale
    assert np.max(np.abs(y[1] - 2.0 * reference[1])) < 1e-6 * scale
    assert separator.gain(0) == 0.25


def test_mute_and_solo() -> None:
    preset = random_preset((2, 2, 2))
    x = noise(4000)
    reference = run(create_separator(preset), x, 128)
    separator = create_separator(preset)
    separator.set_muted(1, True)
    y = run(separator, x, 128)
    assert np.all(y[1] == 0.0)
    np.testing.assert_array_equal(y[[0, 2]], reference[[0, 2]])
    separator.reset()
    separator.set_muted(1, False)
    separator.set_soloed(2, True)
    y = run(separator, x, 128)
    assert np.all(y[:2] == 0.0)
    np.testing.assert_array_equal(y[2], reference[2])


@pytest.mark.parametrize("output, channels", [("mono", 1), ("stereo", 2)])
def test_remix_outputs_are_the_sum_of_gained_stems(output: str, channels: int) -> None:
    preset = random_preset()
    x = noise(5000)
    stems = create_separator(preset)
    remix = create_separator(preset, output=output)
    for separator in (stems, remix):
        separator.set_gain(0, 0.5)
    y_stems = run(stems, x, 100)
    y_remix = run(remix, x, 100)
    assert y_remix.shape == (channels, x.size)
    for channel in y_remix:
        assert np.max(np.abs(channel - y_stems.sum(axis=0))) < 1e-5


def test_model_swap_takes_effect_without_blocking() -> None:
    first, second = random_preset(seed=1), random_preset(seed=2)
    x = noise(8000)
    separator = create_separator(first)
    run(separator, x[:2000], 128)
    separator.swap_model(build_model(second))
    assert separator.swap_pending
    separator.process(x[2000:2128])
    assert not separator.swap_pending
    assert separator.collect_retired()
    # After the swap the engine runs the second model (its filter restarted from the prior):
    # it converges to a separator that ran the second model all along, and leaves the first.
    fresh, kept = create_separator(second), create_separator(first)
    run(fresh, x[:2128], 128)
    run(kept, x[:2128], 128)
    tail = run(separator, x[2128:], 128)
    fresh_tail = run(fresh, x[2128:], 128)
    kept_tail = run(kept, x[2128:], 128)
    late = slice(-2000, None)
    scale = np.abs(fresh_tail).max()
    assert np.max(np.abs(tail[:, late] - fresh_tail[:, late])) < 1e-3 * scale
    assert np.max(np.abs(tail[:, late] - kept_tail[:, late])) > 1e-2 * scale


def test_swaps_from_another_thread_while_processing() -> None:
    presets = [random_preset(seed=seed) for seed in range(4)]
    models = [build_model(p) for p in presets]
    separator = create_separator(presets[0])
    x = noise(64000)
    stop = threading.Event()
    swaps = []

    def swapper() -> None:
        index = 0
        while not stop.is_set():
            separator.swap_model(models[index % 4])
            swaps.append(index)
            index += 1
            stop.wait(0.002)

    def process_between_swaps() -> np.ndarray:
        # Every tenth block waits for another swap: swaps and blocks interleave however
        # fast the engine is.
        outputs = []
        for i in range(0, x.size, 128):
            outputs.append(separator.process(x[i:i + 128]))
            if i // 128 % 10 == 9:
                seen, deadline = len(swaps), time.monotonic() + 5.0
                while len(swaps) == seen and time.monotonic() < deadline:
                    time.sleep(0.0002)
        return np.concatenate(outputs, axis=1)

    thread = threading.Thread(target=swapper)
    thread.start()
    try:
        y = process_between_swaps()
    finally:
        stop.set()
        thread.join()
    separator.collect_retired()
    assert len(swaps) >= 50
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y.sum(axis=0)[511:] - x[:-511])) < 1e-5


def test_swap_to_a_model_of_another_shape_is_refused() -> None:
    separator = create_separator(random_preset((3, 3)))
    with pytest.raises(ParameterError, match="3 sources"):
        separator.swap_model(build_model(random_preset((2, 2, 2))))
    with pytest.raises(ParameterError, match="bins"):
        separator.swap_model(build_model(random_preset((3, 3), n_fft=1024, hop_length=256)))


@pytest.mark.parametrize("block_size", [1, 37, 128])
@pytest.mark.parametrize("beam", [0, 5])
@pytest.mark.parametrize("states", [(3, 4), (20, 20)])  # 20 x 20: Eigen's blocked products
def test_processing_with_a_model_allocates_nothing(block_size: int, beam: int,
                                                   states: tuple[int, int]) -> None:
    separator = create_separator(random_preset(states), settings=EngineSettings(beam=beam))
    x = noise(block_size * 40)
    out = np.zeros((2, block_size), dtype=np.float32)
    for start in range(0, x.size, block_size):
        block = np.ascontiguousarray(x[start:start + block_size])
        assert _internal.count_process_allocations(separator, block, out) == 0
    separator.swap_model(build_model(random_preset(states, seed=5)))
    assert _internal.count_process_allocations(separator, x[:block_size].copy(), out) == 0


def test_quality_settings_apply_from_the_next_frame() -> None:
    separator = create_separator(random_preset((4, 5)), settings=EngineSettings(beam=0))
    x = noise(2048)
    run(separator, x, 128)
    assert separator.n_evaluated == 20
    separator.set_quality(beam=6)
    run(separator, x, 128)
    assert separator.n_evaluated == 6
    separator.set_quality()
    run(separator, x, 128)
    assert separator.n_evaluated == 20


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_and_silent_input_with_a_model(bad: float) -> None:
    preset = random_preset()
    x = noise(6000)
    x[1000:1500] = 0.0
    dirty = x.copy()
    dirty[3000:3100] = bad
    clean = x.copy()
    clean[3000:3100] = 0.0
    y_dirty = run(create_separator(preset), dirty, 64)
    y_clean = run(create_separator(preset), clean, 64)
    assert np.all(np.isfinite(y_dirty))
    np.testing.assert_array_equal(y_dirty, y_clean)
    silent = run(create_separator(preset), np.zeros(3000, dtype=np.float32), 64)
    assert np.all(silent == 0.0)


def test_state_marginals_are_distributions() -> None:
    separator = create_separator(random_preset((3, 5)))
    run(separator, noise(3000), 128)
    marginals = separator.state_marginals()
    assert [m.shape for m in marginals] == [(3,), (5,)]
    for marginal in marginals:
        assert marginal.sum() == pytest.approx(1.0, rel=1e-5)


def test_bad_source_index_is_refused() -> None:
    separator = create_separator(random_preset())
    with pytest.raises(ParameterError, match="got 2"):
        separator.set_gain(2, 1.0)


@pytest.mark.parametrize("block_size", [1, 37, 256])
@pytest.mark.parametrize("in_channels, input_channel, out_channels", [(1, 0, 2), (2, 1, 4)])
def test_interleaved_processing_equals_planar(block_size: int, in_channels: int,
                                              input_channel: int, out_channels: int) -> None:
    preset = random_preset()
    x = noise(3000)
    planar = run(create_separator(preset), x, block_size)
    separator = create_separator(preset)
    rng = np.random.default_rng(0)
    outputs = []
    for start in range(0, x.size, block_size):
        block = x[start:start + block_size]
        indata = rng.standard_normal((block.size, in_channels)).astype(np.float32)
        indata[:, input_channel] = block
        outdata = np.full((block.size, out_channels), 9.0, dtype=np.float32)
        separator.process_interleaved(indata, outdata, input_channel=input_channel)
        outputs.append(outdata)
    interleaved = np.concatenate(outputs)
    np.testing.assert_array_equal(interleaved[:, :2].T, planar)
    assert np.all(interleaved[:, 2:] == 0.0)


def test_interleaved_processing_checks_its_arguments() -> None:
    separator = create_separator(random_preset())
    indata = np.zeros((64, 2), dtype=np.float32)
    with pytest.raises(ParameterError, match="got 2"):
        separator.process_interleaved(indata, np.zeros((64, 2), dtype=np.float32),
                                      input_channel=2)
    with pytest.raises(ParameterError, match="at least 2 channels"):
        separator.process_interleaved(indata, np.zeros((64, 1), dtype=np.float32))
    with pytest.raises(ParameterError, match="same number"):
        separator.process_interleaved(indata, np.zeros((63, 2), dtype=np.float32))


def test_snapshots_report_every_frame_in_order() -> None:
    preset = random_preset((3, 5))
    separator = create_separator(preset)
    run(separator, noise(128 * 40), 100)
    snapshots = separator.pop_snapshots()
    frames = snapshots["frame"]
    assert list(frames) == list(range(40))
    assert snapshots["spectrum"].shape == (40, 257)
    assert snapshots["masks"].shape == (40, 2, 257)
    np.testing.assert_allclose(snapshots["masks"].sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(snapshots["n_states"] == [3, 5])
    marginals = snapshots["marginals"]
    np.testing.assert_allclose(marginals[:, 0, :3].sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(marginals[:, 0, 3:] == 0.0)
    np.testing.assert_array_equal(snapshots["masks"][-1], separator.masks())
    assert separator.pop_snapshots()["frame"].size == 0


def test_a_full_snapshot_ring_drops_instead_of_blocking() -> None:
    separator = create_separator(random_preset())
    run(separator, noise(128 * 600), 128)
    snapshots = separator.pop_snapshots()
    assert snapshots["frame"].size == 512
    assert snapshots["dropped"] == 600 - 512
    separator.set_snapshots_enabled(False)
    run(separator, noise(128 * 10), 128)
    assert separator.pop_snapshots()["frame"].size == 0


def test_timings_cover_every_process_call() -> None:
    separator = create_separator(random_preset())
    run(separator, noise(128 * 50), 128)
    seconds, samples, dropped = separator.pop_timings()
    assert seconds.size == 50 and np.all(samples == 128) and dropped == 0
    assert np.all(seconds > 0) and np.all(seconds < 0.1)


@pytest.mark.parametrize("n_states", [(1, 1), (3, 4)])
def test_warm_up_leaves_the_separator_as_new(n_states: tuple[int, ...]) -> None:
    preset = random_preset(n_states)
    x = noise(4000)
    warmed = create_separator(preset)
    warm_up(warmed)
    assert warmed.pop_timings()[0].size == 0
    assert warmed.pop_snapshots()["frame"].size == 0
    np.testing.assert_array_equal(run(warmed, x, 128), run(create_separator(preset), x, 128))
