"""Speech in a synthetic room: the impulse responses and the reverberant mixtures."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from helpers.eval_material import HIGH, LOW, tones
from livesep import ParameterError
from livesep.evaluation import rooms
from livesep.evaluation.rooms import in_room, pair_room, reverberate, room_impulse_response
from livesep.evaluation.voice import voice_mixtures


def decay_time(response: np.ndarray, sr: int) -> float:
    """RT60 from the Schroeder integral of the tail, fitted between -5 and -25 dB (T20)."""
    energy = np.cumsum(response[1:][::-1] ** 2)[::-1]
    level = 10 * np.log10(energy / energy[0])
    t = np.arange(level.size) / sr
    fit = (level <= -5) & (level >= -25)
    slope = np.polyfit(t[fit], level[fit], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("sr", [8000, 16000, 48000])
@pytest.mark.parametrize("rt60", [0.2, 0.6])
def test_a_response_decays_in_its_rt60_below_its_direct_sound(sr: int, rt60: float) -> None:
    h = room_impulse_response(sr=sr, rt60=rt60, drr_db=4.0, rng=np.random.default_rng(3))
    assert h.shape == (round(rt60 * sr),) and h[0] == 1.0
    assert not h[1:round(0.003 * sr)].any()  # the first reflections come after 3 ms
    assert 10 * np.log10(1.0 / np.sum(h[1:] ** 2)) == pytest.approx(4.0, abs=1e-9)
    assert decay_time(h, sr) == pytest.approx(rt60, rel=0.15)


@pytest.mark.parametrize("bad", [dict(sr=4000), dict(rt60=0.0), dict(rt60=6.0),
                                 dict(drr_db=float("nan"))])
def test_a_bad_room_is_a_parameter_error_that_shows_the_value(bad: dict[str, float]) -> None:
    settings = dict(sr=16000, rt60=0.3, drr_db=3.0) | bad
    with pytest.raises(ParameterError, match=str(next(iter(bad.values())))):
        room_impulse_response(**settings, rng=np.random.default_rng(0))  # type: ignore[arg-type]


def test_each_pair_has_its_own_room_and_the_same_one_every_time() -> None:
    room = pair_room(7, "lt", "fan", sr=16000)
    assert np.array_equal(room, pair_room(7, "lt", "fan", sr=16000))
    for other in (pair_room(8, "lt", "fan", sr=16000), pair_room(7, "uk", "fan", sr=16000),
                  pair_room(7, "lt", "rain", sr=16000)):
        assert other.shape != room.shape or not np.array_equal(other, room)
    with pytest.raises(ParameterError, match="low to high"):
        pair_room(7, "lt", "fan", sr=16000, rt60_range=(0.5, 0.2))


def test_reverberation_keeps_length_and_power_and_refuses_silence() -> None:
    speech = tones(LOW, seconds=1.0, seed=1).astype(np.float32)
    wet = reverberate(speech, pair_room(0, "a", "b", sr=16000))
    assert wet.shape == speech.shape and wet.dtype == np.float32
    assert np.sum(wet.astype(np.float64) ** 2) == pytest.approx(np.sum(speech ** 2.0), rel=1e-5)
    assert not np.allclose(wet, speech)
    with pytest.raises(ParameterError, match="silent"):
        reverberate(np.zeros(100), [1.0, 0.5])


@pytest.mark.parametrize("sr", [16000, 48000])
def test_mixtures_in_a_room_keep_their_noise_and_snr(sr: int) -> None:
    speech = {"low": tones(LOW, seconds=2.0, seed=1, sr=sr)}
    noises = {"high": tones(HIGH, seconds=3.0, seed=2, sr=sr)}
    dry = voice_mixtures(speech, noises, sr=sr, snrs=(0.0, 5.0), seconds=1.5)
    wet = in_room(dry, seed=4)
    assert [m.name for m in wet] == [f"{m.name}-room" for m in dry]
    for before, after in zip(dry, wet):
        np.testing.assert_array_equal(after.references[1], before.references[1])
        np.testing.assert_allclose(after.mixture, after.references.sum(axis=0), atol=1e-6)
        powers = np.sum(after.references.astype(np.float64) ** 2, axis=1)
        assert 10 * np.log10(powers[0] / powers[1]) == pytest.approx(before.snr_db, abs=1e-3)
    # Both SNRs of a reader and noise are heard in the same room: the same speech, scaled.
    first, second = (m.references[0] / np.linalg.norm(m.references[0]) for m in wet)
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_the_examples_run() -> None:
    result = doctest.testmod(rooms, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
