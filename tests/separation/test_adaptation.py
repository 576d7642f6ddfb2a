"""Semi-supervised separation: a source that keeps learning its dictionary (online in the
engine, offline on the whole mixture) against a fixed, mismatched model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.presets import noise, random_preset
from livesep import ParameterError, audio, presets, spectral
from livesep._core import Model, _internal
from livesep.cli import main
from livesep.engine import EngineSettings, build_model, create_separator
from livesep.evaluation.metrics import bss_eval
from livesep.models.nmf import nmf
from livesep.presets import Preset, SourceModel
from livesep.presets.shipped import resolve_preset
from livesep.separation.offline import separate_offline_nmf, separate_offline_semi
from livesep.separation.online import separate_online
from livesep.threads import blas_threads

TRAINED_NOISES = ("breath", "seashore", "helicopter", "applause")
UNSEEN_NOISE = "cymbals"


def with_adaptive(preset: Preset, index: int, adaptive: bool = True) -> Preset:
    sources = list(preset.sources)
    source = sources[index]
    sources[index] = SourceModel(source.name, W=source.W, A=source.A, pi=source.pi,
                                 adaptive=adaptive)
    return preset.with_sources(sources)


def run(preset: Preset, x: np.ndarray, block_size: int,
        settings: EngineSettings | None = None) -> np.ndarray:
    separator = create_separator(preset, settings=settings)
    return np.concatenate([separator.process(x[i:i + block_size])
                           for i in range(0, x.size, block_size)], axis=1)


@pytest.mark.parametrize("n_states", [(1, 1), (4, 1)])
def test_an_adaptive_source_changes_the_separation(n_states: tuple[int, int]) -> None:
    preset = random_preset(n_states, 6)
    x = noise(16000)
    fixed = run(preset, x, 128)
    adapted = run(with_adaptive(preset, 1), x, 128)
    assert np.max(np.abs(adapted - fixed)) > 1e-3
    # Whatever it learns, the masks still split the mixture exactly.
    assert np.max(np.abs(adapted.sum(axis=0)[511:] - x[:-511])) < 1e-5


def test_adaptation_does_not_depend_on_block_size_and_resets() -> None:
    preset = with_adaptive(random_preset((1, 1), 6), 1)
    x = noise(12000)
    outputs = [run(preset, x, block) for block in (1, 37, 512)]
    np.testing.assert_array_equal(outputs[1], outputs[0])
    np.testing.assert_array_equal(outputs[2], outputs[0])
    separator = create_separator(preset)
    first = separator.process(x)
    separator.reset()
    np.testing.assert_array_equal(separator.process(x), first)


@pytest.mark.parametrize("block_size", [1, 128])
def test_adaptation_allocates_nothing(block_size: int) -> None:
    separator = create_separator(with_adaptive(random_preset((3, 1), 6), 1))
    x = noise(block_size * 60)
    out = np.zeros((2, block_size), dtype=np.float32)
    for start in range(0, x.size, block_size):
        block = np.ascontiguousarray(x[start:start + block_size])
        assert _internal.count_process_allocations(separator, block, out) == 0


def test_only_single_state_sources_may_adapt() -> None:
    preset = random_preset((3, 2))
    sources = [(s.W, s.A, s.pi) for s in preset.sources]
    with pytest.raises(ParameterError, match="one state"):
        Model(sources, adaptive=[False, True])
    with pytest.raises(ParameterError, match="one flag per source"):
        Model(sources, adaptive=[True])
    with pytest.raises(ParameterError, match="forgetting"):
        EngineSettings(forgetting=1.5)


def test_train_marks_a_source_adaptive(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "semi.npz"
    assert main(["train", "--out", str(out), "--quiet", "--model", "nhmm", "--iterations", "2",
                 "--states", "3", "--states", "noise=1", "--components", "4",
                 "--source", f"voice={corpus / 'speech' / 'en' / 'test.wav'}",
                 "--source", f"noise={corpus / 'noise' / 'breath' / 'test.wav'}",
                 "--adaptive", "noise"]) == 0
    preset = presets.load(out)
    assert [s.adaptive for s in preset.sources] == [False, True]
    assert build_model(preset).adaptive == [False, True]


@pytest.fixture(scope="module")
def mismatched(corpus: Path) -> tuple[Preset, Preset]:
    """Speech from the shipped preset; noise trained without cymbals (fixed, adaptive)."""
    speech = presets.load(resolve_preset("speech-noise-nhmm")).sources[0]
    with blas_threads(1):
        V = np.concatenate([spectral.magnitude(
            audio.load(corpus / "noise" / name / "train.wav")[0][:16000 * 20])
            for name in TRAINED_NOISES], axis=1)
        W = nmf(V, n_components=16, n_iter=100, seed=0).W
    presets_ = []
    for adaptive in (False, True):
        noise_model = SourceModel.from_nmf("noise", W, adaptive=adaptive)
        presets_.append(Preset("mismatched", sr=16000, n_fft=512, hop_length=128, model="nhmm",
                               sources=[speech, noise_model]))
    return presets_[0], presets_[1]


def mixtures(corpus: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    loaded = []
    for reader in ("lt", "uk", "es"):
        folder = corpus / "mixtures" / f"speech-noise-{reader}-{UNSEEN_NOISE}"
        mix = audio.load(folder / "mix.wav")[0]
        references = np.stack([audio.load(folder / f"{n}.wav")[0] for n in ("speech", "noise")])
        loaded.append((mix, references))
    return loaded


def test_online_adaptation_beats_a_mismatched_noise_model(
        corpus: Path, mismatched: tuple[Preset, Preset], quality_report: list[str]) -> None:
    fixed, adaptive = mismatched
    sdr_fixed, sdr_adaptive = [], []
    for mix, references in mixtures(corpus):
        for preset, scores in ((fixed, sdr_fixed), (adaptive, sdr_adaptive)):
            result = bss_eval(references, separate_online(mix, preset))
            assert not result.swapped
            scores.append(result.sdr.mean())
    quality_report.append(f"speech + unseen {UNSEEN_NOISE}, online N-FHMM, mean SDR of 3 "
                          f"readers: fixed noise model {np.mean(sdr_fixed):.2f}, adaptive "
                          f"{np.mean(sdr_adaptive):.2f}")
    assert np.mean(sdr_adaptive) >= np.mean(sdr_fixed) + 1.0
    assert all(a > f for a, f in zip(sdr_adaptive, sdr_fixed))


def test_offline_semi_supervised_beats_supervised(
        corpus: Path, mismatched: tuple[Preset, Preset], quality_report: list[str]) -> None:
    fixed, adaptive = mismatched
    nmf_fixed = fixed.with_sources([SourceModel.from_nmf(
        "speech", np.concatenate(list(fixed.sources[0].W), axis=1)), fixed.sources[1]],
        model="nmf")
    nmf_adaptive = with_adaptive(nmf_fixed, 1)
    supervised, semi = [], []
    with blas_threads(1):
        for mix, references in mixtures(corpus):
            supervised.append(bss_eval(references, separate_offline_nmf(mix, nmf_fixed)).sdr.mean())
            semi.append(bss_eval(references, separate_offline_semi(mix, nmf_adaptive)).sdr.mean())
    quality_report.append(f"speech + unseen {UNSEEN_NOISE}, offline NMF, mean SDR: supervised "
                          f"{np.mean(supervised):.2f}, semi-supervised {np.mean(semi):.2f}")
    assert np.mean(semi) >= np.mean(supervised) + 1.0
