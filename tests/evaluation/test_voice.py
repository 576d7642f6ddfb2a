"""The voice isolation comparison: generated noises, mixtures at an SNR, scoring methods."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from helpers.eval_material import HIGH, LOW, tones
from helpers.presets import random_preset
from livesep import ParameterError
from livesep.evaluation.mixtures import load_mixture
from livesep.evaluation.voice import (
    CEILING,
    FLOOR,
    GENERATED_NOISES,
    LEVEL_DBFS,
    Estimate,
    Method,
    VoiceMixture,
    compare,
    make_noise,
    mean_scores,
    preset_method,
    save_mixtures,
    voice_mixtures,
)
from livesep.separation.online import separate_online

SR = 16000


def talkers() -> list[np.ndarray]:
    return [tones(LOW, seconds=1.5, seed=1), tones(HIGH, seconds=0.7, seed=2)]


def power_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


@pytest.mark.parametrize("name", GENERATED_NOISES)
def test_generated_noises_are_deterministic_unit_rms_and_differ_by_seed(name: str) -> None:
    noise = make_noise(name, SR, sr=SR, seed=3, talkers=talkers())
    assert noise.shape == (SR,) and noise.dtype == np.float32
    assert np.all(np.isfinite(noise)) and abs(power_db(noise)) < 1e-3
    assert np.array_equal(noise, make_noise(name, SR, sr=SR, seed=3, talkers=talkers()))
    assert not np.array_equal(noise, make_noise(name, SR, sr=SR, seed=4, talkers=talkers()))


def test_generated_noises_have_their_character() -> None:
    spectra = {name: np.abs(np.fft.rfft(make_noise(name, 4 * SR, sr=SR, talkers=talkers())))
               ** 2 for name in GENERATED_NOISES}
    f = np.fft.rfftfreq(4 * SR, 1 / SR)

    def low_share(name: str) -> float:
        return float(spectra[name][f < 500].sum() / spectra[name].sum())

    assert low_share("brown") > 0.9 > low_share("pink") > low_share("rain")
    assert low_share("rain") < 0.05
    fan = spectra["fan"][(f > 80) & (f < 150)]
    assert fan.max() > 1000 * np.median(fan)  # a hum: one strong line
    keys = make_noise("keyboard", 4 * SR, sr=SR)
    assert np.mean(np.abs(keys) < 1e-6) > 0.3  # clicks with silence between


def test_noise_errors_are_parameter_errors() -> None:
    with pytest.raises(ParameterError, match="unknown generated noise"):
        make_noise("thunder", SR, sr=SR)
    with pytest.raises(ParameterError, match="talker"):
        make_noise("babble", SR, sr=SR)


@pytest.fixture(scope="module")
def mixtures() -> list[VoiceMixture]:
    speech = {"a": tones(LOW, seconds=1.2, seed=5), "b": tones(HIGH, seconds=1.0, seed=6)}
    noises = {"pink": make_noise("pink", 3 * SR, sr=SR), "fan": make_noise("fan", SR, sr=SR)}
    return voice_mixtures(speech, noises, sr=SR, snrs=(0.0, 5.0), seconds=1.0, seed=1)


def test_mixtures_cover_every_reader_noise_and_snr_at_the_stated_snr(
        mixtures: list[VoiceMixture]) -> None:
    assert [m.name for m in mixtures] == [f"{r}-{n}-{s}dB" for r in "ab" for n in ("pink", "fan")
                                          for s in (0, 5)]
    for mixture in mixtures:
        speech, noise = mixture.references
        assert mixture.mixture.shape == speech.shape == (SR,)
        assert power_db(speech) - power_db(noise) == pytest.approx(mixture.snr_db, abs=1e-3)
        np.testing.assert_array_equal(mixture.mixture, speech + noise)
        assert power_db(mixture.mixture) <= LEVEL_DBFS + 1e-3
        assert np.max(np.abs(mixture.mixture)) <= 10 ** (-1 / 20) + 1e-6
    again = voice_mixtures({"a": tones(LOW, seconds=1.2, seed=5)},
                           {"pink": make_noise("pink", 3 * SR, sr=SR)}, sr=SR, snrs=(0.0,),
                           seconds=1.0, seed=1)
    np.testing.assert_array_equal(again[0].mixture, mixtures[0].mixture)


def test_mixtures_refuse_short_or_silent_material() -> None:
    with pytest.raises(ParameterError, match="long"):
        voice_mixtures({"a": np.ones(100, np.float32)}, {"n": np.ones(SR, np.float32)}, sr=SR,
                       seconds=1.0)
    with pytest.raises(ParameterError, match="silent"):
        voice_mixtures({"a": np.zeros(SR, np.float32)}, {"n": np.ones(SR, np.float32)}, sr=SR,
                       seconds=1.0)


def test_saved_mixtures_are_eval_folders(mixtures: list[VoiceMixture], tmp_path: Path) -> None:
    folders = save_mixtures(mixtures[:2], tmp_path)
    assert [f.name for f in folders] == [m.name for m in mixtures[:2]]
    loaded = load_mixture(folders[1], ("speech", "noise"))
    np.testing.assert_array_equal(loaded.mixture, mixtures[1].mixture)
    np.testing.assert_array_equal(loaded.references, mixtures[1].references)


def test_compare_scores_floor_ceiling_and_methods_and_flags_a_swap(
        mixtures: list[VoiceMixture]) -> None:
    mixture = mixtures[0]
    speech, noise = mixture.references
    methods = [Method("oracle", lambda y: Estimate(speech, 0.25)),
               Method.timed("noise-out", lambda y: noise),
               Method.timed("unchanged", lambda y: y)]
    fractions: list[float] = []
    scores = compare([mixture], methods, progress=fractions.append)
    by = {s.method: s for s in scores}
    assert [s.method for s in scores] == [FLOOR, CEILING, "oracle", "noise-out", "unchanged"]
    assert fractions[-1] == 1.0 and len(fractions) == 5
    assert by["oracle"].sdr > 50 and by["oracle"].rtf == pytest.approx(0.25)
    assert by[CEILING].sdr > by[FLOOR].sdr + 5 and math.isnan(by[FLOOR].rtf)
    assert not any(by[m].swapped for m in (FLOOR, CEILING, "oracle", "unchanged"))
    # The noise put out as speech: a swap, and the speech output's own (bad) figures.
    assert by["noise-out"].swapped and by["noise-out"].sdr < -10
    assert by["unchanged"].sdr == pytest.approx(by[FLOOR].sdr)
    assert by["unchanged"].rtf >= 0


def test_compare_refuses_bad_methods(mixtures: list[VoiceMixture]) -> None:
    with pytest.raises(ParameterError, match="distinct"):
        compare(mixtures[:1], [Method.timed(FLOOR, lambda y: y)])
    with pytest.raises(ParameterError, match="gave"):
        compare(mixtures[:1], [Method.timed("short", lambda y: y[:-1])])


def test_preset_method_runs_the_engine_and_takes_the_speech_source() -> None:
    preset = random_preset()
    named = preset.with_sources([replace(preset.sources[0], name="noise"),
                                 replace(preset.sources[1], name="speech")])
    y = tones(LOW, seconds=0.5, seed=8)
    speech, seconds = preset_method(named, sr=SR).separate(y)
    np.testing.assert_array_equal(speech, separate_online(y, named)[1])
    assert seconds > 0
    first, _ = preset_method(preset, sr=SR, name="first").separate(y)
    np.testing.assert_array_equal(first, separate_online(y, preset)[0])


def test_means_group_and_count(mixtures: list[VoiceMixture]) -> None:
    scores = compare(mixtures[:2], [Method("fixed", lambda y: Estimate(0.5 * y, 0.1))])
    overall = mean_scores(scores)
    assert set(overall) == {(FLOOR, "all"), (CEILING, "all"), ("fixed", "all")}
    assert overall[("fixed", "all")]["n"] == 2
    assert overall[("fixed", "all")]["rtf"] == pytest.approx(0.1)
    per_snr = mean_scores(scores, by="snr_db")
    assert {group for _, group in per_snr} == {"0", "5"}
    assert per_snr[(CEILING, "0")]["sdr"] == pytest.approx(scores[1].sdr)
