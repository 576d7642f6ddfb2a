"""NMF2D / NMFD (Schmidt & Mørup 2006): updates, log-frequency mapping, blind separation, CLI."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livesep import audio, spectral
from livesep.cli import main
from livesep.cli.separate import BLIND_MODELS as CLI_MODELS
from livesep.cli.separate import (
    DEFAULT_ITERATIONS,
    DEFAULT_PITCH_SHIFTS,
    DEFAULT_STARTS,
    DEFAULT_TIME_LAGS,
)
from livesep.errors import ParameterError
from livesep.evaluation.metrics import bss_eval
from livesep.models.logfreq import log_frequency_map
from livesep.models.nmf2d import (
    convolve,
    cost,
    nmf2d,
    nmfd,
    parameter_count,
    update_h,
    update_w,
)
from livesep.models.nmfd import (
    fit_nmfd_activations,
    fit_nmfd_causal,
    separate_nmfd,
    train_nmfd,
)
from livesep.separation.blind import (
    BLIND_MODELS,
    PAPER_SETTINGS,
    BlindSettings,
    separate_blind,
)

SR = 16000


# --------------------------------------------------------------------------------------------
# Slow, obvious references: the paper's equations element by element


def slow_model(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Eq. (4): Λ[i, j] = Σ_τ Σ_φ Σ_d W^τ[i - φ, d] H^φ[d, j - τ]."""
    n_lags, F, K = W.shape
    n_shifts, _, T = H.shape
    out = np.zeros((F, T))
    for i, j, tau, phi, d in itertools.product(range(F), range(T), range(n_lags),
                                               range(n_shifts), range(K)):
        if i - phi >= 0 and j - tau >= 0:
            out[i, j] += W[tau, i - phi, d] * H[phi, d, j - tau]
    return out


def slow_update_w(V: np.ndarray, W: np.ndarray, H: np.ndarray, kind: str) -> np.ndarray:
    """Eq. (14) (LS) and eq. (22) (KL) for every W^τ[k, d]."""
    n_lags, F, K = W.shape
    n_shifts, _, T = H.shape
    Lam = slow_model(W, H)
    new = W.copy()
    for tau, k, d in itertools.product(range(n_lags), range(F), range(K)):
        top = bottom = 0.0
        for phi, j in itertools.product(range(n_shifts), range(T)):
            if phi + k < F and j - tau >= 0:
                h = H[phi, d, j - tau]
                if kind == "ls":
                    top += V[phi + k, j] * h
                    bottom += Lam[phi + k, j] * h
                else:
                    top += V[phi + k, j] / Lam[phi + k, j] * h
                    bottom += h
        new[tau, k, d] *= top / bottom
    return new


def slow_update_h(V: np.ndarray, W: np.ndarray, H: np.ndarray, kind: str,
                  sparsity: float = 0.0) -> np.ndarray:
    """The H updates "by symmetry": eq. (15) (LS) and eq. (23) (KL) for every H^φ[d, j]."""
    n_lags, F, K = W.shape
    n_shifts, _, T = H.shape
    Lam = slow_model(W, H)
    new = H.copy()
    for phi, d, j in itertools.product(range(n_shifts), range(K), range(T)):
        top = bottom = 0.0
        for tau, i in itertools.product(range(n_lags), range(F)):
            if i - phi >= 0 and j + tau < T:
                w = W[tau, i - phi, d]
                if kind == "ls":
                    top += w * V[i, j + tau]
                    bottom += w * Lam[i, j + tau]
                else:
                    top += w * V[i, j + tau] / Lam[i, j + tau]
                    bottom += w
        new[phi, d, j] *= top / (bottom + sparsity)
    return new


def tiny_problem(n_shifts: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    V = rng.gamma(1.0, size=(6, 7))
    W = 1.0 - rng.random((3, 6, 2))
    H = 1.0 - rng.random((n_shifts, 2, 7))
    return V, W, H


@pytest.mark.parametrize("n_shifts", [1, 3], ids=["nmfd", "nmf2d"])
def test_model_matches_equation_4(n_shifts: int) -> None:
    _, W, H = tiny_problem(n_shifts)
    np.testing.assert_allclose(convolve(W, H), slow_model(W, H), rtol=1e-12)


@pytest.mark.parametrize("kind", ["ls", "kl"])
@pytest.mark.parametrize("n_shifts", [1, 3], ids=["nmfd", "nmf2d"])
def test_one_update_matches_the_slow_reference(kind: str, n_shifts: int) -> None:
    V, W, H = tiny_problem(n_shifts, seed=1)
    np.testing.assert_allclose(update_w(V, W, H, kind=kind), slow_update_w(V, W, H, kind),
                               rtol=1e-10)
    np.testing.assert_allclose(update_h(V, W, H, kind=kind), slow_update_h(V, W, H, kind),
                               rtol=1e-10)
    # The sparsity penalty λ Σ H: its gradient λ joins the positive part of the gradient.
    np.testing.assert_allclose(update_h(V, W, H, kind=kind, sparsity=0.7),
                               slow_update_h(V, W, H, kind, sparsity=0.7), rtol=1e-10)
    # One iteration of the fit: W, then H with the new W (no normalisation).
    fit = nmf2d(V, n_factors=2, n_lags=3, n_shifts=n_shifts, cost=kind, W=W, H=H, n_iter=1,
                tol=0.0, norm="none")
    W1 = slow_update_w(V, W, H, kind)
    np.testing.assert_allclose(fit.W, W1, rtol=1e-10)
    np.testing.assert_allclose(fit.H, slow_update_h(V, W1, H, kind), rtol=1e-10)


# --------------------------------------------------------------------------------------------
# Costs


def noisy_data(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = rng.random((3, 30, 3)) ** 3
    H = rng.random((4, 3, 50)) ** 6
    return rng.gamma(4.0, size=(30, 50)) * convolve(W, H) / 4.0 + 0.01


@pytest.mark.parametrize("kind", ["ls", "kl"])
@pytest.mark.parametrize("n_shifts", [1, 4], ids=["nmfd", "nmf2d"])
@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_costs_decrease_monotonically(kind: str, n_shifts: int, norm: str) -> None:
    result = nmf2d(noisy_data(), n_factors=3, n_lags=3, n_shifts=n_shifts, cost=kind,
                   n_iter=80, tol=0.0, seed=2, norm=norm)
    costs = np.array(result.costs)
    assert costs.size == 81 and result.n_iter == 80
    assert np.all(np.diff(costs) <= 1e-10 * costs[0]), np.diff(costs).max()
    assert costs[-1] < 0.7 * costs[0]
    scale = (np.sqrt((result.W ** 2).sum(axis=(0, 1))) if norm == "l2"
             else result.W.sum(axis=(0, 1)))
    np.testing.assert_allclose(scale, 1.0, rtol=1e-12)
    if kind == "ls":
        np.testing.assert_allclose(costs[-1], np.sum((noisy_data() - result.reconstruct()) ** 2),
                                   rtol=1e-9)


@pytest.mark.parametrize("kind", ["ls", "kl"])
def test_activations_alone_decrease_the_cost(kind: str) -> None:
    V = noisy_data(3)
    W = train_nmfd(V, n_components=3, n_lags=3, cost=kind, n_iter=20).W
    fit = fit_nmfd_activations(V, W, cost=kind, n_iter=40, tol=0.0)
    assert np.all(np.diff(fit.costs) <= 1e-10 * fit.costs[0])
    np.testing.assert_array_equal(fit.W, W)


def test_same_seed_same_fit_and_bad_settings_say_what() -> None:
    V = noisy_data()
    a = nmf2d(V, n_factors=2, n_lags=2, n_shifts=3, n_iter=5, seed=7)
    b = nmf2d(V, n_factors=2, n_lags=2, n_shifts=3, n_iter=5, seed=7)
    np.testing.assert_array_equal(a.W, b.W)
    for settings, text in (({"cost": "l1"}, "'l1'"), ({"n_lags": 0}, "0"),
                           ({"n_shifts": 31}, "31"), ({"n_factors": -1}, "-1")):
        kwargs = {"n_factors": 2, "n_lags": 2, "n_shifts": 3, **settings}
        with pytest.raises(ParameterError, match=text):
            nmf2d(V, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="finite"):
        nmf2d(V, n_factors=2, n_lags=2, n_shifts=3, W=np.full((2, 30, 2), np.nan))


@pytest.mark.parametrize("kind", ["ls", "kl"])
def test_sparsity_concentrates_the_activations(kind: str) -> None:
    V = noisy_data(4)
    plain, sparse = (nmf2d(V, n_factors=2, n_lags=3, n_shifts=4, cost=kind, n_iter=100,
                           tol=0.0, seed=1, sparsity=sparsity) for sparsity in (0.0, 2.0))

    def spread(H: np.ndarray) -> float:  # the l1 / l2 ratio: small when few entries carry H
        return float(H.sum() / np.sqrt((H ** 2).sum()))

    # Measured: 0.80 (KL) and 0.76 (LS) of the unpenalised fit's spread.
    assert spread(sparse.H) < 0.9 * spread(plain.H), (spread(sparse.H), spread(plain.H))
    # The recorded cost is the penalised one.
    level = 1.0 if kind == "kl" else float(V.mean())
    penalised = cost(V, sparse.reconstruct() + (1e-12 * V.max() if kind == "kl" else 0.0),
                     kind=kind) + 2.0 * level * sparse.H.sum()
    np.testing.assert_allclose(sparse.costs[-1], penalised, rtol=1e-9)
    with pytest.raises(ParameterError, match="-1"):
        nmf2d(V, n_factors=2, n_lags=3, n_shifts=4, sparsity=-1.0)


def test_parameter_counts_are_the_papers() -> None:
    assert parameter_count(175, 63, n_factors=6, n_lags=7) == 7728
    assert parameter_count(175, 63, n_factors=2, n_lags=7, n_shifts=12) == 3962
    fit = nmf2d(noisy_data(), n_factors=2, n_lags=3, n_shifts=4, n_iter=1)
    assert fit.n_parameters == parameter_count(30, 50, n_factors=2, n_lags=3, n_shifts=4)


# --------------------------------------------------------------------------------------------
# Recovering a known factorisation


def test_nmf2d_recovers_a_shifted_template_factorisation() -> None:
    rng = np.random.default_rng(5)
    F, T, n_lags, n_shifts = 70, 90, 3, 10
    W = np.zeros((n_lags, F, 2))
    decay = np.array([1.0, 0.6, 0.3])
    for d, partials in enumerate(([0, 24, 38, 48], [0, 12, 19, 31, 40])):
        for p, offset in enumerate(partials):
            W[:, offset, d] = decay * (1.0 if d == 0 else 0.5 + 0.5 * (p % 2))
    H = np.zeros((n_shifts, 2, T))
    for d in range(2):
        starts = rng.choice(T - 3, size=9, replace=False)
        H[rng.integers(0, n_shifts, size=9), d, starts] = rng.uniform(0.5, 1.5, size=9)
        H[0, d, starts[0]] = 1.0  # the lowest shift is used: the templates' pitch is pinned
    V = convolve(W, H)
    fit = nmf2d(V, n_factors=2, n_lags=n_lags, n_shifts=n_shifts, cost="kl", n_iter=400,
                tol=0.0, seed=0)
    assert np.linalg.norm(V - fit.reconstruct()) < 0.02 * np.linalg.norm(V)
    truth = np.stack([convolve(W[:, :, d:d + 1], H[:, d:d + 1]) for d in range(2)])
    found = fit.factor_reconstructions()
    errors = [max(np.linalg.norm(found[p] - truth[d]) / np.linalg.norm(truth[d])
                  for d, p in enumerate(order)) for order in ((0, 1), (1, 0))]
    assert min(errors) < 0.05, errors
    # The same data without pitch shifts is beyond NMFD with two factors: the test can fail.
    plain = nmfd(V, n_factors=2, n_lags=n_lags, cost="kl", n_iter=400, tol=0.0, seed=0)
    assert np.linalg.norm(V - plain.reconstruct()) > 0.2 * np.linalg.norm(V)


# --------------------------------------------------------------------------------------------
# Log-frequency mapping


def test_log_bins_are_the_papers() -> None:
    log_map = log_frequency_map(sr=SR, n_fft=2048)
    assert log_map.n_bins == 175 and log_map.n_linear == 1025
    np.testing.assert_allclose(log_map.frequencies, 50.0 * 2.0 ** (np.arange(175) / 24))
    assert log_map.forward.shape == (175, 1025) and log_map.forward.nnz < 3000
    assert log_map.forward.min() >= 0 and log_map.backward.min() >= 0


@pytest.mark.parametrize("log_bin", [64, 90, 120, 150, 174])
def test_a_pure_tone_lands_in_its_log_bin(log_bin: int) -> None:
    log_map = log_frequency_map(sr=SR, n_fft=2048)
    frequency = log_map.frequencies[log_bin] * 2.0 ** (0.3 / 24)  # off-centre, same bin
    t = np.arange(SR) / SR
    V = spectral.magnitude(np.sin(2 * np.pi * frequency * t), n_fft=2048, hop_length=1024)
    L = log_map.to_log(V)
    assert np.argmax(L[:, 8]) == log_bin


def test_mapping_back_reconstructs() -> None:
    log_map = log_frequency_map(sr=SR, n_fft=2048)
    constant = np.full((1025, 3), 2.5)
    np.testing.assert_allclose(log_map.to_linear(log_map.to_log(constant)), constant,
                               rtol=1e-12)
    # A spectrum smooth in log-frequency comes back within a few percent.
    f = np.arange(1025) * SR / 2048
    smooth = 1.0 + 0.5 * np.sin(np.log2(np.maximum(f, 25.0)) * 2.0)
    back = log_map.to_linear(log_map.to_log(smooth))
    inside = (f > 60) & (f < 7500)
    assert np.max(np.abs(back[inside] - smooth[inside]) / smooth[inside]) < 0.03
    # Masks stay masks: in [0, 1] and summing to one over sources.
    rng = np.random.default_rng(0)
    raw = rng.random((3, 175, 4))
    masks = log_map.masks_to_linear(raw / raw.sum(axis=0))
    assert masks.shape == (3, 1025, 4) and masks.min() >= 0 and masks.max() <= 1
    np.testing.assert_allclose(masks.sum(axis=0), 1.0, rtol=1e-12)
    # A band mask comes back as the same band.
    band = np.zeros(175)
    band[48:96] = 1.0
    linear = log_map.masks_to_linear(band)
    lo, hi = log_map.frequencies[50], log_map.frequencies[93]
    np.testing.assert_allclose(linear[(f > lo) & (f < hi)], 1.0, rtol=1e-12)
    assert np.all(linear[f < log_map.frequencies[45]] == 0.0)
    with pytest.raises(ParameterError, match="1025 rows"):
        log_map.to_log(np.ones((1000, 2)))


# --------------------------------------------------------------------------------------------
# Separation


def instrument(pitches: list[float], note_s: float, odd_only: bool, seconds: float,
               sr: int = SR) -> np.ndarray:
    """A harmonic instrument: a note every ``note_s`` with a decay; odd harmonics or all."""
    t = np.arange(int(seconds * sr)) / sr
    index = (t // note_s).astype(int)
    f0 = np.asarray(pitches)[index % len(pitches)]
    phase = 2 * np.pi * np.cumsum(f0) / sr
    envelope = np.exp(-3.0 * (t % note_s))
    harmonics = range(1, 16, 2) if odd_only else range(1, 9)
    tone = sum(np.sin(h * phase) / h ** (0.7 if odd_only else 1.5) for h in harmonics
               if h * f0.max() < 0.45 * sr)
    return (0.1 * envelope * tone / np.std(tone)).astype(np.float32)


@pytest.fixture(scope="module")
def two_instruments() -> np.ndarray:
    low = instrument([196.0, 220.0, 247.0], 0.5, odd_only=False, seconds=3.0)
    high = instrument([523.0, 587.0, 659.0, 587.0], 0.375, odd_only=True, seconds=3.0)
    return np.stack([low, high])


@pytest.mark.parametrize("cost", ["ls", "kl"])
def test_blind_nmf2d_separates_two_timbres(two_instruments: np.ndarray, cost: str) -> None:
    mixture = two_instruments.sum(axis=0)
    # The paper's settings on a piece like the paper's (each instrument three or four notes).
    separation = separate_blind(mixture, settings=replace(PAPER_SETTINGS, cost=cost, n_iter=150))
    assert separation.stems.shape == two_instruments.shape
    np.testing.assert_allclose(separation.stems.sum(axis=0), mixture, atol=1e-5)
    scores = bss_eval(two_instruments, separation.stems)
    # Measured: 23.0 / 23.2 dB (LS), 23.8 / 24.0 dB (KL); ideal ratio mask 24.9 / 25.6 dB.
    assert np.all(scores.sdr > 15.0), scores
    # Outputs are ordered by pitch, lowest first: the blind order is the true one here.
    assert not scores.swapped


def test_without_pitch_shifts_two_factors_do_not_separate(two_instruments: np.ndarray) -> None:
    # NMFD needs a factor per note (the paper's point): with one per instrument it fails
    # (measured -0.2 / 1.5 dB, the mixture itself scoring -0.6 / 1.3 dB).
    mixture = two_instruments.sum(axis=0)
    separation = separate_blind(mixture, settings=replace(PAPER_SETTINGS, model="nmfd",
                                                         n_iter=150))
    assert np.mean(bss_eval(two_instruments, separation.stems).sdr) < 5.0


def test_blind_separation_checks_its_input() -> None:
    with pytest.raises(ParameterError, match="silent"):
        separate_blind(np.zeros(SR, dtype=np.float32))
    with pytest.raises(ParameterError, match="n_sources"):
        separate_blind(np.ones(SR), settings=BlindSettings(n_sources=0))
    with pytest.raises(ParameterError, match="groups"):
        separate_blind(np.ones(SR), settings=BlindSettings(n_factors=3))
    defaults = BlindSettings()
    assert CLI_MODELS == BLIND_MODELS
    assert (DEFAULT_ITERATIONS, DEFAULT_TIME_LAGS, DEFAULT_PITCH_SHIFTS, DEFAULT_STARTS) == (
        defaults.n_iter, defaults.n_lags, defaults.n_shifts, defaults.n_starts)


def test_supervised_nmfd_on_the_linear_stft(two_instruments: np.ndarray) -> None:
    train = [instrument([185.0, 208.0, 233.0], 0.4, odd_only=False, seconds=3.0),
             instrument([554.0, 622.0, 698.0], 0.3, odd_only=True, seconds=3.0)]
    dictionaries = [train_nmfd(spectral.magnitude(y, n_fft=512, hop_length=128),
                               n_components=6, n_lags=4, n_iter=60).W for y in train]
    for W in dictionaries:
        assert W.shape == (4, 257, 6)
        np.testing.assert_allclose(W.sum(axis=(0, 1)), 1.0, rtol=1e-12)
    mixture = two_instruments.sum(axis=0)
    for causal in (False, True):
        stems = separate_nmfd(mixture, dictionaries, n_iter=30, causal=causal)
        scores = bss_eval(two_instruments, stems)
        # Measured: 19.8 / 15.1 dB (batch), 12.3 / 12.6 dB (causal).
        assert np.all(scores.sdr > 10.0) and not scores.swapped, (causal, scores)


def test_causal_fit_explains_exact_convolutive_data() -> None:
    rng = np.random.default_rng(1)
    W = rng.random((3, 20, 4))
    W /= W.sum(axis=(0, 1))
    H = rng.random((4, 40)) ** 4
    V = convolve(W, H[None])
    causal = fit_nmfd_causal(V, W, n_iter=200)
    assert np.linalg.norm(convolve(W, causal[None]) - V) < 0.05 * np.linalg.norm(V)
    # With one lag the frames are independent: the causal and the batch fit reach the same
    # (unique, W having full column rank) optimum.
    V1 = convolve(W[:1], H[None])
    batch = fit_nmfd_activations(V1, W[:1], n_iter=3000, tol=0.0).H
    causal = fit_nmfd_causal(V1, W[:1], n_iter=3000)
    np.testing.assert_allclose(causal, batch, rtol=0, atol=1e-3 * H.max())
    np.testing.assert_allclose(causal, H, rtol=0, atol=1e-2 * H.max())


# --------------------------------------------------------------------------------------------
# Command line


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize("sr, channels", [(16000, 1), (22050, 2)])
def test_cli_blind_separate_writes_aligned_stems(two_instruments: np.ndarray, tmp_path: Path,
                                                 sr: int, channels: int,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    mono = audio.resample(two_instruments.sum(axis=0), orig_sr=SR, target_sr=sr)
    mix = tmp_path / "mix.wav"
    sf.write(mix, np.stack([mono] * channels, axis=1) if channels > 1 else mono, sr,
             subtype="FLOAT")
    out_dir = tmp_path / "stems"
    assert main(["separate", str(mix), "--model", "nmf2d", "--sources", "2", "--out-dir",
                 str(out_dir), "--iterations", "60", "--quiet"]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["source1.wav", "source2.wav"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["source1.wav", "source2.wav"]
    stems = []
    for name in ("source1", "source2"):
        y, file_sr = audio.load(out_dir / f"{name}.wav", mono=False)
        assert file_sr == sr and y.shape == mono.shape
        stems.append(y)
    # The mixture band-limited by the separation's rate, with silence around it so that the
    # resamplers' ringing past both ends is kept.
    pad = sr // 10
    band_limited = audio.resample(audio.resample(np.pad(mono, (pad, pad)), orig_sr=sr,
                                                 target_sr=SR),
                                  orig_sr=SR, target_sr=sr)[pad:pad + mono.size]
    assert np.max(np.abs(stems[0] + stems[1] - band_limited)) < 1e-4
    assert np.std(stems[0]) > 0.1 * np.std(mono) and np.std(stems[1]) > 0.1 * np.std(mono)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{mix}", "--model", "nmf2d", "--sources", "0"], "--sources must be >= 1, got 0"),
        (["{missing}", "--model", "nmf2d", "--sources", "2"], "no such file"),
        (["{mix}", "--model", "nmfd", "--preset", "x.npz"], "exclude"),
        (["{mix}", "--model", "nmf2d", "--time-lags", "0"], "--time-lags must be >= 1, got 0"),
        (["{silent}", "--model", "nmf2d"], "silent"),
    ],
)
def test_cli_blind_bad_input_is_one_clear_line(arguments: list[str], message: str,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    mix = tmp_path / "mix.wav"
    sf.write(mix, instrument([220.0], 0.5, odd_only=False, seconds=0.5), SR, subtype="FLOAT")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR // 2, dtype=np.float32), SR, subtype="FLOAT")
    filled = [a.format(mix=mix, missing=tmp_path / "missing.wav", silent=silent)
              for a in arguments]
    out_dir = tmp_path / "out"
    assert main(["separate", *filled, "--out-dir", str(out_dir), "--quiet"]) == 1
    assert message in one_error_line(capsys)
    assert not out_dir.exists() or not any(out_dir.iterdir())
