"""From per-frame state likelihoods to HMM state posteriors: count scaling, forward-backward.

:mod:`livesep.models.nhmm` reads a magnitude spectrogram as multinomial counts, and the number
of counts per frame sets how sharp the state posteriors are; :func:`scale_counts` fixes that
number. :func:`forward_backward` turns per-frame state log-likelihoods into posteriors and
expected transitions, for training (the E-step) and
:func:`~livesep.models.nhmm.state_posteriors`; it knows nothing of what the states emit. Its
fast path is the scaled recursion; the log-domain one is the slow, unconditionally safe
fallback.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep.checks import check_choice, check_float
from livesep.errors import ParameterError
from livesep.models._common import check_spectrogram

__all__ = ["forward_backward", "scale_counts"]

Array = npt.NDArray[np.float64]

#: Below this the scaled forward recursion is redone in the log domain.
_SCALE_FLOOR = 1e-250


# --------------------------------------------------------------------------------------------
# Scaling


def scale_counts(V: npt.ArrayLike, *, counts: float = 30.0,
                 normalization: str = "global") -> Array:
    """Rescale a spectrogram into the counts the multinomial likelihood reads.

    Parameters
    ----------
    V : array-like, shape (F, T)
        Non-negative magnitudes.
    counts : float, keyword-only
        Counts of the mean frame (``"global"``) or of every frame (``"frame"``).
    normalization : {"global", "frame"}, keyword-only
        One factor for the whole spectrogram, or one per frame (all-zero frames stay zero).

    Returns
    -------
    np.ndarray, shape (F, T), float64
    """
    data = check_spectrogram(V)
    counts = check_float("counts", counts, low=0.0, low_open=True)
    normalization = check_choice("normalization", normalization, ("global", "frame"))
    totals = data.sum(axis=0)
    if normalization == "global":
        return data * (counts / totals.mean())
    return data * np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 0.0)


# --------------------------------------------------------------------------------------------
# Forward-backward


def forward_backward(log_b: npt.ArrayLike, A: npt.ArrayLike, pi: npt.ArrayLike
                     ) -> tuple[Array, Array, float]:
    """State posteriors of an HMM from per-frame state log-likelihoods.

    Runs the scaled recursion (each frame's likelihoods shifted by their maximum, each
    forward vector normalised, the log scale factors summed), which cannot underflow with
    length; if a frame's scale factor still falls below 1e-250 (a frame that only
    transitions of probability ~0 can explain), the whole pass is redone in the log domain.

    Parameters
    ----------
    log_b : array-like, shape (T, Q)
        ``log P(v_t | q_t = q)``; every frame needs at least one finite entry.
    A : array-like, shape (Q, Q)
        Transition matrix, rows summing to one.
    pi : array-like, shape (Q,)
        Initial distribution.

    Returns
    -------
    gamma : np.ndarray, shape (T, Q)
        ``P(q_t = q | v_1..v_T)``; rows sum to one.
    xi : np.ndarray, shape (Q, Q)
        ``Σ_t P(q_{t-1} = i, q_t = j | v_1..v_T)``, the expected transition counts.
    log_likelihood : float
        ``log P(v_1..v_T)``.
    """
    log_b = np.asarray(log_b, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    pi = np.asarray(pi, dtype=np.float64)
    if log_b.ndim != 2 or log_b.shape[0] < 1:
        raise ParameterError(f"log_b must be shaped (T, Q) with T >= 1, got shape {log_b.shape}")
    T, Q = log_b.shape
    if A.shape != (Q, Q) or pi.shape != (Q,):
        raise ParameterError(f"A must be ({Q}, {Q}) and pi ({Q},), got shapes {A.shape} and "
                             f"{pi.shape}")
    if np.isnan(log_b).any() or np.isposinf(log_b).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(log_b) | np.isposinf(log_b))[0])
        raise ParameterError(f"log_b must be finite or -inf, got {log_b[where]!r} at {where}")
    shift = log_b.max(axis=1)
    if not np.isfinite(shift).all():
        frame = int(np.argmin(np.isfinite(shift)))
        raise ParameterError(f"frame {frame} has zero likelihood under every state")
    result = _forward_backward_scaled(log_b, shift, A, pi)
    if result is None:
        result = _forward_backward_log(log_b, A, pi)
    return result


def _forward_backward_scaled(log_b: Array, shift: Array, A: Array, pi: Array
                             ) -> tuple[Array, Array, float] | None:
    T, Q = log_b.shape
    emission = np.exp(log_b - shift[:, None])       # each row's maximum is 1
    alpha = np.empty((T, Q))
    scale = np.empty(T)
    current = pi * emission[0]
    total = current.sum()
    if not total > _SCALE_FLOOR:
        return None
    alpha[0] = current / total
    scale[0] = total
    dot = np.dot
    # The recursion itself is sequential: O(T Q^2), a few microseconds per frame.
    for t in range(1, T):
        current = dot(alpha[t - 1], A)
        current *= emission[t]
        total = current.sum()
        if not total > _SCALE_FLOOR:
            return None
        np.divide(current, total, out=alpha[t])
        scale[t] = total
    beta = np.empty((T, Q))
    beta[T - 1] = 1.0
    weighted = emission / scale[:, None]            # b_t / c_t, used twice below
    for t in range(T - 2, -1, -1):
        dot(A, weighted[t + 1] * beta[t + 1], out=beta[t])
    gamma = alpha * beta
    if not np.isfinite(gamma).all():
        return None
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = A * (alpha[:-1].T @ (weighted[1:] * beta[1:]))
    log_likelihood = float(np.sum(np.log(scale)) + np.sum(shift))
    return gamma, xi, log_likelihood


def _logsumexp(x: Array, axis: int) -> Array:
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return np.squeeze(out, axis=axis)


def _forward_backward_log(log_b: Array, A: Array, pi: Array) -> tuple[Array, Array, float]:
    """The same quantities computed in the log domain (the slow, unconditionally safe path)."""
    T, Q = log_b.shape
    with np.errstate(divide="ignore"):
        log_A = np.log(A)
        log_pi = np.log(pi)
    log_alpha = np.empty((T, Q))
    log_alpha[0] = log_pi + log_b[0]
    for t in range(1, T):
        log_alpha[t] = _logsumexp(log_alpha[t - 1][:, None] + log_A, axis=0) + log_b[t]
    log_beta = np.zeros((T, Q))
    for t in range(T - 2, -1, -1):
        log_beta[t] = _logsumexp(log_A + (log_b[t + 1] + log_beta[t + 1])[None, :], axis=1)
    log_likelihood = float(_logsumexp(log_alpha[T - 1], axis=0))
    if not np.isfinite(log_likelihood):
        raise ParameterError("the observations have zero probability under the model "
                             "(no state sequence allowed by A and pi explains them)")
    gamma = np.exp(log_alpha + log_beta - log_likelihood)
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = np.zeros((Q, Q))
    ahead = log_b[1:] + log_beta[1:]
    step = max(1, (1 << 20) // (Q * Q))
    for start in range(0, T - 1, step):
        stop = min(T - 1, start + step)
        xi += np.exp(log_alpha[start:stop, :, None] + log_A[None]
                     + ahead[start:stop, None, :] - log_likelihood).sum(axis=0)
    return gamma, xi, log_likelihood
