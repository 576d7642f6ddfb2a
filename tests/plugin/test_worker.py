"""The preset parameter: patch:Set messages answered through the LV2 worker, the model
swapped into the running engine without a break, another rate's preset adopted with its own
latency, a missing file reported with the audio passed through, and the path saved and
restored with the host's session (LV2 state)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers.lv2_host import Host
from livesep import load_preset
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.live.plugin import BUNDLE_NAME
from livesep.presets import save

BLOCK = 256
SWAP = 40  # the block that carries the patch:Set


def blocks(x: np.ndarray) -> list[np.ndarray]:
    return [x[i:i + BLOCK] for i in range(0, x.size - BLOCK + 1, BLOCK)]


def test_a_preset_of_the_same_geometry_swaps_into_the_running_engine(
        lv2_path: Path, speech_in_noise: tuple[np.ndarray, int]) -> None:
    x, rate = speech_in_noise  # the presets' rate: the engine alone, no resampling
    bundle = lv2_path / BUNDLE_NAME
    other = bundle / "presets" / "speech-noise-nhmm.npz"
    host = Host(bundle, rate, BLOCK)
    swapped = create_separator(load_preset("voice"))
    kept = create_separator(load_preset("voice"))
    heard, expected, unchanged = [], [], []
    for index, block in enumerate(blocks(x)):
        if index == SWAP:
            host.set_preset(str(other))
        if index == SWAP + 1:  # the worker answered after block SWAP
            model = build_model(load_preset("speech-noise-nhmm"), EngineSettings())
            swapped.swap_model(model, mask_power=EngineSettings().mask_power)
        heard.append(host.run(block))
        expected.append(swapped.process(block))
        unchanged.append(kept.process(block))
    host.close()
    heard_stems = np.concatenate(heard, axis=1)
    stems, before = np.concatenate(expected, axis=1), np.concatenate(unchanged, axis=1)
    np.testing.assert_allclose(heard_stems[:2], stems, atol=1e-5, rtol=0)
    assert np.abs(stems - before)[:, (SWAP + 8) * BLOCK:].max() > 1e-2  # it did change
    assert str(other).encode() in host.notify.tobytes()  # announced to the host


@pytest.mark.parametrize("mode, latency", [(1, "low"), (2, "ultra")])
def test_a_latency_mode_change_builds_a_new_stream_through_the_worker(
        lv2_path: Path, mode: int, latency: str,
        speech_in_noise: tuple[np.ndarray, int]) -> None:
    x, rate = speech_in_noise
    host = Host(lv2_path / BUNDLE_NAME, rate, BLOCK)
    fresh = create_separator(load_preset("voice"), settings=EngineSettings(latency=latency))
    heard, expected = [], []
    for index, block in enumerate(blocks(x)):
        if index == SWAP:
            assert host.latency == 511
            host.latency_mode[0] = mode  # run() sees it and asks the worker
        heard.append(host.run(block))
        if index > SWAP:  # the new stream from the block after the worker's answer
            expected.append(fresh.process(block))
    host.close()
    assert host.latency == fresh.latency_samples() == {"low": 127, "ultra": 47}[latency]
    np.testing.assert_allclose(np.concatenate(heard[SWAP + 1:], axis=1)[:2],
                               np.concatenate(expected, axis=1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("host_rate", [44100, 48000])
def test_a_preset_at_another_rate_is_adopted_with_its_latency(
        lv2_path: Path, tmp_path: Path, host_rate: int,
        speech_in_noise: tuple[np.ndarray, int]) -> None:
    x, _ = speech_in_noise
    preset = replace(load_preset("speech-noise-nmf"), sr=host_rate)
    path = save(preset, tmp_path / "at-host-rate.npz")
    host = Host(lv2_path / BUNDLE_NAME, host_rate, BLOCK)
    fresh = create_separator(preset)
    heard, expected = [], []
    for index, block in enumerate(blocks(x)):
        if index == SWAP:
            host.set_preset(str(path))
        heard.append(host.run(block))
        if index > SWAP:  # a new stream from the block after the answer
            expected.append(fresh.process(block))
    host.close()
    after = np.concatenate(heard[SWAP + 1:], axis=1)
    assert host.latency == fresh.latency_samples()
    np.testing.assert_allclose(after[:2], np.concatenate(expected, axis=1), atol=1e-5, rtol=0)


def test_a_missing_preset_is_reported_and_passes_audio_through(
        lv2_path: Path, tmp_path: Path, speech_in_noise: tuple[np.ndarray, int],
        capfd: pytest.CaptureFixture[str]) -> None:
    x, rate = speech_in_noise
    host = Host(lv2_path / BUNDLE_NAME, rate, BLOCK)
    missing = tmp_path / "gone.npz"
    heard = []
    for index, block in enumerate(blocks(x)[: SWAP + 20]):
        if index == SWAP:
            host.set_preset(str(missing))
        heard.append(host.run(block))
    host.close()
    assert host.latency == 0
    for block, out in zip(blocks(x)[SWAP + 1:], heard[SWAP + 1:]):
        np.testing.assert_array_equal(out[0], block)
        np.testing.assert_array_equal(out[2], block)
        assert not out[1].any()
    said = capfd.readouterr().err
    assert str(missing) in said and "no such file" in said and "passing audio through" in said


def test_the_preset_path_is_saved_and_restored(
        lv2_path: Path, speech_in_noise: tuple[np.ndarray, int]) -> None:
    x, rate = speech_in_noise
    bundle = lv2_path / BUNDLE_NAME
    chosen = bundle / "presets" / "male-female-nhmm.npz"
    first = Host(bundle, rate, BLOCK)
    first.set_preset(str(chosen))
    for block in blocks(x)[:3]:
        first.run(block)
    state = first.save()
    first.close()
    assert state == {"urn:livesep:separator#preset": (str(chosen).encode() + b"\0",
                                                       "http://lv2plug.in/ns/ext/atom#Path")}
    second = Host(bundle, rate, BLOCK)
    second.restore(state)
    fresh = create_separator(load_preset("male-female-nhmm"))
    for block in blocks(x)[:40]:
        np.testing.assert_allclose(second.run(block)[:2], fresh.process(block), atol=1e-5,
                                   rtol=0)
    second.close()
