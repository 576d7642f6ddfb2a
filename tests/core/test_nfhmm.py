"""The online N-FHMM filter (cpp/livesep/nfhmm.h) against brute force and plain NMF."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import reference
from livesep import ParameterError
from livesep._core import Model, _internal

Source = tuple[np.ndarray, np.ndarray, np.ndarray]


def random_source(n_states: int, n_components: int, n_bins: int, rng: np.random.Generator,
                  stickiness: float = 3.0) -> Source:
    W = rng.random((n_states, n_bins, n_components)).astype(np.float32) ** 4
    W /= W.sum(axis=1, keepdims=True)
    A = rng.random((n_states, n_states)) + stickiness * np.eye(n_states)
    A /= A.sum(axis=1, keepdims=True)
    pi = rng.random(n_states) + 0.5
    pi /= pi.sum()
    return W, A.astype(np.float32), pi.astype(np.float32)


def mixture_frames(sources: list[Source], n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Frames drawn from the model: each source walks its Markov chain, random activations."""
    frames = np.zeros((n_frames, sources[0][0].shape[1]), dtype=np.float32)
    for W, A, pi in sources:
        q = rng.choice(W.shape[0], p=pi / pi.sum())
        for t in range(n_frames):
            frames[t] += W[q] @ rng.gamma(1.0, size=W.shape[2]).astype(np.float32)
            q = rng.choice(W.shape[0], p=A[q] / A[q].sum())
    return frames * 5.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_filter_matches_brute_force_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sources = [random_source(3, 2, 33, rng), random_source(3, 2, 33, rng)]
    V = mixture_frames(sources, 4, rng)
    counts, n_iter, floor = 20.0, 8, 1e-3
    model = Model(sources, n_iter=n_iter, beam=0, likelihood_counts=counts, reseed_floor=floor)
    estimates, posteriors, evaluated = _internal.filter_frames(model, V)
    log_likelihoods, activations = reference.filter_likelihoods(
        sources, V, n_iter=n_iter, counts=counts, floor=floor)
    expected = reference.brute_force_filter(sources, log_likelihoods)
    assert list(evaluated) == [9, 9, 9, 9]
    np.testing.assert_allclose(posteriors, expected, rtol=1e-3, atol=1e-6)
    # The posteriors are informative here, not uniform: the comparison means something.
    assert expected.max(axis=1).min() > 0.3
    expected_estimates = reference.source_estimates(sources, V, expected, activations)
    np.testing.assert_allclose(estimates, expected_estimates, rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("n_states", [[4, 5], [3, 3, 3]])
def test_beam_covering_every_joint_state_equals_exact(n_states: list[int]) -> None:
    rng = np.random.default_rng(7)
    sources = [random_source(q, 3, 65, rng) for q in n_states]
    V = mixture_frames(sources, 30, rng)
    n_joint = int(np.prod(n_states))
    exact = _internal.filter_frames(Model(sources, beam=0), V)
    covering = _internal.filter_frames(Model(sources, beam=n_joint), V)
    for got, want in zip(covering, exact):
        np.testing.assert_array_equal(got, want)


def test_beam_evaluates_the_most_probable_predicted_states() -> None:
    rng = np.random.default_rng(11)
    sources = [random_source(6, 3, 65, rng, stickiness=20.0),
               random_source(6, 3, 65, rng, stickiness=20.0)]
    V = mixture_frames(sources, 40, rng)
    exact_estimates, exact_posteriors, _ = _internal.filter_frames(Model(sources, beam=0), V)
    beam_estimates, beam_posteriors, evaluated = _internal.filter_frames(Model(sources, beam=12), V)
    assert np.all(evaluated == 12)
    assert np.all(np.count_nonzero(beam_posteriors, axis=1) <= 12)
    # With sticky dynamics the 12 best predicted of 36 states hold nearly all the mass.
    agreement = np.mean(beam_posteriors.argmax(axis=1) == exact_posteriors.argmax(axis=1))
    assert agreement > 0.9
    relative = (np.linalg.norm(beam_estimates - exact_estimates)
                / np.linalg.norm(exact_estimates))
    assert relative < 0.1


def test_single_state_sources_reduce_to_supervised_nmf() -> None:
    rng = np.random.default_rng(3)
    sources = [random_source(1, 8, 129, rng), random_source(1, 5, 129, rng)]
    V = mixture_frames(sources, 25, rng)
    estimates, posteriors, _ = _internal.filter_frames(
        Model(sources, n_iter=10, reseed_floor=1e-3), V)
    # Frame-wise supervised KL-NMF with the concatenated dictionary, warm-started.
    D = np.concatenate([sources[0][0][0], sources[1][0][0]], axis=1).astype(np.float64)
    h = np.full(13, 1.0 / 13)
    for t, v in enumerate(V.astype(np.float64)):
        h = reference.update_activations(D, v / v.sum(), np.maximum(h, 1e-3 / 13), beta=1,
                                         l1=0.0, n_iter=10, epsilon=1e-9)
        np.testing.assert_allclose(estimates[t, 0], v.sum() * D[:, :8] @ h[:8], rtol=1e-3,
                                   atol=1e-6)
        np.testing.assert_allclose(estimates[t, 1], v.sum() * D[:, 8:] @ h[8:], rtol=1e-3,
                                   atol=1e-6)
    assert np.all(posteriors == 1.0)


def test_likelihood_scale_sharpens_posteriors() -> None:
    """γ (counts per frame) sets how far one frame moves the state posterior."""
    rng = np.random.default_rng(5)
    sources = [random_source(5, 3, 65, rng, stickiness=0.0),
               random_source(5, 3, 65, rng, stickiness=0.0)]
    V = mixture_frames(sources, 50, rng)
    entropies = []
    for counts in (1.0, 10.0, 100.0):
        _, posteriors, _ = _internal.filter_frames(Model(sources, likelihood_counts=counts), V)
        p = np.clip(posteriors, 1e-12, 1.0)
        entropies.append(float(np.mean(-np.sum(p * np.log(p), axis=1))))
    assert entropies[0] > entropies[1] > entropies[2]


def test_silent_and_non_finite_frames_keep_the_filter_usable() -> None:
    rng = np.random.default_rng(9)
    sources = [random_source(4, 3, 65, rng), random_source(4, 3, 65, rng)]
    V = mixture_frames(sources, 12, rng)
    V[3] = 0.0
    V[6, 10] = np.nan
    V[7, :] = np.inf
    estimates, posteriors, _ = _internal.filter_frames(Model(sources), V)
    assert np.all(np.isfinite(estimates)) and np.all(np.isfinite(posteriors))
    assert np.all(estimates[[3, 6, 7]] == 0.0)
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, rtol=1e-5)
    clean = V.copy()
    clean[[6, 7]] = 0.0
    # A frame with NaN or Inf counts as silence: afterwards the filter is the same as if the
    # frame had been silent.
    np.testing.assert_array_equal(_internal.filter_frames(Model(sources), clean)[1][8:],
                                  posteriors[8:])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: (np.ascontiguousarray(s[0][:, :-1]), s[1], s[2]), "bins"),
        (lambda s: (s[0], s[1][:2], s[2]), "A"),
        (lambda s: (s[0], s[1], s[2][:2]), "pi"),
        (lambda s: (-s[0], s[1], s[2]), "negative"),
        (lambda s: (s[0].astype(np.float64), s[1], s[2]), "float64"),
    ],
)
def test_bad_models_are_refused(mutate, message: str) -> None:
    rng = np.random.default_rng(0)
    good = random_source(3, 2, 33, rng)
    with pytest.raises(ParameterError, match=message):
        Model([random_source(3, 2, 33, rng), mutate(good)])


def test_bad_settings_are_refused() -> None:
    source = random_source(2, 2, 33, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="got 0.5"):
        Model([source, source], beta=0.5)
    with pytest.raises(ParameterError, match="got -1"):
        Model([source, source], n_iter=-1)
    with pytest.raises(ParameterError, match="beam"):
        Model([source, source], beam=-3)
