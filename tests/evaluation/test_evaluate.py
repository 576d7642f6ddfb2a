"""Scoring: the metrics' sanity, the floor and ceiling, input checks, results and reports."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import eval_material
from helpers.eval_material import SR, mixtures_dir, sources, tone_preset, write_mixture
from helpers.presets import random_preset
from livesep import AudioFileError, ParameterError
from livesep.evaluation import metrics
from livesep.evaluation.evaluate import (
    METHODS,
    Evaluation,
    evaluate_preset,
    evaluate_signals,
    find_mixtures,
    load_mixture,
    score_estimates,
    speech_sources,
)
from livesep.evaluation.mixtures import select_mixtures
from livesep.evaluation.report import evaluation_table, plot_evaluation, write_json
from livesep.presets import SourceModel


@pytest.fixture(scope="module")
def refs() -> np.ndarray:
    pair = sources(seconds=2.0)
    return np.stack([pair["low"], pair["high"]])


# --------------------------------------------------------------------------- metrics

def test_perfect_estimates_score_very_high(refs: np.ndarray) -> None:
    result = metrics.bss_eval(refs, refs)
    assert np.all(result.sdr > 60) and np.all(result.sir > 60)
    assert not result.swapped
    assert list(result.permutation) == [0, 1]
    assert np.all(metrics.si_sdr(refs, refs * 0.5) > 60)  # scale does not matter


def test_swapped_outputs_are_flagged_not_hidden(refs: np.ndarray) -> None:
    result = metrics.bss_eval(refs, refs[::-1])
    assert result.swapped
    assert list(result.permutation) == [1, 0]
    # SI-SDR pairs by name: a swapped output scores as the wrong source.
    assert np.all(metrics.si_sdr(refs, refs[::-1]) < -20)
    scores = score_estimates(refs, refs[::-1], sr=SR, source_names=("low", "high"))
    assert scores.swapped and scores.permutation == (1, 0)


def test_mixture_floor_is_near_zero_db_sir_for_equal_power_sources(refs: np.ndarray) -> None:
    floor = metrics.mixture_floor(refs.sum(axis=0), n_sources=2)
    assert floor.shape == refs.shape
    result = metrics.bss_eval(refs, floor)
    assert np.all(np.abs(result.sir) < 1.0), result.sir
    assert not result.swapped
    assert np.all(result.sar == metrics.CLAMP_DB)  # nothing but the sources: no artefacts


def test_ideal_ratio_mask_beats_the_mixture_and_sums_to_it(refs: np.ndarray) -> None:
    mixture = refs.sum(axis=0)
    for power in (1.0, 2.0):
        ceiling = metrics.ideal_ratio_mask(refs, n_fft=512, hop_length=128, power=power)
        assert ceiling.shape == refs.shape and ceiling.dtype == np.float32
        np.testing.assert_allclose(ceiling.sum(axis=0), mixture, atol=1e-4)
        irm, floor = metrics.bss_eval(refs, ceiling), metrics.bss_eval(
            refs, metrics.mixture_floor(mixture, n_sources=2))
        assert np.all(irm.sdr > floor.sdr + 10) and np.all(irm.sir > floor.sir + 10)
        assert not irm.swapped


def test_si_sdr_of_a_known_distortion() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    noise = rng.standard_normal(16000)
    noise -= ref * (noise @ ref) / (ref @ ref)  # orthogonal to the reference
    noise *= np.linalg.norm(ref) / np.linalg.norm(noise) / 10.0  # 20 dB below
    assert metrics.si_sdr(ref, ref + noise)[0] == pytest.approx(20.0, abs=0.05)
    assert math.isnan(metrics.si_sdr(np.zeros(100), np.ones(100))[0])


def test_stoi_is_high_for_clean_and_lower_for_noisy_speech_like_signals(refs: np.ndarray) -> None:
    assert metrics.stoi(refs[0], refs[0], sr=SR) > 0.99
    noisy = refs[0] + 3 * refs[1]
    assert metrics.stoi(refs[0], noisy, sr=SR) < 0.9
    assert math.isnan(metrics.stoi(refs[0][:800], refs[0][:800], sr=SR))  # too short


def test_pesq_scores_and_resamples(refs: np.ndarray) -> None:
    clean = metrics.pesq(refs[0], refs[0], sr=SR)
    assert clean.score > 4.0 and clean.note is None
    noisy = metrics.pesq(refs[0], refs[0] + refs[1], sr=SR)
    assert noisy.score < clean.score
    at_8k = refs[0][::2].copy()
    assert metrics.pesq(at_8k, at_8k, sr=8000).score > 4.0


def test_pesq_failures_give_nan_with_a_note(refs: np.ndarray,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    short = metrics.pesq(refs[0][:2000], refs[0][:2000], sr=SR)
    assert math.isnan(short.score) and "1/4 of a second" in short.note
    silent = metrics.pesq(np.zeros(16000), refs[0][:16000], sr=SR)
    assert math.isnan(silent.score) and "silent" in silent.note
    import pesq

    def no_utterances(*args: object, **kwargs: object) -> float:
        raise pesq.NoUtterancesError(b"No utterances detected")

    monkeypatch.setattr(pesq, "pesq", no_utterances)
    result = metrics.pesq(refs[0], refs[0], sr=SR)
    assert math.isnan(result.score) and result.note == "No utterances detected"


def test_metrics_refuse_bad_shapes_and_values(refs: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="one shape"):
        metrics.bss_eval(refs, refs[:, :-1])
    with pytest.raises(ParameterError, match="non-finite"):
        metrics.si_sdr(refs, np.full_like(refs, np.nan))
    with pytest.raises(ParameterError, match="silent"):
        metrics.bss_eval(np.stack([refs[0], np.zeros_like(refs[0])]), refs)
    with pytest.raises(ParameterError, match="longer than filter_length"):
        metrics.bss_eval(refs[:, :300], refs[:, :300])
    with pytest.raises(ParameterError, match="n_sources"):
        metrics.mixture_floor(refs, n_sources=2)


# --------------------------------------------------------------------------- inputs

def test_speech_sources_from_names_and_provenance() -> None:
    base = random_preset((1, 1, 1, 1))
    W = base.sources[0].W[0]
    named = [SourceModel.from_nmf(name, W) for name in ("Speaker2", "female", "drums")]
    named.append(SourceModel.from_nmf("alice", W, provenance={
        "files": ["corpus/speech/en/train.wav"]}))
    preset = base.with_sources(named)
    assert speech_sources(preset) == ("Speaker2", "female", "alice")
    assert speech_sources(tone_preset()) == ()


def test_find_mixtures_accepts_a_folder_of_them_or_one(tmp_path: Path) -> None:
    root = mixtures_dir(tmp_path / "set", n=2)
    assert [p.name for p in find_mixtures(root)] == ["mix00", "mix01"]
    assert find_mixtures(root / "mix01") == [root / "mix01"]
    (root / "notes").mkdir()  # a folder without audio is not a mixture, nor an error
    assert len(find_mixtures(root)) == 2


@pytest.mark.parametrize("problem, match", [
    ("missing", r"no reference for source 'high'; expected low\.wav, high\.wav .*found "
                r"low\.wav, mix\.wav"),
    ("misnamed", r"no reference for source 'high'.*found HIGH\.wav, low\.wav, mix\.wav"),
    ("length", r"high\.wav: 31000 samples, but mix\.wav has 32000"),
    ("rate", r"high\.wav: 8000 Hz, but mix\.wav is 16000 Hz"),
    ("stereo", r"high\.wav: 2 channels; mixtures and references must be mono"),
    ("silent", r"high\.wav: the reference is silent"),
    ("short", r"mix\.wav: 0\.250 s long"),
])
def test_bad_mixture_folders_fail_with_one_clear_error(tmp_path: Path, problem: str,
                                                       match: str) -> None:
    refs = sources(seconds=0.25 if problem == "short" else 2.0)
    folder = write_mixture(tmp_path / "m", refs)
    high = folder / "high.wav"
    if problem == "missing":
        high.unlink()
    elif problem == "misnamed":
        high.rename(folder / "HIGH.wav")
    elif problem == "length":
        sf.write(high, refs["high"][:31000], SR, subtype="FLOAT")
    elif problem == "rate":
        sf.write(high, refs["high"][::2], 8000, subtype="FLOAT")
    elif problem == "stereo":
        sf.write(high, np.stack([refs["high"]] * 2, axis=1), SR, subtype="FLOAT")
    elif problem == "silent":
        sf.write(high, np.zeros_like(refs["high"]), SR, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=match):
        load_mixture(folder, ("low", "high"))


def test_folders_without_mixtures_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="no such folder"):
        find_mixtures(tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="no mixtures; expected"):
        find_mixtures(tmp_path)
    folder = write_mixture(tmp_path / "m", sources())
    (folder / "mix.wav").rename(folder / "mixture.wav")
    with pytest.raises(AudioFileError, match="no mix.wav"):
        find_mixtures(tmp_path)


def test_mixtures_of_other_sources_are_set_aside(tmp_path: Path) -> None:
    root = mixtures_dir(tmp_path, n=1, seconds=1.0)
    pair = sources(seconds=1.0)
    write_mixture(root / "other", {"bass": pair["low"], "drums": pair["high"]})
    chosen, skipped = select_mixtures(find_mixtures(root), ("low", "high"))
    assert [p.name for p in chosen] == ["mix00"] and [p.name for p in skipped] == ["other"]
    result = evaluate_preset(tone_preset(), root, methods=("mixture",))
    assert result.skipped == ["other"] and [f.name for f in result.files] == ["mix00"]
    assert result.to_dict()["skipped"] == ["other"]
    with pytest.raises(AudioFileError, match=r"no mixture has references named after the "
                                             r"preset's sources; expected <name>/mix\.wav "
                                             r"beside voice\.wav, noise\.wav \(found e\.g\. "
                                             r"mix00/: high\.wav, low\.wav, mix\.wav\)"):
        select_mixtures(find_mixtures(root), ("voice", "noise"))
    # One folder given on its own is never set aside: its problem is named instead.
    renamed = tone_preset().with_sources(
        [s.renamed(n) for s, n in zip(tone_preset().sources, ("voice", "noise"))])
    with pytest.raises(AudioFileError, match="no reference for source 'voice'"):
        evaluate_preset(renamed, root / "other")


def test_files_at_another_rate_are_resampled_to_the_presets(tmp_path: Path) -> None:
    folder = write_mixture(tmp_path / "m", sources(sr=8000), sr=8000)
    mixture = load_mixture(folder, ("low", "high"), sr=SR)
    assert mixture.sr == SR and mixture.resampled_from == 8000
    assert mixture.references.shape == (2, 32000) and mixture.mixture.shape == (32000,)


# --------------------------------------------------------------------------- evaluation

@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    root = mixtures_dir(tmp_path_factory.mktemp("mixtures"), n=2, seconds=1.5)
    seen: list[float] = []
    result = evaluate_preset(tone_preset(), root, speech=["low"], progress=seen.append)
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    return result


def test_evaluation_scores_every_method_and_the_separator_sits_between(
        evaluation: Evaluation) -> None:
    assert evaluation.methods == METHODS
    assert [f.name for f in evaluation.files] == ["mix00", "mix01"]
    for method in ("online", "offline"):
        assert evaluation.mean("mixture", "sdr") + 5 < evaluation.mean(method, "sdr")
        assert evaluation.mean(method, "sdr") < evaluation.mean("irm", "sdr") + 1
    assert evaluation.swaps == []
    low = evaluation.files[0].methods["online"].sources["low"]
    high = evaluation.files[0].methods["online"].sources["high"]
    assert 0 < low.stoi <= 1 and 1 < low.pesq < 5
    assert math.isnan(high.stoi) and math.isnan(high.pesq)  # not speech


def test_evaluation_json_is_plain_and_complete(evaluation: Evaluation,
                                               tmp_path: Path) -> None:
    path = write_json(evaluation, tmp_path / "eval.json")
    data = json.loads(path.read_text())
    assert data["sources"] == ["low", "high"] and data["speech_sources"] == ["low"]
    assert data["mean"]["irm"]["all"]["sdr"] > data["mean"]["mixture"]["all"]["sdr"]
    assert data["mean"]["online"]["high"]["pesq"] is None
    assert data["files"][1]["methods"]["online"]["permutation"] == [0, 1]
    assert data["settings"]["beam"] == 128 and data["swaps"] == []


def test_evaluation_chart_and_table(evaluation: Evaluation, tmp_path: Path) -> None:
    from rich.console import Console

    png = plot_evaluation(evaluation, tmp_path / "eval.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(evaluation_table(evaluation))
    text = console.export_text()
    assert "mix00" in text and "mean of 2 mixtures" in text and "IRM (ceiling)" in text
    assert "SWAPPED" not in text


def test_a_preset_that_swaps_its_outputs_is_reported() -> None:
    pair = sources(seconds=2.0)
    refs = np.stack([pair["low"], pair["high"]])
    swapping = tone_preset(names=("high", "low"))  # "low" holds the high model
    scores = evaluate_signals(refs.sum(axis=0), refs, swapping, methods=("online", "irm"),
                              name="m")
    assert scores.methods["online"].swapped and scores.methods["online"].permutation == (1, 0)
    assert not scores.methods["irm"].swapped
    evaluation = Evaluation.from_files(swapping, [scores])
    assert evaluation.methods == ("online", "irm") and evaluation.speech == ()
    assert evaluation.swaps == [("m", "online")]
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(evaluation_table(evaluation))
    text = console.export_text()
    assert "SWAPPED (1,0)" in text
    assert "SI-SDR" in text and "STOI" not in text  # no speech source: no speech figures
    console.print(evaluation_table(evaluation, columns=["sdr", "sir"]))
    assert "SAR" not in console.export_text()
    with pytest.raises(ParameterError, match="columns must be among"):
        evaluation_table(evaluation, columns=["loudness"])


def test_nhmm_presets_use_the_forward_backward_reference(tmp_path: Path) -> None:
    root = mixtures_dir(tmp_path, n=1, seconds=1.0)
    preset = random_preset((2, 3), n_components=3)
    renamed = preset.with_sources([s.renamed(n) for s, n in zip(preset.sources,
                                                                ("low", "high"))])
    result = evaluate_preset(renamed, root, methods=("offline", "mixture"))
    assert set(result.files[0].methods) == {"offline", "mixture"}


def test_evaluate_preset_refuses_bad_arguments(tmp_path: Path) -> None:
    root = mixtures_dir(tmp_path, n=1, seconds=1.0)
    with pytest.raises(ParameterError, match="methods must be distinct names"):
        evaluate_preset(tone_preset(), root, methods=("online", "magic"))
    with pytest.raises(ParameterError, match="speech source 'voice' is not a source"):
        evaluate_preset(tone_preset(), root, speech=["voice"])
    with pytest.raises(ParameterError, match="S = 2 sources"):
        evaluate_signals(np.zeros(100), np.zeros((3, 100)), tone_preset())


def test_material_is_what_the_tests_assume() -> None:
    pair = eval_material.sources()
    power = [float(np.mean(x.astype(np.float64) ** 2)) for x in pair.values()]
    assert power[0] == pytest.approx(power[1], rel=1e-3)
