"""Offline STFT and ISTFT in numpy, framed exactly as the C++ engine frames a stream.

Frame ``k`` covers input samples ``[(k + 1) * hop_length - n_fft, (k + 1) * hop_length)``
(zeros before the start and after the end), windowed by a periodic sqrt-Hann. Synthesis uses
the window scaled so that analysis times synthesis overlap-adds to one, so
``istft(stft(y)) == y`` and a mask computed per frame means the same thing offline and live.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from livesep.errors import ParameterError

__all__ = ["analysis_window", "synthesis_window", "n_frames", "stft", "istft", "magnitude",
           "check_stft_settings", "soft_masks", "fit_bands", "pool_bands", "LATENCIES",
           "low_delay_geometry", "NoiseFloor", "noise_floor", "floor_columns",
           "FLOOR_SMOOTHING_SECONDS", "FLOOR_RISE_DB_PER_SECOND", "FLOOR_SUBWINDOW_SECONDS",
           "FLOOR_SUBWINDOWS", "MaskSmoother", "smooth_masks"]

#: The latency modes and their bounds on the algorithmic latency in seconds (None: the
#: frames' own, n_fft - 1 samples).
LATENCIES = {"standard": None, "low": 0.008, "ultra": 0.003}
#: The noise floor tracker's smoothing of the power over time (a one-pole time constant)
#: and the fastest its floor may rise.
FLOOR_SMOOTHING_SECONDS = 0.036
FLOOR_RISE_DB_PER_SECOND = 10.0
#: The floor never stays under the least smoothed power of the last
#: FLOOR_SUBWINDOWS x FLOOR_SUBWINDOW_SECONDS (and the sub-window under way).
FLOOR_SUBWINDOW_SECONDS = 0.25
FLOOR_SUBWINDOWS = 6
#: Frames whose magnitudes sum to no more than this are silent: the tracker skips them.
SILENT_MASS = 1e-20


def check_stft_settings(n_fft: int, hop_length: int) -> None:
    """Raise :class:`ParameterError` unless the engine accepts ``n_fft`` and ``hop_length``."""
    if not isinstance(n_fft, (int, np.integer)) or n_fft < 16 or n_fft > 65536 or n_fft % 4:
        raise ParameterError(f"n_fft must be a multiple of 4 in [16, 65536], got {n_fft!r}")
    if (not isinstance(hop_length, (int, np.integer)) or hop_length < 1
            or n_fft % hop_length or n_fft // hop_length < 2):
        raise ParameterError(
            f"hop_length must divide n_fft={n_fft} into at least 2 parts, got {hop_length!r}")


def analysis_window(n_fft: int) -> npt.NDArray[np.float64]:
    """Periodic sqrt-Hann window, shape ``(n_fft,)``."""
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft))


def synthesis_window(n_fft: int, hop_length: int) -> npt.NDArray[np.float64]:
    """The analysis window divided by the overlap-added squared analysis window."""
    check_stft_settings(n_fft, hop_length)
    window = analysis_window(n_fft)
    overlap = (window ** 2).reshape(-1, hop_length).sum(axis=0)
    return window / np.tile(overlap, n_fft // hop_length)


def low_delay_windows(n_fft: int, hop_length: int
                      ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The engine's low-delay analysis and synthesis windows (Mauler & Martin, EUSIPCO 2007),
    each shape ``(n_fft,)``.

    The analysis window rises as the first half of a sqrt-Hann of ``2 (n_fft - hop)``
    samples and falls as the second half of one of ``2 hop``; the synthesis window is zero
    but for the frame's last ``2 hop`` samples, where analysis x synthesis is a periodic Hann
    of ``2 hop`` samples, which overlap-adds to one at ``hop``. Latency ``2 hop - 1``.
    """
    if not isinstance(hop_length, (int, np.integer)) or not 2 <= hop_length <= n_fft // 4:
        raise ParameterError(f"a low-delay hop_length must be in [2, n_fft // 4 = "
                             f"{n_fft // 4}], got {hop_length!r}")
    n = np.arange(n_fft)
    rise, tail = n_fft - hop_length, n_fft - 2 * hop_length

    def hann(k: npt.NDArray[np.int64], length: int) -> npt.NDArray[np.float64]:
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / length)

    analysis = np.where(n < rise, np.sqrt(hann(n, 2 * rise)),
                        np.sqrt(hann(n - tail, 2 * hop_length)))
    product = np.where(n >= tail, hann(n - tail, 2 * hop_length), 0.0)
    synthesis = np.divide(product, analysis, out=np.zeros(n_fft), where=analysis > 0)
    return analysis, synthesis


def n_frames(length: int, *, n_fft: int, hop_length: int) -> int:
    """Frames needed so every sample of a signal of ``length`` samples is fully covered."""
    return -(-length // hop_length) + n_fft // hop_length - 1


def stft(y: npt.ArrayLike, *, n_fft: int = 512, hop_length: int = 128
         ) -> npt.NDArray[np.complex64]:
    """Short-time Fourier transform.

    Parameters
    ----------
    y : array-like, shape (n,)
        Mono signal.
    n_fft, hop_length : int, keyword-only
        Frame length and hop in samples.

    Returns
    -------
    np.ndarray, shape (n_fft // 2 + 1, n_frames), complex64
        Frame ``k`` is the engine's frame ``k`` for the same stream.
    """
    check_stft_settings(n_fft, hop_length)
    signal = np.asarray(y, dtype=np.float64)
    if signal.ndim != 1:
        raise ParameterError(f"y must be mono, shaped (n,), got shape {signal.shape}")
    frames = n_frames(signal.size, n_fft=n_fft, hop_length=hop_length)
    padded = np.zeros((frames - 1) * hop_length + n_fft)
    padded[n_fft - hop_length:n_fft - hop_length + signal.size] = signal
    windows = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:frames]
    return np.fft.rfft(windows * analysis_window(n_fft), axis=1).T.astype(np.complex64)


def istft(spectrogram: npt.ArrayLike, *, n_fft: int = 512, hop_length: int = 128,
          length: int) -> npt.NDArray[np.float32]:
    """Inverse of :func:`stft` by overlap-add, aligned with the original samples.

    Parameters
    ----------
    spectrogram : array-like, shape (n_fft // 2 + 1, n_frames), complex
        Frames as :func:`stft` makes them (possibly masked).
    n_fft, hop_length : int, keyword-only
        As given to :func:`stft`.
    length : int, keyword-only
        Samples of the original signal.

    Returns
    -------
    np.ndarray, shape (length,), float32
    """
    check_stft_settings(n_fft, hop_length)
    spec = np.asarray(spectrogram)
    if spec.ndim != 2 or spec.shape[0] != n_fft // 2 + 1:
        raise ParameterError(f"spectrogram must be shaped (n_fft // 2 + 1, n_frames) = "
                             f"({n_fft // 2 + 1}, T), got shape {spec.shape}")
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * synthesis_window(n_fft, hop_length)
    out = np.zeros((spec.shape[1] - 1) * hop_length + n_fft)
    for shift in range(n_fft // hop_length):
        # Frames k = shift, shift + ratio, ... do not overlap each other: add them in one go.
        chunk = frames[shift::n_fft // hop_length].reshape(-1)
        start = shift * hop_length
        out[start:start + chunk.size] += chunk
    offset = n_fft - hop_length
    result = out[offset:offset + length]
    if result.size < length:
        result = np.concatenate([result, np.zeros(length - result.size)])
    return result.astype(np.float32)


def magnitude(y: npt.ArrayLike, *, n_fft: int = 512, hop_length: int = 128
              ) -> npt.NDArray[np.float32]:
    """``|stft(y)|``, shape ``(n_fft // 2 + 1, n_frames)``, float32."""
    return np.abs(stft(y, n_fft=n_fft, hop_length=hop_length)).astype(np.float32)


def soft_masks(estimates: npt.ArrayLike, *, power: float = 2.0) -> npt.NDArray[np.float64]:
    """Masks M_s = V_s^p / sum_j V_j^p over the first axis; an even split where all are zero.

    Parameters
    ----------
    estimates : np.ndarray, shape (S, F, T)
        Non-negative source estimates.
    power : float, keyword-only
        The exponent p.

    Returns
    -------
    np.ndarray, shape (S, F, T)
    """
    powered = np.asarray(estimates, dtype=np.float64) ** power
    total = powered.sum(axis=0, keepdims=True)
    even = np.full_like(powered, 1.0 / powered.shape[0])
    return np.divide(powered, total, out=even, where=total > 1e-30)


def fit_bands(*, sr: int, n_fft: int, above: float, per_octave: int = 12
              ) -> npt.NDArray[np.int64]:
    """Band edges for fitting activations on a coarser frequency axis: every bin its own band
    below ``above`` Hz, then bands of ``1 / per_octave`` octave (at least one bin each).

    Parameters
    ----------
    sr : int, keyword-only
        Sample rate in Hz.
    n_fft : int, keyword-only
        Frame length; the spectrum has ``n_fft // 2 + 1`` bins.
    above : float, keyword-only
        Frequency in Hz from which bins are grouped.
    per_octave : int, keyword-only
        Bands per octave above ``above``.

    Returns
    -------
    np.ndarray, shape (n_bands + 1,), int64
        Rising edges from 0 to ``n_fft // 2 + 1``: band ``b`` sums bins
        ``edges[b] .. edges[b + 1] - 1``.

    Examples
    --------
    >>> edges = fit_bands(sr=48000, n_fft=1536, above=4000.0)
    >>> int(edges[-1]), len(edges) - 1
    (769, 160)
    """
    n_bins = n_fft // 2 + 1
    if not (above > 0 and per_octave >= 1):
        raise ParameterError(f"above must be > 0 Hz and per_octave >= 1, got {above!r} and "
                             f"{per_octave!r}")
    first = min(n_bins, int(np.ceil(above * n_fft / sr)))
    edges = list(range(first + 1))
    nyquist = sr / 2
    frequency = max(above, first * sr / n_fft)
    while edges[-1] < n_bins:
        frequency = min(frequency * 2.0 ** (1.0 / per_octave), nyquist)
        edge = max(edges[-1] + 1, int(round(frequency * n_fft / sr)))
        edges.append(min(edge, n_bins))
        if frequency >= nyquist:
            edges[-1] = n_bins
    return np.asarray(edges, dtype=np.int64)


def pool_bands(X: npt.ArrayLike, edges: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Sums of ``X`` over the bands ``edges`` (:func:`fit_bands`), none above the last."""
    bounds = np.asarray(edges)
    values = np.asarray(X, dtype=np.float32)[..., :bounds[-1]]
    return np.add.reduceat(values, bounds[:-1], axis=-1).astype(np.float32)


def low_delay_geometry(*, sr: int, n_fft: int, hop_length: int, latency: str
                       ) -> tuple[int, int]:
    """The hop and synthesis length of a latency mode for frames of ``n_fft`` at ``sr``
    whose own hop is ``hop_length``: ``(hop_length, 0)`` (symmetric windows) when the
    frames' own latency ``n_fft - 1`` is within the mode's bound, else the low-delay
    windows' ``(hop, 2 hop)`` with ``2 hop - 1`` samples within it."""
    if latency not in LATENCIES:
        raise ParameterError(f"latency must be one of {', '.join(LATENCIES)}, got {latency!r}")
    bound = LATENCIES[latency]
    if bound is None or n_fft - 1 <= bound * sr:
        return hop_length, 0
    synthesis = min(int(bound * sr + 1), n_fft // 2) // 2 * 2
    if synthesis < 4:
        raise ParameterError(f"latency {latency!r} ({1000 * bound:g} ms) leaves fewer than 4 "
                             f"samples at {sr} Hz")
    return synthesis // 2, synthesis


class NoiseFloor:
    """The stationary noise under a stream of frames, tracked causally as the engine does
    (cpp/livesep/floor.h), one frame at a time.

    Per bin, the power ``p = |X|^2`` is smoothed over time, ``S_t = a S_{t-1} + (1 - a) p_t``
    with ``a = exp(-hop / (sr * FLOOR_SMOOTHING_SECONDS))``, and the floor follows it down at
    once but rises by at most ``FLOOR_RISE_DB_PER_SECOND``, or up to the least ``S`` of the
    last 1.5 s when that is higher (minimum statistics): ``N_t = min(S_t, max(r N_{t-1},
    W_t))``, ``r = 10^(rise * hop / (10 sr))``, ``W_t`` the least ``S`` over the sub-window
    under way and the last ``FLOOR_SUBWINDOWS`` complete ones of ``FLOOR_SUBWINDOW_SECONDS``
    (rounded to whole frames). Speech comes and goes faster than the floor may rise, so the
    floor stays under it, on the noise, and a floor that started too low finds the room
    within the window. The first frame that is not silent sets ``S = N = p``; silent frames
    (magnitudes summing to at most 1e-20) change nothing.

    Parameters
    ----------
    sr, hop_length : int, keyword-only
        The frames' sample rate and hop, which set the time constants.
    """

    def __init__(self, *, sr: int, hop_length: int) -> None:
        if not isinstance(sr, (int, np.integer)) or sr < 1 or \
                not isinstance(hop_length, (int, np.integer)) or hop_length < 1:
            raise ParameterError(f"sr and hop_length must be positive integers, got sr={sr!r}, "
                                 f"hop_length={hop_length!r}")
        self.smoothing = np.exp(-hop_length / (sr * FLOOR_SMOOTHING_SECONDS))
        self.rise = 10.0 ** (FLOOR_RISE_DB_PER_SECOND * hop_length / (10.0 * sr))
        # The engine's very operations (the period in seconds first), so that a sub-window
        # of exactly half a frame more rounds alike.
        self.subwindow_frames = max(1, int(np.floor(FLOOR_SUBWINDOW_SECONDS / (hop_length / sr)
                                                    + 0.5)))
        self.counted = 0
        self.current = self.older = np.zeros(0)
        self.minima: list[npt.NDArray[np.float64]] = []
        self.smoothed: npt.NDArray[np.float64] | None = None
        self.floor: npt.NDArray[np.float64] | None = None

    def reset(self) -> None:
        """Forget the floor: the next sounding frame starts it again."""
        self.smoothed = self.floor = None

    def update(self, frame: npt.ArrayLike) -> bool:
        """Track one frame of magnitudes (F,); False for a silent frame, which changes
        nothing."""
        x = np.asarray(frame, dtype=np.float64)
        mass = x.sum()
        if not (mass > SILENT_MASS and np.isfinite(mass)):
            return False
        power = x ** 2
        if self.smoothed is None or self.floor is None:
            self.smoothed, self.floor, self.current = power, power.copy(), power.copy()
            self.older = np.full_like(power, np.inf)
            self.minima = []
            self.counted = 1
            return True
        self.smoothed = self.smoothing * self.smoothed + (1.0 - self.smoothing) * power
        self.current = np.minimum(self.current, self.smoothed)
        window = np.minimum(self.current, self.older)
        self.floor = np.minimum(self.smoothed, np.maximum(self.rise * self.floor, window))
        self.counted += 1
        if self.counted == self.subwindow_frames:
            self.minima = [*self.minima, self.current][-FLOOR_SUBWINDOWS:]
            self.older = np.min(self.minima, axis=0)
            self.current = np.full_like(power, np.inf)
            self.counted = 0
        return True

    def magnitudes(self) -> npt.NDArray[np.float64] | None:
        """The floor's magnitudes ``sqrt(N)`` (F,), or None before any sound."""
        return None if self.floor is None else np.sqrt(self.floor)


def noise_floor(magnitudes: npt.ArrayLike, *, sr: int, hop_length: int
                ) -> npt.NDArray[np.float64]:
    """:class:`NoiseFloor` over a whole stream of frames, from a fresh start.

    Parameters
    ----------
    magnitudes : array-like, shape (T, F)
        Frames of magnitudes, in stream order.
    sr, hop_length : int, keyword-only
        The frames' sample rate and hop.

    Returns
    -------
    numpy.ndarray, shape (T, F)
        The floor's magnitudes after each frame (zeros before any sound).

    Examples
    --------
    >>> import numpy as np
    >>> hum = np.ones((200, 3))
    >>> hum[100:110] *= 10.0  # a loud word over the hum
    >>> floor = noise_floor(hum, sr=16000, hop_length=128)
    >>> bool(np.all(floor[100:110] < 1.2))
    True
    """
    X = np.asarray(magnitudes, dtype=np.float64)
    if X.ndim != 2:
        raise ParameterError(f"magnitudes must be (T, F), got shape {X.shape}")
    tracker = NoiseFloor(sr=sr, hop_length=hop_length)
    out = np.zeros_like(X)
    for t, frame in enumerate(X):
        tracker.update(frame)
        floor = tracker.magnitudes()
        if floor is not None:
            out[t] = floor
    return out

def floor_columns(floor: npt.ArrayLike, weight: float, *, fit_bins: int | None = None
                  ) -> npt.NDArray[np.float64]:
    """A noise floor's dictionary column per frame: the floor (T, F) scaled so that its first
    ``fit_bins`` (default all) sum to ``weight`` (flat where they are zero)."""
    N = np.asarray(floor, dtype=np.float64)
    total = N[..., :fit_bins].sum(axis=-1, keepdims=True)
    flat = np.full_like(N, 1.0 / N[..., :fit_bins].shape[-1])
    return weight * np.where(total > 1e-30, N / np.where(total > 1e-30, total, 1.0), flat)


class MaskSmoother:
    """Masks smoothed over time as the engine smooths them (cpp/livesep/smoothing.h), frame
    by frame in float32: per source s and bin f, with ``p = |X|^2``, ``num_s = a num_s +
    (1 - a) M_s p``, ``den = a den + (1 - a) p``, ``M'_s = num_s / den`` (where ``den`` is
    not above 1e-30 or not finite, the frame's own masks, and the bin starts afresh),
    ``a = exp(-hop_length / (sr * seconds))``; ``seconds`` 0 leaves the masks as they are.
    The masks still sum to 1."""

    def __init__(self, *, seconds: float, sr: int, hop_length: int) -> None:
        self.coefficient = np.float32(np.exp(-hop_length / sr / seconds) if seconds > 0 else 0)
        self.active = seconds > 0
        self.weighted: npt.NDArray[np.float32] | None = None
        self.power: npt.NDArray[np.float32] | None = None

    def process(self, masks: npt.ArrayLike, magnitudes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Smoothed masks (S, F) from one frame's masks (S, F) and magnitudes (F,)."""
        M = np.asarray(masks, dtype=np.float32)
        if not self.active:
            return M
        a, b = self.coefficient, np.float32(1) - self.coefficient
        p = np.square(np.asarray(magnitudes, dtype=np.float32))
        with np.errstate(over="ignore", invalid="ignore"):
            power = b * p if self.power is None else a * self.power + b * p
            weighted = b * (M * p) if self.weighted is None else a * self.weighted + b * (M * p)
            usable = (power > np.float32(1e-30)) & (power <= np.finfo(np.float32).max)
            smoothed = np.where(usable, weighted / np.where(usable, power, 1), M)
        self.power, self.weighted = np.where(usable, power, 0), np.where(usable, weighted, 0)
        return smoothed


def smooth_masks(masks: npt.ArrayLike, magnitudes: npt.ArrayLike, *, seconds: float, sr: int,
                 hop_length: int) -> npt.NDArray[np.float32]:
    """:class:`MaskSmoother` over masks (S, F, T) and the magnitudes (F, T) they act on.

    Examples
    --------
    >>> import numpy as np
    >>> flicker = np.array([[[1.0, 0.0, 1.0, 0.0]], [[0.0, 1.0, 0.0, 1.0]]])  # (2, 1, 4)
    >>> smoothed = smooth_masks(flicker, np.ones((1, 4)), seconds=0.03, sr=16000,
    ...                         hop_length=128)
    >>> np.round(smoothed[0, 0].astype(np.float64), 2).tolist()
    [1.0, 0.43, 0.67, 0.43]
    """
    M = np.asarray(masks, dtype=np.float32)
    X = np.asarray(magnitudes, dtype=np.float32)
    if M.ndim != 3 or X.shape != M.shape[1:]:
        raise ParameterError(f"masks must be (S, F, T) and magnitudes (F, T), got shapes "
                             f"{M.shape} and {X.shape}")
    smoother = MaskSmoother(seconds=seconds, sr=sr, hop_length=hop_length)
    return np.stack([smoother.process(M[:, :, t], X[:, t]) for t in range(M.shape[2])], axis=2
                    ) if M.shape[2] else M
