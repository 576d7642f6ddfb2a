"""N-HMM training by EM: monotone likelihood, exact forward-backward, state recovery."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from livesep.errors import ParameterError
from livesep.models.hmm import _forward_backward_log, _forward_backward_scaled
from livesep.models.nhmm import (
    NhmmModel,
    forward_backward,
    scale_counts,
    state_posteriors,
    train_nhmm,
)

KLETTRES_EN = Path("/usr/share/klettres/en/alpha")


def _synthetic(T: int = 600, F: int = 16, K: int = 2, stay: float = 0.95, counts: int = 60,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Counts drawn from a known two-state N-HMM with distinct spectra and sticky states."""
    rng = np.random.default_rng(seed)
    bins = np.arange(F)
    W = np.empty((2, F, K))
    W[0] = rng.random((F, K)) * (bins < 0.6 * F)[:, None] + 0.01   # low-frequency state
    W[1] = rng.random((F, K)) * (bins >= 0.4 * F)[:, None] + 0.01  # high-frequency state
    W /= W.sum(axis=1, keepdims=True)
    states = np.empty(T, dtype=int)
    states[0] = 0
    for t in range(1, T):
        states[t] = states[t - 1] if rng.random() < stay else 1 - states[t - 1]
    V = np.empty((F, T))
    for t in range(T):
        h = rng.dirichlet(np.ones(K))
        level = rng.poisson(counts * rng.uniform(0.3, 1.7)) + 1
        V[:, t] = rng.multinomial(level, W[states[t]] @ h)
    return V, states


def _brute_force(log_b: np.ndarray, A: np.ndarray, pi: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    T, Q = log_b.shape
    gamma = np.zeros((T, Q))
    xi = np.zeros((Q, Q))
    total = 0.0
    for path in itertools.product(range(Q), repeat=T):
        p = pi[path[0]] * np.exp(log_b[0, path[0]])
        for t in range(1, T):
            p *= A[path[t - 1], path[t]] * np.exp(log_b[t, path[t]])
        total += p
        for t in range(T):
            gamma[t, path[t]] += p
        for t in range(1, T):
            xi[path[t - 1], path[t]] += p
    return gamma / total, xi / total, float(np.log(total))


def test_forward_backward_matches_brute_force_enumeration() -> None:
    rng = np.random.default_rng(0)
    T, Q = 5, 3
    log_b = rng.normal(scale=3.0, size=(T, Q))
    A = rng.random((Q, Q)) + 0.1
    A /= A.sum(axis=1, keepdims=True)
    pi = rng.random(Q) + 0.1
    pi /= pi.sum()
    gamma, xi, log_likelihood = _brute_force(log_b, A, pi)
    for method in (forward_backward, _forward_backward_log):
        got_gamma, got_xi, got_ll = method(log_b, A, pi)
        np.testing.assert_allclose(got_gamma, gamma, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(got_xi, xi, rtol=1e-10, atol=1e-14)
        assert got_ll == pytest.approx(log_likelihood, rel=1e-12)


def test_forward_backward_does_not_underflow_on_long_inputs() -> None:
    rng = np.random.default_rng(1)
    T, Q = 20000, 4
    # Raw-magnitude scale: each frame's log-likelihoods are thousands of nats below zero.
    log_b = -rng.random((T, Q)) * 3000.0 - 5000.0
    A = np.full((Q, Q), 0.02) + np.eye(Q) * (1 - 0.02 * Q)
    pi = np.full(Q, 1.0 / Q)
    gamma, xi, log_likelihood = forward_backward(log_b, A, pi)
    assert np.isfinite(log_likelihood) and log_likelihood < -5000.0 * T
    assert np.all(np.isfinite(gamma)) and np.all(np.isfinite(xi))
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)
    assert xi.sum() == pytest.approx(T - 1, rel=1e-9)
    # The slow log-domain pass agrees on a stretch of it.
    reference = _forward_backward_log(log_b[:2000], A, pi)
    fast = forward_backward(log_b[:2000], A, pi)
    np.testing.assert_allclose(fast[0], reference[0], rtol=1e-8, atol=1e-12)
    assert fast[2] == pytest.approx(reference[2], rel=1e-12)


def test_training_on_a_long_sharp_input_stays_finite() -> None:
    # 20k frames at 1000 counts each: per-frame log-likelihoods of thousands of nats.
    V, states = _synthetic(T=20000, seed=7)
    model = train_nhmm(V, n_states=2, n_components=2, n_iter=3, counts=1000.0,
                       normalization="frame")
    assert np.all(np.isfinite(model.log_likelihoods))
    assert model.log_likelihoods[-1] < -1000.0 * 20000
    assert np.all(np.diff(model.log_likelihoods) >= -1e-6 * abs(model.log_likelihoods[0]))
    gamma, _ = state_posteriors(model, V)
    assert np.all(np.isfinite(gamma))
    decoded = gamma.argmax(axis=1)
    assert max(np.mean(decoded == states), np.mean(decoded != states)) > 0.95


def test_forward_backward_falls_back_to_log_domain() -> None:
    # Left-to-right chain with exact zeros. The data first push the chain out of state 0
    # (by 1000 nats a frame, so its scaled forward probability underflows to exactly 0),
    # then favour state 0 again by 1000 nats: the scaled pass's scale factor is 0 there.
    A = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    pi = np.array([1.0, 0.0, 0.0])
    log_b = np.zeros((25, 3))
    log_b[:10] = [0.0, -5.0, -5.0]
    log_b[10:20] = [-1000.0, 0.0, -1000.0]
    log_b[20:] = [0.0, -1000.0, -1000.0]
    assert _forward_backward_scaled(log_b, log_b.max(axis=1), A, pi) is None
    gamma, xi, log_likelihood = forward_backward(log_b, A, pi)
    reference = _forward_backward_log(log_b, A, pi)
    assert np.isfinite(log_likelihood) and np.all(np.isfinite(gamma))
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0)
    np.testing.assert_allclose(gamma, reference[0], atol=1e-12)
    np.testing.assert_allclose(xi, reference[1], atol=1e-9)
    assert log_likelihood == pytest.approx(reference[2])
    # The brute-force answer on a short version of the same situation agrees too.
    short = log_b[8:14]
    gamma_bf, xi_bf, ll_bf = _brute_force(short, A, pi)
    got = forward_backward(short, A, pi)
    np.testing.assert_allclose(got[0], gamma_bf, atol=1e-12)
    assert got[2] == pytest.approx(ll_bf)


def test_forward_backward_rejects_impossible_frames() -> None:
    log_b = np.zeros((3, 2))
    log_b[1] = -np.inf
    with pytest.raises(ParameterError, match="frame 1"):
        forward_backward(log_b, np.full((2, 2), 0.5), np.full(2, 0.5))


@pytest.mark.parametrize(("dtype", "slack"), [(np.float64, 1e-11), (np.float32, 1e-6)])
def test_log_likelihood_never_decreases_on_synthetic_data(dtype: type, slack: float) -> None:
    V, _ = _synthetic(T=400, F=20, seed=3)
    model = train_nhmm(V, n_states=4, n_components=3, n_iter=40, tol=0.0, dtype=dtype)
    history = np.array(model.log_likelihoods)
    assert history.size == model.n_iter + 1 == 41
    # float64: exact EM up to rounding; float32: up to float32 rounding of the sums.
    assert np.all(np.diff(history) >= -slack * abs(history[0]))
    assert history[-1] > history[0]


@pytest.mark.skipif(not KLETTRES_EN.is_dir(), reason="needs Debian's klettres-data speech")
def test_log_likelihood_never_decreases_on_real_speech() -> None:
    from livesep.audio import load
    from livesep.spectral import magnitude

    clips = sorted(KLETTRES_EN.glob("*.ogg"))[:4]
    audio = np.concatenate([load(clip, sr=16000)[0] for clip in clips])[:16000 * 4]
    V = magnitude(audio)
    model = train_nhmm(V, n_states=6, n_components=4, n_iter=12, tol=0.0,
                       dtype=np.float64)
    history = np.array(model.log_likelihoods)
    assert np.all(np.diff(history) >= -1e-11 * abs(history[0]))
    assert history[-1] > history[0]


def test_recovers_the_states_of_a_known_nhmm() -> None:
    V, states = _synthetic(T=600, seed=0)
    model = train_nhmm(V, n_states=2, n_components=2, n_iter=30, seed=0)
    gamma, _ = state_posteriors(model, V)
    decoded = gamma.argmax(axis=1)
    accuracy = max(np.mean(decoded == states), np.mean(decoded == 1 - states))
    assert accuracy > 0.95
    # The learned chain is sticky, like the true one (0.95 on the diagonal).
    assert np.all(np.diag(model.A) > 0.85)


def test_model_shapes_and_normalisation() -> None:
    V, _ = _synthetic(T=300, F=24, seed=2)
    model = train_nhmm(V, n_states=3, n_components=4, n_iter=5)
    assert isinstance(model, NhmmModel)
    assert model.W.dtype == np.float32 and model.W.shape == (3, 24, 4)
    assert (model.n_states, model.n_bins, model.n_components) == (3, 24, 4)
    np.testing.assert_allclose(model.W.sum(axis=1), 1.0, rtol=1e-5)
    assert model.W.min() > 0 and model.A.min() > 0
    np.testing.assert_allclose(model.A.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model.pi.sum(), 1.0, rtol=1e-12)
    assert model.counts == 30.0 and model.normalization == "global"


def test_training_is_deterministic_for_a_seed() -> None:
    V, _ = _synthetic(T=300, seed=4)
    a = train_nhmm(V, n_states=3, n_components=2, n_iter=8, seed=11)
    b = train_nhmm(V, n_states=3, n_components=2, n_iter=8, seed=11)
    c = train_nhmm(V, n_states=3, n_components=2, n_iter=8, seed=12)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.pi, b.pi)
    assert a.log_likelihoods == b.log_likelihoods
    assert not np.array_equal(a.W, c.W)


def test_tol_stops_early() -> None:
    V, _ = _synthetic(T=300, seed=5)
    seen: list[tuple[int, float]] = []
    model = train_nhmm(V, n_states=2, n_components=2, n_iter=500, tol=1e-6,
                       callback=lambda i, ll: seen.append((i, ll)))
    assert model.converged and model.n_iter < 500
    assert [ll for _, ll in seen] == model.log_likelihoods
    assert [i for i, _ in seen] == list(range(model.n_iter + 1))


def test_scale_counts() -> None:
    V = np.array([[1.0, 0.0, 3.0], [1.0, 0.0, 5.0]])
    np.testing.assert_allclose(scale_counts(V, counts=10.0).sum(axis=0).mean(), 10.0)
    framed = scale_counts(V, counts=10.0, normalization="frame")
    np.testing.assert_allclose(framed.sum(axis=0), [10.0, 0.0, 10.0])


@pytest.mark.parametrize(("kwargs", "shown"), [
    ({"n_states": 9}, "got 9"),
    ({"n_states": 0}, "got 0"),
    ({"n_components": 7}, "got 7"),
    ({"counts": 0.0}, "got 0.0"),
    ({"normalization": "peak"}, "'peak'"),
    ({"dtype": np.int32}, "int32"),
    ({"transition_floor": 2.0}, "got 2.0"),
])
def test_bad_settings_raise_parameter_error(kwargs: dict[str, object], shown: str) -> None:
    V = np.ones((6, 10))
    V[:, :2] = 0.0  # 8 frames with energy
    settings: dict[str, object] = {"n_states": 2, "n_components": 2, **kwargs}
    with pytest.raises(ParameterError) as info:
        train_nhmm(V, **settings)  # type: ignore[arg-type]
    assert shown in str(info.value)


def test_bad_data_raise_parameter_error() -> None:
    with pytest.raises(ParameterError, match="-1.0"):
        train_nhmm(np.array([[1.0, -1.0], [1.0, 1.0]]), n_states=1, n_components=1)
    with pytest.raises(ParameterError, match="nan"):
        train_nhmm(np.array([[1.0, np.nan], [1.0, 1.0]]), n_states=1, n_components=1)
    model = train_nhmm(np.ones((4, 6)) + np.eye(4, 6), n_states=2, n_components=1, n_iter=2)
    with pytest.raises(ParameterError, match=r"\(5, 6\)"):
        state_posteriors(model, np.ones((5, 6)))


def test_progress_is_reported_and_nothing_printed(capsys: pytest.CaptureFixture[str]) -> None:
    V, _ = _synthetic(T=200, seed=6)
    seen: list[float] = []
    train_nhmm(V, n_states=2, n_components=2, n_iter=3, tol=0.0, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3
    assert capsys.readouterr().err == ""
