"""Slow, obvious numpy references for the C++ kernels: written for reading, not for speed."""

from __future__ import annotations

import itertools

import numpy as np


def update_activations(W: np.ndarray, v: np.ndarray, h: np.ndarray, *, beta: float, l1: float,
                       n_iter: int, epsilon: float) -> np.ndarray:
    """Multiplicative updates of h for v ≈ W h under the β-divergence plus l1 * sum(h)."""
    W, v, h = W.astype(np.float64), v.astype(np.float64), h.astype(np.float64).copy()
    for _ in range(n_iter):
        model = W @ h + epsilon
        if beta == 1:
            h = h * (W.T @ (v / model)) / (W.sum(axis=0) + l1)
        elif beta == 2:
            h = h * (W.T @ v) / (W.T @ model + l1)
        elif beta == 0:
            h = h * (W.T @ (v / model ** 2)) / (W.T @ (1.0 / model) + l1)
        else:
            raise ValueError(beta)
    return h


def joint_states(n_states: list[int]) -> list[tuple[int, ...]]:
    """Every joint state, in the engine's row-major order."""
    return list(itertools.product(*[range(q) for q in n_states]))


def filter_likelihoods(sources: list[tuple[np.ndarray, np.ndarray, np.ndarray]], V: np.ndarray, *,
                       n_iter: int, counts: float, floor: float, epsilon: float = 1e-9
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per frame and joint state: the warm-started KL fit and its scaled log-likelihood.

    Returns log_likelihoods (T, J) and the fitted activations (T, J, K_total), every joint
    state fitted at every frame (exact mode), each warm-started from its own previous fit.
    """
    states = joint_states([W.shape[0] for W, _, _ in sources])
    k_total = sum(W.shape[2] for W, _, _ in sources)
    table = np.full((len(states), k_total), 1.0 / k_total)
    log_likelihoods = np.zeros((V.shape[0], len(states)))
    activations = np.zeros((V.shape[0], len(states), k_total))
    for t, v in enumerate(V.astype(np.float64)):
        frame = v / v.sum()
        for j, joint in enumerate(states):
            D = np.concatenate([W[q] for (W, _, _), q in zip(sources, joint)], axis=1)
            h = np.maximum(table[j], floor / k_total)
            h = update_activations(D, frame, h, beta=1, l1=0.0, n_iter=n_iter, epsilon=epsilon)
            table[j] = h
            model = D @ h + epsilon
            log_likelihoods[t, j] = counts * np.sum(frame * np.log(model / model.sum()))
            activations[t, j] = h
    return log_likelihoods, activations


def brute_force_filter(sources: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                       log_likelihoods: np.ndarray) -> np.ndarray:
    """P(c_t | v_1..t) by enumerating every joint-state sequence up to t (tiny models only)."""
    states = joint_states([W.shape[0] for W, _, _ in sources])
    T = log_likelihoods.shape[0]
    posteriors = np.zeros((T, len(states)))
    for t in range(T):
        for path in itertools.product(range(len(states)), repeat=t + 1):
            weight = 1.0
            for s, (_, A, pi) in enumerate(sources):
                weight *= pi[states[path[0]][s]]
                for a, b in zip(path[:-1], path[1:]):
                    weight *= A[states[a][s], states[b][s]]
            weight *= np.exp(sum(log_likelihoods[u, path[u]] for u in range(t + 1)))
            posteriors[t, path[-1]] += weight
        posteriors[t] /= posteriors[t].sum()
    return posteriors


def source_estimates(sources: list[tuple[np.ndarray, np.ndarray, np.ndarray]], V: np.ndarray,
                     posteriors: np.ndarray, activations: np.ndarray) -> np.ndarray:
    """Vhat_s(t) = sum(v_t) * sum_c alpha_t(c) W_s[q_s] h_{c,s}, shape (T, S, F)."""
    states = joint_states([W.shape[0] for W, _, _ in sources])
    T, F = V.shape
    estimates = np.zeros((T, len(sources), F))
    for t in range(T):
        for j, joint in enumerate(states):
            offset = 0
            for s, ((W, _, _), q) in enumerate(zip(sources, joint)):
                k = W.shape[2]
                estimates[t, s] += posteriors[t, j] * (W[q] @ activations[t, j, offset:offset + k])
                offset += k
        estimates[t] *= V[t].astype(np.float64).sum()
    return estimates


def online_convolutive_nmf(dictionaries: list[np.ndarray], V: np.ndarray, *, n_iter: int,
                           floor: float, epsilon: float = 1e-9) -> np.ndarray:
    """Online supervised NMF where source s has lagged dictionaries W_s (tau_s, F, K_s):
    at frame t, v ≈ sum_s W_s[0] h_s(t) + sum_s sum_{l>=1} W_s[l] h_s(t - l), the past
    activations fixed. Returns the estimates (T, S, F)."""
    k_total = sum(W.shape[2] for W in dictionaries)
    h = np.full(k_total, 1.0 / k_total)
    history: list[list[np.ndarray]] = [[] for _ in dictionaries]  # newest last, absolute
    estimates = np.zeros((V.shape[0], len(dictionaries), V.shape[1]))
    current = np.concatenate([W[0] for W in dictionaries], axis=1).astype(np.float64)
    edges = np.cumsum([0] + [W.shape[2] for W in dictionaries])
    for t, v in enumerate(V.astype(np.float64)):
        mass = v.sum()
        if mass <= 1e-20:
            for past in history:
                past.append(np.zeros_like(past[-1]) if past else None)
            continue
        pasts = []
        for W, past in zip(dictionaries, history):
            contribution = np.zeros(V.shape[1])
            for lag in range(1, W.shape[0]):
                if len(past) >= lag and past[-lag] is not None:
                    contribution += W[lag].astype(np.float64) @ past[-lag]
            pasts.append(contribution / mass)
        fixed = np.sum(pasts, axis=0)
        frame = v / mass
        h = np.maximum(h, floor / k_total)
        for _ in range(n_iter):
            model = current @ h + fixed + epsilon
            h = h * (current.T @ (frame / model)) / current.sum(axis=0)
        for s, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            estimates[t, s] = (current[:, a:b] @ h[a:b] + pasts[s]) * mass
            history[s].append(h[a:b] * mass)
    return estimates


def unfolded_estimates(dictionaries: list[np.ndarray], V: np.ndarray, *, beta: float = 1.0,
                       l1: float = 0.0, epsilon: float = 1e-9) -> np.ndarray:
    """Unfolded sources (W_s (L + 1, F, K_s) each), frame by frame: flat activations, one
    update per layer with [W_1[l] ... W_S[l]], estimates W_s[L] h_s times the frame's mass
    (zero for a silent frame). Returns (T, S, F)."""
    layers = dictionaries[0].shape[0] - 1
    k_total = sum(W.shape[2] for W in dictionaries)
    edges = np.cumsum([0] + [W.shape[2] for W in dictionaries])
    estimates = np.zeros((V.shape[0], len(dictionaries), V.shape[1]))
    for t, v in enumerate(V.astype(np.float64)):
        mass = v.sum()
        if not mass > 1e-20:
            continue
        h = np.full(k_total, 1.0 / k_total)
        for layer in range(layers):
            D = np.concatenate([W[layer] for W in dictionaries], axis=1)
            h = update_activations(D, v / mass, h, beta=beta, l1=l1, n_iter=1, epsilon=epsilon)
        for s, W in enumerate(dictionaries):
            estimates[t, s] = W[layers].astype(np.float64) @ h[edges[s]:edges[s + 1]] * mass
    return estimates


def noise_floor(V: np.ndarray, *, frame_seconds: float) -> np.ndarray:
    """The noise floor tracker of cpp/livesep/floor.h, bin by bin in plain loops: per bin the
    power smoothed with a = exp(-period / 36 ms), the floor min(smoothed, r * floor) with r
    10 dB/s but never below the least smoothed power of the sub-window under way and the last
    six complete ones of 0.25 s (rounded to frames); the first sounding frame sets both;
    silent frames (sum <= 1e-20) change nothing. Returns the floor's magnitudes after each
    frame (T, F), zeros before any sound."""
    a = np.exp(-frame_seconds / 0.036)
    r = 10.0 ** (10.0 * frame_seconds / 10.0)
    subwindow = max(1, int(np.floor(0.25 / frame_seconds + 0.5)))  # frames, half rounded up
    counted = 0
    current = [np.inf] * V.shape[1]
    closed: list[list[float]] = []  # each complete sub-window's least smoothed power per bin
    out = np.zeros(V.shape)
    smoothed = [0.0] * V.shape[1]
    floor = [0.0] * V.shape[1]
    started = False
    for t in range(V.shape[0]):
        if V[t].astype(np.float64).sum() > 1e-20:
            for f in range(V.shape[1]):
                power = float(V[t, f]) ** 2
                if not started:
                    smoothed[f] = floor[f] = current[f] = power
                else:
                    smoothed[f] = a * smoothed[f] + (1.0 - a) * power
                    current[f] = min(current[f], smoothed[f])
                    window = min([current[f]] + [kept[f] for kept in closed[-6:]])
                    floor[f] = min(smoothed[f], max(r * floor[f], window))
            started = True
            counted += 1
            if counted == subwindow:
                closed.append(list(current))
                current = [np.inf] * V.shape[1]
                counted = 0
        if started:
            out[t] = np.sqrt(floor)
    return out


def floored_unfolded_masks(dictionaries: list[np.ndarray], floors: list[float], V: np.ndarray,
                           *, frame_seconds: float, fit_bins: int | None = None,
                           epsilon: float = 1e-9) -> np.ndarray:
    """Unfolded sources (W_s (L + 1, F, K_s)), source s with a noise floor column of weight
    floors[s] (0: none) appended to every layer: the tracker's floor scaled so that its
    first fit_bins (all when None) sum to the weight, zero above them in the layers, whole
    in the estimate. KL, flat start, one update per layer; masks V_s^2 / sum_j V_j^2 (even
    where all are zero, and for a silent frame). Returns (T, S, F)."""
    floor = noise_floor(V, frame_seconds=frame_seconds)
    n_sources, n_bins = len(dictionaries), V.shape[1]
    fit_bins = n_bins if fit_bins is None else fit_bins
    layers = dictionaries[0].shape[0] - 1
    masks = np.full((V.shape[0], n_sources, n_bins), 1.0 / n_sources)
    for t, v in enumerate(V.astype(np.float64)):
        mass = v.sum()
        if mass > 1e-20:
            total = floor[t][:fit_bins].sum()
            column = floor[t] / total if total > 1e-30 else np.full(n_bins, 1.0 / fit_bins)
            fitted = np.where(np.arange(n_bins) < fit_bins, column, 0.0)
            per_block = np.stack([fitted] * layers + [column])[:, :, None]  # (L + 1, F, 1)
            blocks = [np.concatenate([W.astype(np.float64), weight * per_block], axis=2)
                      if weight else W.astype(np.float64)
                      for W, weight in zip(dictionaries, floors)]
            edges = np.cumsum([0] + [W.shape[2] for W in blocks])
            h = np.full(edges[-1], 1.0 / edges[-1])
            for layer in range(layers):
                D = np.concatenate([W[layer] for W in blocks], axis=1)
                h = update_activations(D, v / mass, h, beta=1, l1=0.0, n_iter=1,
                                       epsilon=epsilon)
            estimates = np.stack([W[layers] @ h[edges[s]:edges[s + 1]]
                                  for s, W in enumerate(blocks)]) ** 2
            total_power = estimates.sum(axis=0)
            masks[t] = np.where(total_power > 1e-30, estimates / np.where(
                total_power > 1e-30, total_power, 1.0), 1.0 / n_sources)
    return masks


def smoothed_masks(masks: np.ndarray, V: np.ndarray, *, seconds: float, frame_seconds: float
                   ) -> np.ndarray:
    """Masks (T, S, F) smoothed over time, bin by bin: each source's share of the recent
    power, num / den with num = a num + (1 - a) M p and den = a den + (1 - a) p, p = V^2,
    a = exp(-frame_seconds / seconds); where den is not above 1e-30 or not finite, the
    frame's masks pass and the bin starts again from zero."""
    a = np.exp(-frame_seconds / seconds)
    out = np.array(masks, dtype=np.float64)
    T, S, F = out.shape
    for f in range(F):
        num, den = [0.0] * S, 0.0
        for t in range(T):
            p = float(V[t, f]) ** 2
            den = a * den + (1 - a) * p
            usable = 1e-30 < den <= np.finfo(np.float32).max
            for s in range(S):
                num[s] = a * num[s] + (1 - a) * out[t, s, f] * p if usable else 0.0
                out[t, s, f] = num[s] / den if usable else out[t, s, f]
            den = den if usable else 0.0
    return out
