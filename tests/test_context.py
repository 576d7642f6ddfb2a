"""Stacked frames (livesep.context): the lags checked, rounded to a stream's frames, and the
frames stacked with their past, in one go and frame by frame, against a plain loop."""

from __future__ import annotations

import numpy as np
import pytest

from livesep import ParameterError
from livesep.context import ContextFrames, check_context, lag_frames, stack_frames


@pytest.mark.parametrize("lags", [(0, 1), [0, 2, 4], np.array([0, 3, 7, 64])])
def test_check_context_takes_rising_lags_from_zero(lags: object) -> None:
    assert check_context(lags) == tuple(int(v) for v in lags)  # type: ignore[attr-defined]


@pytest.mark.parametrize("lags", [(0,), (1, 2), (0, 2, 2), (0, 3, 1), (0, 65),
                                  tuple(range(9)), (0, 1.5), (0, True), "02", None, 3])
def test_check_context_names_the_bad_lags(lags: object) -> None:
    with pytest.raises(ParameterError, match="a context is 2 to 8 lags") as caught:
        check_context(lags)
    assert repr(lags) in str(caught.value)


@pytest.mark.parametrize(("hops_per_frame", "want"), [(1.0, [0, 2, 4]), (0.5, [0, 4, 8]),
                                                     (24 / 128, [0, 11, 21])])
def test_lag_frames_take_the_nearest_frame(hops_per_frame: float, want: list[int]) -> None:
    assert lag_frames((0, 2, 4), hops_per_frame=hops_per_frame) == want


def stacked_by_loop(X: np.ndarray, frames: list[int], segment: int | None) -> np.ndarray:
    T, F = X.shape
    out = np.zeros((T, F * len(frames)), np.float32)
    for t in range(T):
        start = t - t % segment if segment else 0
        for j, lag in enumerate(frames):
            if t - lag >= start:
                out[t, j * F:(j + 1) * F] = X[t - lag]
    return out


@pytest.mark.parametrize("frames", [[0, 1], [0, 2, 5]])
@pytest.mark.parametrize("segment", [None, 4, 7])
def test_stack_frames_matches_a_loop(frames: list[int], segment: int | None) -> None:
    X = np.random.default_rng(1).random((23, 5)).astype(np.float32)
    np.testing.assert_array_equal(stack_frames(X, frames, segment=segment),
                                  stacked_by_loop(X, frames, segment))


@pytest.mark.parametrize("hops_per_frame", [1.0, 0.5, 24 / 128])
def test_context_frames_stream_what_stack_frames_stacks(hops_per_frame: float) -> None:
    X = np.random.default_rng(2).random((40, 6)).astype(np.float32)
    lags = (0, 2, 4)
    ring = ContextFrames(6, lags, hops_per_frame=hops_per_frame)
    want = stack_frames(X, lag_frames(lags, hops_per_frame=hops_per_frame))
    np.testing.assert_array_equal(np.stack([ring.push(x) for x in X]), want)
    ring.reset()
    np.testing.assert_array_equal(ring.push(X[5]), stack_frames(X[5:6], [0, 1, 2])[0])
