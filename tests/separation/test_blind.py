"""Blind NMF2D with its defaults on two-instrument songs rendered for this test: songs no
setting was tuned on (benchmarks/bench_blind.py's ``ci`` set, composed and rendered by
fluidsynth from FluidR3_GM and TimGM6mb)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from livesep import spectral
from livesep.evaluation.metrics import bss_eval
from livesep.models.logfreq import log_frequency_map
from livesep.models.nmf2d import nmf2d
from livesep.separation.blind import BlindSettings, separate_blind

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_blind.py"
SR = 16000
#: Measured on these songs (benchmarks/bench_blind.py --set ci): +9.3 and +16.0 dB over the
#: mixture (mean +12.7); the paper's settings (PAPER_SETTINGS) give +9.2 and +5.0 (mean +7.1)
#: and fail both margins. About 3 dB are left for other fluidsynth and BLAS builds. (On the ten
#: test songs the mean was +9.8 dB and the worst +0.7 dB: docs/nmf2d.md.)
MARGIN_EACH_DB = 6.0
MARGIN_MEAN_DB = 9.5


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_blind", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_blind"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture(scope="module")
def songs() -> dict[str, np.ndarray]:
    return {song.name: bench.render_song(song) for song in bench.SETS["ci"]}


def test_the_best_of_several_starts_is_kept(songs: dict[str, np.ndarray]) -> None:
    mixture = next(iter(songs.values())).sum(axis=0)[:SR * 3]
    settings = BlindSettings(n_starts=4, start_iter=5, n_iter=0)
    chosen = separate_blind(mixture, settings=settings).result.costs[-1]
    log_map = log_frequency_map(sr=SR, n_fft=settings.n_fft)
    L = log_map.to_log(np.abs(spectral.stft(mixture, n_fft=settings.n_fft,
                                             hop_length=settings.hop_length)))
    starts = [nmf2d(L, n_factors=2, n_lags=settings.n_lags, n_shifts=settings.n_shifts,
                    sparsity=settings.sparsity, n_iter=5, tol=0.0, seed=seed).costs[-1]
              for seed in range(4)]
    assert chosen == pytest.approx(min(starts), rel=1e-12)
    assert max(starts) > min(starts)  # the starts differ: the choice mattered


def test_ci_songs_are_none_of_the_tuning_or_test_songs() -> None:
    def keys(name: str) -> set[tuple[str, str, str, int]]:
        return {(s.first, s.second, s.font, s.seed) for s in bench.SETS[name]}

    assert not keys("ci") & (keys("tuning") | keys("test"))
    assert {s.font for s in bench.SETS["ci"]} == {"fluid", "timgm"}


def test_blind_separation_beats_the_mixture_on_unseen_songs(
        songs: dict[str, np.ndarray], quality_report: list[str]) -> None:
    gains = {}
    for name, references in songs.items():
        mixture = references.sum(axis=0)
        stems = separate_blind(mixture).stems
        np.testing.assert_allclose(stems.sum(axis=0), mixture, atol=1e-4)
        # Blind outputs have no source order: both are scored under the best permutation.
        floor = bss_eval(references, np.stack([mixture, mixture])).sdr
        gains[name] = float(np.mean(bss_eval(references, stems).sdr) - np.mean(floor))
    quality_report.append("blind nmf2d over the mixture (SDR dB): " + ", ".join(
        f"{name} {gain:+.1f}" for name, gain in gains.items()))
    assert min(gains.values()) > MARGIN_EACH_DB, gains
    assert np.mean(list(gains.values())) > MARGIN_MEAN_DB, gains
