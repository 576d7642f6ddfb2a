"""The N-HMM's EM split into per-chunk statistics: one chunk is the single-process training
exactly, and chunks of files streamed from disk train the same model as the files' frames
in memory cut into the same sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livesep import audio
from livesep.errors import ParameterError
from livesep.models.corpus.chunks import FileChunk, plan_chunks, train_files
from livesep.models.corpus.em import MemoryChunk, initial_nhmm, nhmm_em, nhmm_step
from livesep.models.corpus.fits import NhmmStatistics, chunk_statistics, floor_columns
from livesep.models.corpus.source import train_source_chunked
from livesep.models.train import TrainSettings, train_source


@pytest.fixture(scope="module")
def clips(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three 2-second clips of one real reader, 16 kHz."""
    folder = tmp_path_factory.mktemp("clips")
    y, sr = audio.load(corpus / "speech" / "en" / "train.wav", sr=16000)
    return [audio.write(folder / f"{i}.wav", np.asarray(y[(4 + 2 * i) * sr:(6 + 2 * i) * sr]),
                        sr=sr) for i in range(3)]


SETTINGS = TrainSettings(n_states=3, n_components=3, n_iter=4)


def test_one_chunk_of_files_is_single_process_training(clips: list[Path], tmp_path: Path
                                                       ) -> None:
    single = train_source("en", clips, SETTINGS)
    chunked = train_source_chunked("en", clips, SETTINGS, chunk_seconds=60.0,
                                   scratch=tmp_path)
    assert chunked.provenance["chunks"] == 1
    np.testing.assert_allclose(chunked.W, single.W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(chunked.A, single.A, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(chunked.pi, single.pi, rtol=1e-5, atol=1e-9)
    assert list(tmp_path.iterdir()) == []  # the weights are removed at the end


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_one_chunk_of_files_is_single_process_nmf(clips: list[Path], tmp_path: Path,
                                                  beta: float) -> None:
    settings = TrainSettings(model="nmf", n_states=1, n_components=6, n_iter=20, beta=beta)
    single = train_source("en", clips, settings)
    chunked = train_source_chunked("en", clips, settings, chunk_seconds=60.0,
                                   scratch=tmp_path)
    np.testing.assert_allclose(chunked.W, single.W, rtol=1e-5, atol=1e-8)
    assert chunked.provenance["final_cost"] == pytest.approx(single.provenance["final_cost"],
                                                             rel=1e-9)


def test_statistics_of_chunks_add_up_to_the_whole() -> None:
    rng = np.random.default_rng(3)
    V = rng.gamma(0.5, 2.0, size=(12, 60))
    W = floor_columns(rng.random((2, 12, 3)), 1e-10)
    H = rng.dirichlet(np.ones(3), size=(2, 60)).transpose(0, 2, 1)
    # Rows of A equal to pi: the state of a frame does not depend on its neighbours, so
    # cutting the sequence changes no posterior and the sums must match exactly.
    pi = np.array([0.3, 0.7])
    A = np.stack([pi, pi])
    whole, H_whole = chunk_statistics(V, W, H, A, pi)
    parts = [chunk_statistics(V[:, s], W, H[:, :, s], A, pi)
             for s in (slice(0, 25), slice(25, 60))]
    total: NhmmStatistics = parts[0][0] + parts[1][0]
    assert total.frames == 60
    np.testing.assert_allclose(total.numerator, whole.numerator, rtol=1e-10)
    np.testing.assert_allclose(total.occupancy, whole.occupancy, rtol=1e-10)
    assert total.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
    # One transition fewer is counted: the one across the cut.
    assert whole.transitions.sum() - total.transitions.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.concatenate([parts[0][1], parts[1][1]], axis=2), H_whole)


def test_file_chunks_train_as_memory_chunks_of_the_same_frames(clips: list[Path],
                                                               tmp_path: Path) -> None:
    from_files = train_files(clips, n_states=3, n_components=3, sr=16000, n_fft=512,
                             hop_length=128, n_iter=3, seed=0, chunk_seconds=2.5,
                             scratch=tmp_path, tol=0.0)
    assert from_files["chunks"] == 3
    chunks = plan_chunks(clips, seconds=2.5, sr=16000, n_fft=512, hop_length=128)
    peak = max(chunk.peak().energy for chunk in chunks)
    kept = [FileChunk(c.files, c.index, 16000, 512, 128, threshold=peak * 1e-6).kept()
            for c in chunks]
    scale = 30.0 / np.mean(np.concatenate(kept, axis=1).astype(np.float64).sum(axis=0))
    scaled = [k.astype(np.float64) * scale for k in kept]
    W0, A, pi = initial_nhmm(scaled[0], n_states=3, n_components=3, seed=0, init_nmf_iter=50,
                             transition_floor=1e-3)
    fit = nhmm_em([MemoryChunk(s.astype(np.float32)) for s in scaled], W0, A, pi, n_iter=3,
                  tol=0.0, init_weight_iter=5)
    np.testing.assert_allclose(from_files["W"], fit.W, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(from_files["A"], fit.A, rtol=1e-4, atol=1e-9)
    assert from_files["log_likelihoods"] == pytest.approx(fit.log_likelihoods, rel=1e-6)


def test_chunking_refuses_what_it_cannot_do(clips: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="chunk_seconds must be > 0, got 0"):
        plan_chunks(clips, seconds=0, sr=16000, n_fft=512, hop_length=128)
    with pytest.raises(ParameterError, match="only N-HMM and NMF sources.*model='nmfd'"):
        train_source_chunked("en", clips, TrainSettings(model="nmfd", n_states=1, n_frames=4),
                             scratch=tmp_path)
    with pytest.raises(ParameterError, match="weights of iteration 2 are missing"):
        nhmm_step(FileChunk((str(clips[0]),), 0, 16000, 512, 128, threshold=0.0,
                            scratch=str(tmp_path)),
                  W=np.full((1, 257, 1), 1 / 257), A=np.ones((1, 1)), pi=np.ones(1),
                  iteration=2, init_weight_iter=0)
