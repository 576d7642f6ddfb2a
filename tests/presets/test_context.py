"""Unfolded presets fitted on stacked frames (a preset's ``context``): round trip in format
version 6, the older versions for every other preset, the constructor's and the reader's
checks, repr and describe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from helpers.preset_files import (
    HOP,
    SR,
    F,
    make_preset,
    make_unfolded_preset,
    members_of,
    pack,
    rejected,
    set_meta,
    stochastic,
    unpack,
    write_case,
)
from livesep.errors import ParameterError
from livesep.presets import FORMAT_VERSIONS, Preset, SourceModel, describe, load, save

LAGS = (0, 2, 4)


def stacked(lags: tuple[int, ...] = LAGS, *, floor: float = 0.0) -> Preset:
    """Unfolded voice and noise whose layers have a block of F rows per lag."""
    rng = np.random.default_rng(3)
    sources = tuple(SourceModel.from_unfolded(name, stochastic(rng, (4, F * len(lags), k), 1),
                                              floor=floor if name == "noise" else 0.0)
                    for name, k in (("voice", 3), ("noise", 2)))
    return dataclasses.replace(make_unfolded_preset(), sources=sources, context=lags)


@pytest.mark.parametrize("floor", [0.0, 30.0])
def test_context_round_trips_in_version_6(tmp_path: Path, floor: float) -> None:
    original = stacked(floor=floor)
    path = save(original, tmp_path / "stacked.npz")
    loaded = load(path)
    assert loaded == original and loaded.context == LAGS
    assert loaded.sources[0].W.shape == (4, 3 * F, 3)
    assert loaded.fitted_bins == loaded.n_bins == F
    meta, _ = unpack(path)
    assert meta["version"] == 6 == FORMAT_VERSIONS[5]
    assert meta["context"] == list(LAGS)
    assert "context=(0, 2, 4)" in repr(loaded)
    hop_ms = 1000 * HOP / SR
    assert f"each frame fitted beside the frames {2 * hop_ms:g}, {4 * hop_ms:g} ms before it" \
        in describe(path)


def test_presets_without_a_context_keep_their_older_version(tmp_path: Path) -> None:
    for preset, version in ((make_preset(), 1), (make_unfolded_preset(), 2)):
        meta, _ = unpack(save(preset, tmp_path / "old.npz"))
        assert meta["version"] == version and "context" not in meta
        assert load(tmp_path / "old.npz").context is None
    assert "fitted beside" not in describe(make_unfolded_preset())


def test_a_context_in_an_older_version_is_refused(tmp_path: Path) -> None:
    meta, arrays = unpack(save(stacked(), tmp_path / "stacked.npz"))
    meta["version"] = 5
    older = pack(tmp_path / "v5.npz", members_of(meta, arrays))
    rejected(older, "context ([0, 2, 4]) is not a field of version 5 files",
             "fits on stacked frames came with version 6")


@pytest.mark.parametrize("value, needle", [
    ([0], "a context is 2 to 8 lags"),
    ([1, 2, 4], "got [1, 2, 4]"),
    ([0, 4, 2], "got [0, 4, 2]"),
    ([0, 2, 65], "at most 64 hops"),
    ("0,2,4", "got '0,2,4'"),
    ([0, 2.5, 4], "got [0, 2.5, 4]"),
])
def test_bad_contexts_are_refused(tmp_path: Path, value: object, needle: str) -> None:
    saved = save(stacked(), tmp_path / "stacked.npz")
    rejected(write_case(tmp_path, saved, set_meta("context", value)), needle)


def test_rows_must_be_the_bins_times_the_lags(tmp_path: Path) -> None:
    saved = save(stacked(), tmp_path / "stacked.npz")
    # Two lags declared for arrays of three blocks of rows.
    rejected(write_case(tmp_path, saved, set_meta("context", [0, 2])), "source0.W",
             f"{3 * F}")
    with pytest.raises(ParameterError, match=f"has {3 * F} bins but n_fft=.* and context="
                                             rf"\[0, 2\] need {2 * F}"):
        dataclasses.replace(stacked(), context=(0, 2))


def test_a_context_needs_unfolded_sources() -> None:
    sources = [dataclasses.replace(s, adaptive=False) for s in make_preset().sources]
    plain = dataclasses.replace(make_preset(), sources=sources)
    wide = tuple(SourceModel(s.name, W=np.concatenate([s.W, s.W], axis=1) / 2, A=s.A, pi=s.pi)
                 for s in plain.sources)
    with pytest.raises(ParameterError, match=r"a context \(\[0, 1\]\) needs unfolded sources"):
        dataclasses.replace(plain, sources=wide, context=(0, 1))
