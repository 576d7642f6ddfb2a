"""Non-negative autoencoders: gradients, training, code fitting and supervised separation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from helpers.gradients import finite_differences
from livesep import spectral
from livesep.errors import ParameterError
from livesep.evaluation.metrics import bss_eval
from livesep.models.nae import (
    NaeModel,
    fit_latent,
    kl_divergence,
    separate_nae,
    softplus,
    train_nae,
)
from livesep.models.nae import _net as net

SR = 16000


def _spectrogram(seed: int = 0, F: int = 24, T: int = 80, K: int = 3) -> np.ndarray:
    """A positive low-rank spectrogram with speech-like (peaky) activations."""
    rng = np.random.default_rng(seed)
    W = rng.random((F, K)) ** 2
    H = rng.random((K, T)) ** 4
    return W @ H + 1e-3


def _net(rng: np.random.Generator, widths: list[int]) -> list[np.ndarray]:
    return [rng.standard_normal((widths[i + 1], widths[i])) / np.sqrt(widths[i])
            for i in range(len(widths) - 1)]


def _reference_training_cost(encoder: list[np.ndarray], decoder: list[np.ndarray],
                             X: np.ndarray, l1: float) -> float:
    """The paper's eqs. 3-5 written out directly, with the public softplus and KL."""
    H = X
    for W in encoder:
        H = softplus(W @ H)
    Y = H
    for W in decoder:
        Y = softplus(W @ Y)
    return kl_divergence(X, Y + net.EPS) + l1 * float(H.sum())


# --------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("l1", [0.0, 0.7])
def test_training_gradients_matchfinite_differences(depth: int, l1: float) -> None:
    rng = np.random.default_rng(depth)
    X = _spectrogram(F=7, T=6) * 3.0
    widths = [7] + [4] * depth
    encoder = _net(rng, widths)
    decoder = _net(rng, widths[::-1])
    data_term = net.data_term(X)
    cost, grads = net.autoencoder_cost(encoder, decoder, X, l1=l1, constant=data_term)
    assert cost == pytest.approx(_reference_training_cost(encoder, decoder, X, l1), rel=1e-12)
    numeric = finite_differences(
        lambda: _reference_training_cost(encoder, decoder, X, l1), encoder + decoder)
    assert len(grads) == 2 * depth
    for analytic, approx in zip(grads, numeric):
        assert analytic.shape == approx.shape
        np.testing.assert_allclose(analytic, approx, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("depth", [1, 2])
def test_code_gradients_matchfinite_differences(depth: int) -> None:
    rng = np.random.default_rng(10 + depth)
    X = _spectrogram(F=7, T=5) * 2.0
    decoders = [_net(rng, [3] * depth + [7]), _net(rng, [2] * depth + [7])]
    codes = [rng.standard_normal((3, 5)), rng.standard_normal((2, 5))]
    l1 = 0.4

    def reference() -> float:
        Y = np.zeros_like(X)
        total = 0.0
        for decoder, U in zip(decoders, codes):
            out = softplus(U)
            total += float(out.sum())
            for W in decoder:
                out = softplus(W @ out)
            Y += out
        return kl_divergence(X, Y + net.EPS) + l1 * total

    cost, grads, outputs = net.latent_cost(decoders, codes, X, l1=l1,
                                            constant=net.data_term(X))
    assert cost == pytest.approx(reference(), rel=1e-12)
    assert outputs.shape == (2, 7, 5)
    for analytic, approx in zip(grads, finite_differences(reference, codes)):
        np.testing.assert_allclose(analytic, approx, rtol=1e-5, atol=1e-7)


def test_softplus_is_accurate_in_both_tails() -> None:
    z = np.array([-800.0, -40.0, -3.0, 0.0, 3.0, 40.0, 800.0])
    np.testing.assert_allclose(softplus(z), np.logaddexp(0.0, z), rtol=1e-15, atol=0)
    np.testing.assert_allclose(net.sigmoid_from(z, softplus(z)), expit(z),
                               rtol=1e-14, atol=0)


# --------------------------------------------------------------------------------------------
# Training and fitting


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("optimizer", ["rprop", "adam"])
def test_training_lowers_the_kl_cost(depth: int, optimizer: str) -> None:
    V = _spectrogram()
    model = train_nae(V, n_components=4, depth=depth, n_iter=300, optimizer=optimizer,
                      learning_rate=0.01 if optimizer == "adam" else 0.003)
    costs = np.array(model.costs)
    assert costs.size == 301 and model.n_iter == 300
    assert costs[-1] < 0.2 * costs[0]
    # Steadily downhill: every tenth of the run ends lower than the one before.
    tenths = costs[::30]
    assert np.all(np.diff(tenths) < 0)
    assert model.depth == depth and model.n_components == 4 and model.n_bins == 24
    shapes = [W.shape for W in model.encoder + model.decoder]
    assert shapes == ([(4, 24), (4, 4), (4, 4), (24, 4)] if depth == 2
                      else [(4, 24), (24, 4)])


def test_decoder_output_is_non_negative() -> None:
    rng = np.random.default_rng(3)
    model = train_nae(_spectrogram(), n_components=4, depth=2, n_iter=20)
    # Weights of both signs and codes far outside anything seen in training.
    model.decoder = [W * 50.0 for W in model.decoder]
    H = np.abs(rng.standard_normal((4, 500))) * rng.choice([1e-6, 1.0, 1e3], size=(4, 500))
    Y = model.decode(H)
    assert Y.shape == (24, 500)
    assert np.all(np.isfinite(Y)) and Y.min() >= 0.0
    assert (model.encode(_spectrogram()) >= 0.0).all()


def test_training_is_deterministic_for_a_seed() -> None:
    V = _spectrogram()
    a = train_nae(V, n_components=3, depth=2, n_iter=15, seed=5)
    b = train_nae(V, n_components=3, depth=2, n_iter=15, seed=5)
    c = train_nae(V, n_components=3, depth=2, n_iter=15, seed=6)
    for x, y in zip(a.encoder + a.decoder, b.encoder + b.decoder):
        np.testing.assert_array_equal(x, y)
    assert a.costs == b.costs
    assert not np.allclose(a.decoder[-1], c.decoder[-1])


def test_fitting_the_code_reconstructs_a_training_signal() -> None:
    V = _spectrogram(seed=1)
    model = train_nae(V, n_components=4, n_iter=300, seed=1)
    encoded = model.reconstruct(V)
    fit = fit_latent(V, model, n_iter=300, init="zeros")
    assert fit.sources.shape == (1, *V.shape) and len(fit.H) == 1
    assert fit.H[0].shape == (4, V.shape[1]) and fit.H[0].min() >= 0.0
    assert fit.costs[-1] < 0.05 * fit.costs[0]

    def error(estimate: np.ndarray, target: np.ndarray) -> float:
        return float(np.linalg.norm(estimate - target) / np.linalg.norm(target))

    fitted = error(fit.reconstruction, V)
    assert fitted < 0.08
    # The fitted code explains V better than the encoder's own code.
    assert fitted < error(encoded, V)
    # A signal of other spectral shapes is not explained by this decoder.
    other = _spectrogram(seed=9)
    assert error(fit_latent(other, model, n_iter=300, init="zeros").reconstruction,
                 other) > 4 * fitted


def _voice(seed: int, seconds: float, f0_range: tuple[float, float],
           band: tuple[float, float]) -> np.ndarray:
    """Harmonic notes, 0.25 s each, with random pitches in ``f0_range``, keeping only the
    harmonics inside ``band`` (Hz), with random levels."""
    rng = np.random.default_rng(seed)
    n_note = SR // 4
    t = np.arange(n_note) / SR
    envelope = np.sin(np.pi * np.arange(n_note) / n_note) ** 2
    notes = []
    for _ in range(int(seconds * 4)):
        f0 = rng.uniform(*f0_range)
        note = np.zeros(n_note)
        for h in range(1, int(band[1] / f0) + 1):
            if f0 * h >= band[0]:
                note += np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h
        notes.append(note * envelope * rng.uniform(0.3, 1.0))
    return np.concatenate(notes) / 10.0


def test_separates_two_sources_with_distinct_spectra() -> None:
    # Overlapping bands (1.5 to 2.5 kHz), distinct pitches and spectral envelopes.
    low = dict(f0_range=(100.0, 160.0), band=(0.0, 2500.0))
    high = dict(f0_range=(600.0, 900.0), band=(1500.0, 7000.0))
    models = []
    for seed, kind in ((0, low), (1, high)):
        V = spectral.magnitude(_voice(seed, 2.0, **kind)).astype(np.float64)
        models.append(train_nae(V, n_components=8, n_iter=200, seed=seed))
    a, b = _voice(10, 2.0, **low), _voice(11, 2.0, **high)
    b *= np.sqrt(np.sum(a ** 2) / np.sum(b ** 2))     # 0 dB
    estimates = separate_nae(a + b, models, n_iter=150)
    assert estimates.shape == (2, a.size) and estimates.dtype == np.float32
    score = bss_eval(np.stack([a, b]), estimates)
    assert not score.swapped
    assert np.all(score.sdr > 3.0), score.sdr
    np.testing.assert_allclose(estimates.sum(axis=0), a + b, atol=1e-4)


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(("kwargs", "shown"), [
    (dict(n_components=0), "0"),
    (dict(n_components=2.5), "2.5"),
    (dict(depth=0), "0"),
    (dict(l1=-1.0), "-1.0"),
    (dict(n_iter=-3), "-3"),
    (dict(learning_rate=0.0), "0.0"),
    (dict(optimizer="sgd"), "'sgd'"),
    (dict(seed=-1), "-1"),
])
def test_bad_training_settings_raise(kwargs: dict, shown: str) -> None:
    settings = dict(n_components=3) | kwargs
    with pytest.raises(ParameterError, match=shown):
        train_nae(_spectrogram(), **settings)


@pytest.mark.parametrize(("value", "shown"), [
    (-_spectrogram(), "non-negative"),
    (np.full((4, 5), np.nan), "nan"),
    (np.zeros((4, 5)), "all zero"),
    (np.ones(5), r"\(5,\)"),
])
def test_bad_spectrograms_raise(value: np.ndarray, shown: str) -> None:
    with pytest.raises(ParameterError, match=shown):
        train_nae(value, n_components=2)


def test_bad_fitting_input_raises() -> None:
    model = train_nae(_spectrogram(), n_components=3, n_iter=2)
    with pytest.raises(ParameterError, match="models 24 bins but V has 30"):
        fit_latent(np.ones((30, 10)), model)
    with pytest.raises(ParameterError, match="got list"):
        fit_latent(_spectrogram(), [model, [1, 2]])
    with pytest.raises(ParameterError, match="empty"):
        fit_latent(_spectrogram(), [])
    with pytest.raises(ParameterError, match="'random'"):
        fit_latent(_spectrogram(), model, init="random")
    with pytest.raises(ParameterError, match=r"\(2, 5\)"):
        separate_nae(np.ones((2, 5)), [model])
    with pytest.raises(ParameterError, match="-1"):
        separate_nae(np.ones(2000), [model], mask_power=-1)
    assert isinstance(model, NaeModel)
